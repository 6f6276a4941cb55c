"""ESI::GwInterface through the real Heat engine and a real etcd.

CreateGwInterface_01 (the interface), _02 (its primary port) and _03 (its
primary ESE logical port): points (1) and (2) field by field, but for the
new ids, MAC address and job suffixes, and for the device credentials that
heat-esi keeps out of jobs; the ports' version 2 (attached to their
logical ports); the refusal before the gateway's VPN interface exists;
the delete, in dependency order, that leaves no key behind.

The resources the interface stands on are written from the seeds
(tests/gw_seeds.py). A stand-in worker answers the jobs, each once every
job its ``dependency`` names is gone, as esi-worker does, and records the
order in which it finished them; the stacks themselves are heat_worker's.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import threading

import pytest

from heat_esi import etcd
from heat_esi import gw_interface_parts as gw_parts
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from tests import esi_fixtures
from tests import gw_seeds


@pytest.fixture
def heat(heat_engine_on):
    gw_seeds.write_world(heat_engine_on)
    return heat_engine_on


@pytest.fixture
def stand_in(heat):
    """Finishes each job once its dependencies are gone; the order done.

    The last job of a plan writes /state for the whole plan, as a worker's
    does.
    """
    stop = threading.Event()
    start = heat.revision() + 1
    done = []

    def run():
        revision = start
        waiting = {}
        while not stop.is_set():
            for event in heat.watch(keys.JOBS_ALL, revision, timeout=0.2):
                revision = event.kv.mod_revision + 1
                if event.type == etcd.PUT and event.kv.version == 1:
                    job = json.loads(event.kv.value)[1]
                    waiting[job['id']] = job
            ready = True
            while ready:
                ready = [job for job in waiting.values()
                         if not set(job['dependency']) & set(waiting)]
                for job in ready:
                    del waiting[job['id']]
                    finish(job)

    def finish(job):
        heat.delete(keys.job(job['id']))
        done.append(job)
        if job['is_last']:
            heat.put(keys.state(job['resource_type'], job['resource_id']),
                     records.state(states.completed(job['action']),
                                   job['version'], {'x': 'ACTIVE'},
                                   heat_outputs=[]))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield done
    stop.set()
    thread.join()


def stack():
    return heat_engine.stack({
        'heat_template_version': '2018-08-31',
        'resources': {'gw': {'type': 'ESI::GwInterface',
                             'properties': gw_seeds.PROPERTIES}}})


def create():
    stk = stack()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    return stk


def written_jobs(client, since):
    """{(type, id, action, handler, version): job value} since *since*."""
    found = {}
    for event in esi_fixtures.history(client, keys.JOBS_ALL, since):
        if event.kv.version == 1:
            value = json.loads(event.kv.value)
            esi_fixtures.operator_fields(value)
            job = value[1]
            found[(job['resource_type'], job['resource_id'], job['action'],
                   job['handler'], job['version'])] = value
    return found


def seed_jobs(document, written, esi_type, rid, pairs):
    """The document's point (2) jobs as this create's ids make them."""
    seed = gw_seeds.points(document)['(2)']
    # The job ids first: they hold the resource ids.
    ids = []
    for _key, value in seed:
        job = value[1]
        mine = written[(esi_type, rid, job['action'], job['handler'],
                        job['version'])][1]
        ids.append((job['id'], mine['id']))
    return [gw_seeds.with_ids(value, ids + list(pairs))
            for _key, value in seed]


def same(mine, seed):
    """*mine* is the seed's job value: field by field, then as a whole."""
    assert mine[0] == seed[0]
    for field in seed[1]:
        assert mine[1].get(field) == seed[1][field], field
    assert mine == seed


def test_points_1_and_2_are_the_seeds(heat, stand_in):
    since = heat.revision() + 1
    stk = create()
    gw = stk['gw'].resource_id
    port = gw_parts.port_id(gw, 'primary')
    lport = gw_parts.logical_port_id(gw, 'primary')
    written = written_jobs(heat, since)
    gw_heat = written[('gw_interface', gw, 'create', 'heat_worker', 1)]
    port_heat = written[('port', port, 'create', 'heat_worker', 1)]

    # CreateGwInterface_01: (1), and (2) without the device credentials.
    assert esi_fixtures.json_at(heat, keys.config('gw_interface', gw)) == \
        gw_seeds.with_ids(gw_seeds.points('CreateGwInterface_01.md')[
            '(1)'][0][1], [(gw_seeds.GW_ID, gw)])
    for job in seed_jobs('CreateGwInterface_01.md', written, 'gw_interface',
                         gw, [(gw_seeds.GW_ID, gw)]):
        job[1]['params'] = gw_seeds.without_credentials(job[1]['params'])
        mine = written[('gw_interface', gw, job[1]['action'], job[0], 1)]
        same(mine, job)
        assert 'esiesi0000' not in json.dumps(mine)

    # CreateGwInterface_02: the port's version 1 is its jobs' body.
    mac = port_heat[1]['resource_input']['mac_address']
    pairs = [('create:heat_worker:gw_interface:%s:1:3r1tj'
              % gw_seeds.GW_ID, gw_heat[1]['id']),
             (gw_seeds.PORT_ID, port), (gw_seeds.GW_ID, gw),
             ('fa:16:3e:ef:15:a2', mac)]
    seed_port = gw_seeds.with_ids(gw_seeds.config(
        'CreateGwInterface_02.md'), pairs)
    for job in seed_jobs('CreateGwInterface_02.md', written, 'port', port,
                         pairs):
        same(written[('port', port, job[1]['action'], job[0], 1)], job)
        assert job[1]['resource_input'] == seed_port

    # CreateGwInterface_03, (1) and (2).
    pairs = [('create:heat_worker:port:%s:1:6n77u' % gw_seeds.PORT_ID,
              port_heat[1]['id']),
             (gw_seeds.LPORT_ID, lport), (gw_seeds.PORT_ID, port),
             (gw_seeds.GW_ID, gw)]
    assert esi_fixtures.json_at(heat, keys.config(
        'ese_logical_port', lport)) == gw_seeds.with_ids(
            gw_seeds.points('CreateGwInterface_03.md')['(1)'][0][1], pairs)
    for job in seed_jobs('CreateGwInterface_03.md', written,
                         'ese_logical_port', lport, pairs):
        same(written[('ese_logical_port', lport, job[1]['action'],
                      job[0], 1)], job)

    # The port's version 2: attached to its logical port, ESI's modify
    # sequence after the logical port's jobs.
    config = esi_fixtures.json_at(heat, keys.config('port', port))
    assert config == {'body': dict(seed_port, attached=True,
                                   ese_logical_port_id=lport),
                      'version': 2, 'marked_for_deletion': False}
    v2 = [(job[1]['action'], job[0], job[1]['on_failure'])
          for key, job in written.items() if key[1] == port and key[4] == 2]
    assert v2 == [('delete', 'monitoring_worker', 'ignore'),
                  ('modify', 'heat_worker', 'fail'),
                  ('create', 'monitoring_worker', 'fail')]
    assert esi_fixtures.state_of(heat, port, 'port')['version'] == 2
    assert stk['gw'].FnGetAtt('port_ids') == [
        port, gw_parts.port_id(gw, 'secondary')]


def test_the_jobs_ran_in_dependency_order(heat, stand_in):
    stk = create()
    gw = stk['gw'].resource_id
    order = [(job['resource_type'], job['resource_id'], job['version'],
              job['handler'], job['action']) for job in stand_in]
    for side in gw_parts.SIDES:
        port = gw_parts.port_id(gw, side)
        lport = gw_parts.logical_port_id(gw, side)
        gw_heat = order.index(('gw_interface', gw, 1, 'heat_worker',
                               'create'))
        port_heat = order.index(('port', port, 1, 'heat_worker', 'create'))
        lport_heat = order.index(('ese_logical_port', lport, 1,
                                  'heat_worker', 'create'))
        lport_mon = order.index(('ese_logical_port', lport, 1,
                                 'monitoring_worker', 'create'))
        port_v2 = order.index(('port', port, 2, 'monitoring_worker',
                               'delete'))
        assert gw_heat < port_heat < lport_heat < lport_mon < port_v2


def test_refused_before_the_vpn_interface_exists(heat, stand_in):
    gw_seeds.write_world(heat, vpn_gateway={'connected_vpn_interface': ''})
    since = heat.revision() + 1
    stk = stack()
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'VPN gateway %s has no VPN interface yet' % gw_seeds.VPN_GW in \
        stk.status_reason
    assert 'nothing was written' in stk.status_reason
    for event in esi_fixtures.history(heat, '/', since):
        assert not event.kv.key.startswith(('/config/', '/jobs/')), \
            event.kv.key
    # Nothing to delete either.
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason


def test_delete_goes_in_dependency_order_and_leaves_no_key(heat, stand_in):
    stk = create()
    gw = stk['gw'].resource_id
    del stand_in[:]
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    heat_jobs = [(job['resource_type'], job['resource_id'])
                 for job in stand_in if job['handler'] == 'heat_worker']
    assert all(job['action'] == 'logical_delete' for job in stand_in)
    lports = [heat_jobs.index(('ese_logical_port',
                               gw_parts.logical_port_id(gw, side)))
              for side in gw_parts.SIDES]
    ports = [heat_jobs.index(('port', gw_parts.port_id(gw, side)))
             for side in gw_parts.SIDES]
    assert max(lports) < min(ports)
    assert max(ports) < heat_jobs.index(('gw_interface', gw))
    ids = [gw] + [rid for _type, rid in gw_parts.parts(gw)]
    for prefix in ('/config/', '/state/', '/jobs/', '/esi-worker/',
                   '/monitoring/'):
        for kv in heat.get_prefix(prefix)[0]:
            assert not any(rid in kv.key for rid in ids), kv.key

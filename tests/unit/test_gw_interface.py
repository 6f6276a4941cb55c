"""ESI::GwInterface, its ports and ESE logical ports against ESI's seeds.

CreateGwInterface_01 (the interface), _02 (a port) and _03 (an ESE logical
port): each /config body (point (1)) and each job's params (point (2)) as
built from the heat_templates on a fake etcd, the ids and MAC addresses
derived from the interface's id, the one transaction of the create and of
the delete (ordered by dependency), and the refusals that write nothing.
The write through Heat and a worker is tests/integration/test_gw_interface.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import uuid

from heat.common import exception
import pytest

from heat_esi import actions
from heat_esi import gw_interface_parts as gw_parts
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import template_mappings
from heat_esi import templates
from tests import gw_seeds
from tests import vpn_seeds


@pytest.fixture
def store(monkeypatch):
    """heat-engine's fake etcd: the templates and the seeds' world."""
    with vpn_seeds.fake_etcd(monkeypatch, gw_seeds.write_world) as fake:
        yield fake


@pytest.fixture
def resource():
    return vpn_seeds.resource_maker('ESI::GwInterface', gw_seeds.PROPERTIES,
                                    project=gw_seeds.PROJECT)


def read(store):
    def lookup(esi_type, rid):
        kv = store.get(keys.config(esi_type, rid))
        return records.parse_config(kv.key, kv.value)[0] if kv else None
    return lookup


def subnets(store):
    return lambda: [records.parse_config(kv.key, kv.value)[0]
                    for kv in store.get_prefix(
                        keys.config_prefix('subnet'))[0]]


def derived(store, body=None):
    return gw_parts.derive(read(store), subnets(store),
                           body or gw_seeds.config('CreateGwInterface_01.md'))


def job_params(store, esi_type, handler, body, version=1):
    name = template_mappings.template_name(handler, esi_type, body)
    return templates.build_params(templates.fetch(store, name), esi_type,
                                  body, version,
                                  templates.config_lookup(store))


# --- point (1) ---------------------------------------------------------------

def test_the_interface_config_is_the_seeds(store, resource):
    res = resource()
    res.validate()
    body = res._create_body(gw_seeds.GW_ID)
    seed = gw_seeds.config('CreateGwInterface_01.md')
    assert list(body) == list(seed)
    assert body == seed


def test_the_primary_port_is_the_seeds_but_for_its_id_and_mac(store):
    gw_body = gw_seeds.config('CreateGwInterface_01.md')
    port = gw_parts.port_body(gw_body, derived(store), gw_parts.PRIMARY)
    seed = gw_seeds.config('CreateGwInterface_02.md')
    assert list(port) == list(seed)
    assert port['id'] == gw_parts.port_id(gw_seeds.GW_ID, 'primary')
    expected = gw_seeds.with_ids(seed, [(gw_seeds.PORT_ID, port['id'])])
    expected['mac_address'] = port['mac_address']
    assert port == expected


def test_the_secondary_port_has_the_secondary_address_on_the_other_tor(
        store):
    gw_body = gw_seeds.config('CreateGwInterface_01.md')
    port = gw_parts.port_body(gw_body, derived(store), gw_parts.SECONDARY)
    assert port['fixed_ips'] == [{'subnet_id': gw_seeds.SUBNET,
                                  'ip_address': '172.16.101.153'}]
    assert port['name'] == 'Port for : %s' % gw_seeds.SECONDARY_TOR
    assert port['segmentation_id'] == 1025


def test_the_primary_logical_port_is_the_seeds_but_for_ids(store):
    gw_body = gw_seeds.config('CreateGwInterface_01.md')
    lport = gw_parts.logical_port_body(gw_body, derived(store), 'primary')
    seed = gw_seeds.config('CreateGwInterface_03.md')
    assert list(lport) == list(seed)
    assert lport == gw_seeds.with_ids(seed, [
        (gw_seeds.PORT_ID, gw_parts.port_id(gw_seeds.GW_ID, 'primary')),
        (gw_seeds.LPORT_ID, gw_parts.logical_port_id(gw_seeds.GW_ID,
                                                     'primary'))])
    second = gw_parts.logical_port_body(gw_body, derived(store),
                                        'secondary')
    assert (second['name'], second['ese_physical_port_id']) == (
        'xe-0/0/4.1025', gw_seeds.SECONDARY_TOR)


def test_ids_and_macs_follow_from_the_interface_id():
    ids = [gw_parts.port_id(gw_seeds.GW_ID, side)
           for side in gw_parts.SIDES] + [
        gw_parts.logical_port_id(gw_seeds.GW_ID, side)
        for side in gw_parts.SIDES]
    assert len(set(ids)) == 4
    assert ids[0] == gw_parts.port_id(gw_seeds.GW_ID, 'primary')
    assert gw_parts.port_id(str(uuid.uuid4()), 'primary') not in ids
    macs = {gw_parts.mac_address(rid) for rid in ids}
    assert len(macs) == 4
    for mac in macs:
        assert mac.startswith('fa:16:3e:') and len(mac.split(':')) == 6
        # Locally administered, unicast: as OpenStack's base MAC.
        assert int(mac.split(':')[0], 16) & 0b11 == 0b10
    assert gw_parts.mac_address(ids[0]) == gw_parts.mac_address(ids[0])


# --- point (2): params -------------------------------------------------------

def test_the_interface_jobs_params_are_the_seeds_without_credentials(store):
    body = gw_seeds.config('CreateGwInterface_01.md')
    seed = gw_seeds.jobs('CreateGwInterface_01.md')
    for handler in ('heat_worker', 'monitoring_worker'):
        params = job_params(store, 'gw_interface', handler, body)
        assert params == gw_seeds.without_credentials(
            seed[handler]['params']), handler
        names = {p['param'] for p in params}
        assert not names & set(gw_seeds.CREDENTIALS)
        assert 'esiesi0000' not in json.dumps(params)
    assert template_mappings.template_name(
        'heat_worker', 'gw_interface', body) == 'gw_interface_vpn'


def test_the_port_jobs_params_are_the_seeds(store):
    body = gw_seeds.config('CreateGwInterface_02.md')
    store.put(keys.config('gw_interface', gw_seeds.GW_ID), records.config(
        gw_seeds.config('CreateGwInterface_01.md'), 1))
    seed = gw_seeds.jobs('CreateGwInterface_02.md')
    for handler in ('heat_worker', 'monitoring_worker'):
        assert job_params(store, 'port', handler, body) == \
            seed[handler]['params'], handler


def test_the_logical_port_jobs_params_are_the_seeds(store):
    body = gw_seeds.config('CreateGwInterface_03.md')
    store.put(keys.config('port', gw_seeds.PORT_ID), records.config(
        gw_seeds.config('CreateGwInterface_02.md'), 1))
    seed = gw_seeds.jobs('CreateGwInterface_03.md')
    for handler in ('heat_worker', 'monitoring_worker'):
        assert job_params(store, 'ese_logical_port', handler, body) == \
            seed[handler]['params'], handler


def test_dhcp_and_empty_ports_have_no_stack():
    for owner in ('network:dhcp', 'network:empty'):
        assert template_mappings.template_name(
            'heat_worker', 'port', {'device_owner': owner}) is None
    assert template_mappings.template_name(
        'heat_worker', 'port', {'device_owner': DEVICE_OWNER}) == 'port'


DEVICE_OWNER = gw_parts.DEVICE_OWNER


# --- the transaction ---------------------------------------------------------

def template(store):
    return lambda esi_type, body: actions.stored_template(store, esi_type,
                                                          body)


def written_jobs(store):
    """{(esi_type, id, action, handler, version): job} in /jobs/all."""
    found = {}
    for kv in store.get_prefix(keys.JOBS_ALL)[0]:
        job = json.loads(kv.value)[1]
        found[(job['resource_type'], job['resource_id'], job['action'],
               job['handler'], job['version'])] = job
    return found


def create(store):
    gw_body = gw_seeds.config('CreateGwInterface_01.md')
    planned = gw_parts.plan_create(store, template(store), gw_body,
                                   derived(store))
    revision = store.revision()
    done = actions.commit(store, planned,
                          gw_parts.create_conditions(gw_seeds.GW_ID))
    assert done is not None
    assert store.revision() == revision + 1     # one transaction
    return done


def test_the_create_writes_five_resources_ordered_by_dependency(store):
    create(store)
    jobs = written_jobs(store)
    gw = gw_seeds.GW_ID
    port = gw_parts.port_id(gw, 'primary')
    lport = gw_parts.logical_port_id(gw, 'primary')

    def job(esi_type, rid, action, handler, version=1):
        return jobs[(esi_type, rid, action, handler, version)]
    gw_heat = job('gw_interface', gw, 'create', 'heat_worker')
    port_heat = job('port', port, 'create', 'heat_worker')
    lport_heat = job('ese_logical_port', lport, 'create', 'heat_worker')
    lport_mon = job('ese_logical_port', lport, 'create',
                    'monitoring_worker')
    port_mon = job('port', port, 'create', 'monitoring_worker')
    assert gw_heat['dependency'] == []
    assert port_heat['dependency'] == [gw_heat['id']]
    assert lport_heat['dependency'] == [port_heat['id']]
    assert port_heat['resource_input']['attached'] is False
    # Version 2 of the port: ESI's modify sequence, after its logical
    # port's jobs (and its own version 1's).
    unmonitor = job('port', port, 'delete', 'monitoring_worker', 2)
    modify = job('port', port, 'modify', 'heat_worker', 2)
    monitor = job('port', port, 'create', 'monitoring_worker', 2)
    assert set(unmonitor['dependency']) == {
        port_heat['id'], port_mon['id'], lport_heat['id'], lport_mon['id']}
    assert (unmonitor['on_failure'], unmonitor['is_first']) == ('ignore',
                                                                True)
    assert modify['dependency'] == [unmonitor['id']]
    assert monitor['is_last'] and monitor['resource_input']['attached']
    assert modify['resource_input']['ese_logical_port_id'] == lport
    attached = {p['param']: p['value'] for p in monitor['params']}
    assert attached['attached'] is True
    # /config: the interface and logical ports v1, the ports v2.
    config = store.get(keys.config('port', port))
    body, version, marked = records.parse_config(config.key, config.value)
    assert (version, body['attached'], body['ese_logical_port_id']) == (
        2, True, lport)
    assert len(jobs) == 2 + 2 * 2 + 2 * 2 + 2 * 3


def test_a_template_changed_before_the_commit_keeps_the_dependencies(store):
    gw_body = gw_seeds.config('CreateGwInterface_01.md')
    planned = gw_parts.plan_create(store, template(store), gw_body,
                                   derived(store))
    # Changed after the plans were made: commit() plans every one again.
    shipped = templates.load_dir()
    templates.store(store, {'port': dict(shipped['port'], watch=['x'])})
    assert actions.commit(store, planned,
                          gw_parts.create_conditions(gw_seeds.GW_ID))
    jobs = written_jobs(store)
    ids = {job['id'] for job in jobs.values()}
    assert not ids & {job_id for each in planned for job_id in each.job_ids}
    for job in jobs.values():
        assert set(job['dependency']) <= ids, job['id']
    port = gw_parts.port_id(gw_seeds.GW_ID, 'primary')
    assert jobs[('port', port, 'create', 'heat_worker', 1)][
        'dependency'] == [jobs[('gw_interface', gw_seeds.GW_ID, 'create',
                                'heat_worker', 1)]['id']]


def test_a_second_create_of_the_same_interface_writes_nothing(store):
    create(store)
    before = store.revision()
    planned = gw_parts.plan_create(
        store, template(store), gw_seeds.config('CreateGwInterface_01.md'),
        derived(store))
    assert actions.commit(store, planned,
                          gw_parts.create_conditions(gw_seeds.GW_ID)) is None
    assert store.revision() == before


def test_the_delete_goes_logical_ports_then_ports_then_interface(store):
    create(store)
    for kv in store.get_prefix(keys.JOBS_ALL)[0]:
        store.delete(kv.key)        # as a worker finishing them
    configs = gw_parts.read_configs(store, gw_seeds.GW_ID)
    assert len(configs) == 5
    planned, compare, versions = gw_parts.plan_delete(
        store, template(store), gw_seeds.GW_ID, configs)
    assert actions.commit(store, planned, compare) is not None
    jobs = written_jobs(store)
    first = {}
    for (esi_type, rid, action, handler, version), job in jobs.items():
        assert action == 'logical_delete'
        assert version == versions[(esi_type, rid)]
        if job['is_first']:
            first[(esi_type, rid)] = job
    gw = gw_seeds.GW_ID
    assert versions[('port', gw_parts.port_id(gw, 'primary'))] == 3
    assert versions[('gw_interface', gw)] == 2
    ids = {kind: [job['id'] for (t, _r, _a, _h, _v), job in jobs.items()
                  if t == kind] for kind in ('port', 'ese_logical_port')}
    for side in gw_parts.SIDES:
        assert first[('ese_logical_port',
                      gw_parts.logical_port_id(gw, side))][
            'dependency'] == []
        assert set(first[('port', gw_parts.port_id(gw, side))][
            'dependency']) == set(ids['ese_logical_port'])
    assert set(first[('gw_interface', gw)]['dependency']) == set(
        ids['port'])
    for esi_type, rid in gw_parts.parts(gw) + [('gw_interface', gw)]:
        kv = store.get(keys.config(esi_type, rid))
        assert records.parse_config(kv.key, kv.value)[2] is True


# --- refusals ----------------------------------------------------------------

def nothing_written(store, before):
    assert store.revision() == before
    for esi_type in ('gw_interface', 'port', 'ese_logical_port'):
        assert store.get_prefix(keys.config_prefix(esi_type))[0] == []
    assert store.get_prefix(keys.JOBS_ALL)[0] == []


@pytest.mark.parametrize('change, said', [
    ({'vpn_gateway': {'connected_vpn_interface': ''}},
     'VPN gateway %s has no VPN interface yet' % gw_seeds.VPN_GW),
    ({'er_physical_interface': {'connected_ese_port_id': ''}},
     'has no connected_ese_port_id'),
    ({'subnet': {'cidr': '10.0.0.0/24'}},
     'network %s has no subnet that holds 172.16.101.151'
     % gw_seeds.NETWORK),
])
def test_a_refused_create_says_why_and_writes_nothing(store, resource,
                                                      change, said):
    gw_seeds.write_world(store, **change)
    res = resource()
    before = store.revision()
    with pytest.raises(exception.Error) as err:
        res.handle_create()
    assert said in str(err.value)
    assert 'nothing was written' in str(err.value)
    nothing_written(store, before)


def test_two_equal_addresses_are_refused(store, resource):
    res = resource(secondary_ipv4='172.16.101.152')
    with pytest.raises(exception.StackValidationFailed,
                       match='the three addresses must differ'):
        res.validate()


# --- the Heat resource -------------------------------------------------------

def test_a_create_retried_writes_nothing_more_and_a_cancel_withdraws_all(
        store, resource):
    res = resource()
    cookie = res.handle_create()
    gw = res.resource_id
    configs = gw_parts.read_configs(store, gw)
    assert sorted(t for t, _r in configs) == [
        'ese_logical_port', 'ese_logical_port', 'gw_interface', 'port',
        'port']
    jobs = written_jobs(store)
    assert len(jobs) == 2 + 2 * 2 + 2 * 2 + 2 * 3
    before = store.revision()
    assert res.handle_create() == cookie
    assert written_jobs(store) == jobs and store.revision() == before
    res.handle_create_cancel(cookie)
    assert store.get_prefix(keys.JOBS_ALL)[0] == []
    assert res.FnGetAtt('ese_logical_port_ids') == [
        gw_parts.logical_port_id(gw, side) for side in gw_parts.SIDES]


# --- the stacks' templates ---------------------------------------------------

@pytest.mark.parametrize('document, esi_type', [
    ('CreateGwInterface_01.md', 'gw_interface'),
    ('CreateGwInterface_02.md', 'port'),
    ('CreateGwInterface_03.md', 'ese_logical_port'),
])
def test_the_rendered_stack_declares_exactly_the_jobs_parameters(
        store, document, esi_type):
    from heat.common import template_format
    from heat_esi.worker.handlers import heat as heat_handler
    body = gw_seeds.config(document)
    name = template_mappings.template_name('heat_worker', esi_type, body)
    template = templates.fetch(store, name)
    store.put(keys.config('gw_interface', gw_seeds.GW_ID), records.config(
        gw_seeds.config('CreateGwInterface_01.md'), 1))
    store.put(keys.config('port', gw_seeds.PORT_ID), records.config(
        gw_seeds.config('CreateGwInterface_02.md'), 1))
    params = job_params(store, esi_type, 'heat_worker', body)
    # As the worker resolves them: an output_key param is a stack's id.
    values = {p['param']: (['c0ffee00-0000-4000-8000-000000000000'] *
                           len(p['value']) if p['type'] == 'list' else
                           'c0ffee00-0000-4000-8000-000000000000'
                           if p['type'] == 'output_key' else p['value'])
              for p in params}
    parameters, context, timeout = heat_handler.split_params(values, 10)
    hot = template_format.parse(heat_handler.render(template, context))
    assert sorted(hot['parameters']) == sorted(parameters)
    kinds = [res['type'] for res in hot['resources'].values()]
    if esi_type == 'gw_interface':
        assert timeout == 60
        assert kinds == ['OS::Contrail::NetconfNamedConfigs'] * 2
        for device in gw_parts.SIDES:
            props = hot['resources']['netconf_configure_%s' % device][
                'properties']
            assert sorted(props) == ['configs', 'device_ip', 'device_port',
                                     'lock_timeout']
            assert props['device_ip'] == {
                'get_param': '%s_device_ip' % device}
    elif esi_type == 'port':
        # One instance ip per fixed ip.
        assert sorted(kinds) == ['OS::Contrail::InstanceIp'] * 2 + [
            'OS::Contrail::VirtualMachineInterface']
    else:
        assert kinds == ['OS::Contrail::LogicalInterface']


def test_a_delete_begun_already_is_waited_for_not_written_again(
        store, resource):
    res = resource()
    res.handle_create()
    for kv in store.get_prefix(keys.JOBS_ALL)[0]:
        store.delete(kv.key)        # as a worker finishing them
    cookie = res.handle_delete()
    written = len(store.get_prefix(keys.JOBS_ALL)[0])
    assert written == 5 * 2
    before = store.revision()
    again = res.handle_delete()
    assert store.revision() == before
    assert sorted(map(tuple, again['parts'])) == sorted(
        map(tuple, cookie['parts']))
    assert res.check_delete_complete(again) is False
    for esi_type, rid, version in cookie['parts']:
        store.put(keys.state(esi_type, rid), records.state(
            states.completed('logical_delete'), version))
    assert res.check_delete_complete(again) is True
    for esi_type, rid, _version in cookie['parts']:
        assert store.get(keys.config(esi_type, rid)) is None
        assert store.get(keys.state(esi_type, rid)) is None


def test_a_part_whose_delete_failed_is_deleted_again(store, resource):
    res = resource()
    res.handle_create()
    for kv in store.get_prefix(keys.JOBS_ALL)[0]:
        store.delete(kv.key)
    cookie = res.handle_delete()
    for kv in store.get_prefix(keys.JOBS_ALL)[0]:
        store.delete(kv.key)
    versions = {(t, r): v for t, r, v in cookie['parts']}
    port = ('port', gw_parts.port_id(res.resource_id, 'primary'))
    for (esi_type, rid), version in versions.items():
        store.put(keys.state(esi_type, rid), records.state(
            states.failed('logical_delete') if (esi_type, rid) == port
            else states.completed('logical_delete'), version,
            error='the stack port_%s failed' % rid if (esi_type, rid) ==
            port else ''))
    with pytest.raises(exception.ResourceInError):
        res.check_delete_complete(cookie)
    again = res.handle_delete()
    versions[port] += 1
    assert {(t, r): v for t, r, v in again['parts']} == versions
    jobs = written_jobs(store)
    assert {(t, r) for t, r, _a, _h, _v in jobs} == {port}

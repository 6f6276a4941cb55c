"""ESI::VpnGateway through the real Heat engine and a real etcd.

CreateVpnGateway_01's points (1) and (2) field by field (the ids aside, and
the devices' usernames and passwords, which heat-esi keeps in /config
only), the VLANs taken from the HA interfaces in the gateway's own
transaction, twenty gateways at once never sharing a VLAN, and the VLANs
given back by their deletes. A stand-in worker answers each job once the
jobs it depends on are gone, as esi-worker does.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import threading
import uuid

import pytest

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import vlans
from tests import esi_fixtures
from tests import vpn_seeds

WAIT = 30


@pytest.fixture
def heat(heat_engine_on):
    """The engine on an etcd with the seed's HA routers and catalog."""
    vpn_seeds.put_world(heat_engine_on)
    return heat_engine_on


class StandIn(object):
    """Answers each job once every job it depends on is gone.

    :ivar finished: the job ids, in the order they were answered.
    """

    def __init__(self, client):
        self.client = client
        self.finished = []
        self.held = set()       # resource ids whose jobs wait
        self.stop = threading.Event()
        self.start = client.revision() + 1
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        revision, pending = self.start, {}
        while not self.stop.is_set():
            for event in self.client.watch(keys.JOBS_ALL, revision,
                                           timeout=0.1):
                revision = event.kv.mod_revision + 1
                if event.type == etcd.PUT and event.kv.version == 1:
                    job = json.loads(event.kv.value)[1]
                    pending[job['id']] = job
            for job_id, job in list(pending.items()):
                if job['resource_id'] not in self.held and not any(
                        self.client.get(keys.job(dep)) is not None
                        for dep in job['dependency']):
                    self._finish(job)
                    del pending[job_id]

    def _finish(self, job):
        self.client.delete(keys.job(job['id']))
        self.finished.append(job['id'])
        if job['is_last']:
            self.client.put(
                keys.state(job['resource_type'], job['resource_id']),
                records.state(states.completed(job['action']),
                              job['version'], {'downlink': 'ACTIVE'},
                              heat_outputs=[]))

    def close(self):
        self.stop.set()
        self.thread.join(WAIT)


@pytest.fixture
def stand_in(heat):
    answering = StandIn(heat)
    yield answering
    answering.close()


def gateways_stack(count=1, **props):
    """A stored stack of *count* gateways, uplink VLANs 122, 123..."""
    resources = {}
    for index in range(count):
        resources['gw%d' % index] = {
            'type': 'ESI::VpnGateway',
            'properties': dict(vpn_seeds.SEED_PROPERTIES['vpn_gateway'],
                               uplink_vlan_id=122 + index, **props)}
    return heat_engine.stack({'heat_template_version': '2018-08-31',
                              'resources': resources})


def created(count=1, **props):
    stk = gateways_stack(count, **props)
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    return stk


def interface(client, rid):
    return esi_fixtures.json_at(client, keys.config('ha_interface', rid))


def pools_as_created(client):
    """Whether both HA interfaces are exactly as the world wrote them."""
    world = vpn_seeds.world()
    return all(interface(client, rid) == records.config(
        dict(world[('ha_interface', rid)], tenant_id=vpn_seeds.PROJECT), 1)
        for rid in (vpn_seeds.DOWNLINK, vpn_seeds.UPLINK))


def written_jobs(client, rid, since):
    """{handler: job value} of the jobs written for *rid* since *since*."""
    found = {}
    for event in esi_fixtures.history(client, keys.JOBS_ALL, since):
        if ':%s:' % rid in event.kv.key and event.kv.version == 1:
            value = json.loads(event.kv.value)
            esi_fixtures.operator_fields(value)
            found[value[0]] = value
    return found


def test_points_1_and_2_are_the_seeds(heat, stand_in):
    since = heat.revision() + 1
    stk = created()
    rid = stk['gw0'].resource_id
    seed_rid = vpn_seeds.GATEWAY

    (config_key, config), = vpn_seeds.points('vpn_gateway')['(1)']
    assert config_key.replace(seed_rid, rid) == keys.config('vpn_gateway',
                                                            rid)
    assert esi_fixtures.json_at(heat, keys.config('vpn_gateway', rid)) == \
        vpn_seeds.with_id(config, seed_rid, rid)

    written = written_jobs(heat, rid, since)
    seed_jobs = vpn_seeds.points('vpn_gateway')['(2)']
    assert sorted(written) == sorted(job[0] for _key, job in seed_jobs)
    # The seed's job ids, then its resource id, become this create's.
    text = json.dumps([job for _key, job in seed_jobs])
    for _key, job in seed_jobs:
        text = text.replace(job[1]['id'], written[job[0]][1]['id'])
    for job in json.loads(text.replace(seed_rid, rid)):
        # heat-esi's: the devices' logins stay in their /config.
        job[1]['params'] = vpn_seeds.without_device_logins(job[1]['params'])
        assert written[job[0]] == job
    assert 'esiesi0000' not in json.dumps(written)
    assert stk['gw0'].FnGetAtt('downlink_vlan_id') == '1025'
    assert stk['gw0'].FnGetAtt('vrf_name') == \
        'vrf_gw_sample-ha-router-downlink_1025'


def test_the_vlans_are_taken_in_the_gateways_transaction(heat, stand_in):
    stk = created()
    config = heat.get(keys.config('vpn_gateway', stk['gw0'].resource_id))
    down = heat.get(keys.config('ha_interface', vpn_seeds.DOWNLINK))
    up = heat.get(keys.config('ha_interface', vpn_seeds.UPLINK))
    assert down.mod_revision == up.mod_revision == config.mod_revision
    down, up = (interface(heat, vpn_seeds.DOWNLINK),
                interface(heat, vpn_seeds.UPLINK))
    assert (down['version'], down['body']['vlan_ids_available'],
            down['body']['gateway_instances_count']) == (1, 3068, 1)
    assert (up['version'], up['body']['vlan_ids_available'],
            up['body']['gateway_instances_count']) == (1, 4092, 1)


def test_a_delete_gives_the_vlans_back_in_its_transaction(heat, stand_in):
    stk = created()
    rid = stk['gw0'].resource_id
    since = heat.revision() + 1
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert pools_as_created(heat)
    assert heat.get(keys.config('vpn_gateway', rid)) is None
    # The pools were given back with the logical delete's /config.
    marked = [e for e in esi_fixtures.history(heat, keys.CONFIG, since)
              if e.kv.key == keys.config('vpn_gateway', rid)]
    pools = [e for e in esi_fixtures.history(heat, keys.CONFIG, since)
             if e.kv.key == keys.config('ha_interface', vpn_seeds.DOWNLINK)]
    assert len(marked) == len(pools) == 1
    assert marked[0].kv.mod_revision == pools[0].kv.mod_revision
    assert json.loads(marked[0].kv.value)['marked_for_deletion']


def test_an_uplink_vlan_in_use_fails_the_second_gateway(heat, stand_in):
    created()
    stk = gateways_stack()
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'VLAN 122 is not available on ha_interface %s' % \
        vpn_seeds.UPLINK in stk.status_reason
    down = interface(heat, vpn_seeds.DOWNLINK)
    assert down['body']['gateway_instances_count'] == 1


def check_pools(client, count):
    """The pools hold exactly *count* gateways: 1025.. and 122.. taken."""
    down, up = (interface(client, vpn_seeds.DOWNLINK)['body'],
                interface(client, vpn_seeds.UPLINK)['body'])
    world = vpn_seeds.world()
    base_down = vlans.decode(world[('ha_interface', vpn_seeds.DOWNLINK)][
        'vlan_pool_state'])
    base_up = vlans.decode(world[('ha_interface', vpn_seeds.UPLINK)][
        'vlan_pool_state'])
    assert vlans.decode(down['vlan_pool_state']) - base_down == set(
        range(1025, 1025 + count))
    assert vlans.decode(up['vlan_pool_state']) - base_up == set(
        range(122, 122 + count))
    assert (down['vlan_ids_available'], down['gateway_instances_count'],
            up['vlan_ids_available'], up['gateway_instances_count']) == (
        3069 - count, count, 4093 - count, count)


def test_twenty_gateways_of_one_stack_get_distinct_vlans(heat, stand_in):
    stk = created(20)
    found = [stk['gw%d' % i].FnGetAtt('downlink_vlan_id')
             for i in range(20)]
    assert sorted(found, key=int) == [str(v) for v in range(1025, 1045)]
    check_pools(heat, 20)
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert pools_as_created(heat)


def test_twenty_creates_at_once_never_share_a_vlan(heat, stand_in):
    # Twenty handle_creates in twenty threads, each on its own stack: the
    # pools' compare-and-swap makes the losers read and take again.
    stacks = [gateways_stack() for _ in range(20)]
    for index, stk in enumerate(stacks):
        stk.store()
        res = stk['gw0']
        res.properties.data['uplink_vlan_id'] = 122 + index
        res.resource_id_set(str(uuid.uuid4()))
    start, errors = threading.Barrier(20), []

    def create(res):
        try:
            start.wait(WAIT)
            res.handle_create()
        except Exception as exc:   # reported by the assertion below
            errors.append(exc)
    threads = [threading.Thread(target=create, args=(stk['gw0'],))
               for stk in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert errors == []
    found = [esi_fixtures.json_at(heat, keys.config(
        'vpn_gateway', stk['gw0'].resource_id))['body']['downlink_vlan_id']
        for stk in stacks]
    assert sorted(found, key=int) == [str(v) for v in range(1025, 1045)]
    check_pools(heat, 20)
    # Each gateway's jobs were written once.
    jobs = esi_fixtures.history(heat, keys.JOBS_ALL, stand_in.start)
    assert len([e for e in jobs if e.kv.version == 1]) == 40


def test_a_vlan_given_back_is_configured_after_the_deletes_jobs(
        heat, stand_in):
    # The delete gives the VLANs back as it is written; the new gateway on
    # them (the same units, the same VRF) waits for the old one's jobs.
    first_stack = created()     # a resource needs its stack referenced
    old = first_stack['gw0']
    stand_in.held.add(old.resource_id)
    old.handle_delete()
    deleting = [kv.key.rsplit('/', 1)[1] for kv in heat.get_prefix(
        keys.JOBS_ALL)[0] if old.resource_id in kv.key]
    assert len(deleting) == 2
    new = gateways_stack()
    new.store()
    res = new['gw0']
    res.resource_id_set(str(uuid.uuid4()))
    res.handle_create()
    body = esi_fixtures.json_at(heat, keys.config('vpn_gateway',
                                                  res.resource_id))['body']
    assert (body['downlink_vlan_id'], body['uplink_vlan_id']) == (
        '1025', '122')
    first = [json.loads(kv.value)[1] for kv in heat.get_prefix(
        keys.JOBS_ALL)[0] if res.resource_id in kv.key and
        json.loads(kv.value)[1]['is_first']]
    assert len(first) == 1
    assert set(deleting) <= set(first[0]['dependency'])
    stand_in.held.discard(old.resource_id)
    esi_fixtures.wait_until(
        lambda: heat.get(keys.state('vpn_gateway', res.resource_id)),
        timeout=WAIT, message='the new gateway answered')
    order = stand_in.finished
    assert max(order.index(j) for j in deleting) < order.index(
        first[0]['id'])

"""ESI::VpnGateway against CreateVpnGateway_01: body, derived fields, VLANs.

On a fake etcd holding the seed's HA infrastructure and catalog
(tests/vpn_seeds.py); the writes through Heat and a real etcd are
tests/integration/test_vpn_gateway.py's.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import uuid

from heat.common import exception
import pytest

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi.resources import vpn_gateway
from heat_esi import template_mappings
from heat_esi import templates
from heat_esi import vlans
from tests import vpn_seeds


@pytest.fixture
def store(monkeypatch):
    with vpn_seeds.fake_etcd(monkeypatch, vpn_seeds.put_world) as fake:
        yield fake


@pytest.fixture
def resource():
    return vpn_seeds.resource_maker(
        'ESI::VpnGateway', vpn_seeds.SEED_PROPERTIES['vpn_gateway'], 'gw')


def reader(store):
    def read(esi_type, rid):
        key = keys.config(esi_type, rid)
        kv = store.get(key)
        if kv is None:
            return None, None
        return kv, records.parse_config(key, kv.value)
    return read


def allocate(store, rid=vpn_seeds.GATEWAY, **props):
    values = dict(vpn_seeds.SEED_PROPERTIES['vpn_gateway'], **props)
    return vpn_gateway.allocate(reader(store), values, rid,
                                vpn_seeds.PROJECT)


def commit(store, taken):
    ok, _ = store.txn(taken.compare, taken.puts)
    return ok


def interface(store, rid):
    return json.loads(store.get(keys.config('ha_interface', rid)).value)


def test_the_body_is_the_seeds_point_1(store, resource):
    res = resource()
    res.validate()
    body = res._create_body(vpn_seeds.GATEWAY)
    seed_rid, seed_body = vpn_seeds.config('vpn_gateway')
    # The same fields in the same order, as ESI's API writes them.
    assert list(body) == list(seed_body)
    assert body == seed_body


def test_the_vlans_are_taken_from_both_pools(store):
    taken = allocate(store)
    assert taken.body['downlink_vlan_id'] == '1025'
    assert commit(store, taken)
    down = interface(store, vpn_seeds.DOWNLINK)
    up = interface(store, vpn_seeds.UPLINK)
    # Bookkeeping, not an action on the HA interfaces: same version.
    assert (down['version'], up['version']) == (1, 1)
    assert (down['body']['vlan_ids_available'],
            down['body']['gateway_instances_count']) == (3068, 1)
    assert (up['body']['vlan_ids_available'],
            up['body']['gateway_instances_count']) == (4092, 1)
    assert 1025 in vlans.decode(down['body']['vlan_pool_state'])
    assert 122 in vlans.decode(up['body']['vlan_pool_state'])
    # Nothing else of them changes.
    world = vpn_seeds.world()
    for rid, found in ((vpn_seeds.DOWNLINK, down), (vpn_seeds.UPLINK, up)):
        expected = dict(world[('ha_interface', rid)])
        for field in ('vlan_pool_state', 'vlan_ids_available',
                      'gateway_instances_count'):
            expected.pop(field)
            found['body'].pop(field)
        assert found['body'] == expected


def test_the_next_gateway_gets_the_next_vlan(store):
    assert commit(store, allocate(store))
    second = allocate(store, str(uuid.uuid4()), uplink_vlan_id=123)
    assert second.body['downlink_vlan_id'] == '1026'
    assert second.body['vrf_name'] == 'vrf_gw_sample-ha-router-downlink_1026'
    assert second.body['primary_logical_downlink_interface_name'] == \
        'ae0.1026'
    assert second.body['primary_logical_uplink_interface_name'] == \
        'ge-0/0/1.123'


def test_a_stale_read_of_the_pool_does_not_commit(store):
    first, second = allocate(store), allocate(store, str(uuid.uuid4()),
                                              uplink_vlan_id=123)
    assert commit(store, first)
    # The second read the pool before the first took 1025: refused.
    assert not commit(store, second)
    assert interface(store, vpn_seeds.DOWNLINK)['body'][
        'vlan_ids_available'] == 3068


def test_an_uplink_vlan_in_use_is_refused(store):
    assert commit(store, allocate(store))
    with pytest.raises(vpn_gateway.PoolError,
                       match='VLAN 122 is not available on ha_interface '
                             '%s' % vpn_seeds.UPLINK):
        allocate(store, str(uuid.uuid4()))


def test_a_full_pool_is_refused(store):
    down = interface(store, vpn_seeds.DOWNLINK)
    full, available = vlans.pool(set(range(4096)))
    store.put(keys.config('ha_interface', vpn_seeds.DOWNLINK),
              records.config(dict(down['body'], vlan_pool_state=full,
                                  vlan_ids_available=available), 1))
    with pytest.raises(vpn_gateway.PoolError,
                       match='no VLAN is left on the downlink interfaces'):
        allocate(store)


def test_a_missing_service_is_named(store):
    store.delete(keys.config('vpn_service', vpn_seeds.SERVICE))
    with pytest.raises(vpn_gateway.PoolError,
                       match='vpn_service_id: vpn_service %s does not '
                             'exist' % vpn_seeds.SERVICE):
        allocate(store)


def test_a_qos_option_of_another_service_is_refused(store):
    qos = vpn_seeds.world()[('qos_option', vpn_seeds.QOS)]
    store.put(keys.config('qos_option', vpn_seeds.QOS),
              records.config(dict(qos, vpn_service_id='other'), 1))
    with pytest.raises(vpn_gateway.PoolError, match='qos_option_id'):
        allocate(store)


def test_a_release_gives_both_vlans_back_exactly(store):
    taken = allocate(store)
    assert commit(store, taken)
    freed = vpn_gateway.release(reader(store), taken.body)
    assert commit(store, freed)
    world = vpn_seeds.world()
    for rid in (vpn_seeds.DOWNLINK, vpn_seeds.UPLINK):
        assert interface(store, rid) == records.config(
            dict(world[('ha_interface', rid)],
                 tenant_id=vpn_seeds.PROJECT), 1)
    # Given back once: a second release has nothing to give.
    again = vpn_gateway.release(reader(store), taken.body)
    assert again.puts == [] and again.compare == []


def test_the_job_params_are_the_seeds_less_the_device_logins(store):
    _rid, body = vpn_seeds.config('vpn_gateway')
    for handler, job in vpn_seeds.jobs('vpn_gateway').items():
        name = template_mappings.template_name(handler, 'vpn_gateway', body)
        params = templates.build_params(
            templates.fetch(store, name), 'vpn_gateway', body, 1,
            templates.config_lookup(store))
        assert params == vpn_seeds.without_device_logins(job['params'])
    assert len(params) == 2     # the monitoring job's
    assert 'esiesi0000' not in json.dumps(params)


def test_the_plans_are_the_seeds():
    steps = template_mappings.plan('vpn_gateway', 'create')
    assert [step.handler for step in steps] == ['heat_worker',
                                                'monitoring_worker']


def test_an_out_of_range_uplink_vlan_is_refused(store, resource):
    with pytest.raises(exception.StackValidationFailed,
                       match='uplink_vlan_id'):
        resource(uplink_vlan_id=4095).validate()


def test_the_allocation_is_one_transaction_with_the_config(store):
    taken = allocate(store)
    config_key = keys.config('vpn_gateway', vpn_seeds.GATEWAY)
    ok, _ = store.txn([etcd.absent(config_key)] + taken.compare,
                      [etcd.put(config_key, records.config(taken.body, 1))]
                      + taken.puts)
    assert ok
    revisions = {store.get(config_key).mod_revision} | {
        store.get(keys.config('ha_interface', rid)).mod_revision
        for rid in (vpn_seeds.DOWNLINK, vpn_seeds.UPLINK)}
    assert len(revisions) == 1


# --- vlans ------------------------------------------------------------------

def test_first_free_skips_the_reserved_and_the_taken():
    pool_state, _ = vlans.pool(vlans.parse('1-30'))
    assert vlans.first_free(pool_state) == 32
    assert vlans.first_free(vlans.encode(set(range(4096)))) is None


def test_take_and_give_back_keep_the_counts():
    state, available = vlans.pool(vlans.parse('0-1024,4094'))
    body = {'id': 'x', 'vlan_pool_state': state,
            'vlan_ids_available': available, 'gateway_instances_count': 0,
            'restricted_vlans': '0-1024,4094'}
    taken = vlans.take(body, 1025)
    assert (taken['vlan_ids_available'],
            taken['gateway_instances_count']) == (available - 1, 1)
    with pytest.raises(ValueError, match='VLAN 1025 is not available'):
        vlans.take(taken, 1025)
    with pytest.raises(ValueError, match='VLAN 31 is not available'):
        vlans.take(body, 31)
    assert vlans.give_back(taken, 1025) == body
    assert vlans.give_back(body, 1025) is None
    # A restricted or reserved id is never given back.
    assert vlans.give_back(body, 100) is None
    assert vlans.give_back(body, 0) is None

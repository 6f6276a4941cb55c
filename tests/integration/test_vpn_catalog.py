"""ESI::VpnService, QosOption and StaticRoute through the real Heat engine.

The seeds' points field by field, with a real etcd: a VPN service and a
QoS option write their /config and a READ_COMPLETE /state in one
transaction, and no job (nothing answers: no worker runs here); a static
route writes its /config and its one heat_worker job, which a stand-in
finishes (the stack itself is the heat_worker's). heat-esi differs from
ESI by design in the ids and in the static route's job, which has no
device username or password (the NETCONF resource reads them from the
edge router's /config). A gateway's /config is written from its seed.
The static route's stack, rendered as the heat_worker renders it, runs
on two NETCONF test routers standing in for the seed's edge routers.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json

from heat.common import exception as heat_exc
import pytest

from heat_esi import junos
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import states
from heat_esi import templates
from heat_esi.worker.handlers import heat as heat_handler
from tests import esi_fixtures
from tests.integration import test_netconf_named_configs as named
from tests import netconf_devices
from tests import vpn_seeds as seeds

RESOURCE_TYPES = seeds.RESOURCE_TYPES
READ_COMPLETE = {'state': {'worker_state': 'READ_COMPLETE'}, 'version': 1,
                 'error': ''}


@pytest.fixture
def heat(heat_engine_on):
    """The engine, on an etcd holding the seed's HA gateway."""
    seeds.register_infrastructure(heat_engine_on)
    return heat_engine_on


@pytest.fixture
def stand_in(heat):
    """A heat_worker stand-in: each job finishes, /state says completed."""
    def finish(_revision, value):
        job = value[1]
        heat.delete(keys.job(job['id']))
        heat.put(keys.state(job['resource_type'], job['resource_id']),
                 records.state(states.completed(job['action']),
                               job['version'], heat_outputs=[]))
    with esi_fixtures.jobs_watched(heat, finish):
        yield


def template(*resources):
    """A HOT template of (name, esi_type, properties) resources."""
    return {'heat_template_version': '2018-08-31',
            'resources': {name: {'type': RESOURCE_TYPES[esi_type],
                                 'properties': dict(
                                     seeds.SEED_PROPERTIES[esi_type],
                                     **props)}
                          for name, esi_type, props in resources}}


def create(*resources):
    stk = heat_engine.stack(template(*resources))
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    return stk


def catalog():
    """A stack of the seeds' VPN service and QoS option."""
    return create(('service', 'vpn_service', {}),
                  ('qos', 'qos_option',
                   {'vpn_service_id': {'get_resource': 'service'}}))


def writes(client, since, rid):
    """[(revision, key)] of every write of *rid*'s keys since *since*."""
    return [(event.kv.mod_revision, event.kv.key) for event in
            esi_fixtures.history(client, '/', since, puts_only=False)
            if rid in event.kv.key]


def test_the_catalog_is_the_seeds_points_without_any_job(heat):
    since = heat.revision() + 1
    stk = catalog()
    ids = {'vpn_service': stk['service'].resource_id,
           'qos_option': stk['qos'].resource_id}
    for esi_type, rid in ids.items():
        (config_key, config), (state_key, state) = (
            seeds.points(esi_type)['(1)'] + seeds.points(esi_type)['(2)'])
        seed_rid = config_key.rsplit('/', 1)[1]
        expected = seeds.with_id(config, seed_rid, rid)
        expected = seeds.with_id(expected, seeds.SERVICE,
                                 ids['vpn_service'])
        found = esi_fixtures.json_at(heat, keys.config(esi_type, rid))
        # Point (1) field by field, in ESI's order (a VPN service has no
        # status); the QoS option's ha_router_id is its service's.
        assert found == expected
        assert list(found['body']) == list(expected['body'])
        assert esi_fixtures.json_at(heat, keys.state(esi_type, rid)) == \
            state == READ_COMPLETE
        assert keys.config(esi_type, rid) == config_key.replace(seed_rid,
                                                                rid)
        # (1) and (2) in one transaction, once each.
        written = writes(heat, since, rid)
        assert [key for _rev, key in written] == [
            keys.config(esi_type, rid), keys.state(esi_type, rid)]
        assert written[0][0] == written[1][0]
    assert esi_fixtures.history(heat, keys.JOBS_ALL, since) == []
    assert stk['qos'].FnGetAtt('ha_router_id') == seeds.HA_ROUTER
    assert stk['service'].FnGetAtt('status') == 'ACTIVE'
    assert stk['service'].FnGetAtt('worker_state') == 'READ_COMPLETE'
    # A stack check has no device to poll, and writes nothing.
    before = heat.revision()
    stk.check()
    assert stk.state == ('CHECK', 'COMPLETE'), stk.status_reason
    assert heat.revision() == before


def test_a_retried_create_writes_nothing_twice(heat):
    stk = heat_engine.stack(template(('service', 'vpn_service', {})))
    res = stk['service']
    since = heat.revision() + 1
    # As after an engine restart in the middle of the action.
    cookie = res.handle_create()
    assert res.handle_create() == cookie
    assert res.check_create_complete(cookie) is True
    rid = res.resource_id
    assert [key for _rev, key in writes(heat, since, rid)] == [
        keys.config('vpn_service', rid), keys.state('vpn_service', rid)]


def test_an_update_writes_the_next_version_and_its_state_at_once(heat):
    from heat.engine import stack as stack_mod
    from heat.engine import template as template_mod
    stk = catalog()
    rid = stk['qos'].resource_id
    since = heat.revision() + 1
    new = template(('service', 'vpn_service', {}),
                   ('qos', 'qos_option',
                    {'vpn_service_id': {'get_resource': 'service'},
                     'name': 'renamed', 'description': 'ten'}))
    stk.update(stack_mod.Stack(stk.context, stk.name,
                               template_mod.Template(new)))
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    assert stk['qos'].resource_id == rid
    config = esi_fixtures.json_at(heat, keys.config('qos_option', rid))
    assert (config['version'], config['body']['name'],
            config['body']['description'], config['body']['status']) == (
        2, 'renamed', 'ten', 'PENDING_UPDATE')
    assert esi_fixtures.json_at(heat, keys.state('qos_option', rid)) == \
        dict(READ_COMPLETE, version=2)
    written = writes(heat, since, rid)
    assert len(written) == 2 and written[0][0] == written[1][0]
    assert esi_fixtures.history(heat, keys.JOBS_ALL, since) == []


def test_delete_removes_config_and_state_and_is_refused_while_in_use(heat):
    stk = catalog()
    service = stk['service'].resource_id
    qos = stk['qos'].resource_id
    # Another stack's gateway names both.
    gateway = seeds.register_gateway(heat, vpn_service_id=service,
                                     qos_option_id=qos)
    used_by = 'vpn_gateway %s (sample-vpn-gateway)' % gateway['id']
    for name, esi_type, rid, users in (
            ('qos', 'qos_option', qos, used_by),
            ('service', 'vpn_service', service,
             'qos_option %s (10Mbps-Guaranteed), %s' % (qos, used_by))):
        before = heat.revision()
        with pytest.raises(heat_exc.Error) as err:
            stk[name].handle_delete()
        assert ('%s %s cannot be deleted while other resources use it: '
                '%s. Delete them first.' % (esi_type, rid, users)) == \
            str(err.value)
        assert heat.revision() == before
    heat.delete(keys.config('vpn_gateway', gateway['id']))
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    for rid in (service, qos):
        assert esi_fixtures.resource_keys(heat, rid) == []


def test_a_qos_option_of_a_service_on_two_ha_routers_is_refused(heat):
    other = dict(seeds.infrastructure()[4][1], id=esi_fixtures.SECONDARY,
                 ha_router_id=esi_fixtures.PRIMARY)
    heat.put(keys.config('ha_interface', other['id']),
             records.config(other, 1))
    before = heat.revision()
    stk = heat_engine.stack(template(
        ('service', 'vpn_service',
         {'downlink_interfaces': [seeds.DOWNLINK, other['id']]}),
        ('qos', 'qos_option',
         {'vpn_service_id': {'get_resource': 'service'}})))
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'its HA interfaces must all be on one HA router' in \
        stk['qos'].status_reason
    # The service was written; the option was not.
    assert len(heat.get_prefix(keys.config_prefix('qos_option'))[0]) == 0
    assert heat.revision() > before


def test_a_service_naming_an_uplink_as_downlink_is_refused(heat):
    stk = heat_engine.stack(template(
        ('service', 'vpn_service', {'downlink_interfaces': [seeds.UPLINK]})))
    before = heat.revision()
    with pytest.raises(heat_exc.StackValidationFailed) as err:
        stk.validate()
    assert 'ha_interface %s has link_type uplink: downlink_interfaces ' \
        'must be downlink interfaces' % seeds.UPLINK in str(err.value)
    assert heat.revision() == before


# --- static routes ----------------------------------------------------------

def test_a_static_route_is_the_seeds_points(heat, stand_in):
    seeds.register_gateway(heat)
    since = heat.revision() + 1
    stk = create(('route', 'static_route', {}))
    rid = stk['route'].resource_id
    (config_key, config), = seeds.points('static_route')['(1)']
    seed_rid = config_key.rsplit('/', 1)[1]
    assert esi_fixtures.json_at(heat, keys.config('static_route', rid)) == \
        seeds.with_id(config, seed_rid, rid)
    (seed_key, seed_job), = seeds.points('static_route')['(2)']
    found = [json.loads(event.kv.value) for event in esi_fixtures.history(
        heat, keys.JOBS_ALL, since) if event.kv.version == 1]
    assert len(found) == 1
    job = found[0]
    esi_fixtures.operator_fields(job)
    assert job[1]['id'].startswith(
        'create:heat_worker:static_route:%s:1:' % rid)
    expected = seeds.with_id(seed_job, seed_job[1]['id'], job[1]['id'])
    expected = seeds.with_id(expected, seed_rid, rid)
    # heat-esi's: no device credentials in a job.
    credentials = ('primary_device_username', 'primary_device_password',
                   'secondary_device_username', 'secondary_device_password')
    expected[1]['params'] = [p for p in expected[1]['params']
                             if p['param'] not in credentials]
    assert job == expected
    assert not {p['param'] for p in job[1]['params']} & set(credentials)
    assert seeds.PASSWORD not in json.dumps(job)
    assert esi_fixtures.json_at(heat, keys.state('static_route', rid)) == \
        seeds.points('static_route')['(5)'][0][1]
    assert stk['route'].FnGetAtt('status') == 'ACTIVE'


def test_a_retried_static_route_create_writes_one_job(heat):
    seeds.register_gateway(heat)
    stk = heat_engine.stack(template(('route', 'static_route', {})))
    res = stk['route']
    since = heat.revision() + 1
    res.handle_create()
    res.handle_create()
    rid = res.resource_id
    assert [key for _rev, key in writes(heat, since, rid)
            if not key.startswith(keys.JOBS_WORKING)] == [
        keys.config('static_route', rid),
        [kv.key for kv in heat.get_prefix(keys.JOBS_ALL)[0]][0]]


def test_past_maximum_static_routes_a_route_is_refused_with_nothing_written(
        heat, stand_in):
    seeds.register_gateway(heat, maximum_static_routes=1)
    first = create(('route', 'static_route', {}))
    before = heat.revision()
    stk = heat_engine.stack(template(
        ('route', 'static_route', {'destination': '192.168.1.0/24'})))
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert ('vpn_gateway %s has 1 static routes, its maximum_static_routes: '
            '%s. Delete one first; nothing was written.'
            % (seeds.GATEWAY, first['route'].resource_id)) in \
        stk['route'].status_reason
    rid = stk['route'].resource_id
    assert esi_fixtures.resource_keys(heat, rid) == []
    assert [kv.key for kv in heat.get_prefix('/config/')[0]
            if kv.mod_revision > before] == []


def test_two_routes_for_the_last_place_at_once_get_one(heat, stand_in):
    """A route written between another's count and write: it counts again."""
    seeds.register_gateway(heat, maximum_static_routes=1)
    stk = heat_engine.stack(template(('route', 'static_route', {})))
    res = stk['route']
    counted = res._create_conditions
    rival = []

    def count_then_lose_the_race():
        found = counted()
        if not rival:
            rival.append(create(('route', 'static_route',
                                 {'destination': '192.168.1.0/24'})))
        return found
    res._create_conditions = count_then_lose_the_race
    with pytest.raises(heat_exc.Error) as err:
        res.handle_create()
    assert 'has 1 static routes, its maximum_static_routes: %s' % (
        rival[0]['route'].resource_id) in str(err.value)
    assert heat.get(keys.config('static_route', res.resource_id)) is None
    assert len(heat.get_prefix(keys.config_prefix('static_route'))[0]) == 1


def test_a_route_on_a_missing_gateway_is_refused(heat):
    stk = heat_engine.stack(template(('route', 'static_route', {})))
    with pytest.raises(heat_exc.StackValidationFailed) as err:
        stk.validate()
    assert 'vpn_gw_id' in str(err.value)


def test_a_static_route_delete_is_one_heat_job_then_nothing_left(
        heat, stand_in):
    seeds.register_gateway(heat)
    stk = create(('route', 'static_route', {}))
    rid = stk['route'].resource_id
    # The gateway cannot go while the route names it.
    assert 'static_route %s (sample-static-route)' % rid in ', '.join(
        lifecycle.users(
            heat, 'vpn_gateway', seeds.GATEWAY, lambda body: True))
    since = heat.revision() + 1
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    jobs = [json.loads(event.kv.value)[1] for event in esi_fixtures.history(
        heat, keys.JOBS_ALL, since) if event.kv.version == 1]
    assert [(job['action'], job['handler'], job['is_first'], job['is_last'])
            for job in jobs] == [('logical_delete', 'heat_worker', True,
                                  True)]
    assert seeds.PASSWORD not in json.dumps(jobs)
    assert esi_fixtures.resource_keys(heat, rid) == []


# The gateway's VRF on each router, as the gateway's create left it
# (esi-vpn-run/09_vpn_gateway.md): the static route goes into it.
BASELINE = (
    'system { host-name %s; }\n'
    'interfaces { interface ae0 { description lag; '
    'unit 1025 { vlan-id 1025; } } }\n'
    'routing-instances { instance vrf_gw_sample-ha-router-downlink_1025 { '
    'instance-type virtual-router; interface ae0.1025; } }')
VRF = ('routing-instances/instance[name="vrf_gw_sample-ha-router-'
       'downlink_1025"]')
# 14.6: what lands on MX-1 and MX-2 alike, in the gateway's VRF.
LANDED = 'routing-options { static { route 192.168.0.0/24 ' \
    'next-hop 172.16.101.1; } }'


@pytest.fixture
def routers(heat, tmp_path):
    """Two NETCONF test routers (127.0.0.2, 127.0.0.3) with the VRF.

    Their host keys are in [netconf] known_hosts_file; the seed's edge
    routers still stand at the seed's addresses until a test moves them
    (netconf_devices.register).
    """
    with netconf_devices.trusted(tmp_path, BASELINE, ('mx2', '127.0.0.2'),
                                 ('mx1', '127.0.0.3')) as started:
        yield started


def vrf_routes(router):
    """The gateway VRF's routing-options on *router*, canonical; or None."""
    found = router.running().find(VRF + '/routing-options')
    return None if found is None else named.canonical(found)


def test_the_static_route_stack_is_valid_hot_with_the_jobs_params(
        heat, routers):
    """The heat_worker's render of static_route_vpn, made by the engine.

    The job's params, built from the seed's resources, are the template's
    parameters, of their types; with the edge routers moved to two NETCONF
    test routers, the stack (OS::Contrail::NetconfNamedConfigs as
    etc/heat-esi/netconf.yaml maps it) puts 14.6's route into the gateway's
    VRF on both, and its delete takes it away again.
    """
    seeds.register_gateway(heat)
    _rid, body = seeds.config('static_route')
    template = templates.fetch(heat, 'static_route_vpn')

    def split_params():
        built = templates.build_params(template, 'static_route', body, 1,
                                       templates.config_lookup(heat))
        return heat_handler.split_params(
            {p['param']: p['value'] for p in built}, 10)
    parameters, context, timeout = split_params()
    assert timeout == 60 and context == {}
    assert (parameters['primary_device_ip'],
            parameters['secondary_device_ip'],
            parameters['primary_device_port'], parameters['vrf_name']) == (
        '10.79.5.185', '10.79.5.184', 830,
        'vrf_gw_sample-ha-router-downlink_1025')

    # The seed's edge routers, now at the test routers' addresses.
    (_t, primary), (_t, secondary) = seeds.infrastructure()[:2]
    for router, device in zip((primary, secondary), routers):
        netconf_devices.register(heat, router['id'], device)
    parameters, context, _timeout = split_params()
    assert (parameters['primary_device_ip'],
            parameters['secondary_device_ip']) == ('127.0.0.2', '127.0.0.3')
    before = [named.canonical(r.running()) for r in routers]
    ctx = heat_engine.context()
    ctx.roles = ['esi_netconf']
    stk = heat_engine.stack(heat_handler.render(template, context), ctx=ctx,
                            params=dict(named.environment(),
                                        parameters=parameters))
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    assert sorted(stk.resources) == ['netconf_configure_primary',
                                     'netconf_configure_secondary']
    shown = dict(stk.parameters)
    assert (shown['primary_device_ip'], shown['secondary_device_ip'],
            shown['primary_device_port'], shown['vrf_name']) == (
        '127.0.0.2', '127.0.0.3', routers[0].port,
        'vrf_gw_sample-ha-router-downlink_1025')
    landed, = junos.parse_text(LANDED)
    for router in routers:
        assert vrf_routes(router) == named.canonical(landed), \
            router.running_text()

    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert [named.canonical(r.running()) for r in routers] == before

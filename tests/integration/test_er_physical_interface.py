"""ESI::ErPhysicalInterface (and the ESI::EdgeRouter it sits on) through
the real Heat engine, a real etcd, real esi-worker processes and real SNMP
agents: the seed documents' points (1) to (5), monitoring, check,
refusals and the lifecycle."""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import threading

import pytest

from heat.common import exception as heat_exc
from heat.engine import stack as stack_mod
from heat.engine import template as template_mod

from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures
from tests import snmp_agents

INTERVAL = snmp_agents.MONITOR_INTERVAL
ROUTER_IP = '127.0.0.2'
SEED_ROUTER = '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'
SEED_ROUTER_IP = '10.79.5.185'
SEED_INTERFACE = '6e8f473f-47ec-4b54-8f0f-d459d440393b'
# An interface every test host has, standing in for the device's ge-0/0/1.
IF_NAME = 'lo'
OTHER_PROJECT = 'a-project-of-someone-else'


@pytest.fixture
def heat(heat_engine_on):
    """The in-process Heat engine on the test etcd (the shared set-up)."""
    return heat_engine_on


@pytest.fixture
def stand_in(heat):
    """A stand-in worker that answers every job at once."""
    stop = threading.Event()
    yield lambda: esi_fixtures.answer_jobs(heat, stop)
    stop.set()


def router_and_interface(ip=ROUTER_IP, **interface):
    """A stack of the seed's edge router at *ip* and an interface on it.

    The interface's device_id is a get_resource, known only once the
    router exists.
    """
    interface.setdefault('name', IF_NAME)
    interface.setdefault('device_id', {'get_resource': 'router'})
    return {
        'heat_template_version': '2018-08-31',
        'resources': {
            'router': {'type': 'ESI::EdgeRouter', 'properties': {
                'name': 'vMX-router-01', 'description': 'MX80 #1',
                'ip': ip, 'ssh_port': 830, 'autonomous_system': 65101,
                'login': 'esi', 'password': 'esiesi0000'}},
            'interface': {'type': 'ESI::ErPhysicalInterface',
                          'properties': interface},
        },
        'outputs': {'state': {'value': {'get_attr': [
            'interface', 'state_monitoring']}}},
    }


def interface_only(**props):
    return {'heat_template_version': '2018-08-31',
            'resources': {'interface': {'type': 'ESI::ErPhysicalInterface',
                                        'properties': props}}}


def expected(blocks, point, **replace):
    """The seed's (key, value) of *point*, with texts substituted.

    *replace* maps the seed's ids, addresses, names and job suffix to the
    test's.
    """
    key, value = blocks[point]
    text = json.dumps([key, value])
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.loads(text)


def job_of(client, rtype, rid):
    """(key, value) of the job written for *rid*, from etcd's history.

    The value as Heat wrote it, before a claim rewrote it.
    """
    found = [ev.kv for ev in esi_fixtures.history(client, keys.JOBS_ALL, 1)
             if ev.kv.version == 1 if ':%s:%s:' % (rtype, rid) in ev.kv.key]
    assert len(found) == 1, [kv.key for kv in found]
    return found[0].key, json.loads(found[0].value)


def job_state_of(client, rtype, rid):
    found = [ev.kv for ev in esi_fixtures.history(client, '/esi-worker/', 1)
             if ev.kv.key == keys.job_state(rtype, rid)]
    assert len(found) == 1, found
    return found[0].key, json.loads(found[0].value)


def value_at(client, key):
    kv = client.get(key)
    return json.loads(kv.value) if kv else None


def assert_seed(client, document, rtype, rid, **replace):
    """Points (1) to (5) of *document* are what etcd holds (or held).

    The field order of the /config body is compared too.
    """
    blocks = esi_fixtures.seed_blocks(document)
    key, config = expected(blocks, '(1)', **replace)
    written = value_at(client, key)
    assert written == config
    assert list(written['body']) == list(config['body'])

    key, job = expected(blocks, '(2)', **replace)
    job_key, written = job_of(client, rtype, rid)
    suffix = job_key[-5:]
    key, job = expected(blocks, '(2)', **dict(
        replace, **{key[-5:]: suffix}))
    assert job_key == key
    esi_fixtures.operator_fields(written)
    # heat-esi's one deliberate difference: secrets stay in /config, out
    # of every job (the seed's edge router job carries its password).
    job[1]['resource_input'] = records.without_secrets(
        job[1]['resource_input'])
    assert written == job

    key, job_state = expected(blocks, '(3)', **replace)
    assert job_state_of(client, rtype, rid) == (key, job_state)

    key, state = expected(blocks, '(4)', **replace)
    assert value_at(client, key) == state

    if '(5)' in blocks:
        key, monitoring = expected(blocks, '(5)', **replace)
        esi_fixtures.wait_until(
            lambda: value_at(client, key) == monitoring,
            timeout=3 * INTERVAL + 5, message='%s = %s' % (key, monitoring))


def test_seed_documents_points_1_to_5(heat, snmp_workers):
    snmp_workers(1)
    stk = heat_engine.stack(router_and_interface(description=''))
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    router = stk['router'].resource_id
    interface = stk['interface'].resource_id
    assert_seed(heat, 'CreateEdgeRouter_02.md', 'edge_router', router, **{
        '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e': router,
        '10.79.5.184': ROUTER_IP})
    assert_seed(heat, 'CreateErPhysicalInterface_01.md',
                'er_physical_interface', interface, **{
                    SEED_INTERFACE: interface, SEED_ROUTER: router,
                    SEED_ROUTER_IP: ROUTER_IP, 'ge-0/0/1': IF_NAME})
    # The Heat property is an integer; ESI stores a string.
    config = value_at(heat, keys.config('edge_router', router))
    assert config['body']['autonomous_system'] == '65101'
    assert stk['interface'].FnGetAtt('state_monitoring') == {
        'interface': 'UP'}
    assert stk['interface'].FnGetAtt('status') == 'ACTIVE'
    stk.check()
    assert stk.state == ('CHECK', 'COMPLETE'), stk.status_reason
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    for rid in (router, interface):
        assert esi_fixtures.resource_keys(heat, rid) == []


def test_interface_down_turns_monitoring_down_and_check_names_it(
        heat, snmp_workers, agents):
    snmp_workers(1)
    stk = heat_engine.stack(router_and_interface())
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    interface = stk['interface'].resource_id
    key = keys.monitoring('er_physical_interface', interface)
    esi_fixtures.wait_until(
        lambda: value_at(heat, key) == {'interface': 'UP', 'version': 1},
        timeout=3 * INTERVAL + 5, message='UP')
    agents[0].stop()
    esi_fixtures.wait_until(
        lambda: value_at(heat, key) == {'interface': 'DOWN', 'version': 1},
        timeout=3 * INTERVAL + 5, message='DOWN')
    assert stk['interface'].FnGetAtt('state_monitoring') == {
        'interface': 'DOWN'}
    assert stk['interface'].FnGetAtt('status') == 'DOWN'
    res = stk['interface']
    with pytest.raises(Exception) as err:
        for _ in res.check():
            pass
    assert 'er_physical_interface %s at %s: interface DOWN (no SNMP ' \
        'answer from %s:' % (interface, ROUTER_IP, ROUTER_IP) \
        in str(err.value)


def test_an_interface_the_device_lacks_fails_the_create(heat,
                                                        snmp_workers):
    snmp_workers(1, check_timeout=1)
    stk = heat_engine.stack(router_and_interface(name='ge-9/9/9'))
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    reason = stk['interface'].status_reason
    assert 'no interface named ge-9/9/9' in reason, reason
    assert 'CREATE_FAILED' in reason


def register_router(client, rid=SEED_ROUTER, project=esi_fixtures.PROJECT):
    esi_fixtures.register(client, 'edge_router', rid, {'router': 'ACTIVE'},
                          project=project, name='r', ip=ROUTER_IP)


@pytest.mark.parametrize('port', [None, '', '5c1d0b2e-ese-port'])
def test_connected_ese_port_id_only_when_given(heat, stand_in, port):
    register_router(heat)
    stand_in()
    props = {'name': 'ae0', 'device_id': SEED_ROUTER}
    if port is not None:
        # An empty id (ha_gateway.yaml's default) names no port either.
        props['connected_ese_port_id'] = port
    stk = heat_engine.stack(interface_only(**props))
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['interface'].resource_id
    body = value_at(heat, keys.config('er_physical_interface', rid))['body']
    fields = ['status', 'description', 'tenant_id', 'device_id', 'id',
              'name']
    assert list(body) == fields + (['connected_ese_port_id'] if port
                                   else [])
    assert body.get('connected_ese_port_id') == (port or None)
    _, job = job_of(heat, 'er_physical_interface', rid)
    assert job[1]['resource_input'] == body
    assert [(p['param'], p['value']) for p in job[1]['params']] == [
        ('community_name', 'EDGE_ROUTER_COMMUNITY'),
        ('device_ip', ROUTER_IP), ('name', 'ae0')]


def update(stk, template):
    stk.update(stack_mod.Stack(stk.context, stk.name,
                               template_mod.Template(template)))
    return stk


def test_update_in_place(heat, stand_in):
    register_router(heat)
    stand_in()
    stk = heat_engine.stack(interface_only(
        name='ae0', device_id=SEED_ROUTER, connected_ese_port_id='p1'))
    stk.create()
    rid = stk['interface'].resource_id
    update(stk, interface_only(name='ae1', description='LAG',
                               device_id=SEED_ROUTER))
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    assert stk['interface'].resource_id == rid
    config = value_at(heat, keys.config('er_physical_interface', rid))
    assert config['version'] == 2
    assert config['body']['name'] == 'ae1'
    assert config['body']['description'] == 'LAG'
    assert config['body']['status'] == 'PENDING_UPDATE'
    assert 'connected_ese_port_id' not in config['body']


def test_another_device_replaces_the_interface(heat, snmp_workers):
    snmp_workers(1)
    other = '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e'
    register_router(heat)
    esi_fixtures.register(heat, 'edge_router', other, {'router': 'ACTIVE'},
                          name='r2', ip='127.0.0.3')
    stk = heat_engine.stack(interface_only(name=IF_NAME,
                                           device_id=SEED_ROUTER))
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['interface'].resource_id
    update(stk, interface_only(name=IF_NAME, device_id=other))
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    new = stk['interface'].resource_id
    assert new != rid
    assert esi_fixtures.resource_keys(heat, rid) == []
    config = value_at(heat, keys.config('er_physical_interface', new))
    assert (config['version'], config['body']['device_id']) == (1, other)
    _, job = job_of(heat, 'er_physical_interface', new)
    assert job[1]['params'][1]['value'] == '127.0.0.3'


def test_autonomous_system_update_is_stored_as_a_string(heat, stand_in):
    stand_in()
    template = router_and_interface()
    del template['resources']['interface']
    template['outputs'] = {}
    stk = heat_engine.stack(template)
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['router'].resource_id
    template['resources']['router']['properties']['autonomous_system'] = \
        4294967295
    update(stk, template)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    body = value_at(heat, keys.config('edge_router', rid))['body']
    assert body['autonomous_system'] == '4294967295'
    _, job = esi_fixtures.wait_until(lambda: [
        (ev.kv.key, json.loads(ev.kv.value)) for ev in
        esi_fixtures.history(heat, keys.JOBS_ALL, 1)
        if ev.kv.key.startswith(keys.job(keys.job_prefix(
            'modify', 'monitoring_worker', 'edge_router', rid)))],
        message='job')[0]
    assert job[1]['resource_input']['autonomous_system'] == '4294967295'


@pytest.mark.parametrize('props, message', [
    ({'device_id': '00000000-0000-4000-8000-00000000dead'},
     'edge_router 00000000-0000-4000-8000-00000000dead does not exist in '
     'ESI'),
    ({'device_id': 'theirs'}, 'edge_router theirs does not exist in ESI'),
    ({'name': ''}, 'name'),
    ({'name': None}, 'Property name not assigned'),
    ({'device_id': None}, 'Property device_id not assigned'),
])
def test_refusals_write_nothing(heat, props, message):
    register_router(heat)
    register_router(heat, 'theirs', project=OTHER_PROJECT)
    values = dict({'name': 'ae0', 'device_id': SEED_ROUTER}, **props)
    stk = heat_engine.stack(interface_only(**{
        k: v for k, v in values.items() if v is not None}))
    before = heat.revision()
    with pytest.raises(heat_exc.StackValidationFailed) as err:
        stk.validate()
    assert message in str(err.value)
    assert heat.revision() == before

"""ESI::HaInterface through the real Heat engine and a real etcd: the seed
document's points (1) to (4) with real esi-worker processes and SNMP
agents, derived fields for varied inputs, refusals, updates and deletes
refused across stacks."""

from tests import heat_engine  # noqa: F401  (before any heat import)

import base64
import json
import threading

import pytest

from heat.common import exception as heat_exc
from heat.engine import stack as stack_mod
from heat.engine import template as template_mod

from heat_esi import keys
from tests import esi_fixtures
from tests import snmp_agents

INTERVAL = snmp_agents.MONITOR_INTERVAL
IF_NAME = 'lo'      # on every test host; stands in for ge-0/0/1
PRIMARY, SECONDARY = esi_fixtures.PRIMARY, esi_fixtures.SECONDARY
HA_ROUTER = 'f01ed0a6-7094-4e54-b14b-94657fff1efb'
P_IF = '6e8f473f-47ec-4b54-8f0f-d459d440393b'
S_IF = 'f87c6efe-f590-4c29-8fc9-2f914e1eb362'
# Another interface of the primary router (the seed's ae0).
P_IF2 = '8ff57ce4-0000-4000-8000-000000000001'
SEED_ID = '5e552b8f-cd5a-454c-a224-33f7da0afa24'
OTHER_PROJECT = 'a-project-of-someone-else'


@pytest.fixture
def heat(heat_engine_on):
    """The in-process Heat engine on the test etcd (the shared set-up)."""
    return heat_engine_on


@pytest.fixture
def registered(heat):
    """The seed's edge routers, physical interfaces and HA router.

    Each as its own finished create leaves it: /config and /state.
    """
    def register(rtype, rid, parts, **body):
        esi_fixtures.register(heat, rtype, rid, parts, **body)
    for rid, ip in ((PRIMARY, '127.0.0.2'), (SECONDARY, '127.0.0.3')):
        register('edge_router', rid, {'router': 'ACTIVE'}, ip=ip,
                 name='router-' + rid[:4])
    for rid, device, name in ((P_IF, PRIMARY, 'ge-0/0/1'),
                              (S_IF, SECONDARY, 'ge-0/0/1'),
                              (P_IF2, PRIMARY, 'ae0')):
        register('er_physical_interface', rid, {'interface': 'ACTIVE'},
                 device_id=device, name=name, description='')
    register('ha_router', HA_ROUTER, {'primary': 'ACTIVE',
                                      'secondary': 'ACTIVE'},
             primary_router_id=PRIMARY, secondary_router_id=SECONDARY,
             name='sample-ha-router')
    return heat


@pytest.fixture
def stand_in(registered):
    """A stand-in worker that answers every job at once."""
    stop = threading.Event()
    esi_fixtures.answer_jobs(registered, stop)
    yield registered
    stop.set()


def ha_interface(**props):
    props.setdefault('name', 'sample-ha-router-uplink')
    props.setdefault('ha_router_id', HA_ROUTER)
    props.setdefault('primary_interface_id', P_IF)
    props.setdefault('secondary_interface_id', S_IF)
    props.setdefault('link_type', 'uplink')
    return {'heat_template_version': '2018-08-31',
            'resources': {'hai': {'type': 'ESI::HaInterface',
                                  'properties': props}},
            'outputs': {'state': {'value': {'get_attr': [
                'hai', 'state_monitoring']}}}}


def gateway(**uplink):
    """An HA router and its uplink, over edge routers on the test agents.

    Two edge routers, a physical interface on each, the HA router over
    them and its uplink, wired with get_resource.
    """
    resources = {}
    for which, ip in (('primary', '127.0.0.2'), ('secondary', '127.0.0.3')):
        resources['%s_router' % which] = {
            'type': 'ESI::EdgeRouter', 'properties': {
                'name': 'vMX-%s' % which, 'ip': ip,
                'autonomous_system': 65101}}
        resources['%s_uplink' % which] = {
            'type': 'ESI::ErPhysicalInterface', 'properties': {
                'name': IF_NAME,
                'device_id': {'get_resource': '%s_router' % which}}}
    resources['ha_router'] = {'type': 'ESI::HaRouter', 'properties': {
        'name': 'sample-ha-router',
        'primary_router_id': {'get_resource': 'primary_router'},
        'secondary_router_id': {'get_resource': 'secondary_router'}}}
    uplink.setdefault('name', 'sample-ha-router-uplink')
    uplink.setdefault('description', '')
    uplink.setdefault('link_type', 'uplink')
    uplink.update(
        ha_router_id={'get_resource': 'ha_router'},
        primary_interface_id={'get_resource': 'primary_uplink'},
        secondary_interface_id={'get_resource': 'secondary_uplink'})
    resources['uplink'] = {'type': 'ESI::HaInterface',
                           'properties': uplink}
    return {'heat_template_version': '2018-08-31', 'resources': resources}


def value_at(client, key):
    kv = client.get(key)
    return json.loads(kv.value) if kv else None


def first_job(client, rtype, rid):
    """(key, value) of the job written for *rid*, from etcd's history.

    The value as Heat wrote it, before a claim rewrote it.
    """
    found = [ev.kv for ev in esi_fixtures.history(client, keys.JOBS_ALL, 1)
             if ev.kv.version == 1 if ':%s:%s:' % (rtype, rid) in ev.kv.key]
    assert found
    return found[0].key, json.loads(found[0].value)


def substituted(value, replace):
    text = json.dumps(value)
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.loads(text)


def bits(pool_state):
    """The set bits of a vlan_pool_state, read without heat_esi.vlans."""
    raw = base64.b64decode(pool_state)
    assert len(raw) == 512
    return {i for i in range(4096) if raw[i // 8] >> (7 - i % 8) & 1}


def test_seed_document_points_1_to_4(heat, snmp_workers):
    snmp_workers(1)
    stk = heat_engine.stack(gateway())
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['uplink'].resource_id
    replace = {SEED_ID: rid, HA_ROUTER: stk['ha_router'].resource_id,
               P_IF: stk['primary_uplink'].resource_id,
               S_IF: stk['secondary_uplink'].resource_id}
    seed = esi_fixtures.seed_blocks('CreateHaInterface_01.md')

    key, config = substituted(seed['(1)'], replace)
    written = value_at(heat, key)
    assert written == config
    assert list(written['body']) == list(config['body'])

    job_key, job = first_job(heat, 'ha_interface', rid)
    key, expected = substituted(seed['(2)'], dict(
        replace, pfty9=job_key[-5:]))
    assert job_key == key
    esi_fixtures.operator_fields(job)
    assert job == expected

    key, job_state = substituted(seed['(3)'], replace)
    assert [json.loads(ev.kv.value) for ev in esi_fixtures.history(
        heat, key, 1)] == [job_state]
    key, state = substituted(seed['(4)'], replace)
    assert value_at(heat, key) == state

    hai = stk['uplink']
    assert hai.FnGetAtt('state_monitoring') == {'primary': 'UP',
                                                'secondary': 'UP'}
    assert hai.FnGetAtt('status') == 'ACTIVE'
    assert hai.FnGetAtt('vlan_ids_available') == 4093
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    for res in stk.resources.values():
        assert esi_fixtures.resource_keys(heat, res.resource_id) == []


def test_interface_down_is_named_by_the_ha_interface_check(
        heat, snmp_workers, agents):
    snmp_workers(1)
    stk = heat_engine.stack(gateway())
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    secondary = stk['secondary_uplink'].resource_id
    key = keys.monitoring('er_physical_interface', secondary)
    agents[1].stop()
    esi_fixtures.wait_until(
        lambda: value_at(heat, key) == {'interface': 'DOWN', 'version': 1},
        timeout=3 * INTERVAL + 5, message='%s DOWN' % key)
    hai = stk['uplink']
    assert hai.FnGetAtt('state_monitoring') == {'primary': 'UP',
                                                'secondary': 'DOWN'}
    assert hai.FnGetAtt('status') == 'DOWN'
    with pytest.raises(Exception) as err:
        for _ in hai.check():
            pass
    assert 'er_physical_interface %s (secondary) at 127.0.0.3: interface ' \
        'DOWN (no SNMP answer from 127.0.0.3:' % secondary in str(err.value)
    # The whole agent is down: Heat stops at the first resource whose check
    # fails, the router, its interface or what stands on them; each names
    # the device.
    stk.check()
    assert stk.state == ('CHECK', 'FAILED')
    assert 'at 127.0.0.3: ' in stk.status_reason
    iface = stk['secondary_uplink']
    iface.state_set(iface.CREATE, iface.COMPLETE)
    with pytest.raises(Exception) as err:
        for _ in iface.check():
            pass
    assert 'er_physical_interface %s at 127.0.0.3: interface DOWN' \
        % secondary in str(err.value)


def expected_bits(*restricted):
    return {0, 31, 4095} | set(restricted)


@pytest.mark.parametrize('props, unavailable', [
    ({}, expected_bits()),
    ({'link_type': 'downlink'}, expected_bits()),
    ({'restricted_vlans': '0'}, expected_bits()),
    ({'restricted_vlans': '1'}, expected_bits(1)),
    ({'restricted_vlans': '4094'}, expected_bits(4094)),
    ({'restricted_vlans': '4095'}, expected_bits()),
    ({'restricted_vlans': '0-1,4094-4095'}, expected_bits(1, 4094)),
    ({'restricted_vlans': '100'}, expected_bits(100)),
    ({'restricted_vlans': '10-20,15-30,25'},
     expected_bits(*range(10, 31))),
    ({'restricted_vlans': '0-1024,4094'},
     expected_bits(*range(1025), 4094)),
    ({'maximum_be_bandwidth': 1000, 'maximum_ga_bandwidth': 250},
     expected_bits()),
    ({'admin_state_up': False, 'description': 'down for now'},
     expected_bits()),
])
def test_derived_fields(stand_in, props, unavailable):
    heat = stand_in
    stk = heat_engine.stack(ha_interface(**props))
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['hai'].resource_id
    body = value_at(heat, keys.config('ha_interface', rid))['body']
    assert bits(body['vlan_pool_state']) == unavailable
    assert body['vlan_ids_available'] == 4096 - len(unavailable)
    assert body['restricted_vlans'] == props.get('restricted_vlans', '')
    assert body['link_type'] == props.get('link_type', 'uplink')
    assert body['admin_state_up'] is props.get('admin_state_up', True)
    for kind in ('be', 'ga'):
        maximum = props.get('maximum_%s_bandwidth' % kind, 0)
        assert body['maximum_%s_bandwidth' % kind] == maximum
        assert body['available_%s_bandwidth' % kind] == maximum
    assert body['gateway_instances_count'] == 0
    _, job = first_job(heat, 'ha_interface', rid)
    assert job[1]['resource_input'] == body
    assert [(p['param'], p['value'], p['resources'])
            for p in job[1]['params']] == [
        ('primary_interface_id', P_IF, [
            {'resource_type': 'er_physical_interface',
             'resource_id': P_IF}]),
        ('secondary_interface_id', S_IF, [
            {'resource_type': 'er_physical_interface',
             'resource_id': S_IF}])]
    assert stk['hai'].FnGetAtt('vlan_ids_available') == \
        4096 - len(unavailable)


@pytest.mark.parametrize('props, message', [
    # Each interface on the other router.
    ({'primary_interface_id': S_IF, 'secondary_interface_id': P_IF},
     'er_physical_interface %s is on edge router %s, but ha_router %s has '
     'edge router %s as its primary_router_id'
     % (S_IF, SECONDARY, HA_ROUTER, PRIMARY)),
    ({'secondary_interface_id': P_IF2},
     'er_physical_interface %s is on edge router %s, but ha_router %s has '
     'edge router %s as its secondary_router_id'
     % (P_IF2, PRIMARY, HA_ROUTER, SECONDARY)),
    ({'ha_router_id': 'f01ed0a6-0000-4000-8000-00000000dead'},
     'ha_router f01ed0a6-0000-4000-8000-00000000dead does not exist in ESI'),
    ({'primary_interface_id': 'unknown'},
     'er_physical_interface unknown does not exist in ESI'),
    ({'secondary_interface_id': 'theirs'},
     'er_physical_interface theirs does not exist in ESI'),
    ({'restricted_vlans': '100-4096'},
     '"100-4096" is outside the VLAN ids 0-4095'),
    ({'restricted_vlans': '1,x,3'}, '"x" is neither a VLAN id nor a range'),
    ({'restricted_vlans': '-1'}, '"-1" is neither a VLAN id nor a range'),
    ({'link_type': 'sideways'}, 'link_type'),
    ({'maximum_be_bandwidth': -1}, 'maximum_be_bandwidth'),
])
def test_refusals_at_validation_write_nothing(registered, props, message):
    heat = registered
    esi_fixtures.register(heat, 'er_physical_interface', 'theirs',
                          {'interface': 'ACTIVE'}, project=OTHER_PROJECT,
                          device_id=SECONDARY, name='ge-0/0/1')
    stk = heat_engine.stack(ha_interface(**props))
    before = heat.revision()
    with pytest.raises(heat_exc.StackValidationFailed) as err:
        stk.validate()
    assert message in str(err.value)
    assert heat.revision() == before
    if 'er_physical_interface %s is on' % S_IF in message:
        assert 'primary_interface_id' in str(err.value)


def test_a_wrong_router_known_only_at_create_writes_nothing(stand_in):
    heat = stand_in
    # The secondary interface comes from the stack: on the primary router.
    template = ha_interface(
        secondary_interface_id={'get_resource': 'wrong'})
    template['resources']['wrong'] = {
        'type': 'ESI::ErPhysicalInterface',
        'properties': {'name': 'ge-0/0/2', 'device_id': PRIMARY}}
    stk = heat_engine.stack(template)
    stk.validate()
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    wrong = stk['wrong'].resource_id
    reason = stk['hai'].status_reason
    assert 'secondary_interface_id' in reason
    assert 'er_physical_interface %s is on edge router %s, but ha_router ' \
        '%s has edge router %s as its secondary_router_id' % (
            wrong, PRIMARY, HA_ROUTER, SECONDARY) in reason
    assert heat.get_prefix(keys.config_prefix('ha_interface'))[0] == []
    assert [kv for kv in heat.get_prefix(keys.JOBS_ALL)[0]
            if ':ha_interface:' in kv.key] == []


def update(stk, template):
    stk.update(stack_mod.Stack(stk.context, stk.name,
                               template_mod.Template(template)))
    return stk


def test_update_in_place_recomputes_the_derived_fields(stand_in):
    heat = stand_in
    stk = heat_engine.stack(ha_interface(restricted_vlans='100-199',
                                         maximum_be_bandwidth=1000))
    stk.create()
    rid = stk['hai'].resource_id
    key = keys.config('ha_interface', rid)
    # Gateways took VLAN 500 and 300 of the best-effort bandwidth, as
    # ESI's API does, in /config.
    config = value_at(heat, key)
    body = config['body']
    taken = bits(body['vlan_pool_state']) | {500}
    raw = bytearray(512)
    for vid in taken:
        raw[vid // 8] |= 0x80 >> (vid % 8)
    body.update(vlan_pool_state=base64.b64encode(bytes(raw)).decode(),
                vlan_ids_available=4096 - len(taken),
                available_be_bandwidth=700, gateway_instances_count=1)
    heat.put(key, config)

    update(stk, ha_interface(name='renamed', admin_state_up=False,
                             restricted_vlans='4000', maximum_be_bandwidth=300,
                             maximum_ga_bandwidth=50))
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    assert stk['hai'].resource_id == rid
    config = value_at(heat, key)
    body = config['body']
    assert config['version'] == 2
    assert body['status'] == 'PENDING_UPDATE'
    assert (body['name'], body['admin_state_up']) == ('renamed', False)
    assert body['restricted_vlans'] == '4000'
    # 100-199 are free again; 500 stays in use.
    assert bits(body['vlan_pool_state']) == {0, 31, 500, 4000, 4095}
    assert body['vlan_ids_available'] == 4091
    assert (body['maximum_be_bandwidth'], body['available_be_bandwidth']) \
        == (300, 0)
    assert (body['maximum_ga_bandwidth'], body['available_ga_bandwidth']) \
        == (50, 50)
    assert body['gateway_instances_count'] == 1

    # Below what gateways use, or a VLAN they use: refused, not written.
    for props, message in (
            ({'maximum_be_bandwidth': 299},
             'maximum_be_bandwidth cannot be lowered to 299: gateways use '
             '300 of it'),
            ({'maximum_be_bandwidth': 300, 'restricted_vlans': '400-600'},
             'restricted_vlans cannot include VLAN ids that gateways use: '
             '500')):
        before = heat.revision()
        update(stk, ha_interface(**props))
        assert stk.state == ('UPDATE', 'FAILED')
        assert message in stk.status_reason
        assert heat.revision() == before


def test_another_interface_replaces_the_ha_interface(stand_in):
    heat = stand_in
    # Another interface of the primary router: a new HA interface.
    other = 'a3a62a37-0000-4000-8000-000000000002'
    esi_fixtures.register(heat, 'er_physical_interface', other,
                          {'interface': 'ACTIVE'}, device_id=PRIMARY,
                          name='ae0')
    stk = heat_engine.stack(ha_interface())
    stk.create()
    old = stk['hai'].resource_id
    update(stk, ha_interface(primary_interface_id=other))
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    new = stk['hai'].resource_id
    assert new != old
    assert heat.get(keys.config('ha_interface', old)) is None
    body = value_at(heat, keys.config('ha_interface', new))['body']
    assert body['primary_interface_id'] == other


def test_what_an_ha_interface_uses_cannot_be_deleted_from_another_stack(
        stand_in):
    heat = stand_in
    base = {'heat_template_version': '2018-08-31', 'resources': {
        'primary_uplink': {'type': 'ESI::ErPhysicalInterface',
                           'properties': {'name': 'ge-0/0/3',
                                          'device_id': PRIMARY}},
        'secondary_uplink': {'type': 'ESI::ErPhysicalInterface',
                             'properties': {'name': 'ge-0/0/3',
                                            'device_id': SECONDARY}},
        'ha_router': {'type': 'ESI::HaRouter', 'properties': {
            'primary_router_id': PRIMARY,
            'secondary_router_id': SECONDARY}}}}
    under = heat_engine.stack(base)
    under.create()
    assert under.state == ('CREATE', 'COMPLETE'), under.status_reason
    ids = {name: under[name].resource_id for name in base['resources']}
    over = heat_engine.stack(ha_interface(
        name='uplink-of-another-stack', ha_router_id=ids['ha_router'],
        primary_interface_id=ids['primary_uplink'],
        secondary_interface_id=ids['secondary_uplink']))
    over.create()
    assert over.state == ('CREATE', 'COMPLETE'), over.status_reason
    user = over['hai'].resource_id

    before = heat.revision()
    under.delete()
    assert under.state == ('DELETE', 'FAILED')
    named = 'ha_interface %s (uplink-of-another-stack)' % user
    assert named in under.status_reason
    refused = [res for res in under.resources.values()
               if res.status == res.FAILED]
    assert refused
    for res in refused:
        assert '%s %s cannot be deleted while other resources use it: %s' \
            % (res.esi_type, res.resource_id, named) in res.status_reason
    # Nothing of the refused resources was written.
    for name, rid in ids.items():
        rtype = under[name].esi_type
        config = value_at(heat, keys.config(rtype, rid))
        assert config['version'] == 1 and not \
            config['marked_for_deletion'], name
    assert [ev.kv.key for ev in esi_fixtures.history(heat, '/config/',
                                                     before + 1)] == []

    over.delete()
    assert over.state == ('DELETE', 'COMPLETE'), over.status_reason
    under.delete()
    assert under.state == ('DELETE', 'COMPLETE'), under.status_reason
    assert heat.get(keys.config('ha_interface', user)) is None
    for name, rid in ids.items():
        assert heat.get(keys.config(under[name].esi_type, rid)) is None


def documented_resources():
    """{name: resource} of the docs' HOT examples of ESI types."""
    import yaml

    from tests import doc_blocks
    found = {}
    for _page, block in doc_blocks.blocks('yaml'):
        resources = (yaml.safe_load(block) or {}).get('resources') or {}
        found.update((name, res) for name, res in resources.items()
                     if res['type'].startswith('ESI::'))
    return found


def test_the_documented_examples_validate(registered):
    heat = registered
    resources = documented_resources()
    assert {res['type'] for res in resources.values()} >= {
        'ESI::HaRouter', 'ESI::ErPhysicalInterface', 'ESI::HaInterface'}
    # What the examples refer to and do not show.
    resources.setdefault('primary_router', {
        'type': 'ESI::EdgeRouter', 'properties': {'ip': '127.0.0.2'}})
    resources.setdefault('uplink_secondary', {
        'type': 'ESI::ErPhysicalInterface',
        'properties': {'name': 'ge-0/0/1', 'device_id': SECONDARY}})
    stk = heat_engine.stack({'heat_template_version': '2018-08-31',
                             'resources': resources})
    before = heat.revision()
    stk.validate()
    assert heat.revision() == before


def test_a_user_of_another_project_is_not_named(stand_in):
    heat = stand_in
    stk = heat_engine.stack({'heat_template_version': '2018-08-31',
                             'resources': {'iface': {
                                 'type': 'ESI::ErPhysicalInterface',
                                 'properties': {'name': 'ge-0/0/4',
                                                'device_id': PRIMARY}}}})
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['iface'].resource_id
    # An HA interface being deleted uses nothing any more; one of another
    # project (an admin wired it) is named by its type alone.
    for user, project, marked in (
            ('5e552b8f-0000-4000-8000-0000000000aa', esi_fixtures.PROJECT,
             True),
            ('5e552b8f-0000-4000-8000-0000000000bb', OTHER_PROJECT, False)):
        body = esi_fixtures.register(
            heat, 'ha_interface', user, project=project, name='secret-name',
            primary_interface_id=rid, secondary_interface_id=S_IF)
        if marked:
            heat.put(keys.config('ha_interface', user),
                     {'body': body, 'version': 2,
                      'marked_for_deletion': True})
    before = heat.revision()
    stk.delete()
    assert stk.state == ('DELETE', 'FAILED')
    reason = stk['iface'].status_reason
    assert 'cannot be deleted while other resources use it: a ' \
        'ha_interface of another project.' in reason, reason
    assert 'secret-name' not in reason and '0000000000' not in reason
    assert heat.revision() == before

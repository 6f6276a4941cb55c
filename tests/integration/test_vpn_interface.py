"""ESI::VpnInterface through the real Heat engine and a real etcd.

CreateVpnInterface_01's points (1) and (2) field by field (the ids aside;
the devices' logins stay in their /config and the md5 param is a reference
to the interface's bgp_md5), the gateway's version 2 with ESI's modify
sequence after the interface's jobs, all in one transaction, the reverse
on delete, and bgp_md5 nowhere but the interface's /config.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json

from heat_esi import keys
from tests import esi_fixtures
from tests.integration import test_vpn_gateway as gateways
from tests import vpn_seeds

SECRET = 'Md5-Never-Shown-42'

heat = gateways.heat
stand_in = gateways.stand_in


def interface_props(gw, **props):
    return dict(vpn_seeds.SEED_PROPERTIES['vpn_interface'], vpn_gw_id=gw,
                **props)


def full_stack(**props):
    """A stored stack of the seed's gateway and its VPN interface."""
    return heat_engine.stack({
        'heat_template_version': '2018-08-31',
        'resources': {
            'gw': {'type': 'ESI::VpnGateway',
                   'properties': vpn_seeds.SEED_PROPERTIES['vpn_gateway']},
            'vi': {'type': 'ESI::VpnInterface',
                   'properties': interface_props({'get_resource': 'gw'},
                                                 **props)}}})


def created(**props):
    stk = full_stack(**props)
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    return stk


def jobs_since(client, since):
    """[job value] written since *since*, in order, operator fields out."""
    found = []
    for event in esi_fixtures.history(client, keys.JOBS_ALL, since):
        if event.kv.version == 1:
            value = json.loads(event.kv.value)
            esi_fixtures.operator_fields(value)
            found.append(value)
    return found


def test_points_1_and_2_are_the_seeds(heat, stand_in):
    since = heat.revision() + 1
    stk = created()
    rid, gw = stk['vi'].resource_id, stk['gw'].resource_id
    seed_rid, seed_gw = vpn_seeds.INTERFACE, vpn_seeds.GATEWAY

    (_key, config), = vpn_seeds.points('vpn_interface')['(1)']
    expected = json.loads(json.dumps(config).replace(seed_rid, rid).replace(
        seed_gw, gw))
    assert esi_fixtures.json_at(heat, keys.config('vpn_interface', rid)) == \
        expected

    written = {job[0]: job for job in jobs_since(heat, since)
               if job[1]['resource_id'] == rid}
    seed_jobs = vpn_seeds.points('vpn_interface')['(2)']
    text = json.dumps([job for _key, job in seed_jobs])
    for _key, job in seed_jobs:
        text = text.replace(job[1]['id'], written[job[0]][1]['id'])
    for job in json.loads(text.replace(seed_rid, rid).replace(seed_gw, gw)):
        # heat-esi's: no device login, no md5 in the job.
        job[1]['params'] = vpn_seeds.without_device_logins(job[1]['params'])
        for param in job[1]['params']:
            if param['param'] == 'md5':
                param.update(type='secret', value={
                    'resource_type': 'vpn_interface', 'resource_id': rid,
                    'field': 'bgp_md5'})
        del job[1]['resource_input']['bgp_md5']
        assert written[job[0]] == job


def test_the_gateway_becomes_version_2_in_the_same_transaction(heat,
                                                               stand_in):
    since = heat.revision() + 1
    stk = created()
    rid, gw = stk['vi'].resource_id, stk['gw'].resource_id
    jobs = jobs_since(heat, since)
    own = [j[1]['id'] for j in jobs if j[1]['resource_id'] == rid]
    modify = [j for j in jobs if j[1]['resource_id'] == gw and
              j[1]['version'] == 2]
    # ESI's modify sequence, its first job after the interface's jobs.
    assert [(j[1]['action'], j[0], j[1]['on_failure'], j[1]['is_first'],
             j[1]['is_last']) for j in modify] == [
        ('delete', 'monitoring_worker', 'ignore', True, False),
        ('modify', 'heat_worker', 'fail', False, False),
        ('create', 'monitoring_worker', 'fail', False, True)]
    assert set(own) <= set(modify[0][1]['dependency'])
    assert modify[1][1]['dependency'] == [modify[0][1]['id']]
    # The worker answered them in that order.
    order = stand_in.finished
    assert max(order.index(j) for j in own) < order.index(modify[0][1]['id'])

    v1 = vpn_seeds.with_id(vpn_seeds.config('vpn_gateway')[1],
                           vpn_seeds.GATEWAY, gw)
    config = esi_fixtures.json_at(heat, keys.config('vpn_gateway', gw))
    assert config == {'version': 2, 'marked_for_deletion': False,
                      'body': dict(v1, connected_vpn_interface=rid,
                                   status='PENDING_UPDATE')}
    assert modify[1][1]['resource_input'] == config['body']
    # One transaction: both configs and the five jobs.
    revisions = {heat.get(keys.config('vpn_gateway', gw)).mod_revision,
                 heat.get(keys.config('vpn_interface', rid)).mod_revision}
    revisions |= {e.kv.mod_revision for e in esi_fixtures.history(
        heat, keys.JOBS_ALL, since) if e.kv.version == 1 and
        (':%s:2:' % gw in e.kv.key or ':%s:' % rid in e.kv.key)}
    assert len(revisions) == 1
    assert stk['gw'].FnGetAtt('connected_vpn_interface') == rid


def test_the_md5_is_nowhere_but_the_interfaces_config(heat, stand_in):
    since = heat.revision() + 1
    stk = created(bgp_md5=SECRET)
    rid = stk['vi'].resource_id
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    holders = {event.kv.key for event in esi_fixtures.history(
        heat, '/', since) if SECRET in event.kv.value}
    assert holders == {keys.config('vpn_interface', rid)}
    from heat.objects import event as event_object
    for ev in event_object.Event.get_all_by_stack(stk.context, stk.id):
        assert SECRET not in json.dumps(ev.resource_properties or {})
        assert SECRET not in (ev.resource_status_reason or '')


def test_the_md5_is_not_shown(heat, stand_in):
    stk = created(bgp_md5=SECRET)
    shown = stk['vi'].FnGetAtt('show')
    assert shown['vpn_gw_id'] == stk['gw'].resource_id
    assert SECRET not in json.dumps(shown)


def test_a_delete_rewrites_the_gateway_back_then_deletes_it(heat,
                                                            stand_in):
    stk = created()
    rid, gw = stk['vi'].resource_id, stk['gw'].resource_id
    since = heat.revision() + 1
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    configs = [json.loads(e.kv.value) for e in esi_fixtures.history(
        heat, keys.config('vpn_gateway', gw), since)]
    # Version 3 without the interface, then the delete (4).
    assert [(c['version'], c['body']['connected_vpn_interface'],
             c['marked_for_deletion']) for c in configs] == [
        (3, '', False), (4, '', True)]
    jobs = jobs_since(heat, since)
    own = [j[1]['id'] for j in jobs if j[1]['resource_id'] == rid]
    rewrite = [j for j in jobs if j[1]['resource_id'] == gw and
               j[1]['version'] == 3]
    assert set(own) <= set(rewrite[0][1]['dependency'])
    assert heat.get(keys.config('vpn_interface', rid)) is None
    assert gateways.pools_as_created(heat)


def test_a_second_interface_on_the_gateway_is_refused(heat, stand_in):
    stk = created()
    gw = stk['gw'].resource_id
    before = heat.get(keys.config('vpn_gateway', gw))
    other = heat_engine.stack({
        'heat_template_version': '2018-08-31',
        'resources': {'vi': {'type': 'ESI::VpnInterface',
                             'properties': interface_props(gw)}}})
    other.create()
    assert other.state == ('CREATE', 'FAILED')
    assert 'vpn_gateway %s already has VPN interface %s' % (
        gw, stk['vi'].resource_id) in other.status_reason
    assert heat.get(keys.config('vpn_gateway', gw)).mod_revision == \
        before.mod_revision


def test_a_gateway_in_use_in_another_stack_is_not_deleted(heat, stand_in):
    first = gateways.created()
    gw = first['gw0'].resource_id
    second = heat_engine.stack({
        'heat_template_version': '2018-08-31',
        'resources': {'vi': {'type': 'ESI::VpnInterface',
                             'properties': interface_props(gw)}}})
    second.create()
    assert second.state == ('CREATE', 'COMPLETE'), second.status_reason
    before = heat.revision()
    first.delete()
    assert first.state == ('DELETE', 'FAILED')
    assert 'vpn_gateway %s cannot be deleted while other resources use ' \
        'it: vpn_interface %s' % (gw, second['vi'].resource_id) in \
        first.status_reason
    assert not [e for e in esi_fixtures.history(heat, '/', before + 1)
                if e.kv.key.startswith(('/config/', '/jobs/'))]
    second.delete()
    assert second.state == ('DELETE', 'COMPLETE'), second.status_reason
    first.delete()
    assert first.state == ('DELETE', 'COMPLETE'), first.status_reason
    assert gateways.pools_as_created(heat)


def test_an_update_of_the_peers_modifies_the_interface_alone(
        heat, stand_in):
    stk = created()
    rid, gw = stk['vi'].resource_id, stk['gw'].resource_id
    since = heat.revision() + 1
    updated = full_stack(bgp_remote_as=65000)
    stk.update(updated)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    body = esi_fixtures.json_at(heat, keys.config('vpn_interface', rid))
    assert (body['version'], body['body']['bgp_remote_as']) == (2, '65000')
    assert not [j for j in jobs_since(heat, since)
                if j[1]['resource_id'] == gw]


def test_a_cancelled_create_withdraws_the_gateways_modify_too(
        heat, stand_in):
    gw_stack = gateways.created()
    gw = gw_stack['gw0'].resource_id
    stk = heat_engine.stack({
        'heat_template_version': '2018-08-31',
        'resources': {'vi': {'type': 'ESI::VpnInterface',
                             'properties': interface_props(gw)}}})
    stk.store()
    res = stk['vi']
    res.resource_id_set('c0ffee00-0000-4000-8000-00000000000a')
    stand_in.held.update([gw, res.resource_id])
    cookie = res.handle_create()
    assert cookie['gateway'] == {'id': gw, 'version': 2}

    def queued():
        return [kv.key for kv in heat.get_prefix(keys.JOBS_ALL)[0]
                if gw in kv.key or res.resource_id in kv.key]
    assert len(queued()) == 5
    res.handle_create_cancel(cookie)
    assert queued() == []

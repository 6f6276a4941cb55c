"""ESI::Netconf::NamedConfigs through the real Heat engine, on test routers.

The stack is ESI's vpn_gateway heat_template's NETCONF part (the
OS::Contrail::NetconfNamedConfigs of both routers, as the heat_worker
renders it, without the username/password params), with the type mapped by
etc/heat-esi/netconf.yaml; the routers are two NETCONF test devices whose
logins and passwords are in their edge routers' /config. What lands on
each router is what ESI's explanation (esi-vpn-run/09_vpn_gateway.md,
9.6) shows for MX-1 and MX-2.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import copy
import os

from lxml import etree
import pytest
import yaml

from heat_esi import junos
from tests import esi_fixtures
from tests import netconf_devices

ENVIRONMENT = os.path.join(os.path.dirname(__file__), '..', '..', 'etc',
                           'heat-esi', 'netconf.yaml')
ROUTER_IDS = ('792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198',
              '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e')
BASELINE = ('system { host-name %s; }\n'
            'interfaces { interface ae0 { description lag; } '
            'interface ge-0/0/1 { description uplink; } }')


def _device(name):
    return {
        'type': 'OS::Contrail::NetconfNamedConfigs',
        'properties': {
            'lock_timeout': 3000,
            'on_update': 'merge',
            'device_ip': {'get_param': '%s_device_ip' % name},
            'port': {'get_param': '%s_device_port' % name},
            'configs': [
                {'config': {'str_replace': {
                    'params': {
                        '$VLAN': {'get_param': 'downlink_vlan'},
                        '$INPUT_FILTER': {'get_param': 'input_filter_name'},
                        '$OUTPUT_FILTER': {
                            'get_param': 'output_filter_name'},
                        '$APPLY_GROUP': {
                            'get_param': '%s_downlink_vrrp_config_group'
                            % name}},
                    'template': 'apply-groups $APPLY_GROUP\n'
                                'vlan-id $VLAN;\n'
                                'description vpn_gw;\n'
                                'family inet {\n'
                                '    filter {\n'
                                '        input $INPUT_FILTER;\n'
                                '        output $OUTPUT_FILTER;\n'
                                '    }\n'
                                '}\n'}},
                 'path': [
                     {'config_type': 'tag', 'xml_type': 'tag',
                      'tag': 'interfaces'},
                     {'config_type': 'name', 'xml_type': 'named_tag',
                      'tag': 'interface', 'name': {
                          'get_param': '%s_device_physical_downlink_'
                                       'interface' % name}},
                     {'config_type': 'named_tag', 'xml_type': 'named_tag',
                      'tag': 'unit', 'name': {
                          'get_param': 'downlink_vlan'}}]},
                {'config': {'str_replace': {
                    'params': {
                        '$LIFD': {'get_param': '%s_device_logical_downlink_'
                                               'interface' % name},
                        '$LIFU': {'get_param': '%s_device_logical_uplink_'
                                               'interface' % name}},
                    'template': '  instance-type virtual-router;\n'
                                '  interface $LIFD;\n'
                                '  interface $LIFU;\n'}},
                 'path': [
                     {'config_type': 'tag', 'xml_type': 'tag',
                      'tag': 'routing-instances'},
                     {'config_type': 'name', 'xml_type': 'named_tag',
                      'tag': 'instance', 'name': {'get_param': 'vrf_name'}}]},
                {'config': {'str_replace': {
                    'params': {'$VLAN': {'get_param': 'uplink_vlan'}},
                    'template': 'vlan-id $VLAN;\n'
                                'description CloudGW_vpn;\n'}},
                 'path': [
                     {'config_type': 'tag', 'xml_type': 'tag',
                      'tag': 'interfaces'},
                     {'config_type': 'name', 'xml_type': 'named_tag',
                      'tag': 'interface', 'name': {
                          'get_param': '%s_device_physical_uplink_'
                                       'interface' % name}},
                     {'config_type': 'named_tag', 'xml_type': 'named_tag',
                      'tag': 'unit', 'name': {'get_param': 'uplink_vlan'}}]},
            ],
        },
    }


def template():
    params = {}
    for name in ('primary', 'secondary'):
        params['%s_device_ip' % name] = {'type': 'string'}
        params['%s_device_port' % name] = {'type': 'number'}
        for what in ('logical_downlink', 'physical_downlink',
                     'logical_uplink', 'physical_uplink'):
            params['%s_device_%s_interface' % (name, what)] = {
                'type': 'string'}
        params['%s_downlink_vrrp_config_group' % name] = {'type': 'string'}
    for name in ('downlink_vlan', 'uplink_vlan', 'vrf_name',
                 'input_filter_name', 'output_filter_name'):
        params[name] = {'type': 'string'}
    return {'heat_template_version': '2013-05-23',
            'parameters': params,
            'resources': {'netconf_configure_primary': _device('primary'),
                          'netconf_configure_secondary':
                              _device('secondary')}}


def parameters(routers, **changes):
    found = {
        'downlink_vlan': '1025', 'uplink_vlan': '122',
        'vrf_name': 'vrf_gw_sample-ha-router-downlink_1025',
        'input_filter_name': 'FILTER_10M-GA-UP-VPN',
        'output_filter_name': 'FILTER_10M-GA-DOWN-VPN',
        'primary_downlink_vrrp_config_group': 'VPNGW2-VRRP',
        'secondary_downlink_vrrp_config_group': 'VPNGW1-VRRP',
    }
    for name, router in zip(('primary', 'secondary'), routers):
        found.update({
            '%s_device_ip' % name: router.host,
            '%s_device_port' % name: router.port,
            '%s_device_logical_downlink_interface' % name: 'ae0.1025',
            '%s_device_physical_downlink_interface' % name: 'ae0',
            '%s_device_logical_uplink_interface' % name: 'ge-0/0/1.122',
            '%s_device_physical_uplink_interface' % name: 'ge-0/0/1',
        })
    found.update(changes)
    return found


# 9.6 of ESI's explanation: what lands on MX-1 (apply-groups VPNGW2-VRRP)
# and MX-2 (VPNGW1-VRRP), on top of the router's own configuration.
LANDED = '''
interfaces {
    interface ge-0/0/1 {
        unit 122 {
            description CloudGW_vpn;
            vlan-id 122;
        }
    }
    interface ae0 {
        unit 1025 {
            apply-groups %s;
            description vpn_gw;
            vlan-id 1025;
            family inet {
                filter {
                    input FILTER_10M-GA-UP-VPN;
                    output FILTER_10M-GA-DOWN-VPN;
                }
            }
        }
    }
}
routing-instances {
    instance vrf_gw_sample-ha-router-downlink_1025 {
        instance-type virtual-router;
        interface ge-0/0/1.122;
        interface ae0.1025;
    }
}
'''


def canonical(configuration):
    """The configuration with statements sorted: JUNOS's order is its own."""
    def sort(node):
        for child in node:
            sort(child)
        node[:] = sorted(node, key=lambda c: (c.tag, junos.key(c)))
    copy_ = copy.deepcopy(configuration)
    sort(copy_)
    return etree.tostring(copy_)


def expected(name, apply_group):
    root = etree.Element('configuration')
    for element in junos.parse_text(BASELINE % name) + \
            junos.parse_text(LANDED % apply_group):
        root.append(element)
    # Merge the two texts' <interfaces> as the router does.
    interfaces = root.findall('interfaces')
    for extra in interfaces[1:]:
        for interface in extra:
            mine = interfaces[0].find('interface[name="%s"]'
                                      % interface.findtext('name'))
            for child in interface:
                if child.tag != 'name':
                    mine.append(child)
        root.remove(extra)
    return canonical(root)


@pytest.fixture
def routers(heat_engine_on, tmp_path):
    """Two test routers, MX-1 on 127.0.0.2 and MX-2 on 127.0.0.3.

    Their host keys are in [netconf] known_hosts_file (hostkey_verify stays
    on, its default).
    """
    with netconf_devices.trusted(tmp_path, BASELINE, ('mx1', '127.0.0.2'),
                                 ('mx2', '127.0.0.3')) as started:
        for device, rid in zip(started, ROUTER_IDS):
            netconf_devices.register(heat_engine_on, rid, device)
        yield started


def environment():
    with open(ENVIRONMENT) as f:
        return yaml.safe_load(f)


def stack(routers, roles=('esi_netconf',), **changes):
    ctx = heat_engine.context()
    ctx.roles = list(roles)
    return heat_engine.stack(template(), ctx=ctx, params=dict(
        environment(), parameters=parameters(routers, **changes)))


def test_create_update_delete_on_two_routers(routers):
    mx1, mx2 = routers
    before = [canonical(r.running()) for r in routers]
    stk = stack(routers)
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    # heat-engine loads the plugin as a module of its own.
    assert type(stk['netconf_configure_primary']).__name__ == \
        'NetconfNamedConfigs'
    assert canonical(mx1.running()) == expected('mx1', 'VPNGW2-VRRP'), \
        mx1.running_text()
    assert canonical(mx2.running()) == expected('mx2', 'VPNGW1-VRRP'), \
        mx2.running_text()

    # An update merges: the new uplink VLAN's unit comes, the old goes.
    from heat.engine import environment as env_mod
    from heat.engine import stack as stack_mod
    from heat.engine import template as template_mod
    new = stack_mod.Stack(stk.context, stk.name, template_mod.Template(
        template(), env=env_mod.Environment(dict(
            environment(), parameters=parameters(routers,
                                                 uplink_vlan='123')))))
    stk.update(new)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    for router in routers:
        units = router.running().findall(
            'interfaces/interface[name="ge-0/0/1"]/unit')
        assert [u.findtext('name') for u in units] == ['123']
        assert units[0].findtext('vlan-id') == '123'
        assert router.running().find(
            'interfaces/interface[name="ae0"]/unit[name="1025"]') is not None

    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert [canonical(r.running()) for r in routers] == before


def test_a_refused_configuration_fails_the_stack_with_the_devices_message(
        routers):
    mx1, mx2 = routers
    mx2.refuse_next_commit('error: apply-group VPNGW1-VRRP not defined')
    stk = stack(routers)
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'apply-group VPNGW1-VRRP not defined' in stk.status_reason
    assert '127.0.0.3:%d' % mx2.port in stk.status_reason
    assert mx2.running().find('routing-instances') is None
    assert len(mx2.candidate()) == len(mx2.running())
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    # The primary's configuration, which had landed, is taken away too.
    assert mx1.running().find('routing-instances') is None


def test_bad_credentials_are_a_clear_error_without_the_password(
        routers, heat_engine_on):
    mx1, _ = routers
    esi_fixtures.register(
        heat_engine_on, 'edge_router', ROUTER_IDS[0], name='mx1',
        ip=mx1.host, ssh_port=mx1.port, login='esi',
        password='Wr0ng-passw0rd')
    stk = stack(routers)
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'refused the login esi' in stk.status_reason
    assert '127.0.0.2:%d' % mx1.port in stk.status_reason
    assert 'Wr0ng-passw0rd' not in stk.status_reason
    assert netconf_devices.PASSWORD not in stk.status_reason
    from heat.objects import event as event_object
    events = event_object.Event.get_all_by_stack(stk.context, stk.id)
    for event in events:
        assert 'Wr0ng-passw0rd' not in str(event.resource_status_reason)
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason


def test_no_edge_router_at_the_address_is_a_clear_error(routers):
    stk = stack(routers, primary_device_ip='127.0.0.4')
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'no edge router with ip 127.0.0.4' in stk.status_reason


def test_a_tenant_cannot_push_configuration_to_the_routers(routers):
    stk = stack(routers, roles=('member',))
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'esi_netconf' in stk.status_reason
    for router in routers:
        assert router.running().find('routing-instances') is None


def test_an_update_that_drops_a_fragment_takes_it_away(routers):
    """With on_update replace, only what the new configs say is left."""
    from heat.engine import environment as env_mod
    from heat.engine import stack as stack_mod
    from heat.engine import template as template_mod
    stk = stack(routers)
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    fewer = template()
    for res in fewer['resources'].values():
        res['properties']['on_update'] = 'replace'
        del res['properties']['configs'][1]     # the routing instance
    new = stack_mod.Stack(stk.context, stk.name, template_mod.Template(
        fewer, env=env_mod.Environment(dict(
            environment(), parameters=parameters(routers)))))
    stk.update(new)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    for router in routers:
        running = router.running()
        assert running.find('routing-instances') is None, \
            router.running_text()
        assert running.find(
            'interfaces/interface[name="ae0"]/unit[name="1025"]/vlan-id'
        ).text == '1025'
        assert running.find(
            'interfaces/interface[name="ge-0/0/1"]/unit[name="122"]'
        ) is not None
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    for router in routers:
        assert router.running().find('interfaces/interface/unit') is None

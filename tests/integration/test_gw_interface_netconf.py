"""gw_interface_vpn's stack on two NETCONF test routers, through real Heat.

The heat_template rendered as the heat_worker renders it, with the params
its job gets from the seeds' resources (the edge routers being two test
routers, whose logins and passwords are in their edge routers' /config):
what lands on each router is what ESI's explanation (esi-vpn-run/
13_gw_interface.md, 13.7) shows for the primary (MX-2: the primary
address, priority 105, VPNGW1-RI-IBGP) and the secondary (MX-1); after the
delete, none of it is left. Its monitoring job's vrrp_session elements
find the primary master and the secondary backup (points (5) and (7)).
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import threading

from lxml import etree
from oslo_config import cfg
import pytest

from heat_esi import conf
from heat_esi import junos
from heat_esi import template_mappings
from heat_esi import templates
from heat_esi.worker import elements
from heat_esi.worker.handlers import heat as heat_handler
from heat_esi.worker.plugins import netconf as netconf_plugins
from tests import gw_seeds
from tests.integration import test_netconf_named_configs as named_configs
from tests import netconf_devices

canonical = named_configs.canonical

# 13.7: what lands on each router, on top of its own configuration.
LANDED = '''
interfaces {
    interface ae0 {
        unit 1025 {
            family inet {
                address %(mine)s/24 {
                    vrrp-group 20 {
                        virtual-address 172.16.101.151;
                        priority %(priority)s;
                    }
                }
            }
        }
    }
}
routing-instances {
    instance vrf_gw_sample-ha-router-downlink_1025 {
        protocols {
            bgp {
                group inet-gw-group {
                    apply-groups %(group)s;
                    local-address %(mine)s;
                    peer-as 65101;
                    neighbor %(other)s;
                }
            }
        }
    }
}
'''
SIDES = {
    'primary': {'mine': '172.16.101.152', 'other': '172.16.101.153',
                'priority': 105, 'group': 'VPNGW1-RI-IBGP'},
    'secondary': {'mine': '172.16.101.153', 'other': '172.16.101.152',
                  'priority': 100, 'group': 'VPNGW2-RI-IBGP'},
}


@pytest.fixture
def routers(heat_engine_on, tmp_path):
    """The primary router on 127.0.0.2, the secondary on 127.0.0.3."""
    gw_seeds.write_world(heat_engine_on)
    with netconf_devices.trusted(tmp_path, BASELINE, ('mx2', '127.0.0.2'),
                                 ('mx1', '127.0.0.3')) as started:
        for device, rid in zip(started, (gw_seeds.PRIMARY_ROUTER,
                                         gw_seeds.SECONDARY_ROUTER)):
            netconf_devices.register(heat_engine_on, rid, device)
        yield started


# The router's own configuration, and what the gateway put there before
# (esi-vpn-run/09_vpn_gateway.md): the downlink unit and the VRF, which the
# interface's delete leaves.
BASELINE = (
    'system { host-name %s; }\n'
    'interfaces { interface ae0 { description lag; '
    'unit 1025 { vlan-id 1025; } } '
    'interface ge-0/0/1 { description uplink; } }\n'
    'routing-instances { instance vrf_gw_sample-ha-router-downlink_1025 { '
    'instance-type virtual-router; interface ae0.1025; } }')
UNIT = 'interfaces/interface[name="ae0"]/unit[name="1025"]/family/inet'
GROUP = ('routing-instances/instance[name="vrf_gw_sample-ha-router-'
         'downlink_1025"]/protocols/bgp/group[name="inet-gw-group"]')


def landed(configuration):
    """(the unit's inet family, the VRF's iBGP group) as canonical text."""
    return tuple(canonical(configuration.find(path)) for path in (UNIT,
                                                                  GROUP))


def expected(side):
    root = etree.Element('configuration')
    for element in junos.parse_text(LANDED % SIDES[side]):
        root.append(element)
    return landed(root)


def test_the_configuration_of_13_7_lands_and_goes(heat_engine_on, routers):
    client = heat_engine_on
    body = gw_seeds.config('CreateGwInterface_01.md')
    name = template_mappings.template_name('heat_worker', 'gw_interface',
                                           body)
    template = templates.fetch(client, name)
    params = templates.build_params(template, 'gw_interface', body, 1,
                                    templates.config_lookup(client))
    parameters, context, _timeout = heat_handler.split_params(
        {p['param']: p['value'] for p in params}, 10)
    assert parameters['primary_device_ip'] == '127.0.0.2'
    before = [canonical(r.running()) for r in routers]
    ctx = heat_engine.context()
    ctx.roles = ['esi_netconf']
    stk = heat_engine.stack(heat_handler.render(template, context), ctx=ctx,
                            params=dict(named_configs.environment(),
                                        parameters=parameters))
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    primary, secondary = routers
    assert landed(primary.running()) == expected('primary'), \
        primary.running_text()
    assert landed(secondary.running()) == expected('secondary'), \
        secondary.running_text()
    # Nothing else came.
    for router, side in zip(routers, ('primary', 'secondary')):
        running = router.running()
        for path in (UNIT, GROUP):
            found = running.find(path)
            # With the containers that hold nothing else.
            while len(found.getparent()) == 1 and \
                    found.getparent().tag in ('family', 'protocols', 'bgp'):
                found = found.getparent()
            found.getparent().remove(found)
        assert canonical(running) == canonical(etree.fromstring(before[
            routers.index(router)])), side

    # gw_interface_monitoring's vrrp_session elements, with its job's
    # params: CreateGwInterface_01 points (5) and (7); a router that turns
    # backup is DOWN.
    states = monitoring(client, body, routers)
    assert states == ({'primary': 'master', 'secondary': 'backup'},
                      {'primary': ('MASTER', ''), 'secondary': ('BACKUP', '')})
    primary.set_vrrp('ae0.1025', 20, 'backup')
    assert monitoring(client, body, routers, check=False)[1][
        'primary'][0] == 'DOWN'

    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert [canonical(r.running()) for r in routers] == before


def monitoring(client, body, routers, check=True):
    """({element: check()}, {element: poll()}) of the interface's job."""
    template = templates.fetch(client, template_mappings.template_name(
        'monitoring_worker', 'gw_interface', body))
    params = templates.build_params(template, 'gw_interface', body, 1,
                                    templates.config_lookup(client))
    found = elements.render(template, {p['param']: p['value']
                                       for p in params})
    config = cfg.ConfigOpts()
    conf.register_worker_opts(config)
    config([])
    config.set_override('known_hosts_file',
                        cfg.CONF.netconf.known_hosts_file, group='netconf')
    plugin = netconf_plugins.VrrpSession(client, config)
    never = threading.Event()
    checked = {name: plugin.check(dict(props, timeout=2,
                                       time_between_retries=0.1), never)
               for name, props in found.items()} if check else None
    return checked, {name: plugin.poll(props, never)
                     for name, props in found.items()}

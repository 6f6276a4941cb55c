#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""heat-esi demo --vpn: a whole VPN gateway, configured over NETCONF.

The operator's side first, as an operator creates it: the ToR switch
(templates/hot/tor.yaml), the HA gateway over two edge routers
(ha_gateway.yaml, the routers' downlinks cabled to the switch's ports) and
the VPN catalog (vpn_catalog.yaml). Then the tenant's stack of
vpn_gateway.yaml: gateway, VPN interface, network, subnet, gateway
interface (with the ports and ESE logical ports it brings) and static
route. The demo's worker runs both handlers; each resource's own stack
applies its JUNOS configuration to both routers over NETCONF. The demo
prints each resource's points as ESI's documents number them and the
configuration that landed on each router, deletes the tenant's stack and
shows that nothing of it is left, in etcd or on the routers, then deletes
the operator's stacks.

What is SIMULATED, and said so when the demo starts:

- the two edge routers are NETCONF test devices
  (heat_esi.simulated.netconf_device): real NETCONF servers over SSH on
  loopback addresses, which keep a candidate and a running configuration
  and answer the BGP and VRRP RPCs, but route nothing;
- the routers' and the switch's SNMP checks answer up without a packet
  (heat_esi.demo.devices, as with --gateway);
- Contrail's objects (networks, ports, logical interfaces) are stand-ins
  (heat_esi.simulated), as with --network.
"""

import json
import os
import secrets
import time

from heat_esi import conf
from heat_esi.demo import devices
from heat_esi.demo import network as demo_network
from heat_esi.demo import run as demo_run
from heat_esi import keys
from heat_esi import simulated
from heat_esi.worker import elements

say = demo_run.say

VPN_STACK = 'vpn-gateway-demo'
# The operator's stacks, created in this order and deleted in the reverse
# one: (stack name, template).
OPERATOR_STACKS = (('tor-demo', 'tor.yaml'),
                   ('ha-gateway-demo', 'ha_gateway.yaml'),
                   ('vpn-catalog-demo', 'vpn_catalog.yaml'))
# The edge routers: loopback addresses, inside the demo Heat's management
# networks; each is a NETCONF test device.
ROUTERS = (('primary', '127.0.0.2'), ('secondary', '127.0.0.3'))
# The ToR switch's management address (its SNMP checks are simulated).
SWITCH_IP = '127.0.0.4'
LOGIN = 'esi'
# The names of ESI's documents: the HA router, the routers' uplink and
# downlink, and the downlink's VLANs below 1025 kept for the operator.
GATEWAY_PARAMETERS = {'name': 'sample-ha-router',
                      'primary_uplink_name': 'ge-0/0/1',
                      'secondary_uplink_name': 'ge-0/0/1',
                      'primary_downlink_name': 'ae0',
                      'secondary_downlink_name': 'ae0',
                      'downlink_restricted_vlans': '0-1024,4094'}
HANDLERS = demo_network.HANDLERS
# The types whose devices or sessions the demo's monitor polls into
# /monitoring.
MONITORED = ('vpn_interface', 'gw_interface', 'ese_logical_port', 'port',
             'network')
# The points of ESI's documents: (point, what key, which of its values).
# 'first': the first value written; 'heat_outputs', 'state_monitoring':
# the first value with that field (a job_state after the heat job, then
# after the monitoring job; a later version's jobs write it again).
_CATALOG = (('(1)', 'config', 'first'), ('(2)', 'state', 'first'))
_HEAT_AND_MONITORING = (('(1)', 'config', 'first'), ('(2)', 'jobs', 'all'),
                        ('(3)', 'heat_stack', 'first'),
                        ('(4)', 'job_state', 'heat_outputs'),
                        ('(5)', 'job_state', 'state_monitoring'),
                        ('(6)', 'state', 'first'))
_HEAT_ONLY = (('(1)', 'config', 'first'), ('(2)', 'jobs', 'all'),
              ('(3)', 'heat_stack', 'first'),
              ('(4)', 'job_state', 'heat_outputs'), ('(5)', 'state', 'first'))
_MONITORING = (('(7)', 'monitoring', 'first'),)
POINTS = {
    'vpn_service': _CATALOG,
    'qos_option': _CATALOG,
    'vpn_gateway': _HEAT_AND_MONITORING,
    'vpn_interface': _HEAT_AND_MONITORING + _MONITORING,
    'network': _HEAT_AND_MONITORING + _MONITORING,
    'subnet': _HEAT_ONLY,
    'gw_interface': _HEAT_AND_MONITORING + _MONITORING,
    'port': _HEAT_AND_MONITORING,
    'ese_logical_port': _HEAT_AND_MONITORING + _MONITORING,
    'static_route': _HEAT_ONLY,
}
# The tenant's parts, in the order they are shown: (name in the stack's
# ids output, ESI type). The gateway interface's ports and logical ports
# follow it.
PARTS = (('vpn_gateway', 'vpn_gateway'), ('vpn_interface', 'vpn_interface'),
         ('network', 'network'), ('subnet', 'subnet'),
         ('gw_interface', 'gw_interface'), ('static_route', 'static_route'))


def environment():
    """The worker's Heat environment files ([heat_worker] environment).

    The Contrail stand-ins' (simulated-contrail.yaml), and netconf.yaml,
    which maps OS::Contrail::NetconfNamedConfigs onto heat-esi's NETCONF
    implementation.
    """
    stand_ins = simulated.environment_file()
    return [stand_ins, os.path.join(os.path.dirname(stand_ins),
                                    'netconf.yaml')]


class VpnDemo(demo_network.NetworkDemo):
    """The demo of a VPN gateway: devices, Heat, then a two-handler worker."""

    points = POINTS

    def __init__(self, args):
        super(VpnDemo, self).__init__(args)
        self.routers = []
        # The routers' password and the BGP key: new each run, and shown
        # nowhere (the demo checks that).
        self.password = secrets.token_hex(8)
        self.bgp_md5 = secrets.token_hex(8)
        # The stacks the demo created and has not deleted yet, in order:
        # [stack id, name, ids of the ESI resources it holds].
        self.stacks = []

    def start_devices(self):
        for role, host in ROUTERS:
            self.routers.append(devices.NetconfRouter(
                role, host, LOGIN, self.password).start())
        say('edge routers: SIMULATED by two NETCONF test devices '
            '(heat_esi.simulated.netconf_device): real NETCONF over SSH on %s,'
            ' with a candidate and a running configuration; they route '
            'nothing' % ', '.join('%s:%d' % (r.host, r.port)
                                  for r in self.routers))
        say('SNMP checks: SIMULATED, always up (routers, interfaces, the '
            'ToR switch and its ports: no packet is sent)')

    def heat_sections(self):
        return self.netconf_options()

    def contrail_said(self):
        return ('Contrail: SIMULATED (stand-ins of its Heat types, as with '
                '--network); OS::Contrail::NetconfNamedConfigs is heat-esi\'s '
                'own NETCONF implementation (etc/heat-esi/netconf.yaml)')

    def netconf_options(self):
        """{group: {option: value}}: [netconf] for the demo's devices.

        The test devices make a host key at each start; heat-engine and
        the worker check it against a known_hosts file of the two, as a
        deployment's do against its routers'.
        """
        path = os.path.join(self.dir, 'known_hosts')
        with open(path, 'w') as f:
            f.writelines(r.known_hosts_line() for r in self.routers)
        return {'netconf': {'hostkey_verify': 'true',
                            'known_hosts_file': path}}

    def worker_conf(self):
        """The network demo's, with NETCONF: both environment files."""
        wconf = super(VpnDemo, self).worker_conf()
        wconf.set_override('environment', environment(),
                           group=conf.HEAT_WORKER_GROUP)
        for group, options in self.netconf_options().items():
            for name, value in options.items():
                wconf.set_override(name, value, group=group)
        return wconf

    def start_worker(self):
        wconf = self.worker_conf()
        plugins = elements.load_plugins(self.client, wconf)
        devices.simulate(plugins, self.client, wconf)
        self.start_handlers(wconf, plugins, HANDLERS)
        say('esi-worker: started (in this process) with %s; its heat_worker '
            'calls %s without Keystone (demo only)'
            % (' and '.join(HANDLERS), self.endpoint))
        if self.etcd_server is None:
            say('monitor: not started on a shared etcd (it would poll '
                'what is not the demo\'s), so no /monitoring point')
            return
        self.start_monitor(plugins, MONITORED)

    # --- the stacks --------------------------------------------------------

    def create(self, heat, template_name, stack_name, parameters=None,
               hidden=()):
        """Create the stack, its *hidden* parameters masked when shown."""
        shown = dict(parameters or {})
        shown.update((name, '******') for name in hidden if name in shown)
        with open(os.path.join(demo_run.hot_dir(), template_name)) as f:
            template = f.read()
        say()
        say('openstack stack create --wait -t templates/hot/%s %s%s'
            % (template_name, ''.join('--parameter %s=%s ' % kv for kv in
                                      sorted(shown.items())), stack_name))
        created = heat.stacks.create(stack_name=stack_name,
                                     template=template,
                                     parameters=parameters or {})
        stack_id = created['stack']['id']
        # Deleted at the end whatever happens next.
        self.stacks.append([stack_id, stack_name, []])
        status, elapsed = self.wait(heat, stack_id, 'CREATE', timeout=300)
        say('stack %s: %s in %.2f s' % (stack_name, status, elapsed))
        if status != 'CREATE_COMPLETE':
            reason = heat.stacks.get(stack_id).stack_status_reason
            raise RuntimeError('the stack %s did not complete: %s: %s'
                               % (stack_name, status, reason))
        outputs = {o['output_key']: o['output_value'] for o in
                   heat.stacks.get(stack_id).outputs}
        return stack_id, outputs

    def create_operator_side(self, heat):
        """The switch, the HA gateway and the catalog; {name: id}."""
        say()
        say('# The operator\'s side: the ToR switch, the HA gateway, the '
            'VPN catalog')
        ids = {}
        _, tor = self.create(heat, 'tor.yaml', OPERATOR_STACKS[0][0], {
            'management_ip_address': SWITCH_IP, 'password': self.password},
            hidden=('password',))
        ports = tor['ese_physical_port_ids']
        self.stacks[-1][2] = [tor['ese_device_id']] + ports
        parameters = dict(GATEWAY_PARAMETERS, login=LOGIN,
                          password=self.password,
                          primary_downlink_ese_port=ports[0],
                          secondary_downlink_ese_port=ports[1])
        for router in self.routers:
            parameters['%s_ip' % router.role] = router.host
            parameters['%s_ssh_port' % router.role] = router.port
        _, gateway = self.create(heat, 'ha_gateway.yaml',
                                 OPERATOR_STACKS[1][0], parameters,
                                 hidden=('password',))
        self.stacks[-1][2] = list(gateway['ids'].values())
        _, catalog = self.create(
            heat, 'vpn_catalog.yaml', OPERATOR_STACKS[2][0],
            {'uplink_interface': gateway['ids']['uplink'],
             'downlink_interface': gateway['ids']['downlink']})
        ids['vpn_service'] = catalog['vpn_service_id']
        ids['qos_option'] = catalog['qos_option_id']
        self.stacks[-1][2] = list(ids.values())
        return ids

    @staticmethod
    def parts(outputs):
        """[(ESI type, id)] of the tenant's stack, as they are shown.

        The ports and ESE logical ports that the gateway interface brought
        follow it.
        """
        ids = outputs['ids']
        shown = [(rtype, ids[name]) for name, rtype in PARTS]
        brought = outputs['gw_interface_ports']
        at = [rtype for rtype, _ in shown].index('gw_interface') + 1
        return shown[:at] + [('port', rid) for rid in brought['ports']] + [
            ('ese_logical_port', rid) for rid in
            brought['ese_logical_ports']] + shown[at:]

    def show_routers(self, title, before=None):
        """Print each router's running configuration; {host: text}."""
        seen = {}
        for router in self.routers:
            text = router.running()
            seen[router.host] = text
            say()
            say('## %s router %s:%d, running configuration %s'
                % (router.role, router.host, router.port, title))
            if before is not None and text == before[router.host]:
                say('(the same as before the VPN gateway: nothing of it is '
                    'left)')
                continue
            # As JUNOS shows it: a BGP key as SECRET-DATA (junos.to_text).
            say(text.rstrip())
        return seen

    def secrets_shown(self, texts):
        """['<secret> in <where>'] of the secrets in *texts*.

        *texts* are [(where, text)].
        """
        return sorted({'%s in %s' % (name, where) for name, value in (
            ('bgp_md5', self.bgp_md5),
            ('the routers\' password', self.password))
            for where, text in texts if value in text})

    def run_vpn(self):
        heat = self.heat_client()
        catalog = self.create_operator_side(heat)
        before = self.show_routers('before the VPN gateway')
        say()
        say('# The tenant\'s VPN gateway')
        start_revision = self.client.revision() + 1
        stack_id, outputs = self.create(
            heat, 'vpn_gateway.yaml', VPN_STACK,
            {'vpn_service': catalog['vpn_service'],
             'qos_option': catalog['qos_option'],
             'bgp_md5': self.bgp_md5}, hidden=('bgp_md5',))
        say('outputs: %s' % json.dumps(outputs, indent=4, sort_keys=True))
        ids = outputs['ids']
        parts = self.parts(outputs)
        rids = {rid for _, rid in parts}
        self.stacks[-1][2] = sorted(rids)
        if self.monitor is not None:
            self.wait_for_monitoring(
                [keys.monitoring(rtype, ids[name]) for name, rtype in PARTS
                 if rtype in ('vpn_interface', 'gw_interface')],
                start_revision)
        written = self.history(start_revision, rids)
        catalog_written = self.history(1, set(catalog.values()))
        for rtype in ('vpn_service', 'qos_option'):
            say()
            say('## %s %s' % (rtype, catalog[rtype]))
            self.print_points(rtype, catalog[rtype], catalog_written)
        for rtype, rid in parts:
            say()
            say('## %s %s' % (rtype, rid))
            self.print_points(rtype, rid, written)
        self.show_routers('after the create')
        self.show_stacks(heat, 'the demo\'s stacks and the worker\'s, one '
                         'per resource')
        # Every value written, the stack's events and outputs, Heat's log:
        # the secrets are in the resources' /config and nowhere else.
        with open(self.heat.log, errors='replace') as f:
            texts = [('Heat\'s log', f.read()),
                     ('the stack\'s outputs', json.dumps(outputs))]
        texts += [(k, v) for k, values in written.items() for v in values
                  if not k.startswith(keys.CONFIG)]
        texts += [('the stack\'s events', e.resource_status_reason or '')
                  for e in heat.events.list(stack_id)]
        leaked = self.secrets_shown(texts)
        say()
        say('secrets outside /config: %s' % (', '.join(leaked) or 'none'))
        outcome = self.delete(heat, *self.stacks.pop())
        after = self.show_routers('after the delete', before)
        left = [r.host for r in self.routers if after[r.host] != before[
            r.host]]
        say('routers with configuration of the VPN gateway left: %s'
            % (', '.join(left) or 'none'))
        workers_left = self.wait_no_worker_stacks(heat, rids)
        say('worker stacks left: %s' % (', '.join(workers_left) or 'none'))
        failed = bool(leaked or left or workers_left or outcome)
        say()
        say('# The operator\'s side, deleted')
        while self.stacks:
            failed = self.delete(heat, *self.stacks.pop()) or failed
        return 1 if failed else 0

    def wait_no_worker_stacks(self, heat, rids, timeout=60):
        """Names of the worker's stacks of *rids* still there at timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = [s.stack_name for s in heat.stacks.list()
                    if s.stack_name.rsplit('_', 1)[-1] in rids]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)

    def cleanup(self):
        # The stacks first, while Heat and the worker still run: a demo
        # stopped half-way leaves nothing behind in a shared etcd.
        if self.stacks and self.endpoint is not None:
            heat = self.heat_client()
            while self.stacks:
                sid, name, _ = self.stacks.pop()
                try:
                    heat.stacks.delete(sid)
                    self.wait(heat, sid, 'DELETE', timeout=120)
                except Exception as err:
                    say('could not delete the stack %s: %s' % (name, err))
        super(VpnDemo, self).cleanup()
        for router in self.routers:
            router.stop()


def run(args):
    demo = VpnDemo(args)
    try:
        demo.start_etcd()
        demo.load_templates()
        demo.start_devices()
        demo.start_heat()
        demo.start_worker()
        return demo.run_vpn()
    finally:
        demo.cleanup()

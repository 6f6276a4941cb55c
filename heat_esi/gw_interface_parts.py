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

"""The ports and ESE logical ports that a gw_interface brings.

ESI's API adds them to a gw_interface in the same request
(CreateGwInterface_02/03): on each side of the gateway's downlink HA
interface, a port on the tenant's network (the VIP and the primary address
on the primary side, the secondary address on the other) and an ESE
logical port, the downlink VLAN's unit of the ToR port that the edge
router's interface is cabled to (its er_physical_interface's
connected_ese_port_id). Once the logical port exists, its port is
attached: version 2 of the port, with ESI's modify sequence.

Here everything is written in one etcd transaction, ordered by the jobs'
``dependency`` lists only: port heat waits on the gw_interface's heat job,
a logical port's heat job on its port's, and a port's version 2 on its
logical port's jobs. Ids (and MAC addresses) follow from the gw_interface
id, so that a retried create never makes a second port. No Heat here:
each step is a function of an etcd client and plain values, tested on the
fake etcd; heat_esi/resources/gw_interface.py calls them.
"""

import ipaddress
import uuid

from heat_esi import actions
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import states

GW_INTERFACE, PORT, ESE_LOGICAL_PORT = 'gw_interface', 'port', \
    'ese_logical_port'
SIDES = (PRIMARY, SECONDARY) = ('primary', 'secondary')
DEVICE_OWNER = 'network:gw_interface'
# The namespace of the ids derived from a gw_interface's (uuid5).
NAMESPACE = uuid.UUID('3b0f5e0e-8f0c-4d1e-9d55-2f6a0c7e41a9')
# OpenStack's MAC prefix, as ESI's ports have it (fa: locally administered).
MAC_PREFIX = 'fa:16:3e'


class Refused(exceptions.EsiError):
    """A gw_interface that cannot be created now; nothing was written."""


def port_id(gw_interface_id, side):
    """The id of the port of *side* of a gw_interface: always the same."""
    return str(uuid.uuid5(NAMESPACE, '%s:port:%s' % (gw_interface_id, side)))


def logical_port_id(gw_interface_id, side):
    """The id of the ESE logical port of *side* of a gw_interface."""
    return str(uuid.uuid5(NAMESPACE, '%s:ese_logical_port:%s'
                          % (gw_interface_id, side)))


def mac_address(port):
    """The port's MAC address: OpenStack's prefix, then 3 bytes of its id."""
    tail = uuid.uuid5(NAMESPACE, 'mac:%s' % port).bytes[:3]
    return ':'.join([MAC_PREFIX] + ['%02x' % b for b in tail])


def parts(gw_interface_id):
    """[(esi_type, id)] of what a gw_interface brings, in delete order.

    The logical ports first, then the ports they are bound to.
    """
    return ([(ESE_LOGICAL_PORT, logical_port_id(gw_interface_id, side))
             for side in SIDES] +
            [(PORT, port_id(gw_interface_id, side)) for side in SIDES])


class Derived(object):
    """What ESI derives for a gw_interface from its gateway and network.

    :ivar vlan: the gateway's downlink VLAN (an int).
    :ivar ese_ports: {side: (ese_physical_port id, its /config body)}.
    :ivar subnet: the id of the network's subnet holding the addresses.
    """

    def __init__(self, vlan, ese_ports, subnet):
        self.vlan = vlan
        self.ese_ports = ese_ports
        self.subnet = subnet


def _need(read, esi_type, rid, where):
    body = read(esi_type, rid) if rid else None
    if body is None:
        raise Refused('%s: %s %s does not exist (no %s)'
                      % (where, esi_type, rid or '""',
                         keys.config(esi_type, rid or '')))
    return body


def derive(read, subnets, body):
    """Derive the ports' and logical ports' fields of gw_interface *body*.

    :param read: callable(esi_type, id) -> /config body, or None when the
        resource is missing or being deleted.
    :param subnets: callable() -> the /config bodies of every subnet.
    :raises Refused: naming what is missing: the gateway's VPN interface
        (a gw_interface is refused before it), a ToR port, a subnet.
    """
    gateway = _need(read, 'vpn_gateway', body['vpn_gw_id'], 'vpn_gw_id')
    if not gateway.get('connected_vpn_interface'):
        raise Refused(
            'vpn_gw_id: VPN gateway %s has no VPN interface yet (its '
            'connected_vpn_interface is empty): create its '
            'ESI::VpnInterface first, then the gw_interface'
            % body['vpn_gw_id'])
    try:
        vlan = int(gateway.get('downlink_vlan_id'))
    except (TypeError, ValueError):
        raise Refused('vpn_gw_id: VPN gateway %s has no downlink VLAN '
                      '(downlink_vlan_id %s)' % (
                          body['vpn_gw_id'],
                          exceptions.short(gateway.get('downlink_vlan_id'))))
    downlink = _need(read, 'ha_interface',
                     gateway.get('downlink_interface_id'),
                     'downlink_interface_id of VPN gateway %s'
                     % body['vpn_gw_id'])
    ese_ports = {}
    for side in SIDES:
        field = '%s_interface_id' % side
        interface = _need(read, 'er_physical_interface', downlink.get(field),
                          '%s of HA interface %s' % (field, downlink['id']))
        ese_id = interface.get('connected_ese_port_id')
        if not ese_id:
            raise Refused(
                'er_physical_interface %s (the %s side of HA interface %s) '
                'has no connected_ese_port_id: the ToR port it is cabled '
                'to must be known for the %s ESE logical port'
                % (interface['id'], side, downlink['id'], side))
        ese_ports[side] = (ese_id, _need(
            read, 'ese_physical_port', ese_id,
            'connected_ese_port_id of er_physical_interface %s'
            % interface['id']))
    return Derived(vlan, ese_ports, _subnet(subnets(), body))


def _subnet(subnets, body):
    """The id of the network's subnet that holds all three addresses."""
    wanted = [ipaddress.ip_address(body[f])
              for f in ('gw_vipv4', 'primary_ipv4', 'secondary_ipv4')]
    for subnet in subnets:
        if subnet.get('network_id') != body['network_id']:
            continue
        try:
            network = ipaddress.ip_network(subnet.get('cidr'))
        except (TypeError, ValueError):
            continue
        if all(ip in network for ip in wanted):
            return subnet['id']
    raise Refused(
        'network_id: network %s has no subnet that holds %s, %s and %s '
        '(gw_vipv4, primary_ipv4, secondary_ipv4): create its ESI::Subnet '
        'first' % (body['network_id'], body['gw_vipv4'],
                   body['primary_ipv4'], body['secondary_ipv4']))


def port_body(gw_body, derived, side):
    """Version 1 of the port of *side*, in the field order of ESI's seed."""
    rid = port_id(gw_body['id'], side)
    addresses = ([gw_body['gw_vipv4'], gw_body['primary_ipv4']]
                 if side == PRIMARY else [gw_body['secondary_ipv4']])
    return {
        'status': states.PENDING_CREATE,
        'description': '',
        'allowed_address_pairs': [],
        'admin_state_up': True,
        'network_id': gw_body['network_id'],
        'segmentation_id': derived.vlan,
        'managed_by_service': True,
        'attached': False,
        'segmentation_type': 'vlan',
        'name': 'Port for : %s' % derived.ese_ports[side][0],
        'binding:vif_type': 'vrouter',
        'device_owner': DEVICE_OWNER,
        'tenant_id': gw_body['tenant_id'],
        'fake_delete': False,
        'mac_address': mac_address(rid),
        'fixed_ips': [{'subnet_id': derived.subnet, 'ip_address': ip}
                      for ip in addresses],
        'id': rid,
        'tags': {},
        'device_id': gw_body['id'],
    }


def attached_body(port, logical_port):
    """Version 2 of a port: bound to its ESE logical port, attached."""
    return dict(port, attached=True, ese_logical_port_id=logical_port)


def logical_port_body(gw_body, derived, side):
    """The ESE logical port of *side*, in the field order of ESI's seed."""
    ese_id, ese_body = derived.ese_ports[side]
    port = port_id(gw_body['id'], side)
    return {
        'status': states.PENDING_CREATE,
        'name': '%s.%s' % (ese_body.get('name'), derived.vlan),
        'tags': {},
        'network_id': gw_body['network_id'],
        'gw_interface_id': gw_body['id'],
        'port_ids': [port],
        'ese_physical_port_id': ese_id,
        'connected_resource': GW_INTERFACE,
        'tenant_id': gw_body['tenant_id'],
        'type': 'L2',
        'id': logical_port_id(gw_body['id'], side),
        'vlan_id': derived.vlan,
        'description': 'ESE Logical port for Port %s' % port,
    }


class _Pending(object):
    """An etcd client that also sees the configs a transaction will write.

    A job's params follow relations through /config (a logical port's to
    its port, a port's to its gw_interface), and here those configs are
    written in the very transaction that writes the jobs: the params are
    built as if they were there already. Everything else is the client's.
    """

    def __init__(self, client, bodies):
        self._client = client
        self._pending = {keys.config(esi_type, rid): etcd.dumps(
            records.config(body, 1)) for (esi_type, rid), body in
            bodies.items()}

    def get(self, key):
        if key in self._pending:
            return etcd.KV(key, self._pending[key], 0, 0, 0, 0)
        return self._client.get(key)

    def __getattr__(self, name):
        return getattr(self._client, name)


def plan_create(client, template, gw_body, derived, request_id=None):
    """The plans of a gw_interface's create: itself, 2 ports, 2 logical ports.

    In commit order: the gw_interface (/config v1 and its jobs), each
    port's version 1 jobs, each logical port (/config and jobs), then
    each port's version 2 (/config v2, written once, and its modify jobs).

    :param template: callable(esi_type, body) -> a template callable for
        actions.plan.
    """
    gw_id = gw_body['id']
    pending = {(GW_INTERFACE, gw_id): gw_body}
    for side in SIDES:
        port = port_body(gw_body, derived, side)
        lport = logical_port_body(gw_body, derived, side)
        pending[(PORT, port['id'])] = port
        pending[(ESE_LOGICAL_PORT, lport['id'])] = lport
    seen = _Pending(client, pending)

    # A commit that plans again renames the job ids that depends_on names
    # (actions.Planned.again).
    def plan(esi_type, rid, action, body, version, depends_on=(),
             with_config=True):
        return actions.plan(seen, template(esi_type, body), esi_type, rid,
                            action, body, version, request_id=request_id,
                            depends_on=depends_on, with_config=with_config)

    gw = plan(GW_INTERFACE, gw_id, records.CREATE, gw_body, 1)
    ports, logical, attached = [], [], []
    for side in SIDES:
        body = port_body(gw_body, derived, side)
        # Its /config is version 2's, written below: one key, once.
        ports.append(plan(PORT, body['id'], records.CREATE, body, 1,
                          depends_on=gw.job_ids[:1], with_config=False))
    for side, port in zip(SIDES, ports):
        body = logical_port_body(gw_body, derived, side)
        logical.append(plan(ESE_LOGICAL_PORT, body['id'], records.CREATE,
                            body, 1, depends_on=port.job_ids[:1]))
    for side, port, lport in zip(SIDES, ports, logical):
        body = attached_body(port_body(gw_body, derived, side),
                             logical_port_id(gw_id, side))
        attached.append(plan(PORT, body['id'], records.MODIFY, body, 2,
                             depends_on=port.job_ids + lport.job_ids))
    return [gw] + ports + logical + attached


def create_conditions(gw_id):
    """Nothing of the gw_interface's is in etcd yet (a retry finds it)."""
    return [etcd.absent(keys.config(GW_INTERFACE, gw_id))] + [
        etcd.absent(keys.config(esi_type, rid))
        for esi_type, rid in parts(gw_id)]


def read_configs(client, gw_id):
    """{(esi_type, id): (KV, (body, version, marked))} of its five configs.

    The missing ones are left out.
    """
    wanted = [(GW_INTERFACE, gw_id)] + parts(gw_id)
    found_keys = [keys.config(esi_type, rid) for esi_type, rid in wanted]
    _, found = client.txn([], [etcd.get(key) for key in found_keys],
                          key=found_keys[0])
    return {part: (kvs[0], records.parse_config(kvs[0].key, kvs[0].value))
            for part, kvs in zip(wanted, found) if kvs}


def plan_delete(client, template, gw_id, configs, request_id=None,
                redo=()):
    """The logical_delete plans of what is left of a gw_interface.

    The logical ports first, then each port (waiting for its logical
    port's jobs), then the gw_interface (waiting for the ports'): one
    transaction, ordered by the jobs' dependency. A part already marked
    is left to its delete under way, unless it is in *redo*.

    :param configs: read_configs().
    :param redo: the marked parts whose delete is not under way (it
        failed): deleted again, at their next version.
    :returns: ([Planned], [compare]) for actions.commit (no plan when
        every part's delete is under way), and {(esi_type, id): version}
        of each part's delete.
    """
    # A part already marked: its delete under way is waited for.
    versions = {part: config[1] for part, (_kv, config) in configs.items()
                if config[2] and part not in redo}
    compare, planned = [], []
    waited = {ESE_LOGICAL_PORT: [], PORT: []}
    for esi_type, rid in parts(gw_id) + [(GW_INTERFACE, gw_id)]:
        if (esi_type, rid) not in configs:
            continue
        kv, (body, version, marked) = configs[(esi_type, rid)]
        if marked and (esi_type, rid) not in redo:
            continue
        if esi_type == PORT:
            depends_on = [job for lport in waited[ESE_LOGICAL_PORT]
                          for job in lport]
        elif esi_type == GW_INTERFACE:
            depends_on = [job for port in waited[PORT] for job in port]
        else:
            depends_on = []
        body = dict(body, status=states.PENDING_DELETE)
        each = actions.plan(
            client, template(esi_type, body), esi_type, rid,
            records.LOGICAL_DELETE, body, version + 1, marked=True,
            request_id=request_id, depends_on=depends_on)
        if esi_type in waited:
            waited[esi_type].append(each.job_ids)
        planned.append(each)
        versions[(esi_type, rid)] = version + 1
        compare.append(etcd.mod_revision_is(kv.key, kv.mod_revision))
    return planned, compare, versions


def parts_outcome(client, gw_id, expected):
    """Whether every part answered its action (tenant_errors' outcome).

    :param expected: {(esi_type, id): (version, action)}.
    :returns: [(esi_type, id, parsed /state or None, version, action)],
        read in one transaction.
    """
    wanted = list(expected)
    if not wanted:
        return []
    state_keys = [keys.state(esi_type, rid) for esi_type, rid in wanted]
    _, found = client.txn([], [etcd.get(key) for key in state_keys],
                          key=state_keys[0])
    return [(esi_type, rid, lifecycle.parse_state(kvs[0] if kvs else None))
            + expected[(esi_type, rid)]
            for (esi_type, rid), kvs in zip(wanted, found)]


def forget(client, gw_id):
    """Remove the /config and /state of every part and of the interface."""
    for esi_type, rid in parts(gw_id) + [(GW_INTERFACE, gw_id)]:
        lifecycle.forget(client, esi_type, rid)

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

"""ESI::VpnGateway: a tenant's VPN gateway on the operator's HA routers."""

import random
import time
import uuid

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import actions
from heat_esi import esi_resource
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import resource_properties
from heat_esi import states
from heat_esi import template_mappings
from heat_esi import vlans

# The units a gateway has on its HA interfaces: (interface, VLAN) fields.
UNITS = (('downlink_interface_id', 'downlink_vlan_id'),
         ('uplink_interface_id', 'uplink_vlan_id'))

# How many times a create or delete is written again when another
# gateway's took or gave back a VLAN of the same HA interface meanwhile:
# each conflict means that another write landed, so twenty gateways
# created at once all get theirs well within this.
POOL_ATTEMPTS = 64
# The longest pause (seconds, random) before writing again: the
# competitors spread out instead of colliding again at once.
POOL_BACKOFF = 0.05


class PoolError(exceptions.EsiError):
    """The gateway cannot have the VLANs or interfaces it needs."""


class Allocation(object):
    """What a gateway takes from its HA interfaces, for one transaction.

    :ivar body: the gateway's /config body.
    :ivar compare: the mod_revision of each HA interface /config read.
    :ivar puts: each HA interface's /config with its pool updated, at the
        same version (the pool is ESI's bookkeeping, not an action on the
        HA interface: no job, no new version).
    """

    def __init__(self, body, changed):
        self.body = body
        self.compare = [etcd.mod_revision_is(kv.key, kv.mod_revision)
                        for kv, _config, _new in changed]
        self.puts = [etcd.put(kv.key, records.config(new, config[1],
                                                     config[2]))
                     for kv, config, new in changed]


def _read(read_config, esi_type, resource_id, field):
    """(KV, (body, version, marked)) of a resource the gateway needs."""
    kv, config = read_config(esi_type, resource_id)
    if kv is None:
        raise PoolError(_('%(field)s: %(type)s %(id)s does not exist in '
                          'ESI (no %(key)s)') % {
            'field': field, 'type': esi_type, 'id': resource_id,
            'key': keys.config(esi_type, resource_id)})
    if config[2]:
        raise PoolError(_('%(field)s: %(type)s %(id)s is being deleted') % {
            'field': field, 'type': esi_type, 'id': resource_id})
    return kv, config


def _interfaces(read_config, service, vpn_service_id):
    """The (uplink, downlink) HA interfaces a new gateway goes on.

    The first downlink interface of the service with a VLAN left, and the
    first uplink interface on the same HA router: the devices of both
    units are that HA router's edge routers.
    """
    found = {}
    for field in ('downlink_interfaces', 'uplink_interfaces'):
        ids = service.get(field)
        if not isinstance(ids, list) or not ids:
            raise PoolError(_('vpn_service %(id)s names no %(field)s') % {
                'id': vpn_service_id, 'field': field})
        found[field] = [(rid,) + _read(read_config, 'ha_interface', rid,
                                       'vpn_service %s %s'
                                       % (vpn_service_id, field))
                        for rid in ids]
    downlinks = [d for d in found['downlink_interfaces']
                 if d[2][0].get('vlan_ids_available', 0) > 0]
    if not downlinks:
        raise PoolError(_('no VLAN is left on the downlink interfaces of '
                          'vpn_service %s') % vpn_service_id)
    downlink = downlinks[0]
    router = downlink[2][0].get('ha_router_id')
    uplinks = [u for u in found['uplink_interfaces']
               if u[2][0].get('ha_router_id') == router]
    if not uplinks:
        raise PoolError(_('vpn_service %(id)s has no uplink interface on '
                          'ha_router %(router)s, the HA router of its '
                          'downlink interface %(down)s') % {
            'id': vpn_service_id, 'router': router, 'down': downlink[0]})
    return uplinks[0], downlink


def _unit_names(read_config, interface_id, interface, vlan):
    """(primary, secondary) logical unit names on an HA interface."""
    names = []
    for side in ('primary', 'secondary'):
        field = '%s_interface_id' % side
        _kv, config = _read(read_config, 'er_physical_interface',
                            interface.get(field),
                            'ha_interface %s %s' % (interface_id, field))
        names.append('%s.%s' % (config[0].get('name'), vlan))
    return names


def allocate(read_config, properties, resource_id, tenant_id):
    """The body of a new gateway, and what it takes from its interfaces.

    Derived as ESI's API does: the HA interfaces from the service, the
    downlink VLAN the first free one of the downlink interface's pool, the
    logical unit names (physical interface name + "." + VLAN) and the
    VRF's name ("vrf_gw_" + downlink interface name + "_" + VLAN). The
    uplink VLAN, the tenant's, is taken from the uplink interface's pool:
    two gateways on one uplink unit would be one.

    :param read_config: callable(esi_type, id) -> (KV or None, (body,
        version, marked)).
    :param properties: the gateway's properties.
    :returns: an Allocation.
    :raises PoolError: saying which resource or VLAN is missing.
    """
    service_id = properties['vpn_service_id']
    qos_id = properties['qos_option_id']
    _kv, (service, _v, _m) = _read(read_config, 'vpn_service', service_id,
                                   'vpn_service_id')
    _kv, (qos, _v, _m) = _read(read_config, 'qos_option', qos_id,
                               'qos_option_id')
    if qos.get('vpn_service_id') not in (None, service_id):
        raise PoolError(_('qos_option_id: qos_option %(qos)s is an option '
                          'of vpn_service %(other)s, not of %(id)s') % {
            'qos': qos_id, 'other': qos.get('vpn_service_id'),
            'id': service_id})
    uplink, downlink = _interfaces(read_config, service, service_id)
    up_id, up_kv, up_config = uplink
    down_id, down_kv, down_config = downlink
    try:
        down_vlan = vlans.first_free(down_config[0]['vlan_pool_state'])
        if down_vlan is None:
            raise ValueError(_('its pool is full'))
        new_down = vlans.take(down_config[0], down_vlan)
        uplink_vlan = int(properties['uplink_vlan_id'])
        new_up = vlans.take(up_config[0] if up_id != down_id else new_down,
                            uplink_vlan)
    except (KeyError, ValueError) as exc:
        raise PoolError(_('the VLAN pools of ha_interfaces %(up)s and '
                          '%(down)s give no VLAN: %(why)s') % {
            'up': up_id, 'down': down_id, 'why': exc})
    up_names = _unit_names(read_config, up_id, up_config[0], uplink_vlan)
    down_names = _unit_names(read_config, down_id, down_config[0],
                             down_vlan)
    body = {
        'downlink_vlan_id': str(down_vlan),
        'status': states.PENDING_CREATE,
        'vpn_service_id': service_id,
        'description': properties['description'],
        'secondary_logical_downlink_interface_name': down_names[1],
        'downlink_interface_id': down_id,
        'qos_option_id': qos_id,
        'name': properties['name'],
        'uplink_vlan_id': str(properties['uplink_vlan_id']),
        'primary_logical_downlink_interface_name': down_names[0],
        'local_as_number': str(properties['local_as_number']),
        'uplink_interface_id': up_id,
        'maximum_static_routes': properties['maximum_static_routes'],
        'tenant_id': tenant_id,
        'secondary_logical_uplink_interface_name': up_names[1],
        'primary_logical_uplink_interface_name': up_names[0],
        'vrf_name': 'vrf_gw_%s_%s' % (down_config[0].get('name'),
                                      down_vlan),
        'id': resource_id,
        # Set by the VPN interface that connects to the gateway.
        'connected_vpn_interface': '',
    }
    if up_id == down_id:
        changed = [(down_kv, down_config, new_up)]
    else:
        changed = [(down_kv, down_config, new_down),
                   (up_kv, up_config, new_up)]
    return Allocation(body, changed)


def release(read_config, body):
    """What a deleted gateway gives back to its HA interfaces.

    Its downlink VLAN and its uplink VLAN, each only if the pool still has
    it as a gateway's (so that counts stay exact); an HA interface that is
    gone has nothing to take back.

    :returns: an Allocation (its body is *body*).
    """
    freed = {}
    for field, vlan_field in (('downlink_interface_id', 'downlink_vlan_id'),
                              ('uplink_interface_id', 'uplink_vlan_id')):
        rid = body.get(field)
        try:
            vid = int(body.get(vlan_field))
        except (TypeError, ValueError):
            continue
        if rid is None:
            continue
        if rid not in freed:
            kv, config = read_config('ha_interface', rid)
            if kv is None:
                continue
            freed[rid] = [kv, config, config[0]]
        try:
            new = vlans.give_back(freed[rid][2], vid)
        except (KeyError, ValueError):
            new = None      # an unreadable pool is left for an operator
        if new is not None:
            freed[rid][2] = new
    return Allocation(body, [(kv, config, new)
                             for kv, config, new in freed.values()
                             if new is not config[0]])


def predecessors(client, body):
    """Jobs in flight of deleted gateways that had the VLANs of *body*.

    A delete gives its VLANs back when it is written, before its jobs
    take the units and the VRF off the routers: a new gateway on one of
    those VLANs (the same unit names, the same vrf_name) must configure
    the routers after them, not be undone by them.
    """
    units = {(body[iface], body[vlan]) for iface, vlan in UNITS}
    prefix = keys.config_prefix('vpn_gateway')
    found = []
    for kv in client.get_prefix(prefix)[0]:
        try:
            other, _version, marked = records.parse_config(kv.key,
                                                           kv.value)
        except exceptions.MalformedValue:
            continue
        if marked and other.get('id') != body['id'] and units & {
                (other.get(iface), other.get(vlan))
                for iface, vlan in UNITS}:
            found += actions.jobs_in_flight(
                client, template_mappings.handlers('vpn_gateway'),
                'vpn_gateway', other['id'], records.MODIFY)
    return found


class VpnGateway(esi_resource.EsiResource):
    """A tenant's VPN gateway: a VRF on the HA routers of a VPN service.

    ESI derives the rest from the service: the uplink and downlink HA
    interfaces, a downlink VLAN (the first free one of the downlink
    interface's pool, taken in the same etcd transaction as the gateway's
    configuration, so that two gateways never share one), the logical
    units and the VRF's name. An esi-worker's heat_worker configures both
    edge routers over NETCONF; its monitoring_worker then watches the
    downlink HA interface. A delete gives the VLANs back.
    """

    support_status = support.SupportStatus(version='1.2.0')

    esi_type = 'vpn_gateway'

    PROPERTIES = (
        NAME, DESCRIPTION, VPN_SERVICE_ID, QOS_OPTION_ID, UPLINK_VLAN_ID,
        LOCAL_AS_NUMBER, MAXIMUM_STATIC_ROUTES,
    ) = (
        'name', 'description', 'vpn_service_id', 'qos_option_id',
        'uplink_vlan_id', 'local_as_number', 'maximum_static_routes',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE, DOWNLINK_VLAN_ID, VRF_NAME,
        CONNECTED_VPN_INTERFACE,
    ) = (
        'status', 'state_monitoring', 'worker_state', 'downlink_vlan_id',
        'vrf_name', 'connected_vpn_interface',
    )

    properties_schema = resource_properties.naming_properties(
        _('VPN gateway'))
    properties_schema.update({
        VPN_SERVICE_ID: resource_properties.reference_property(
            esi_type, VPN_SERVICE_ID,
            _('ID of the ESI VPN service whose HA interfaces carry the '
              'gateway.'),
            required=True
        ),
        QOS_OPTION_ID: resource_properties.reference_property(
            esi_type, QOS_OPTION_ID,
            _('ID of the ESI QoS option of the service that polices the '
              'gateway\'s traffic.'),
            required=True
        ),
        UPLINK_VLAN_ID: properties.Schema(
            properties.Schema.INTEGER,
            _('VLAN of the gateway\'s unit on the uplink (toward the '
              'customer\'s VPN); it must be free in the uplink HA '
              'interface\'s pool.'),
            required=True,
            constraints=[constraints.Range(min=1, max=4094)]
        ),
        LOCAL_AS_NUMBER: properties.Schema(
            properties.Schema.INTEGER,
            _('Autonomous system number of the gateway\'s VRF.'),
            required=True,
            constraints=[constraints.Range(min=1, max=4294967295)]
        ),
        MAXIMUM_STATIC_ROUTES: properties.Schema(
            properties.Schema.INTEGER,
            _('Number of static routes the gateway may have.'),
            default=32,
            constraints=[constraints.Range(min=0, max=1024)],
            update_allowed=True
        ),
    })

    attributes_schema = resource_properties.state_attributes(
        _('VPN gateway'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of the downlink HA interface as monitored now, such '
              'as {"downlink": "UP"}.'),
            attributes.Schema.MAP
        ),
        DOWNLINK_VLAN_ID: resource_properties.live_attribute(
            _('VLAN the gateway took from the downlink HA interface.'),
            attributes.Schema.STRING
        ),
        VRF_NAME: resource_properties.live_attribute(
            _('Name of the gateway\'s routing instance on the routers.'),
            attributes.Schema.STRING
        ),
        CONNECTED_VPN_INTERFACE: resource_properties.live_attribute(
            _('ID of the VPN interface connected to the gateway, or "".'),
            attributes.Schema.STRING
        ),
    })

    def _read_any(self, esi_type, resource_id):
        """Read a /config, whoever's it is.

        The service's HA interfaces are the operator's; the gateway only
        takes VLANs from them.
        """
        try:
            return self.client_plugin().read_config(esi_type, resource_id)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))

    def _values(self):
        values = {name: self.properties[name]
                  for name in self.properties_schema}
        values[self.NAME] = self._name()
        return values

    def _allocate(self, resource_id):
        try:
            return allocate(self._read_any, self._values(), resource_id,
                            self.stack.context.project_id)
        except PoolError as exc:
            raise exception.Error(str(exc))

    def _create_body(self, resource_id):
        return self._allocate(resource_id).body

    def handle_create(self):
        self._check_values()
        # Stored first: a create retried after a crash finds the same keys.
        if self.resource_id is None:
            self.resource_id_set(str(uuid.uuid4()))
        cookie = {'version': 1, 'action': records.CREATE}
        config_key = keys.config(self.esi_type, self.resource_id)
        plugin = self.client_plugin()
        for attempt in range(POOL_ATTEMPTS):
            if self._read_any(self.esi_type, self.resource_id)[0] is not None:
                plugin.resume_create(self.name, self.esi_type,
                                     self.resource_id)
                return cookie
            taken = self._allocate(self.resource_id)
            planned = plugin.plan(self.esi_type, self.resource_id,
                                  records.CREATE, taken.body, 1,
                                  depends_on=predecessors(self.client(),
                                                          taken.body))
            if plugin.commit(self.name, [planned],
                             [etcd.absent(config_key)] + taken.compare,
                             taken.puts) is not None:
                return cookie
            self._pause(attempt)
        raise exception.Error(self._busy())

    def _write_next(self, kv, body, version, action, marked=False):
        """A delete also gives the gateway's VLANs back, at once."""
        if action != records.LOGICAL_DELETE:
            return super(VpnGateway, self)._write_next(
                kv, body, version, action, marked)
        plugin = self.client_plugin()
        for attempt in range(POOL_ATTEMPTS):
            freed = release(self._read_any, body)
            planned = plugin.plan(self.esi_type, self.resource_id, action,
                                  body, version, marked=marked)
            if plugin.commit(self.name, [planned],
                             [etcd.mod_revision_is(kv.key, kv.mod_revision)]
                             + freed.compare, freed.puts) is not None:
                return {'version': version, 'action': action}
            now = self.client().get(kv.key)
            if now is None or now.mod_revision != kv.mod_revision:
                raise exception.Error(
                    _('%s changed in etcd during the delete; retry it')
                    % kv.key)
            self._pause(attempt)
        raise exception.Error(self._busy())

    @staticmethod
    def _pause(attempt):
        """A short random pause before writing again (see POOL_BACKOFF)."""
        time.sleep(random.uniform(0, POOL_BACKOFF * min(attempt + 1, 4)))

    def _busy(self):
        return _('the VLAN pools of the HA interfaces of vpn_gateway %s '
                 'kept changing (%d attempts); retry') % (
            self.resource_id, POOL_ATTEMPTS)


def resource_mapping():
    return {'ESI::VpnGateway': VpnGateway}

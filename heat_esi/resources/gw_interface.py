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

"""ESI::GwInterface: a VPN gateway's interface into a tenant network."""

import ipaddress
import uuid

from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import actions
from heat_esi import esi_resource
from heat_esi import exceptions
from heat_esi import gw_interface_parts as gw_parts
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import resource_properties
from heat_esi import states
from heat_esi import tenant_errors

LOG = logging.getLogger(__name__)


class GwInterface(esi_resource.EsiResource):
    """The interface of a VPN gateway into a tenant's network (VRRP).

    The VRRP group (the virtual address, an address of each edge router)
    on the gateway's downlink VLAN unit, and the iBGP group between the two
    routers in the gateway's VRF. As ESI's API does, the interface brings
    two ports on the network and two ESE logical ports (the VLAN's unit of
    each ToR port cabled to the routers), each with its own configuration,
    jobs and stack, all written in one etcd transaction; the ports are then
    attached to their logical ports (their version 2). The gateway's VPN
    interface must exist first: the interface is refused before it. A
    delete removes the five in dependency order.
    """

    support_status = support.SupportStatus(version='1.1.0')

    esi_type = 'gw_interface'

    PROPERTIES = (
        NAME, DESCRIPTION, SERVICE_TYPE, VPN_GW_ID, NETWORK_ID, VRID,
        GW_VIPV4, PRIMARY_IPV4, SECONDARY_IPV4, NETMASK,
    ) = (
        'name', 'description', 'service_type', 'vpn_gw_id', 'network_id',
        'vrid', 'gw_vipv4', 'primary_ipv4', 'secondary_ipv4', 'netmask',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE, PORT_IDS,
        ESE_LOGICAL_PORT_IDS,
    ) = (
        'status', 'state_monitoring', 'worker_state', 'port_ids',
        'ese_logical_port_ids',
    )

    SERVICE_TYPES = ('vpn',)

    properties_schema = resource_properties.naming_properties(
        _('gw interface'))
    properties_schema.update({
        SERVICE_TYPE: properties.Schema(
            properties.Schema.STRING,
            _('The service of the gateway: vpn (an ESI::VpnGateway).'),
            default='vpn',
            constraints=[constraints.AllowedValues(SERVICE_TYPES)]
        ),
        VPN_GW_ID: resource_properties.reference_property(
            esi_type, VPN_GW_ID,
            _('ID of the ESI VPN gateway; its VPN interface must exist.'),
            required=True
        ),
        NETWORK_ID: resource_properties.reference_property(
            esi_type, NETWORK_ID,
            _('ID of the ESI network the interface is in; one of its '
              'subnets holds the three addresses.'),
            required=True
        ),
        VRID: properties.Schema(
            properties.Schema.INTEGER,
            _('VRRP group (virtual router id) of the interface.'),
            required=True,
            constraints=[constraints.Range(1, 255)]
        ),
        GW_VIPV4: properties.Schema(
            properties.Schema.STRING,
            _('Virtual address of the VRRP group: the network\'s gateway.'),
            required=True,
            constraints=[constraints.CustomConstraint('ip_addr')]
        ),
        PRIMARY_IPV4: properties.Schema(
            properties.Schema.STRING,
            _('Address of the primary edge router in the network.'),
            required=True,
            constraints=[constraints.CustomConstraint('ip_addr')]
        ),
        SECONDARY_IPV4: properties.Schema(
            properties.Schema.STRING,
            _('Address of the secondary edge router in the network.'),
            required=True,
            constraints=[constraints.CustomConstraint('ip_addr')]
        ),
        NETMASK: properties.Schema(
            properties.Schema.INTEGER,
            _('Prefix length of the three addresses, such as 24.'),
            required=True,
            constraints=[constraints.Range(1, 30)]
        ),
    })

    attributes_schema = resource_properties.state_attributes(
        _('gw interface'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('VRRP state of each router as last monitored, such as '
              '{"primary": "UP", "secondary": "UP"}.'),
            attributes.Schema.MAP
        ),
        PORT_IDS: attributes.Schema(
            _('IDs of the two ports of the interface (primary, secondary).'),
            type=attributes.Schema.LIST
        ),
        ESE_LOGICAL_PORT_IDS: attributes.Schema(
            _('IDs of its two ESE logical ports (primary, secondary).'),
            type=attributes.Schema.LIST
        ),
    })

    # --- validation -------------------------------------------------------

    def _check_values(self, values=None):
        super(GwInterface, self)._check_values(values)
        values = self.properties if values is None else values
        addresses = [(name, values.get(name)) for name in (
            self.GW_VIPV4, self.PRIMARY_IPV4, self.SECONDARY_IPV4)]
        seen = {}
        for name, value in addresses:
            if value is None:
                continue
            address = ipaddress.ip_address(value)
            if address.version != 4:
                raise resource_properties.property_error(
                    self, name, _('%s is not an IPv4 address') % value)
            if address in seen:
                raise resource_properties.property_error(
                    self, name, _('%(ip)s is %(other)s too: the three '
                                  'addresses must differ') % {
                        'ip': value, 'other': seen[address]})
            seen[address] = name

    # --- the body ---------------------------------------------------------

    def _create_body(self, resource_id):
        return {
            'status': states.PENDING_CREATE,
            'secondary_ipv4': self.properties[self.SECONDARY_IPV4],
            'gw_vipv4': self.properties[self.GW_VIPV4],
            'description': self.properties[self.DESCRIPTION],
            'network_id': self.properties[self.NETWORK_ID],
            'tenant_id': self.stack.context.project_id,
            'vpn_gw_id': self.properties[self.VPN_GW_ID],
            'vrid': self.properties[self.VRID],
            'primary_ipv4': self.properties[self.PRIMARY_IPV4],
            'netmask': self.properties[self.NETMASK],
            'service_type': self.properties[self.SERVICE_TYPE],
            'id': resource_id,
            'name': self._name(),
        }

    # --- etcd -------------------------------------------------------------

    def _template(self, esi_type, body):
        plugin = self.client_plugin()
        return lambda handler, refresh: plugin.template(esi_type, handler,
                                                        body, refresh)

    def _request_id(self):
        ctx = self.context
        return getattr(ctx, 'global_request_id', None) or \
            getattr(ctx, 'request_id', None)

    def _read_usable(self, esi_type, rid):
        """The /config body of *rid*, or None if missing or being deleted.

        The gateway must be the project's; the HA interface, edge router
        interfaces, ToR ports and subnets it leads to are the operator's.
        """
        try:
            kv, config = self.client_plugin().read_config(esi_type, rid)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))
        if kv is None or config[2]:
            return None
        if esi_type == 'vpn_gateway' and \
                not self.client_plugin().owns(config[0]):
            return None
        return config[0]

    def _subnets(self):
        found = []
        for kv in self.client().get_prefix(keys.config_prefix('subnet'))[0]:
            try:
                body, _version, marked = records.parse_config(kv.key,
                                                              kv.value)
            except exceptions.MalformedValue:
                continue
            if not marked and self.client_plugin().owns(body):
                found.append(body)
        return found

    def handle_create(self):
        self._check_values()
        # Stored first: a create retried after a crash finds the same keys.
        if self.resource_id is None:
            self.resource_id_set(str(uuid.uuid4()))
        gw_id = self.resource_id
        body = self._create_body(gw_id)
        client = self.client()
        if client.get(keys.config(self.esi_type, gw_id)) is not None:
            # A retried create: what the first wrote is waited for.
            self.client_plugin().resume_create(self.name, self.esi_type,
                                               gw_id)
            return {'version': 1, 'action': records.CREATE}
        try:
            derived = gw_parts.derive(self._read_usable, self._subnets,
                                      body)
            planned = gw_parts.plan_create(client, self._template, body,
                                           derived, self._request_id())
            done = actions.commit(client, planned,
                                  gw_parts.create_conditions(gw_id))
        except gw_parts.Refused as exc:
            raise exception.Error(_('%(res)s not created: %(why)s; nothing '
                                    'was written') % {'res': self.name,
                                                      'why': exc})
        except exceptions.TemplateError as exc:
            raise exception.Error(str(exc))
        if done is None:
            raise exception.Error(
                _('%(key)s or one of its ports was written meanwhile by '
                  'another request; retry the create') % {
                    'key': keys.config(self.esi_type, gw_id)})
        LOG.info('%(res)s: wrote %(key)s, its ports %(ports)s and ESE '
                 'logical ports %(lports)s, and their jobs %(jobs)s', {
                     'res': self.name,
                     'key': keys.config(self.esi_type, gw_id),
                     'ports': ', '.join(gw_parts.port_id(gw_id, s)
                                        for s in gw_parts.SIDES),
                     'lports': ', '.join(gw_parts.logical_port_id(gw_id, s)
                                         for s in gw_parts.SIDES),
                     'jobs': ', '.join(j for ids in done for j in ids)})
        return {'version': 1, 'action': records.CREATE}

    def _expected(self):
        """{(type, id): (version, action)} each part's create answers."""
        gw_id = self.resource_id
        found = {}
        for esi_type, rid in gw_parts.parts(gw_id):
            if esi_type == gw_parts.PORT:
                found[(esi_type, rid)] = (2, lifecycle.expected_action(
                    esi_type, records.MODIFY))
            else:
                found[(esi_type, rid)] = (1, lifecycle.expected_action(
                    esi_type, records.CREATE))
        return found

    def _parts_done(self, expected):
        """Whether every part answered; Heat's error if one failed."""
        try:
            answers = gw_parts.parts_outcome(self.client(), self.resource_id,
                                             expected)
        except exceptions.EtcdError as exc:
            LOG.warning('%s: cannot read its parts\' state yet: %s',
                        self.name, exc)
            return False
        # Every answer is looked at: a part that failed fails the action
        # even while another is still under way.
        return all([tenant_errors.outcome(state, version, action, esi_type,
                                          rid)
                    for esi_type, rid, state, version, action in answers])

    def check_create_complete(self, cookie):
        # The interface's own jobs, then its ports' and logical ports'.
        return self._check_done(cookie) and \
            self._parts_done(self._expected())

    def handle_delete(self):
        if self.resource_id is None:
            return None
        gw_id = self.resource_id
        own = {rid for _type, rid in gw_parts.parts(gw_id)}
        # Its own ports and logical ports name it: they go with it. A user
        # is said '<type> <id> (<name>)' (lifecycle.users).
        users = [user for user in lifecycle.users(
            self.client(), self.esi_type, gw_id, self.client_plugin().owns)
            if user.split(' ')[1:2] and user.split(' ')[1] not in own]
        if users:
            raise exception.Error(
                _('%(type)s %(id)s cannot be deleted while other resources '
                  'use it: %(users)s. Delete them first.') % {
                    'type': self.esi_type, 'id': gw_id,
                    'users': ', '.join(users)})
        foreign = []
        self._read_config(foreign)
        if foreign:
            # Another project's resource: the stack just lets go of it.
            return None
        client = self.client()
        configs = gw_parts.read_configs(client, gw_id)
        if not configs:
            gw_parts.forget(client, gw_id)
            return None
        # A part whose earlier delete failed is deleted again.
        redo = {(esi_type, rid) for (esi_type, rid), (_kv, config)
                in configs.items() if config[2] and
                not lifecycle.delete_under_way(config[1], lifecycle.read_state(
                    client, esi_type, rid))}
        planned, compare, versions = gw_parts.plan_delete(
            client, self._template, gw_id, configs, self._request_id(),
            redo)
        if planned:
            try:
                done = actions.commit(client, planned, compare)
            except exceptions.TemplateError as exc:
                raise exception.Error(str(exc))
            if done is None:
                raise exception.Error(
                    _('%(key)s or one of its ports changed in etcd during '
                      'the delete; retry it') % {
                        'key': keys.config(self.esi_type, gw_id)})
        return {'version': versions.get((self.esi_type, gw_id), 0),
                'action': records.LOGICAL_DELETE,
                'parts': [[t, r, v] for (t, r), v in versions.items()]}

    def check_delete_complete(self, cookie):
        if cookie is None:
            return True
        expected = {(t, r): (v, lifecycle.expected_action(
            t, records.LOGICAL_DELETE)) for t, r, v in cookie['parts']}
        if not self._parts_done(expected):
            return False
        gw_parts.forget(self.client(), self.resource_id)
        return True

    def handle_create_cancel(self, cookie):
        """Withdraw the unclaimed jobs of the interface and of its parts."""
        super(GwInterface, self).handle_create_cancel(cookie)
        if not cookie or self.resource_id is None:
            return
        for (esi_type, rid), (version, _action) in \
                self._expected().items():
            # A port's create (version 1) and its attachment (2).
            for each in range(1, version + 1):
                self.client_plugin().withdraw(
                    self.name, esi_type, rid, {
                        'version': each, 'action': records.CREATE
                        if each == 1 else records.MODIFY})

    def _resolve_attribute(self, name):
        if self.resource_id is None:
            return None
        if name == self.PORT_IDS:
            return [gw_parts.port_id(self.resource_id, side)
                    for side in gw_parts.SIDES]
        if name == self.ESE_LOGICAL_PORT_IDS:
            return [gw_parts.logical_port_id(self.resource_id, side)
                    for side in gw_parts.SIDES]
        return super(GwInterface, self)._resolve_attribute(name)


def resource_mapping():
    return {'ESI::GwInterface': GwInterface}

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

"""The stand-ins of Contrail's Heat resources (see heat_esi.simulated).

Each keeps its properties as they are and answers Contrail's attributes
from them; its resource id is the uuid it is given, else a new uuid4, as
Contrail's API gives. Nothing is stored anywhere but in Heat.

To make one fail on purpose (a test of what the user sees when Contrail
refuses an object), give it a name, or an fq_name part, that starts with
FAIL_PREFIX: its create (and update) then fails with a reason that says so.
"""

import json
import uuid

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import properties
from heat.engine import resource
from heat.engine import support

FAIL_PREFIX = 'fail-'
# Contrail's parent of physical routers and interfaces, and of networks.
GLOBAL_SYSTEM_CONFIG = 'default-global-system-config'
DOMAIN = 'default-domain'
# A namespace for the ids of objects that exist before the stack: the same
# fq_name is always the same object.
EXISTING = uuid.UUID('6f1c2a4e-35c6-4f0e-9a51-4e0a3c1d7b22')


def _schema(kind, description, **kwargs):
    kwargs.setdefault('update_allowed', True)
    return properties.Schema(kind, description, **kwargs)


def _attribute(description, kind=attributes.Schema.STRING):
    return attributes.Schema(description, type=kind)


class ContrailStandIn(resource.Resource):
    """Base of the stand-ins: ids, attributes from properties, failures."""

    support_status = support.SupportStatus(version='1.1.0')

    # The properties whose value names the object (checked for FAIL_PREFIX).
    naming = ('name',)

    def _refuse_on_purpose(self):
        for name in self.naming:
            value = self.properties[name]
            parts = value if isinstance(value, list) else [value]
            for part in parts:
                if isinstance(part, str) and part.startswith(FAIL_PREFIX):
                    raise exception.Error(
                        _('simulated Contrail refused the %(type)s %(part)s: '
                          'its %(name)s starts with "%(prefix)s", which '
                          'makes a stand-in fail on purpose') % {
                            'type': self.type(), 'part': part, 'name': name,
                            'prefix': FAIL_PREFIX})

    def _new_id(self):
        return str(uuid.uuid4())

    def handle_create(self):
        self._refuse_on_purpose()
        self.resource_id_set(self._new_id())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        # The attributes are read from the properties, updated by Heat.
        if prop_diff:
            self.properties = json_snippet.properties(self.properties_schema,
                                                      self.context)
            self._refuse_on_purpose()

    def handle_delete(self):
        return None

    def _resolve_attribute(self, name):
        if self.resource_id is None:
            return None
        return self._attributes().get(name)

    def _attributes(self):
        return {key: self.properties[key] for key in self.properties_schema}


class ExistingResource(ContrailStandIn):
    """OS::Contrail::ExistingResource: an object Contrail already has."""

    PROPERTIES = (FQ_NAME, RESOURCE_TYPE) = ('fq_name', 'resource_type')
    naming = (FQ_NAME,)

    properties_schema = {
        FQ_NAME: _schema(properties.Schema.LIST,
                         _('FQ name of the object.'), required=True),
        RESOURCE_TYPE: _schema(properties.Schema.STRING,
                               _('Contrail type of the object, such as '
                                 'physical_router.'), required=True),
    }
    attributes_schema = {
        'name': _attribute(_('Name of the object.')),
        'fq_name': _attribute(_('FQ name of the object.'),
                              attributes.Schema.LIST),
    }

    def _new_id(self):
        return str(uuid.uuid5(EXISTING, '%s:%s' % (
            self.properties[self.RESOURCE_TYPE],
            ':'.join(self.properties[self.FQ_NAME]))))

    def _attributes(self):
        fq_name = self.properties[self.FQ_NAME]
        return {'name': fq_name[-1] if fq_name else None, 'fq_name': fq_name}


class PhysicalRouter(ContrailStandIn):
    """OS::Contrail::PhysicalRouter: a switch or router Contrail manages."""

    PROPERTIES = (NAME, MANAGEMENT_IP, DATAPLANE_IP) = (
        'name', 'physical_router_management_ip',
        'physical_router_dataplane_ip')

    properties_schema = {
        NAME: _schema(properties.Schema.STRING, _('Name of the router.'),
                      required=True),
        MANAGEMENT_IP: _schema(properties.Schema.STRING,
                               _('Management address of the router.')),
        DATAPLANE_IP: _schema(properties.Schema.STRING,
                              _('Dataplane address of the router.')),
    }
    attributes_schema = {
        'name': _attribute(_('Name of the router.')),
        'fq_name': _attribute(_('FQ name of the router.'),
                              attributes.Schema.LIST),
    }

    def _attributes(self):
        name = self.properties[self.NAME]
        return {'name': name, 'fq_name': [GLOBAL_SYSTEM_CONFIG, name]}


class PhysicalInterface(ContrailStandIn):
    """OS::Contrail::PhysicalInterface: a port of a physical router."""

    PROPERTIES = (NAME, PHYSICAL_ROUTER) = ('name', 'physical_router')

    properties_schema = {
        NAME: _schema(properties.Schema.STRING,
                      _('Name of the interface.'), required=True),
        PHYSICAL_ROUTER: _schema(properties.Schema.STRING,
                                 _('Id of its physical router.'),
                                 required=True, update_allowed=False),
    }
    attributes_schema = {
        'name': _attribute(_('Name of the interface.')),
        'physical_router': _attribute(_('Id of its physical router.')),
    }


class VirtualNetwork(ContrailStandIn):
    """OS::Contrail::VirtualNetwork, with ESI's uuid and admin_state_up."""

    PROPERTIES = (
        UUID, NAME, FORWARDING_MODE, ROUTE_TARGETS, SHARED, EXTERNAL,
        ALLOW_TRANSIT, ADMIN_STATE_UP,
    ) = (
        'uuid', 'name', 'forwarding_mode', 'route_targets', 'shared',
        'external', 'allow_transit', 'admin_state_up',
    )

    properties_schema = {
        UUID: _schema(properties.Schema.STRING,
                      _('Id to give the network; a new one if empty.'),
                      default='', update_allowed=False),
        NAME: _schema(properties.Schema.STRING, _('Name of the network.'),
                      required=True),
        FORWARDING_MODE: _schema(properties.Schema.STRING,
                                 _('l2, l3 or l2_l3.'), default='l2_l3'),
        ROUTE_TARGETS: _schema(properties.Schema.LIST,
                               _('Route targets of the network.'),
                               default=[]),
        SHARED: _schema(properties.Schema.BOOLEAN,
                        _('Shared across projects.'), default=False),
        EXTERNAL: _schema(properties.Schema.BOOLEAN,
                          _('An external network.'), default=False),
        ALLOW_TRANSIT: _schema(properties.Schema.BOOLEAN,
                               _('Transit allowed.'), default=False),
        ADMIN_STATE_UP: _schema(properties.Schema.BOOLEAN,
                                _('Administrative state.'), default=True),
    }
    attributes_schema = {
        'name': _attribute(_('Name of the network.')),
        'fq_name': _attribute(_('FQ name of the network, '
                                'default-domain:<project>:<name>.')),
        'route_targets': _attribute(_('Route targets, as Contrail\'s '
                                      'plugin shows them (a string).')),
        'admin_state_up': _attribute(_('Administrative state.'),
                                     attributes.Schema.BOOLEAN),
        'shared': _attribute(_('Shared across projects.'),
                             attributes.Schema.BOOLEAN),
    }

    def _new_id(self):
        return self.properties[self.UUID] or str(uuid.uuid4())

    def _attributes(self):
        found = super(VirtualNetwork, self)._attributes()
        project = self.stack.context.project_name or \
            self.stack.context.project_id
        found.update(
            fq_name='%s:%s:%s' % (DOMAIN, project, self.properties[self.NAME]),
            route_targets=json.dumps(self.properties[self.ROUTE_TARGETS]))
        return found


class VnSubnet(ContrailStandIn):
    """OS::Contrail::VnSubnet: a subnet (IPAM subnet) of a virtual network."""

    PROPERTIES = (
        NAME, NETWORK_ID, IP_PREFIX, DEFAULT_GATEWAY, IPAM, ENABLE_DHCP,
        DNS_SERVER_ADDRESS, DNS_NAMESERVERS, NTP_SERVERS, HOST_ROUTES,
        ALLOCATION_POOLS, GATEWAY_IS_VROUTER,
    ) = (
        'name', 'network_id', 'ip_prefix', 'default_gateway', 'ipam',
        'enable_dhcp', 'dns_server_address', 'dns_nameservers',
        'ntp_servers', 'host_routes', 'allocation_pools',
        'gateway_is_vrouter',
    )

    properties_schema = {
        NAME: _schema(properties.Schema.STRING, _('Name of the subnet.'),
                      required=True),
        NETWORK_ID: _schema(properties.Schema.STRING,
                            _('Id of the virtual network.'), required=True,
                            update_allowed=False),
        IP_PREFIX: _schema(properties.Schema.STRING,
                           _('The subnet, such as 10.0.0.0/24.'),
                           required=True, update_allowed=False),
        DEFAULT_GATEWAY: _schema(properties.Schema.STRING,
                                 _('Default gateway.')),
        IPAM: _schema(properties.Schema.STRING,
                      _('FQ name of the IPAM; the default one if empty.'),
                      default=''),
        ENABLE_DHCP: _schema(properties.Schema.BOOLEAN, _('DHCP enabled.'),
                             default=True),
        DNS_SERVER_ADDRESS: _schema(properties.Schema.STRING,
                                    _('Address of the DHCP/DNS server.')),
        DNS_NAMESERVERS: _schema(properties.Schema.LIST,
                                 _('DNS servers.'), default=[]),
        NTP_SERVERS: _schema(properties.Schema.LIST, _('NTP servers.'),
                             default=[]),
        # ESI's template passes these through a string and a json
        # parameter: as Contrail's plugin, any shape is taken.
        HOST_ROUTES: _schema(properties.Schema.ANY, _('Host routes.'),
                             default=[]),
        ALLOCATION_POOLS: _schema(properties.Schema.ANY,
                                  _('Allocation pools.'), default=[]),
        GATEWAY_IS_VROUTER: _schema(properties.Schema.BOOLEAN,
                                    _('The vrouter is the gateway.'),
                                    default=False),
    }
    attributes_schema = {
        'name': _attribute(_('Name of the subnet.')),
        'network_id': _attribute(_('Id of the virtual network.')),
        'ip_prefix': _attribute(_('The subnet.')),
        'default_gateway': _attribute(_('Default gateway.')),
        'ipam': _attribute(_('Id of the IPAM the subnet uses.')),
    }

    def _attributes(self):
        found = super(VnSubnet, self)._attributes()
        # Contrail answers the IPAM's id, not its FQ name.
        ipam = self.properties[self.IPAM] or \
            'default-domain:default-project:default-network-ipam'
        found['ipam'] = str(uuid.uuid5(EXISTING, 'network_ipam:' + ipam))
        return found


class VirtualMachineInterface(ContrailStandIn):
    """OS::Contrail::VirtualMachineInterface: a port on a virtual network.

    As ESI's port template gives it: the port's id as its uuid.
    """

    PROPERTIES = (
        UUID, NAME, ALLOWED_ADDRESS_PAIRS, MAC_ADDRESSES, VIRTUAL_NETWORKS,
        VIRTUAL_MACHINE, DEVICE_OWNER, ADMIN_STATE_UP,
    ) = (
        'uuid', 'name', 'virtual_machine_interface_allowed_address_pairs',
        'virtual_machine_interface_mac_addresses', 'virtual_networks',
        'virtual_machine', 'device_owner', 'admin_state_up',
    )

    properties_schema = {
        UUID: _schema(properties.Schema.STRING,
                      _('Id to give the interface; a new one if empty.'),
                      default='', update_allowed=False),
        NAME: _schema(properties.Schema.STRING,
                      _('Name of the interface.'), required=True),
        # A json parameter: as Contrail's plugin, any shape is taken.
        ALLOWED_ADDRESS_PAIRS: _schema(properties.Schema.ANY,
                                       _('Allowed address pairs.'),
                                       default=[]),
        MAC_ADDRESSES: _schema(properties.Schema.LIST,
                               _('MAC addresses of the interface.'),
                               default=[]),
        VIRTUAL_NETWORKS: _schema(properties.Schema.LIST,
                                  _('Ids of its virtual networks.'),
                                  default=[]),
        VIRTUAL_MACHINE: _schema(properties.Schema.STRING,
                                 _('What the interface belongs to.'),
                                 default=''),
        DEVICE_OWNER: _schema(properties.Schema.STRING,
                              _('Owner of the interface, such as '
                                'network:gw_interface.'), default=''),
        ADMIN_STATE_UP: _schema(properties.Schema.BOOLEAN,
                                _('Administrative state.'), default=True),
    }
    attributes_schema = {
        'name': _attribute(_('Name of the interface.')),
        'fq_name': _attribute(_('FQ name of the interface, '
                                'default-domain:<project>:<name>.')),
        'virtual_machine_interface_mac_addresses': _attribute(
            _('MAC addresses of the interface.'), attributes.Schema.LIST),
        'virtual_machine_interface_allowed_address_pairs': _attribute(
            _('Allowed address pairs.'), attributes.Schema.LIST),
        'virtual_networks': _attribute(_('Ids of its virtual networks.'),
                                       attributes.Schema.LIST),
    }

    def _new_id(self):
        return self.properties[self.UUID] or str(uuid.uuid4())

    def _attributes(self):
        project = self.stack.context.project_name or \
            self.stack.context.project_id
        return {
            'name': self.properties[self.NAME],
            'fq_name': '%s:%s:%s' % (DOMAIN, project,
                                     self.properties[self.NAME]),
            'virtual_machine_interface_mac_addresses':
                self.properties[self.MAC_ADDRESSES],
            'virtual_machine_interface_allowed_address_pairs':
                self.properties[self.ALLOWED_ADDRESS_PAIRS],
            'virtual_networks': self.properties[self.VIRTUAL_NETWORKS],
        }


class InstanceIp(ContrailStandIn):
    """OS::Contrail::InstanceIp: an address of interfaces on a subnet."""

    PROPERTIES = (
        NAME, IP_ADDRESS, SUBNET_ID, NETWORK_ID, VIRTUAL_MACHINE_INTERFACES,
    ) = (
        'name', 'ip_address', 'subnet_id', 'network_id',
        'virtual_machine_interfaces',
    )

    properties_schema = {
        NAME: _schema(properties.Schema.STRING, _('Name of the address.'),
                      required=True),
        IP_ADDRESS: _schema(properties.Schema.STRING, _('The address.'),
                            required=True),
        SUBNET_ID: _schema(properties.Schema.STRING,
                           _('Id of the subnet it is taken from.')),
        NETWORK_ID: _schema(properties.Schema.STRING,
                            _('Id of the virtual network.'), required=True),
        VIRTUAL_MACHINE_INTERFACES: _schema(
            properties.Schema.LIST, _('Ids of the interfaces it is on.'),
            default=[]),
    }
    attributes_schema = {
        'name': _attribute(_('Name of the address.')),
        'ip_address': _attribute(_('The address.')),
        'subnet_id': _attribute(_('Id of the subnet.')),
    }


class LogicalInterface(ContrailStandIn):
    """OS::Contrail::LogicalInterface: a VLAN unit of a physical interface."""

    PROPERTIES = (
        NAME, PHYSICAL_INTERFACE, VIRTUAL_MACHINE_INTERFACES, TYPE, VLAN,
    ) = (
        'name', 'physical_interface', 'virtual_machine_interfaces', 'type',
        'vlan',
    )

    properties_schema = {
        NAME: _schema(properties.Schema.STRING,
                      _('Name of the unit, such as xe-0/0/3.1025.'),
                      required=True),
        PHYSICAL_INTERFACE: _schema(properties.Schema.STRING,
                                    _('Id of its physical interface.'),
                                    required=True, update_allowed=False),
        VIRTUAL_MACHINE_INTERFACES: _schema(
            properties.Schema.LIST, _('Ids of the interfaces bound to it.'),
            default=[]),
        TYPE: _schema(properties.Schema.STRING, _('L2 or L3.'),
                      default='L2'),
        VLAN: _schema(properties.Schema.INTEGER, _('Its VLAN id.'),
                      default=0),
    }
    attributes_schema = {
        'name': _attribute(_('Name of the unit.')),
        'physical_interface': _attribute(_('Id of its physical '
                                           'interface.')),
    }


def resource_mapping():
    return {'ESI::Simulated::Contrail::%s' % cls.__name__: cls
            for cls in (ExistingResource, PhysicalRouter, PhysicalInterface,
                        VirtualNetwork, VnSubnet, VirtualMachineInterface,
                        InstanceIp, LogicalInterface)}

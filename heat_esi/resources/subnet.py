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

"""ESI::Subnet: an IPv4 subnet of an ESI network, created in Contrail."""

import ipaddress

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import resource_properties
from heat_esi import states


def _ip_list(description):
    return properties.Schema(
        properties.Schema.LIST, description,
        default=[],
        schema=properties.Schema(
            properties.Schema.STRING,
            constraints=[constraints.CustomConstraint('ip_addr')]),
        update_allowed=True)


class Subnet(esi_resource.EsiResource):
    """An IPv4 subnet of an ESI network.

    The subnet's configuration and one job are written to etcd: an
    esi-worker's heat_worker creates the subnet's stack in the tenant's
    project (Contrail's subnet on the network's virtual network, whose id
    the network's stack gave). A subnet is not monitored: it completes when
    its stack has.
    """

    support_status = support.SupportStatus(version='1.1.0')

    esi_type = 'subnet'

    PROPERTIES = (
        NAME, DESCRIPTION, NETWORK_ID, CIDR, IP_VERSION, GATEWAY_IP,
        ENABLE_DHCP, ALLOCATION_POOLS, DNS_NAMESERVERS, NTP_SERVERS,
        HOST_ROUTES, TAGS,
    ) = (
        'name', 'description', 'network_id', 'cidr', 'ip_version',
        'gateway_ip', 'enable_dhcp', 'allocation_pools', 'dns_nameservers',
        'ntp_servers', 'host_routes', 'tags',
    )

    ATTRIBUTES = (
        STATUS, WORKER_STATE, DHCP_SERVER_ADDRESS,
    ) = (
        'status', 'worker_state', 'dhcp_server_address',
    )

    properties_schema = resource_properties.naming_properties(_('subnet'))
    properties_schema.update({
        NETWORK_ID: resource_properties.reference_property(
            esi_type, NETWORK_ID,
            _('ID of the ESI network the subnet belongs to.'),
            required=True
        ),
        CIDR: properties.Schema(
            properties.Schema.STRING,
            _('The subnet, an IPv4 network address with its prefix length '
              '(at most /30), such as 172.16.101.0/24.'),
            required=True,
            constraints=[constraints.CustomConstraint('net_cidr')]
        ),
        IP_VERSION: properties.Schema(
            properties.Schema.INTEGER,
            _('IP version of the subnet: ESI supports 4 only.'),
            default=4,
            constraints=[constraints.AllowedValues([4])]
        ),
        GATEWAY_IP: properties.Schema(
            properties.Schema.STRING,
            _('Default gateway of the subnet, inside it. Defaults to its '
              'first address.'),
            constraints=[constraints.CustomConstraint('ip_addr')],
            update_allowed=True
        ),
        ENABLE_DHCP: properties.Schema(
            properties.Schema.BOOLEAN,
            _('Whether DHCP serves the subnet.'),
            default=True,
            update_allowed=True
        ),
        ALLOCATION_POOLS: properties.Schema(
            properties.Schema.LIST,
            _('Ranges of addresses given to ports, inside the subnet and '
              'without the gateway. Defaults to every address of the subnet '
              'but the gateway. The DHCP server takes the first address of '
              'the first range.'),
            schema=properties.Schema(
                properties.Schema.MAP,
                schema={
                    'start': properties.Schema(
                        properties.Schema.STRING,
                        _('First address of the range.'), required=True,
                        constraints=[constraints.CustomConstraint(
                            'ip_addr')]),
                    'end': properties.Schema(
                        properties.Schema.STRING,
                        _('Last address of the range.'), required=True,
                        constraints=[constraints.CustomConstraint(
                            'ip_addr')]),
                })
        ),
        DNS_NAMESERVERS: _ip_list(_('Addresses of the DNS servers that '
                                    'DHCP hands out.')),
        NTP_SERVERS: _ip_list(_('Addresses of the NTP servers that DHCP '
                                'hands out.')),
        HOST_ROUTES: properties.Schema(
            properties.Schema.LIST,
            _('Routes that DHCP hands out.'),
            default=[],
            schema=properties.Schema(
                properties.Schema.MAP,
                schema={
                    'destination': properties.Schema(
                        properties.Schema.STRING,
                        _('Destination network, such as 10.0.0.0/8.'),
                        required=True,
                        constraints=[constraints.CustomConstraint(
                            'net_cidr')]),
                    'nexthop': properties.Schema(
                        properties.Schema.STRING,
                        _('Next hop of the route.'), required=True,
                        constraints=[constraints.CustomConstraint(
                            'ip_addr')]),
                }),
            update_allowed=True
        ),
        TAGS: resource_properties.tags_property(_('subnet')),
    })

    attributes_schema = resource_properties.state_attributes(_('subnet'))
    attributes_schema.update({
        DHCP_SERVER_ADDRESS: resource_properties.live_attribute(
            _('Address of the subnet\'s DHCP server.'),
            attributes.Schema.STRING
        ),
    })

    # --- validation -------------------------------------------------------

    def _check_values(self, values=None):
        super(Subnet, self)._check_values(values)
        values = self.properties if values is None else values
        # An update carries only what changed; the cidr cannot change.
        cidr = values.get(self.CIDR) or self.properties[self.CIDR]
        if cidr is None:
            return
        network = self._network(cidr)
        gateway = values.get(self.GATEWAY_IP)
        if gateway is not None:
            self._inside(network, self.GATEWAY_IP, gateway)
        for pool in values.get(self.ALLOCATION_POOLS) or []:
            start = self._inside(network, self.ALLOCATION_POOLS,
                                 pool['start'])
            end = self._inside(network, self.ALLOCATION_POOLS, pool['end'])
            if start > end:
                raise resource_properties.property_error(
                    self, self.ALLOCATION_POOLS,
                    _('the range %(s)s-%(e)s ends before it starts') % {
                        's': start, 'e': end})
            if gateway is not None and \
                    start <= ipaddress.ip_address(gateway) <= end:
                raise resource_properties.property_error(
                    self, self.ALLOCATION_POOLS,
                    _('the range %(s)s-%(e)s holds the gateway %(g)s') % {
                        's': start, 'e': end, 'g': gateway})

    def _network(self, cidr):
        """The IPv4 network of *cidr*; a property error if it is not one."""
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise resource_properties.property_error(self, self.CIDR,
                                                     str(exc))
        if network.version != 4 or network.prefixlen > 30:
            raise resource_properties.property_error(
                self, self.CIDR, _('%s is not an IPv4 network of at least '
                                   'four addresses (/30)') % cidr)
        return network

    def _inside(self, network, name, ip):
        address = ipaddress.ip_address(ip)
        if address not in network or address in (
                network.network_address, network.broadcast_address):
            raise resource_properties.property_error(
                self, name, _('%(ip)s is not a host address of %(net)s')
                % {'ip': ip, 'net': network})
        return address

    # --- the body ---------------------------------------------------------

    @staticmethod
    def _default_pools(network, gateway):
        """Every host address of *network* but *gateway*, as ranges."""
        first, last = network.network_address + 1, \
            network.broadcast_address - 1
        gateway = ipaddress.ip_address(gateway)
        ranges = [(first, gateway - 1), (gateway + 1, last)] \
            if first <= gateway <= last else [(first, last)]
        return [{'start': str(s), 'end': str(e)} for s, e in ranges
                if s <= e]

    def _create_body(self, resource_id):
        network = ipaddress.ip_network(self.properties[self.CIDR])
        gateway = self.properties[self.GATEWAY_IP] or \
            str(network.network_address + 1)
        pools = self.properties[self.ALLOCATION_POOLS] or \
            self._default_pools(network, gateway)
        return {
            'status': states.PENDING_CREATE,
            'description': self.properties[self.DESCRIPTION],
            'enable_dhcp': self.properties[self.ENABLE_DHCP],
            'tags': self.properties[self.TAGS],
            'network_id': self.properties[self.NETWORK_ID],
            'tenant_id': self.stack.context.project_id,
            'dns_nameservers': self.properties[self.DNS_NAMESERVERS],
            # As ESI's API derives it: the first address given out.
            'dhcp_server_address': pools[0]['start'],
            'ntp_servers': self.properties[self.NTP_SERVERS],
            'allocation_pools': [{'start': p['start'], 'end': p['end']}
                                 for p in pools],
            'gateway_ip': gateway,
            'ip_version': self.properties[self.IP_VERSION],
            'host_routes': [{'destination': r['destination'],
                             'nexthop': r['nexthop']}
                            for r in self.properties[self.HOST_ROUTES]],
            'cidr': self.properties[self.CIDR],
            'id': resource_id,
            'name': self._name(),
        }

    def handle_check(self):
        """A subnet has no device to poll: a check reads its last action."""
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(self._not_found())
        self.client_plugin().refuse_check(self.esi_type, self.resource_id,
                                          config[1], self._read_state(), [])

    def _update_body(self, body, prop_diff):
        new = super(Subnet, self)._update_body(body, prop_diff)
        if self.GATEWAY_IP in prop_diff and prop_diff[self.GATEWAY_IP] is None:
            network = ipaddress.ip_network(body[self.CIDR])
            new[self.GATEWAY_IP] = str(network.network_address + 1)
        # The pools cannot change: a new gateway must stay out of them.
        gateway = ipaddress.ip_address(new[self.GATEWAY_IP])
        for pool in new.get(self.ALLOCATION_POOLS) or []:
            if ipaddress.ip_address(pool['start']) <= gateway <= \
                    ipaddress.ip_address(pool['end']):
                raise resource_properties.property_error(
                    self, self.GATEWAY_IP,
                    _('%(g)s is in the allocation pool %(s)s-%(e)s') % {
                        'g': gateway, 's': pool['start'], 'e': pool['end']})
        return new


def resource_mapping():
    return {'ESI::Subnet': Subnet}

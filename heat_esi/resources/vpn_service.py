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

"""ESI::VpnService: the operator's VPN service, which gateways are made of."""

from heat.common.i18n import _
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import exceptions
from heat_esi import resource_properties
from heat_esi import templates


def interfaces_property(esi_type, name, link_type, **kwargs):
    """The schema of a list of HA interface ids of one link type.

    Its items' type is the list relation's (templates.LIST_RELATIONS):
    an HA interface cannot be deleted while a service lists it.
    """
    return properties.Schema(
        properties.Schema.LIST,
        _('IDs of the ESI HA interfaces (link_type %s) that the gateways of '
          'the service use.') % link_type,
        schema=properties.Schema(
            properties.Schema.STRING,
            constraints=[constraints.CustomConstraint(
                templates.constraint_name(
                    templates.LIST_RELATIONS[(esi_type, name)]))]),
        constraints=[constraints.Length(min=1)],
        **kwargs)


def config_group_property(what):
    return resource_properties.text_property(
        _('Name of the JUNOS configuration group (already on the edge '
          'routers) that the %s applies.') % what,
        min_length=1, required=True)


class VpnService(esi_resource.EsiResource):
    """An operator's VPN service: the HA interfaces and JUNOS groups it uses.

    A catalog entry that tenants' ESI::VpnGateway resources name: the HA
    interfaces of its uplinks and downlinks, and the JUNOS configuration
    groups, forwarding classes and BGP prefix list that each gateway's
    configuration refers to on the edge routers. No device is configured
    for it and no worker runs: its configuration and its READ_COMPLETE
    state are written to etcd together, as ESI's API did. It cannot be
    deleted while a gateway or a QoS option names it.
    """

    support_status = support.SupportStatus(version='1.0.0')

    esi_type = 'vpn_service'

    PROPERTIES = (
        NAME, DESCRIPTION, UPLINK_INTERFACES, DOWNLINK_INTERFACES, ZONE,
        DEFAULT_STATIC_ROUTES_PER_GATEWAY, GA_FORWARDING_CLASS,
        BE_FORWARDING_CLASS, NEIGHBOUR_PREFIX,
        PRIMARY_EBGP_CONFIG_GROUP, SECONDARY_EBGP_CONFIG_GROUP,
        PRIMARY_IBGP_CONFIG_GROUP, SECONDARY_IBGP_CONFIG_GROUP,
        PRIMARY_DOWNLINK_VRRP_CONFIG_GROUP,
        SECONDARY_DOWNLINK_VRRP_CONFIG_GROUP,
    ) = (
        'name', 'description', 'uplink_interfaces', 'downlink_interfaces',
        'zone', 'default_static_routes_per_gateway', 'ga_forwarding_class',
        'be_forwarding_class', 'neighbour_prefix',
        'primary_ebgp_config_group', 'secondary_ebgp_config_group',
        'primary_ibgp_config_group', 'secondary_ibgp_config_group',
        'primary_downlink_vrrp_config_group',
        'secondary_downlink_vrrp_config_group',
    )

    ATTRIBUTES = (
        STATUS, WORKER_STATE,
    ) = (
        'status', 'worker_state',
    )

    # (property, the link_type its HA interfaces must have).
    LINKS = ((UPLINK_INTERFACES, 'uplink'),
             (DOWNLINK_INTERFACES, 'downlink'))

    properties_schema = resource_properties.naming_properties(
        _('VPN service'))
    properties_schema.update({
        UPLINK_INTERFACES: interfaces_property(
            esi_type, UPLINK_INTERFACES, 'uplink', required=True),
        DOWNLINK_INTERFACES: interfaces_property(
            esi_type, DOWNLINK_INTERFACES, 'downlink', required=True),
        ZONE: resource_properties.text_property(
            _('Availability zone of the service, such as jp1-zone1.'),
            min_length=1, required=True),
        DEFAULT_STATIC_ROUTES_PER_GATEWAY: properties.Schema(
            properties.Schema.INTEGER,
            _('Number of static routes a gateway of the service may have '
              'when it does not say.'),
            constraints=[constraints.Range(min=0, max=65535)],
            default=32,
            update_allowed=True),
        GA_FORWARDING_CLASS: resource_properties.text_property(
            _('JUNOS forwarding class of guaranteed traffic.'),
            min_length=1, required=True),
        BE_FORWARDING_CLASS: resource_properties.text_property(
            _('JUNOS forwarding class of best-effort traffic.'),
            min_length=1, required=True),
        NEIGHBOUR_PREFIX: resource_properties.text_property(
            _('JUNOS prefix list of the BGP peers of the virtual routers.'),
            min_length=1, required=True),
        PRIMARY_EBGP_CONFIG_GROUP: config_group_property(
            _('primary router\'s eBGP (to the customer)')),
        SECONDARY_EBGP_CONFIG_GROUP: config_group_property(
            _('secondary router\'s eBGP (to the customer)')),
        PRIMARY_IBGP_CONFIG_GROUP: config_group_property(
            _('primary router\'s iBGP (in the VRF)')),
        SECONDARY_IBGP_CONFIG_GROUP: config_group_property(
            _('secondary router\'s iBGP (in the VRF)')),
        PRIMARY_DOWNLINK_VRRP_CONFIG_GROUP: config_group_property(
            _('primary router\'s downlink VRRP')),
        SECONDARY_DOWNLINK_VRRP_CONFIG_GROUP: config_group_property(
            _('secondary router\'s downlink VRRP')),
    })

    attributes_schema = resource_properties.state_attributes(
        _('VPN service'))

    def _check_values(self, values=None):
        super(VpnService, self)._check_values(values)
        self._check_links(self.properties if values is None else values)

    def _check_links(self, values):
        """Refuse an HA interface of the other link type.

        Checked when the ids are known; an id that does not resolve is its
        constraint's to report.
        """
        for name, link_type in self.LINKS:
            for rid in values.get(name) or ():
                try:
                    body = self.client_plugin().get_usable('ha_interface',
                                                           rid)
                except exceptions.EsiError:
                    continue
                if body.get('link_type') != link_type:
                    raise resource_properties.property_error(
                        self, name, _(
                            'ha_interface %(id)s has link_type %(has)s: '
                            '%(name)s must be %(want)s interfaces') % {
                            'id': rid, 'has': body.get('link_type'),
                            'name': name, 'want': link_type})

    def _create_body(self, resource_id):
        # ESI's body has no status: nothing is pending for a catalog entry.
        p = self.properties
        return {
            'uplink_interfaces': list(p[self.UPLINK_INTERFACES]),
            'description': p[self.DESCRIPTION],
            'zone': p[self.ZONE],
            'default_static_routes_per_gateway':
                p[self.DEFAULT_STATIC_ROUTES_PER_GATEWAY],
            'ga_forwarding_class': p[self.GA_FORWARDING_CLASS],
            'tenant_id': self.stack.context.project_id,
            'primary_ebgp_config_group': p[self.PRIMARY_EBGP_CONFIG_GROUP],
            'secondary_ibgp_config_group':
                p[self.SECONDARY_IBGP_CONFIG_GROUP],
            'primary_downlink_vrrp_config_group':
                p[self.PRIMARY_DOWNLINK_VRRP_CONFIG_GROUP],
            'secondary_ebgp_config_group':
                p[self.SECONDARY_EBGP_CONFIG_GROUP],
            'downlink_interfaces': list(p[self.DOWNLINK_INTERFACES]),
            'be_forwarding_class': p[self.BE_FORWARDING_CLASS],
            'secondary_downlink_vrrp_config_group':
                p[self.SECONDARY_DOWNLINK_VRRP_CONFIG_GROUP],
            'neighbour_prefix': p[self.NEIGHBOUR_PREFIX],
            'primary_ibgp_config_group': p[self.PRIMARY_IBGP_CONFIG_GROUP],
            'id': resource_id,
            'name': self._name(),
        }


def resource_mapping():
    return {'ESI::VpnService': VpnService}

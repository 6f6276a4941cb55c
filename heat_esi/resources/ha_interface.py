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

"""ESI::HaInterface: the uplink or downlink of an ESI HA router."""

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import resource_properties
from heat_esi import states
from heat_esi import vlans


class HaInterface(esi_resource.EsiResource):
    """An uplink or downlink of an HA router: one interface on each router.

    It pairs a physical interface of the HA router's primary edge router
    with one of its secondary edge router. Its configuration, with the VLAN
    pool and bandwidths that ESI derives from it, and a monitoring job are
    written to etcd; an esi-worker checks that both physical interfaces are
    up, and the resource completes when it has.
    """

    support_status = support.SupportStatus(version='1.0.0')

    esi_type = 'ha_interface'

    PROPERTIES = (
        NAME, DESCRIPTION, HA_ROUTER_ID, PRIMARY_INTERFACE_ID,
        SECONDARY_INTERFACE_ID, LINK_TYPE, ADMIN_STATE_UP, RESTRICTED_VLANS,
        MAXIMUM_BE_BANDWIDTH, MAXIMUM_GA_BANDWIDTH,
    ) = (
        'name', 'description', 'ha_router_id', 'primary_interface_id',
        'secondary_interface_id', 'link_type', 'admin_state_up',
        'restricted_vlans', 'maximum_be_bandwidth', 'maximum_ga_bandwidth',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE, VLAN_IDS_AVAILABLE,
        AVAILABLE_BE_BANDWIDTH, AVAILABLE_GA_BANDWIDTH,
        GATEWAY_INSTANCES_COUNT,
    ) = (
        'status', 'state_monitoring', 'worker_state', 'vlan_ids_available',
        'available_be_bandwidth', 'available_ga_bandwidth',
        'gateway_instances_count',
    )

    LINK_TYPES = ('uplink', 'downlink')

    # Each interface property, and the HA router's field that names the
    # edge router that interface must be on.
    ROUTER_OF = ((PRIMARY_INTERFACE_ID, 'primary_router_id'),
                 (SECONDARY_INTERFACE_ID, 'secondary_router_id'))

    properties_schema = resource_properties.naming_properties(
        _('HA interface'))
    properties_schema.update({
        HA_ROUTER_ID: resource_properties.reference_property(
            esi_type, HA_ROUTER_ID,
            _('ID of the ESI HA router the interface belongs to.'),
            required=True
        ),
        PRIMARY_INTERFACE_ID: resource_properties.reference_property(
            esi_type, PRIMARY_INTERFACE_ID,
            _('ID of the ESI physical interface on the HA router\'s primary '
              'edge router.'),
            required=True
        ),
        SECONDARY_INTERFACE_ID: resource_properties.reference_property(
            esi_type, SECONDARY_INTERFACE_ID,
            _('ID of the ESI physical interface on the HA router\'s '
              'secondary edge router.'),
            required=True
        ),
        LINK_TYPE: properties.Schema(
            properties.Schema.STRING,
            _('Whether the interface is the HA router\'s uplink or '
              'downlink.'),
            required=True,
            constraints=[constraints.AllowedValues(LINK_TYPES)]
        ),
        ADMIN_STATE_UP: properties.Schema(
            properties.Schema.BOOLEAN,
            _('Administrative state of the interface.'),
            default=True,
            update_allowed=True
        ),
        RESTRICTED_VLANS: properties.Schema(
            properties.Schema.STRING,
            _('VLAN ids that gateways may not use on the interface, as a '
              'list of ids and ranges such as "0-1024,4094" (ids 0-4095), '
              'of at most %(parts)d parts and %(chars)d characters. Ids 0, '
              '31 and 4095 are never available.') % {
                'parts': vlans.MAX_PARTS, 'chars': vlans.MAX_LENGTH},
            default='',
            update_allowed=True
        ),
        MAXIMUM_BE_BANDWIDTH: properties.Schema(
            properties.Schema.INTEGER,
            _('Best-effort bandwidth the interface can give gateways.'),
            default=0,
            constraints=[constraints.Range(min=0)],
            update_allowed=True
        ),
        MAXIMUM_GA_BANDWIDTH: properties.Schema(
            properties.Schema.INTEGER,
            _('Guaranteed bandwidth the interface can give gateways.'),
            default=0,
            constraints=[constraints.Range(min=0)],
            update_allowed=True
        ),
    })

    # What a stack check polls and state_monitoring shows: each physical
    # interface, as its monitor last saw it.
    monitored = (('primary', PRIMARY_INTERFACE_ID),
                 ('secondary', SECONDARY_INTERFACE_ID))

    attributes_schema = resource_properties.state_attributes(
        _('HA interface'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of each physical interface of the pair as monitored '
              'now, such as {"primary": "UP", "secondary": "DOWN"}.'),
            attributes.Schema.MAP
        ),
        VLAN_IDS_AVAILABLE: resource_properties.live_attribute(
            _('Number of VLAN ids gateways can still use.'),
            attributes.Schema.INTEGER
        ),
        AVAILABLE_BE_BANDWIDTH: resource_properties.live_attribute(
            _('Best-effort bandwidth not given to gateways yet.'),
            attributes.Schema.INTEGER
        ),
        AVAILABLE_GA_BANDWIDTH: resource_properties.live_attribute(
            _('Guaranteed bandwidth not given to gateways yet.'),
            attributes.Schema.INTEGER
        ),
        GATEWAY_INSTANCES_COUNT: resource_properties.live_attribute(
            _('Number of gateways on the interface.'),
            attributes.Schema.INTEGER
        ),
    })

    # --- validation -------------------------------------------------------

    def _check_values(self, values=None):
        super(HaInterface, self)._check_values(values)
        values = self.properties if values is None else values
        vlan_list = values.get(self.RESTRICTED_VLANS)
        if vlan_list is not None:
            try:
                # Not parse(): the ranges are enough to know the list is
                # valid, and cost nothing per id.
                vlans.ranges(vlan_list)
            except ValueError as exc:
                raise resource_properties.property_error(
                    self, self.RESTRICTED_VLANS, str(exc))
        self._check_wiring(values)

    def _check_wiring(self, values):
        """Refuse interfaces that are not on the HA router's edge routers.

        The primary interface must be on the HA router's primary router,
        the secondary on its secondary. Checked once the three ids are
        known (at validation, or at create when one comes from another
        resource); an id that does not resolve is its constraint's to
        report.
        """
        references = resource_properties.references(
            self.esi_type, self.properties_schema, values)
        if len(references) < 3:
            return
        try:
            # What the constraints read (or will): the same request.
            bodies = {field: self.client_plugin().get_usable(target, rid)
                      for field, target, rid in references}
        except exceptions.EsiError:
            return
        ha_router, interfaces = bodies[self.HA_ROUTER_ID], bodies
        for name, router_field in self.ROUTER_OF:
            router = ha_router.get(router_field)
            device = interfaces[name].get('device_id')
            if device != router:
                raise resource_properties.property_error(self, name, _(
                    'er_physical_interface %(if)s is on edge router '
                    '%(device)s, but ha_router %(ha)s has edge router '
                    '%(router)s as its %(field)s: the interface must be on '
                    'that router') % {
                        'if': values[name], 'device': device,
                        'ha': values[self.HA_ROUTER_ID], 'router': router,
                        'field': router_field})

    # --- the body ---------------------------------------------------------

    def _create_body(self, resource_id):
        restricted = self.properties[self.RESTRICTED_VLANS]
        pool_state, available = vlans.pool(vlans.parse(restricted))
        be = self.properties[self.MAXIMUM_BE_BANDWIDTH]
        ga = self.properties[self.MAXIMUM_GA_BANDWIDTH]
        return {
            'status': states.PENDING_CREATE,
            'secondary_interface_id':
                self.properties[self.SECONDARY_INTERFACE_ID],
            'gateway_instances_count': 0,
            'description': self.properties[self.DESCRIPTION],
            'vlan_ids_available': available,
            'admin_state_up': self.properties[self.ADMIN_STATE_UP],
            'tenant_id': self.stack.context.project_id,
            'available_be_bandwidth': be,
            'vlan_pool_state': pool_state,
            'maximum_be_bandwidth': be,
            'restricted_vlans': restricted,
            'available_ga_bandwidth': ga,
            'ha_router_id': self.properties[self.HA_ROUTER_ID],
            'primary_interface_id':
                self.properties[self.PRIMARY_INTERFACE_ID],
            'maximum_ga_bandwidth': ga,
            'id': resource_id,
            'link_type': self.properties[self.LINK_TYPE],
            'name': self._name(),
        }

    def _update_body(self, body, prop_diff):
        new = super(HaInterface, self)._update_body(body, prop_diff)
        if self.RESTRICTED_VLANS in prop_diff:
            new.update(self._new_pool(body, prop_diff[self.RESTRICTED_VLANS]))
        for kind in ('be', 'ga'):
            maximum = 'maximum_%s_bandwidth' % kind
            if maximum in prop_diff:
                available = 'available_%s_bandwidth' % kind
                in_use = body[maximum] - body[available]
                if prop_diff[maximum] < in_use:
                    raise exception.Error(
                        _('%(m)s cannot be lowered to %(v)s: gateways use '
                          '%(u)s of it.')
                        % {'m': maximum, 'v': prop_diff[maximum],
                           'u': in_use})
                new[available] = prop_diff[maximum] - in_use
        return new

    def _new_pool(self, body, restricted_vlans):
        """The pool fields for a new restricted_vlans.

        The VLANs that gateways use stay unavailable, and may not be
        restricted.
        """
        try:
            in_use = vlans.in_use(body['vlan_pool_state'],
                                  vlans.parse(body['restricted_vlans']))
        except (KeyError, ValueError) as exc:
            raise exception.Error(
                _('%(key)s holds no VLAN pool heat-esi can read (%(why)s); '
                  'restricted_vlans cannot be changed') % {
                    'key': keys.config(self.esi_type, self.resource_id),
                    'why': exc})
        restricted = vlans.parse(restricted_vlans)
        taken = sorted(restricted & in_use)
        if taken:
            raise exception.Error(
                _('restricted_vlans cannot include VLAN ids that gateways '
                  'use: %s') % ', '.join(str(vid) for vid in taken[:20]))
        pool_state, available = vlans.pool(restricted, in_use)
        return {'vlan_pool_state': pool_state,
                'vlan_ids_available': available}


def resource_mapping():
    return {'ESI::HaInterface': HaInterface}

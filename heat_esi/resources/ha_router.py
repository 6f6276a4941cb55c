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

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import resource_properties
from heat_esi import states


class HaRouter(esi_resource.EsiResource):
    """A pair of ESI edge routers that back each other up.

    The router's configuration and a monitoring job are written to etcd; an
    esi-worker checks that both edge routers are active and reports back,
    and the resource completes when it has.
    """

    support_status = support.SupportStatus(version='1.0.0')

    esi_type = 'ha_router'

    PROPERTIES = (
        NAME, DESCRIPTION, PRIMARY_ROUTER_ID, SECONDARY_ROUTER_ID,
        MAXIMUM_GATEWAYS,
    ) = (
        'name', 'description', 'primary_router_id', 'secondary_router_id',
        'maximum_gateways',
    )

    ATTRIBUTES = (
        STATUS, AVAILABLE_GATEWAYS, STATE_MONITORING, WORKER_STATE,
    ) = (
        'status', 'available_gateways', 'state_monitoring', 'worker_state',
    )

    properties_schema = resource_properties.naming_properties(_('HA router'))
    properties_schema.update({
        PRIMARY_ROUTER_ID: resource_properties.reference_property(
            esi_type, PRIMARY_ROUTER_ID,
            _('ID of the ESI edge router that is primary in the pair.'),
            required=True
        ),
        SECONDARY_ROUTER_ID: resource_properties.reference_property(
            esi_type, SECONDARY_ROUTER_ID,
            _('ID of the ESI edge router that is secondary in the pair. It '
              'must differ from the primary router.'),
            required=True
        ),
        MAXIMUM_GATEWAYS: properties.Schema(
            properties.Schema.INTEGER,
            _('Maximum number of gateways the HA router carries.'),
            default=500,
            constraints=[constraints.Range(min=1)],
            update_allowed=True
        ),
    })

    # What a stack check polls and state_monitoring shows: each router.
    monitored = (('primary', PRIMARY_ROUTER_ID),
                 ('secondary', SECONDARY_ROUTER_ID))

    attributes_schema = resource_properties.state_attributes(_('HA router'))
    attributes_schema.update({
        AVAILABLE_GATEWAYS: resource_properties.live_attribute(
            _('Number of gateways that can still be added.'),
            attributes.Schema.INTEGER
        ),
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of each router of the pair as monitored now, such as '
              '{"primary": "UP", "secondary": "DOWN"}.'),
            attributes.Schema.MAP
        ),
    })

    def validate(self):
        super(HaRouter, self).validate()
        primary = self.properties[self.PRIMARY_ROUTER_ID]
        secondary = self.properties[self.SECONDARY_ROUTER_ID]
        if primary is not None and primary == secondary:
            raise exception.StackValidationFailed(
                message=_('%(p)s and %(s)s must name two different edge '
                          'routers, both are %(id)s.')
                % {'p': self.PRIMARY_ROUTER_ID, 's': self.SECONDARY_ROUTER_ID,
                   'id': primary})

    def _create_body(self, resource_id):
        maximum = self.properties[self.MAXIMUM_GATEWAYS]
        return {
            'maximum_gateways': maximum,
            'status': states.PENDING_CREATE,
            'primary_router_id': self.properties[self.PRIMARY_ROUTER_ID],
            'secondary_router_id': self.properties[self.SECONDARY_ROUTER_ID],
            'description': self.properties[self.DESCRIPTION],
            'tenant_id': self.stack.context.project_id,
            'available_gateways': maximum,
            'id': resource_id,
            'name': self._name(),
        }

    def _update_body(self, body, prop_diff):
        new = super(HaRouter, self)._update_body(body, prop_diff)
        if self.MAXIMUM_GATEWAYS in prop_diff:
            in_use = body['maximum_gateways'] - body['available_gateways']
            maximum = prop_diff[self.MAXIMUM_GATEWAYS]
            if maximum < in_use:
                raise exception.Error(
                    _('maximum_gateways cannot be lowered to %(m)s: '
                      '%(u)s gateways are in use.')
                    % {'m': maximum, 'u': in_use})
            new['available_gateways'] = maximum - in_use
        return new


def resource_mapping():
    return {'ESI::HaRouter': HaRouter}

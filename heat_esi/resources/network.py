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

"""ESI::Network: a tenant's virtual network, created in Contrail."""

from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import resource_properties
from heat_esi import states


class Network(esi_resource.EsiResource):
    """A virtual network of the tenant, which subnets and ports attach to.

    The network's configuration and two jobs are written to etcd: an
    esi-worker's heat_worker creates the network's stack in the tenant's
    project (Contrail's virtual network, whose uuid is the network's id);
    then its monitoring_worker checks that the stack made that virtual
    network, and keeps watching it.
    """

    support_status = support.SupportStatus(version='1.1.0')

    esi_type = 'network'

    PROPERTIES = (
        NAME, DESCRIPTION, ADMIN_STATE_UP, PLANE, TAGS,
    ) = (
        'name', 'description', 'admin_state_up', 'plane', 'tags',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE,
    ) = (
        'status', 'state_monitoring', 'worker_state',
    )

    PLANES = ('data', 'storage')

    properties_schema = resource_properties.naming_properties(_('network'))
    properties_schema.update({
        ADMIN_STATE_UP: properties.Schema(
            properties.Schema.BOOLEAN,
            _('Administrative state of the network.'),
            default=True,
            update_allowed=True
        ),
        PLANE: properties.Schema(
            properties.Schema.STRING,
            _('Kind of traffic the network carries.'),
            default='data',
            constraints=[constraints.AllowedValues(PLANES)]
        ),
        TAGS: resource_properties.tags_property(_('network')),
    })

    attributes_schema = resource_properties.state_attributes(_('network'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of the virtual network as last monitored, such as '
              '{"network": "UP"}.'),
            attributes.Schema.MAP
        ),
    })

    def _create_body(self, resource_id):
        return {
            'status': states.PENDING_CREATE,
            # ESI's API keeps these itself: the subnets attached to the
            # network, and sharing across tenants, which it does not offer.
            'subnets': [],
            'description': self.properties[self.DESCRIPTION],
            'admin_state_up': self.properties[self.ADMIN_STATE_UP],
            'tenant_id': self.stack.context.project_id,
            'tags': self.properties[self.TAGS],
            'plane': self.properties[self.PLANE],
            'shared': False,
            'id': resource_id,
            'name': self._name(),
        }


def resource_mapping():
    return {'ESI::Network': Network}

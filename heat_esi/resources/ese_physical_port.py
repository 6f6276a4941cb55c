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

"""ESI::EsePhysicalPort: a physical port of an ESE device (ToR switch)."""

from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import resource_properties
from heat_esi import states


class EsePhysicalPort(esi_resource.EsiResource):
    """A physical port of an ESE device, such as xe-0/0/3.

    The port's configuration and two jobs are written to etcd: an
    esi-worker's heat_worker creates the port's stack in the tenant's
    project (Contrail's physical interface on the device's physical router,
    whose id the device's stack gave); then its monitoring_worker checks
    over SNMP, at the device's management address, that the switch has a
    port of that name and that it is up, and keeps polling it.
    """

    support_status = support.SupportStatus(version='1.1.0')

    esi_type = 'ese_physical_port'

    PROPERTIES = (
        NAME, DESCRIPTION, ESE_DEVICE_ID, EXISTING, CONNECTED_PORT_ID,
        CONNECTED_PORT_OWNER, TAGS,
    ) = (
        'name', 'description', 'ese_device_id', 'existing',
        'connected_port_id', 'connected_port_owner', 'tags',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE,
    ) = (
        'status', 'state_monitoring', 'worker_state',
    )

    # ESI's API: whether Contrail already has the port
    # (ese_physical_port_<existing>).
    EXISTING_VALUES = ('new', 'existing')

    properties_schema = resource_properties.naming_properties(
        _('ESE physical port'))
    properties_schema.update({
        # Not a generated name: it is what the switch calls the port, and
        # what the worker looks for.
        NAME: resource_properties.text_property(
            _('Name of the port on the switch, as its ifName says, such as '
              'xe-0/0/3.'),
            min_length=1,
            required=True,
            update_allowed=True
        ),
        ESE_DEVICE_ID: resource_properties.reference_property(
            esi_type, ESE_DEVICE_ID,
            _('ID of the ESI ESE device the port belongs to.'),
            required=True
        ),
        EXISTING: properties.Schema(
            properties.Schema.STRING,
            _('"existing": Contrail already has the port, which is fetched '
              'by the device\'s hostname and the port\'s name; "new": it is '
              'created on the device\'s physical router.'),
            default='new',
            constraints=[constraints.AllowedValues(EXISTING_VALUES)]
        ),
        CONNECTED_PORT_ID: resource_properties.text_property(
            _('ID of the server port the port is cabled to, if any.'),
            default='',
            update_allowed=True
        ),
        CONNECTED_PORT_OWNER: resource_properties.text_property(
            _('What owns the port it is cabled to, such as mx_downlink.'),
            default='',
            update_allowed=True
        ),
        TAGS: resource_properties.tags_property(_('port')),
    })

    attributes_schema = resource_properties.state_attributes(
        _('ESE physical port'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of the port as last monitored, such as '
              '{"port": "UP"}.'),
            attributes.Schema.MAP
        ),
    })

    def _create_body(self, resource_id):
        return {
            'status': states.PENDING_CREATE,
            'connected_port_owner':
                self.properties[self.CONNECTED_PORT_OWNER],
            'name': self._name(),
            'tags': self.properties[self.TAGS],
            'tenant_id': self.stack.context.project_id,
            'existing': self.properties[self.EXISTING],
            'connected_port_id': self.properties[self.CONNECTED_PORT_ID],
            'ese_device_id': self.properties[self.ESE_DEVICE_ID],
            'id': resource_id,
            'description': self.properties[self.DESCRIPTION],
        }


def resource_mapping():
    return {'ESI::EsePhysicalPort': EsePhysicalPort}

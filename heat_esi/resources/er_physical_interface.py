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

"""ESI::ErPhysicalInterface: a physical interface of an ESI edge router."""

from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import resource_properties
from heat_esi import states


class ErPhysicalInterface(esi_resource.EsiResource):
    """A physical interface of an ESI edge router, such as ge-0/0/1.

    The interface's configuration and a monitoring job are written to etcd;
    an esi-worker checks over SNMP, at the edge router's address, that the
    device has an interface of that name and that it is up (ifName, then
    ifOperStatus), and keeps polling it afterwards, writing its state to
    /monitoring when it changes.
    """

    support_status = support.SupportStatus(version='1.0.0')

    esi_type = 'er_physical_interface'

    PROPERTIES = (
        NAME, DESCRIPTION, DEVICE_ID, CONNECTED_ESE_PORT_ID,
    ) = (
        'name', 'description', 'device_id', 'connected_ese_port_id',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE,
    ) = (
        'status', 'state_monitoring', 'worker_state',
    )

    properties_schema = resource_properties.naming_properties(
        _('physical interface'))
    properties_schema.update({
        # Not a generated name, as for other resources: it is what the
        # device calls the interface, and what the worker looks for.
        NAME: resource_properties.text_property(
            _('Name of the interface on the edge router, as its ifName '
              'says, such as ge-0/0/1 or ae0.'),
            min_length=1,
            required=True,
            update_allowed=True
        ),
        DEVICE_ID: resource_properties.reference_property(
            esi_type, DEVICE_ID,
            _('ID of the ESI edge router the interface belongs to.'),
            required=True
        ),
        CONNECTED_ESE_PORT_ID: resource_properties.text_property(
            _('ID of the ESE port the interface is cabled to, if any.'),
            update_allowed=True
        ),
    })

    attributes_schema = resource_properties.state_attributes(
        _('physical interface'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of the interface as last monitored, such as '
              '{"interface": "UP"}.'),
            attributes.Schema.MAP
        ),
    })

    def _create_body(self, resource_id):
        body = {
            'status': states.PENDING_CREATE,
            'description': self.properties[self.DESCRIPTION],
            'tenant_id': self.stack.context.project_id,
            'device_id': self.properties[self.DEVICE_ID],
            'id': resource_id,
            'name': self._name(),
        }
        # Optional in ESI's body: present only when the interface is cabled
        # to an ESE port. An empty id names none: a template's parameter
        # (ha_gateway.yaml's) defaults to it.
        port = self.properties[self.CONNECTED_ESE_PORT_ID]
        if port:
            body[self.CONNECTED_ESE_PORT_ID] = port
        return body

    def _update_body(self, body, prop_diff):
        new = super(ErPhysicalInterface, self)._update_body(body, prop_diff)
        if self.CONNECTED_ESE_PORT_ID in prop_diff and \
                not prop_diff[self.CONNECTED_ESE_PORT_ID]:
            del new[self.CONNECTED_ESE_PORT_ID]
        return new


def resource_mapping():
    return {'ESI::ErPhysicalInterface': ErPhysicalInterface}

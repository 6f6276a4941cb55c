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

"""ESI::EseDevice: an operator's ToR switch, known to Contrail."""

import ipaddress

from oslo_config import cfg
from oslo_log import log as logging

from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import conf
from heat_esi import esi_resource
from heat_esi import resource_properties
from heat_esi import states
from heat_esi import validation

LOG = logging.getLogger(__name__)
OPTION = '[esi] management_networks'


class EseDevice(esi_resource.EsiResource):
    """An ESE device: a ToR switch that Contrail manages, watched over SNMP.

    The device's configuration and two jobs are written to etcd: an
    esi-worker's heat_worker creates the device's stack in the tenant's
    project (Contrail's physical router: fetched when ``existing`` is
    "existing", created when it is "new"); then its monitoring_worker
    checks that the switch answers SNMP at its management address, and
    keeps polling it.
    """

    support_status = support.SupportStatus(version='1.1.0')

    esi_type = 'ese_device'
    secret_properties = ('password',)

    PROPERTIES = (
        NAME, DESCRIPTION, HOSTNAME, EXISTING, TYPE, MANAGEMENT_IP_ADDRESS,
        PUBLIC_IP_ADDRESS, USERNAME, PASSWORD, TAGS,
    ) = (
        'name', 'description', 'hostname', 'existing', 'type',
        'management_ip_address', 'public_ip_address', 'username',
        'password', 'tags',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE,
    ) = (
        'status', 'state_monitoring', 'worker_state',
    )

    # ESI's API: what Contrail is told (ese_device_<existing>), the kinds.
    EXISTING_VALUES = ('new', 'existing')
    TYPES = ('tor', 'edge router')

    properties_schema = resource_properties.naming_properties(
        _('ESE device'))
    properties_schema.update({
        HOSTNAME: properties.Schema(
            properties.Schema.STRING,
            _('Hostname of the device: the name Contrail knows its physical '
              'router by (letters, digits, dots and hyphens, at most 253).'),
            required=True,
            constraints=[
                # Length and printable first: Heat's pattern error quotes
                # the value as it is.
                constraints.Length(min=1, max=253),
                constraints.CustomConstraint('esi.printable_text'),
                constraints.AllowedPattern(
                    r'^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$')]
        ),
        EXISTING: properties.Schema(
            properties.Schema.STRING,
            _('"existing": Contrail already has the device, which is '
              'fetched by its hostname; "new": it is created in Contrail.'),
            default='new',
            constraints=[constraints.AllowedValues(EXISTING_VALUES)]
        ),
        TYPE: properties.Schema(
            properties.Schema.STRING,
            _('Kind of device.'),
            default='tor',
            constraints=[constraints.AllowedValues(TYPES)]
        ),
        MANAGEMENT_IP_ADDRESS: properties.Schema(
            properties.Schema.STRING,
            _('IPv4 address of the management interface, where its SNMP '
              'agent answers. It must be inside the management networks of '
              'the cloud ([esi] management_networks of heat.conf).'),
            required=True,
            constraints=[constraints.CustomConstraint('ip_addr')],
            update_allowed=True
        ),
        PUBLIC_IP_ADDRESS: properties.Schema(
            properties.Schema.STRING,
            _('IPv4 address of the dataplane interface. Defaults to the '
              'management address.'),
            constraints=[constraints.CustomConstraint('ip_addr')],
            update_allowed=True
        ),
        USERNAME: resource_properties.text_property(
            _('User name ESI logs in to the device with.'),
            default='',
            update_allowed=True
        ),
        # Any character may be in a password, and it is never shown: only
        # its length is bounded.
        PASSWORD: properties.Schema(
            properties.Schema.STRING,
            _('Password ESI logs in to the device with, at most %d '
              'characters. It is kept out of jobs, logs, events and '
              'outputs; pass it through a hidden template parameter.')
            % validation.MAX_TEXT_LENGTH,
            default='',
            constraints=[constraints.Length(max=validation.MAX_TEXT_LENGTH)],
            update_allowed=True
        ),
        TAGS: resource_properties.tags_property(_('device')),
    })

    attributes_schema = resource_properties.state_attributes(
        _('ESE device'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of the switch as last monitored, such as '
              '{"switch": "UP"}.'),
            attributes.Schema.MAP
        ),
    })

    def _check_values(self, values=None):
        super(EseDevice, self)._check_values(values)
        values = self.properties if values is None else values
        ip = values.get(self.MANAGEMENT_IP_ADDRESS)
        if ip is not None:
            problem = outside_management_networks(ip, _('ESE devices'))
            if problem:
                raise resource_properties.property_error(
                    self, self.MANAGEMENT_IP_ADDRESS, problem)

    def _create_body(self, resource_id):
        return {
            'status': states.PENDING_CREATE,
            'username': self.properties[self.USERNAME],
            'password': self.properties[self.PASSWORD],
            'description': self.properties[self.DESCRIPTION],
            'tags': self.properties[self.TAGS],
            'tenant_id': self.stack.context.project_id,
            'public_ip_address': (
                self.properties[self.PUBLIC_IP_ADDRESS] or
                self.properties[self.MANAGEMENT_IP_ADDRESS]),
            'hostname': self.properties[self.HOSTNAME],
            'name': self._name(),
            'existing': self.properties[self.EXISTING],
            'type': self.properties[self.TYPE],
            'id': resource_id,
            'management_ip_address':
                self.properties[self.MANAGEMENT_IP_ADDRESS],
        }

    def _update_body(self, body, prop_diff):
        new = super(EseDevice, self)._update_body(body, prop_diff)
        # The job templates map it (ese_device_new's dataplane_ip): it is
        # always there, as in ESI's body.
        if not new.get(self.PUBLIC_IP_ADDRESS):
            new[self.PUBLIC_IP_ADDRESS] = new[self.MANAGEMENT_IP_ADDRESS]
        return new


def outside_management_networks(ip, what):
    """Why *ip* may not be the SNMP address of one of *what*, or None.

    The workers send an SNMP community there, and their answer tells
    whether something listens: only the networks the operator lists are
    open to tenants (as for edge routers).
    """
    try:
        networks = conf.parse_networks(cfg.CONF.esi.management_networks,
                                       OPTION)
    except ValueError as exc:
        LOG.error('heat.conf: %s', exc)
        return _('%s of heat-engine is not valid; an operator must fix '
                 'it') % OPTION
    if not networks:
        return _('no management network is configured, so every address '
                 'is refused. An operator lists the management networks in '
                 'heat.conf, such as "%s = 192.0.2.0/24"') % OPTION
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return _('%s is not an IP address') % validation.shorten(ip)
    if not any(address in network for network in networks):
        return _('%(ip)s is outside the management networks open to '
                 '%(what)s (%(option)s in heat.conf)') % {
            'ip': ip, 'what': what, 'option': OPTION}
    return None


def resource_mapping():
    return {'ESI::EseDevice': EseDevice}

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


class EdgeRouter(esi_resource.EsiResource):
    """An ESI edge router: a network device that ESI monitors over SNMP.

    The router's configuration and a monitoring job are written to etcd; an
    esi-worker checks that the device answers SNMP, and keeps polling it
    afterwards, writing its state to /monitoring when it changes.
    """

    support_status = support.SupportStatus(version='1.0.0')

    esi_type = 'edge_router'
    secret_properties = ('password',)

    PROPERTIES = (
        NAME, DESCRIPTION, IP, SSH_PORT, AUTONOMOUS_SYSTEM, LOGIN, PASSWORD,
    ) = (
        'name', 'description', 'ip', 'ssh_port', 'autonomous_system',
        'login', 'password',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE,
    ) = (
        'status', 'state_monitoring', 'worker_state',
    )

    properties_schema = resource_properties.naming_properties(_('edge router'))
    properties_schema.update({
        IP: properties.Schema(
            properties.Schema.STRING,
            _('Management IP address of the router, where its SNMP agent '
              'answers. It must be inside the management networks of the '
              'cloud ([esi] management_networks of heat.conf).'),
            required=True,
            constraints=[constraints.CustomConstraint('ip_addr')]
        ),
        SSH_PORT: properties.Schema(
            properties.Schema.INTEGER,
            _('Port of the router\'s SSH (NETCONF) service.'),
            default=830,
            constraints=[constraints.Range(min=1, max=65535)],
            update_allowed=True
        ),
        AUTONOMOUS_SYSTEM: properties.Schema(
            properties.Schema.INTEGER,
            _('BGP autonomous system number of the router.'),
            constraints=[constraints.Range(min=1, max=4294967295)],
            update_allowed=True
        ),
        LOGIN: resource_properties.text_property(
            _('User name ESI logs in to the router with.'),
            default='',
            update_allowed=True
        ),
        # Any character may be in a password, and it is never shown: only
        # its length is bounded.
        PASSWORD: properties.Schema(
            properties.Schema.STRING,
            _('Password ESI logs in to the router with, at most %d '
              'characters. It is kept out of logs, events and outputs; pass '
              'it through a hidden template parameter.')
            % validation.MAX_TEXT_LENGTH,
            default='',
            constraints=[constraints.Length(max=validation.MAX_TEXT_LENGTH)],
            update_allowed=True
        ),
    })

    attributes_schema = resource_properties.state_attributes(_('edge router'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of the router as last monitored, such as '
              '{"router": "UP"}.'),
            attributes.Schema.MAP
        ),
    })

    def _check_values(self, values=None):
        super(EdgeRouter, self)._check_values(values)
        values = self.properties if values is None else values
        ip = values.get(self.IP)
        if ip is not None:
            problem = self._outside_management_networks(ip)
            if problem:
                raise resource_properties.property_error(self, self.IP,
                                                         problem)

    @staticmethod
    def _outside_management_networks(ip):
        """Why *ip* may not be an edge router's address, or None.

        The workers send the SNMP community to this address, and their
        answer tells whether something listens there: only the networks
        the operator lists are open to tenants.
        """
        try:
            networks = conf.parse_networks(
                cfg.CONF.esi.management_networks, OPTION)
        except ValueError as exc:
            LOG.error('heat.conf: %s', exc)
            return _('%s of heat-engine is not valid; an operator must fix '
                     'it') % OPTION
        if not networks:
            return _('no management network is configured, so every edge '
                     'router is refused. An operator lists the networks of '
                     'the routers\' management addresses in heat.conf, such '
                     'as "%s = 192.0.2.0/24,2001:db8::/64"') % OPTION
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return _('%s is not an IP address') % ip
        if not any(address in network for network in networks):
            return _('%(ip)s is outside the management networks open to '
                     'edge routers (%(option)s in heat.conf)') % {
                'ip': ip, 'option': OPTION}
        return None

    @staticmethod
    def _as_stored(number):
        """The autonomous system as ESI stores it: a string ("65101").

        So it is in CreateEdgeRouter_02; Heat checks it as an integer range.
        """
        return None if number is None else str(number)

    def _update_body(self, body, prop_diff):
        new = super(EdgeRouter, self)._update_body(body, prop_diff)
        if self.AUTONOMOUS_SYSTEM in prop_diff:
            new[self.AUTONOMOUS_SYSTEM] = self._as_stored(
                prop_diff[self.AUTONOMOUS_SYSTEM])
        return new

    def _create_body(self, resource_id):
        return {
            'status': states.PENDING_CREATE,
            'name': self._name(),
            'ssh_port': self.properties[self.SSH_PORT],
            'ip': self.properties[self.IP],
            'autonomous_system': self._as_stored(
                self.properties[self.AUTONOMOUS_SYSTEM]),
            'tenant_id': self.stack.context.project_id,
            'login': self.properties[self.LOGIN],
            'password': self.properties[self.PASSWORD],
            'id': resource_id,
            'description': self.properties[self.DESCRIPTION],
        }


def resource_mapping():
    return {'ESI::EdgeRouter': EdgeRouter}

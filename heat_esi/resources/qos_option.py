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

"""ESI::QosOption: a QoS option of a VPN service, which gateways choose."""

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import client
from heat_esi import esi_resource
from heat_esi import resource_properties
from heat_esi import states


class QosOption(esi_resource.EsiResource):
    """A QoS option of a VPN service: the policers a gateway's traffic gets.

    A catalog entry that tenants' ESI::VpnGateway resources name: the
    JUNOS policers (already on the edge routers) of the gateway's incoming
    and outgoing traffic, and its bandwidth. Its ``ha_router_id`` is
    derived, as ESI's API derived it: the HA router of the service's HA
    interfaces. No device is configured for it and no worker runs: its
    configuration and its READ_COMPLETE state are written to etcd
    together. It cannot be deleted while a gateway names it.
    """

    support_status = support.SupportStatus(version='1.0.0')

    esi_type = 'qos_option'

    PROPERTIES = (
        NAME, DESCRIPTION, VPN_SERVICE_ID, SERVICE_TYPE, QOS_TYPE,
        BANDWIDTH, INCOMING_POLICER_NAME, INCOMING_POLICER_CONFIG,
        OUTGOING_POLICER_NAME, OUTGOING_POLICER_CONFIG,
    ) = (
        'name', 'description', 'vpn_service_id', 'service_type', 'qos_type',
        'bandwidth', 'incoming_policer_name', 'incoming_policer_config',
        'outgoing_policer_name', 'outgoing_policer_config',
    )

    ATTRIBUTES = (
        STATUS, WORKER_STATE, HA_ROUTER_ID,
    ) = (
        'status', 'worker_state', 'ha_router_id',
    )

    # The service's interfaces whose HA router the option is on.
    SERVICE_INTERFACES = ('uplink_interfaces', 'downlink_interfaces')

    properties_schema = resource_properties.naming_properties(
        _('QoS option'))
    properties_schema.update({
        VPN_SERVICE_ID: resource_properties.reference_property(
            esi_type, VPN_SERVICE_ID,
            _('ID of the ESI VPN service the option belongs to.'),
            required=True),
        SERVICE_TYPE: properties.Schema(
            properties.Schema.STRING,
            _('Service the option is for.'),
            constraints=[constraints.AllowedValues(['vpn'])],
            default='vpn'),
        QOS_TYPE: properties.Schema(
            properties.Schema.STRING,
            _('Guaranteed (guarantee) or best-effort (besteffort) '
              'bandwidth.'),
            constraints=[constraints.AllowedValues(['guarantee',
                                                    'besteffort'])],
            required=True),
        BANDWIDTH: resource_properties.text_property(
            _('Bandwidth in Mbit/s, as ESI\'s API takes it: a string such '
              'as "10".'),
            min_length=1, required=True),
        INCOMING_POLICER_NAME: resource_properties.text_property(
            _('Name of the JUNOS policer of the traffic from the customer '
              '(its filter is FILTER_<name>).'),
            min_length=1, required=True),
        INCOMING_POLICER_CONFIG: resource_properties.text_property(
            _('JUNOS configuration of that policer.'), required=True),
        OUTGOING_POLICER_NAME: resource_properties.text_property(
            _('Name of the JUNOS policer of the traffic to the customer.'),
            min_length=1, required=True),
        OUTGOING_POLICER_CONFIG: resource_properties.text_property(
            _('JUNOS configuration of that policer.'), required=True),
    })

    attributes_schema = resource_properties.state_attributes(
        _('QoS option'))
    attributes_schema.update({
        HA_ROUTER_ID: resource_properties.live_attribute(
            _('ID of the HA router of the VPN service\'s interfaces.'),
            attributes.Schema.STRING),
    })

    def _ha_router_id(self):
        """The HA router of the service's interfaces (ESI derived it).

        :raises Error: the service or an interface is not usable, or the
            interfaces are on different HA routers.
        """
        plugin = self.client_plugin()
        service_id = self.properties[self.VPN_SERVICE_ID]
        try:
            service = plugin.get_vpn_service(service_id)
            routers = {}
            for field in self.SERVICE_INTERFACES:
                for rid in service.get(field) or ():
                    body = plugin.get_ha_interface(rid)
                    routers.setdefault(body.get('ha_router_id'), rid)
        except client.NotFound as exc:
            # Validation saw them; one went away since.
            raise exception.Error(_('vpn_service_id: %s') % exc)
        if len(routers) != 1 or None in routers:
            raise exception.Error(
                _('vpn_service %(id)s: its HA interfaces must all be on one '
                  'HA router, the QoS option\'s; they are on %(routers)s') %
                {'id': service_id,
                 'routers': ', '.join('%s (%s)' % (router, rid)
                                      for router, rid in routers.items())
                 or 'none'})
        return next(iter(routers))

    def _create_body(self, resource_id):
        p = self.properties
        return {
            'status': states.PENDING_CREATE,
            'qos_type': p[self.QOS_TYPE],
            'description': p[self.DESCRIPTION],
            'tenant_id': self.stack.context.project_id,
            'incoming_policer_name': p[self.INCOMING_POLICER_NAME],
            'vpn_service_id': p[self.VPN_SERVICE_ID],
            'bandwidth': p[self.BANDWIDTH],
            'outgoing_policer_config': p[self.OUTGOING_POLICER_CONFIG],
            'incoming_policer_config': p[self.INCOMING_POLICER_CONFIG],
            'outgoing_policer_name': p[self.OUTGOING_POLICER_NAME],
            'service_type': p[self.SERVICE_TYPE],
            'ha_router_id': self._ha_router_id(),
            'id': resource_id,
            'name': self._name(),
        }


def resource_mapping():
    return {'ESI::QosOption': QosOption}

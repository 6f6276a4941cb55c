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

"""ESI::StaticRoute: a static route in a VPN gateway's VRF."""

from heat.common import exception
from heat.common.i18n import _
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import resource_properties
from heat_esi import states


class StaticRoute(esi_resource.EsiResource):
    """A static route in a VPN gateway's VRF, on both edge routers.

    Its configuration and one heat_worker job are written to etcd; the
    worker makes the route's own Heat stack, which adds the route to the
    gateway's routing instance on the HA router's two edge routers over
    NETCONF (ESI's static_route_vpn job template). A gateway takes at most
    its ``maximum_static_routes`` routes: one more is refused, and nothing
    is written.
    """

    support_status = support.SupportStatus(version='1.0.0')

    esi_type = 'static_route'

    PROPERTIES = (
        NAME, DESCRIPTION, VPN_GW_ID, DESTINATION, NEXTHOP, SERVICE_TYPE,
    ) = (
        'name', 'description', 'vpn_gw_id', 'destination', 'nexthop',
        'service_type',
    )

    ATTRIBUTES = (
        STATUS, WORKER_STATE,
    ) = (
        'status', 'worker_state',
    )

    properties_schema = resource_properties.naming_properties(
        _('static route'))
    properties_schema.update({
        VPN_GW_ID: resource_properties.reference_property(
            esi_type, VPN_GW_ID,
            _('ID of the ESI VPN gateway whose VRF gets the route.'),
            required=True),
        DESTINATION: properties.Schema(
            properties.Schema.STRING,
            _('Destination of the route, a CIDR such as 192.168.0.0/24.'),
            constraints=[constraints.CustomConstraint('net_cidr')],
            required=True),
        NEXTHOP: properties.Schema(
            properties.Schema.STRING,
            _('IP address of the next hop, in the tenant\'s network.'),
            constraints=[constraints.CustomConstraint('ip_addr')],
            required=True),
        SERVICE_TYPE: properties.Schema(
            properties.Schema.STRING,
            _('Service of the gateway; its job template is '
              'static_route_<service_type>.'),
            constraints=[constraints.AllowedValues(['vpn'])],
            default='vpn'),
    })

    attributes_schema = resource_properties.state_attributes(
        _('static route'))

    def _create_conditions(self):
        """Refuse a route past the gateway's maximum_static_routes.

        The gateway's other routes are counted as etcd holds them now;
        the compare returned keeps that count true until the write, so
        that two routes created at once cannot both take the last place.
        """
        gw_id = self.properties[self.VPN_GW_ID]
        kv, config = self.client_plugin().read_config('vpn_gateway', gw_id)
        if kv is None:
            raise exception.Error(
                _('vpn_gw_id: vpn_gateway %(id)s does not exist in ESI '
                  '(no %(key)s)') % {'id': gw_id, 'key': keys.config(
                    'vpn_gateway', gw_id)})
        maximum = config[0].get('maximum_static_routes')
        prefix = keys.config_prefix(self.esi_type)
        found, revision = self.client().get_prefix(prefix)
        routes = sorted(self._routes_of(gw_id, found))
        if isinstance(maximum, int) and not isinstance(maximum, bool) and \
                len(routes) >= maximum:
            raise exception.Error(
                _('vpn_gateway %(gw)s has %(n)d static routes, its '
                  'maximum_static_routes: %(ids)s. Delete one first; '
                  'nothing was written.') % {
                    'gw': gw_id, 'n': len(routes),
                    'ids': ', '.join(routes[:10]) +
                    (', ...' if len(routes) > 10 else '')})
        return [etcd.unchanged_prefix(prefix, revision)]

    def _routes_of(self, gw_id, found):
        """The ids of the gateway's routes in *found*, this one aside.

        A route being deleted no longer counts.
        """
        for kv in found:
            try:
                body, _version, marked = records.parse_config(kv.key,
                                                              kv.value)
            except exceptions.MalformedValue:
                continue
            rid = body.get('id')
            if body.get(self.VPN_GW_ID) == gw_id and not marked and \
                    rid != self.resource_id:
                yield rid

    def _create_body(self, resource_id):
        p = self.properties
        return {
            'status': states.PENDING_CREATE,
            'destination': p[self.DESTINATION],
            'description': p[self.DESCRIPTION],
            'tenant_id': self.stack.context.project_id,
            'vpn_gw_id': p[self.VPN_GW_ID],
            'nexthop': p[self.NEXTHOP],
            'service_type': p[self.SERVICE_TYPE],
            'id': resource_id,
            'name': self._name(),
        }


def resource_mapping():
    return {'ESI::StaticRoute': StaticRoute}

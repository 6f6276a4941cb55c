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

"""ESI::VpnInterface: the eBGP sessions of a VPN gateway to the customer."""

import ipaddress
import uuid

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import support

from heat_esi import esi_resource
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import resource_properties
from heat_esi import states
from heat_esi import tenant_errors

# How many times the write is tried again when the gateway's /config
# changed between its read and the transaction (its own update, say).
GATEWAY_ATTEMPTS = 5

# What a BGP MD5 key may hold: it is written into the routers'
# configuration as one JUNOS word, so nothing that ends or quotes one.
MD5_FORBIDDEN = frozenset(' \t;{}"\'#\\')


def bad_md5(key):
    """Why *key* cannot be a BGP MD5 key, or None; never showing it."""
    for position, char in enumerate(key):
        if not (32 < ord(char) < 127) or char in MD5_FORBIDDEN:
            return _('bgp_md5 may hold only printable ASCII characters '
                     'other than space and ;{}"\'#\\: the character at '
                     'position %d is not one') % position
    return None


def bad_peer(side, peer):
    """Why a primary or secondary map cannot be a BGP peer, or None."""
    try:
        address = ipaddress.ip_interface(peer['ip_address'])
        if '/' not in peer['ip_address'] or address.version != 4:
            raise ValueError()
    except ValueError:
        return _('%(side)s.ip_address must be an IPv4 address with its '
                 'prefix length, such as 192.168.8.2/30') % {'side': side}
    for field in ('bgp_peer_ip', 'bgp_router_id'):
        try:
            ipaddress.IPv4Address(peer[field])
        except ValueError:
            return _('%(side)s.%(field)s must be an IPv4 address') % {
                'side': side, 'field': field}
    if ipaddress.ip_address(peer['bgp_peer_ip']) not in address.network:
        return _('%(side)s.bgp_peer_ip must be in %(side)s.ip_address\'s '
                 'network %(net)s') % {'side': side, 'net': address.network}
    return None


def peer_schema(side):
    return properties.Schema(
        properties.Schema.MAP,
        _('The %s edge router\'s side of the eBGP session.') % side,
        required=True,
        update_allowed=True,
        schema={
            'ip_address': properties.Schema(
                properties.Schema.STRING,
                _('IPv4 address and prefix length of the router\'s uplink '
                  'unit, such as 192.168.8.2/30.'),
                required=True),
            'bgp_peer_ip': properties.Schema(
                properties.Schema.STRING,
                _('IPv4 address of the customer\'s BGP neighbour.'),
                required=True),
            'bgp_router_id': properties.Schema(
                properties.Schema.STRING,
                _('BGP router id of the router in the gateway\'s VRF.'),
                required=True),
        })


class VpnInterface(esi_resource.EsiResource):
    """The eBGP sessions of a VPN gateway with the customer's routers.

    Both edge routers get an address on the gateway's uplink unit and an
    eBGP group in its VRF, authenticated with bgp_md5: a secret, kept in
    the interface's /config only (its job names it; the worker reads it
    when it runs). Creating the interface also rewrites its gateway
    (connected_vpn_interface), whose modify runs after the interface's
    jobs, in the same etcd transaction; deleting it rewrites the gateway
    back. A gateway has at most one VPN interface.
    """

    support_status = support.SupportStatus(version='1.2.0')

    esi_type = 'vpn_interface'
    secret_properties = ('bgp_md5',)

    PROPERTIES = (
        NAME, DESCRIPTION, VPN_GW_ID, PRIMARY, SECONDARY, BGP_REMOTE_AS,
        BGP_MD5,
    ) = (
        'name', 'description', 'vpn_gw_id', 'primary', 'secondary',
        'bgp_remote_as', 'bgp_md5',
    )

    ATTRIBUTES = (
        STATUS, STATE_MONITORING, WORKER_STATE,
    ) = (
        'status', 'state_monitoring', 'worker_state',
    )

    properties_schema = resource_properties.naming_properties(
        _('VPN interface'))
    properties_schema.update({
        VPN_GW_ID: resource_properties.reference_property(
            esi_type, VPN_GW_ID,
            _('ID of the ESI VPN gateway whose sessions these are; it may '
              'have no other VPN interface.'),
            required=True
        ),
        PRIMARY: peer_schema('primary'),
        SECONDARY: peer_schema('secondary'),
        BGP_REMOTE_AS: properties.Schema(
            properties.Schema.INTEGER,
            _('Autonomous system number of the customer\'s routers.'),
            required=True,
            update_allowed=True,
            constraints=[constraints.Range(min=1, max=4294967295)]
        ),
        BGP_MD5: properties.Schema(
            properties.Schema.STRING,
            _('MD5 key of the eBGP sessions: a secret, never shown back, '
              'in no event, job or log. Printable ASCII without space or '
              ';{}"\'#\\. Pass it as a hidden parameter of the template.'),
            required=True,
            update_allowed=True,
            constraints=[constraints.Length(min=1, max=80)]
        ),
    })

    attributes_schema = resource_properties.state_attributes(
        _('VPN interface'))
    attributes_schema.update({
        STATE_MONITORING: resource_properties.live_attribute(
            _('State of each BGP session and uplink unit as monitored now, '
              'such as {"primary": "UP", "primary_uplink": "UP", ...}.'),
            attributes.Schema.MAP
        ),
    })

    # --- validation -------------------------------------------------------

    def _check_values(self, values=None):
        super(VpnInterface, self)._check_values(values)
        values = self.properties if values is None else values
        key = values.get(self.BGP_MD5)
        problem = bad_md5(key) if isinstance(key, str) else None
        if problem:
            raise resource_properties.property_error(self, self.BGP_MD5,
                                                     problem)
        for side in (self.PRIMARY, self.SECONDARY):
            peer = values.get(side)
            problem = bad_peer(side, peer) if peer else None
            if problem:
                raise resource_properties.property_error(self, side,
                                                         problem)

    # --- the body ---------------------------------------------------------

    @staticmethod
    def _peer(peer):
        """A primary or secondary map in the seed's field order."""
        return {'bgp_peer_ip': peer['bgp_peer_ip'],
                'ip_address': peer['ip_address'],
                'bgp_router_id': peer['bgp_router_id']}

    def _create_body(self, resource_id):
        return {
            'status': states.PENDING_CREATE,
            'bgp_remote_as': str(self.properties[self.BGP_REMOTE_AS]),
            'description': self.properties[self.DESCRIPTION],
            'tenant_id': self.stack.context.project_id,
            'vpn_gw_id': self.properties[self.VPN_GW_ID],
            'primary': self._peer(self.properties[self.PRIMARY]),
            'bgp_md5': self.properties[self.BGP_MD5],
            'secondary': self._peer(self.properties[self.SECONDARY]),
            'id': resource_id,
            'name': self._name(),
        }

    def _update_body(self, body, prop_diff):
        new = super(VpnInterface, self)._update_body(body, prop_diff)
        for side in (self.PRIMARY, self.SECONDARY):
            if side in prop_diff:
                new[side] = self._peer(prop_diff[side])
        if self.BGP_REMOTE_AS in prop_diff:
            new[self.BGP_REMOTE_AS] = str(prop_diff[self.BGP_REMOTE_AS])
        return new

    # --- the gateway ------------------------------------------------------

    def _gateway(self, gw_id):
        """(KV, (body, version, marked)) of the project's gateway, or Nones."""
        return self.client_plugin().read_own_config('vpn_gateway', gw_id,
                                                    self.name)

    def _rewrite(self, gw_kv, gw_config, connected, depends_on):
        """The gateway's modify for *connected*, after *depends_on*.

        ESI's: version + 1, PENDING_UPDATE, its stack re-rendered with the
        interface in place (or gone), its monitoring restarted.
        """
        body, version, _marked = gw_config
        new = dict(body, connected_vpn_interface=connected,
                   status=states.PENDING_UPDATE)
        return self.client_plugin().plan(
            'vpn_gateway', body['id'], records.MODIFY, new, version + 1,
            depends_on=depends_on), version + 1

    def handle_create(self):
        self._check_values()
        # Stored first: a create retried after a crash finds the same keys.
        if self.resource_id is None:
            self.resource_id_set(str(uuid.uuid4()))
        cookie = {'version': 1, 'action': records.CREATE}
        plugin = self.client_plugin()
        config_key = keys.config(self.esi_type, self.resource_id)
        gw_id = self.properties[self.VPN_GW_ID]
        for _attempt in range(GATEWAY_ATTEMPTS):
            if plugin.read_config(self.esi_type,
                                  self.resource_id)[0] is not None:
                # One transaction wrote it with the gateway's rewrite.
                plugin.resume_create(self.name, self.esi_type,
                                     self.resource_id)
                return cookie
            gw_kv, gw_config = self._gateway(gw_id)
            if gw_kv is None or gw_config[2]:
                raise exception.Error(
                    _('vpn_gw_id: %s') % (plugin.not_found('vpn_gateway',
                                                           gw_id)
                                          if gw_kv is None else
                                          _('vpn_gateway %s is being '
                                            'deleted') % gw_id))
            connected = gw_config[0].get('connected_vpn_interface')
            if connected:
                raise exception.Error(
                    _('vpn_gw_id: vpn_gateway %(gw)s already has VPN '
                      'interface %(other)s; delete it first') % {
                        'gw': gw_id, 'other': connected})
            own = plugin.plan(self.esi_type, self.resource_id,
                              records.CREATE,
                              self._create_body(self.resource_id), 1)
            gateway, gw_version = self._rewrite(gw_kv, gw_config,
                                                self.resource_id,
                                                own.job_ids)
            if plugin.commit(self.name, [own, gateway],
                             [etcd.absent(config_key),
                              etcd.mod_revision_is(gw_kv.key,
                                                   gw_kv.mod_revision)]):
                return dict(cookie, gateway={'id': gw_id,
                                             'version': gw_version})
        raise exception.Error(
            _('vpn_gateway %s kept changing in etcd during the create; '
              'retry it') % gw_id)

    def check_create_complete(self, cookie):
        """Done when the interface is, and its gateway's modify too."""
        if not self._check_done(cookie):
            return False
        gateway = cookie.get('gateway')
        if gateway is None:
            return True
        try:
            state = self.client_plugin().read_state(
                'vpn_gateway', gateway['id'], gateway['version'])
        except exceptions.EtcdError:
            return False    # as _check_done: Heat's timeout bounds it
        return tenant_errors.outcome(
            state, gateway['version'],
            lifecycle.expected_action('vpn_gateway', records.MODIFY),
            'vpn_gateway', gateway['id'])

    def handle_create_cancel(self, cookie):
        """Withdraw the gateway's unclaimed modify jobs too.

        They would re-render the gateway for an interface whose own jobs
        were withdrawn; the interface's delete rewrites the gateway again.
        """
        super(VpnInterface, self).handle_create_cancel(cookie)
        gateway = (cookie or {}).get('gateway')
        if gateway:
            self.client_plugin().withdraw(
                self.name, 'vpn_gateway', gateway['id'],
                {'version': gateway['version'], 'action': records.MODIFY})

    def _write_next(self, kv, body, version, action, marked=False):
        """A delete also rewrites the gateway without the interface."""
        if action != records.LOGICAL_DELETE:
            return super(VpnInterface, self)._write_next(
                kv, body, version, action, marked)
        plugin = self.client_plugin()
        gw_id = body.get('vpn_gw_id')
        self._refuse_gw_interfaces(gw_id)
        for _attempt in range(GATEWAY_ATTEMPTS):
            own = plugin.plan(self.esi_type, self.resource_id, action, body,
                              version, marked=True)
            planned, compare = [own], [etcd.mod_revision_is(
                kv.key, kv.mod_revision)]
            gw_kv, gw_config = self._gateway(gw_id)
            # A gateway gone, being deleted or connected elsewhere has
            # nothing of this interface to take out.
            if gw_kv is not None and not gw_config[2] and gw_config[0].get(
                    'connected_vpn_interface') == self.resource_id:
                planned.append(self._rewrite(gw_kv, gw_config, '',
                                             own.job_ids)[0])
                compare.append(etcd.mod_revision_is(gw_kv.key,
                                                    gw_kv.mod_revision))
            if plugin.commit(self.name, planned, compare):
                return {'version': version, 'action': action}
            now = self.client().get(kv.key)
            if now is None or now.mod_revision != kv.mod_revision:
                break
        raise exception.Error(
            _('%s changed in etcd during the delete; retry it') % kv.key)

    def _refuse_gw_interfaces(self, gw_id):
        """Refuse while a gw_interface of the gateway exists.

        Its configuration (the iBGP group in the VRF) stands on the eBGP
        side, as its create needs this interface first.
        """
        users = [user for user in lifecycle.users(
            self.client(), 'vpn_gateway', gw_id, self.client_plugin().owns)
            if user.startswith(('gw_interface ', 'a gw_interface '))]
        if users:
            raise exception.Error(
                _('vpn_interface %(id)s cannot be deleted while its gateway '
                  '%(gw)s has gateway interfaces: %(users)s. Delete them '
                  'first.') % {'id': self.resource_id, 'gw': gw_id,
                               'users': ', '.join(users)})


def resource_mapping():
    return {'ESI::VpnInterface': VpnInterface}

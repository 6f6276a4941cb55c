"""ESI's seeds of the VPN catalog and the static route, parsed for tests.

CreateVpnService_01, CreateQosOption_01 and CreateStaticRoute_01
(tests/fixtures), and the resources they name: the seed's HA gateway (two
edge routers, the HA router, its uplink and downlink HA interfaces) and
the VPN gateway of CreateVpnGateway_01, whose /config is written directly
(its type is another helper's), with the /state its create leaves.
"""

import json
import os
import re

from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures

DOCUMENTS = {
    'vpn_service': 'CreateVpnService_01.md',
    'qos_option': 'CreateQosOption_01.md',
    'static_route': 'CreateStaticRoute_01.md',
    'vpn_gateway': 'CreateVpnGateway_01.md',
    'ha_interface': 'CreateHaInterface_01.md',
    'ha_router': 'CreateHaRouter_01.md',
    'edge_router': 'CreateEdgeRouter_02.md',
}
PROJECT = esi_fixtures.PROJECT
RESOURCE_TYPES = {'vpn_service': 'ESI::VpnService',
                  'qos_option': 'ESI::QosOption',
                  'static_route': 'ESI::StaticRoute'}
# The ids the seeds name.
SERVICE = '72b05fe5-88c6-4888-a6fb-feb793fffae8'
GATEWAY = '4fab887d-8f73-40e6-b2d8-2426255231bf'
UPLINK = '5e552b8f-cd5a-454c-a224-33f7da0afa24'
DOWNLINK = 'a3a62a37-5657-4822-98e0-991ab63f0e96'
HA_ROUTER = 'f01ed0a6-7094-4e54-b14b-94657fff1efb'
# ESI's device credentials: in the routers' /config, never in a job.
LOGIN, PASSWORD = 'esi', 'esiesi0000'


def points(esi_type):
    """{'(1)': [(key, value), ...], ...}: every block of each point."""
    with open(os.path.join(esi_fixtures.FIXTURES,
                           DOCUMENTS[esi_type])) as f:
        text = f.read()
    found = {}
    parts = re.split(r'### Checking stored data at the point of (\(\d\)) '
                     r'in etcd', text)
    for point, section in zip(parts[1::2], parts[2::2]):
        for block in re.findall(r'```\n(.*?)```', section, re.S):
            key, _, value = block.strip().partition('\n')
            found.setdefault(point, []).append((key.strip(),
                                                json.loads(value)))
    return found


def config(esi_type):
    """(id, body) of the document's resource at point (1)."""
    key, value = points(esi_type)['(1)'][0]
    return key.rsplit('/', 1)[1], value['body']


def with_id(value, old, new):
    """*value* with every occurrence of the id *old* replaced by *new*."""
    return json.loads(json.dumps(value).replace(old, new))


# The properties of each seed's resource, as a stack gives them: the
# fields of its POST (esi-vpn-run/07, 08, 14).
SEED_PROPERTIES = {
    'vpn_service': {
        'name': 'sample-vpn-service', 'description': '',
        'uplink_interfaces': [UPLINK], 'downlink_interfaces': [DOWNLINK],
        'zone': 'jp1-zone1', 'default_static_routes_per_gateway': 32,
        'ga_forwarding_class': 'FC-VPN-GA',
        'be_forwarding_class': 'FC-VPN-BE',
        'neighbour_prefix': 'BGP-VIRTUAL-ROUTER-PEERS',
        'primary_ebgp_config_group': 'VPNGW1-RI-EBGP',
        'secondary_ebgp_config_group': 'VPNGW2-RI-EBGP',
        'primary_ibgp_config_group': 'VPNGW1-RI-IBGP',
        'secondary_ibgp_config_group': 'VPNGW2-RI-IBGP',
        'primary_downlink_vrrp_config_group': 'VPNGW1-VRRP',
        'secondary_downlink_vrrp_config_group': 'VPNGW2-VRRP'},
    'qos_option': {
        'name': '10Mbps-Guaranteed', 'description': '',
        'vpn_service_id': SERVICE, 'qos_type': 'guarantee',
        'service_type': 'vpn', 'bandwidth': '10',
        'incoming_policer_name': '10M-GA-UP-VPN',
        'incoming_policer_config': (
            'action { loss-priority high then discard; } single-rate { '
            'color-blind; committed-information-rate 10m; '
            'committed-burst-size 187500000; excess-burst-size 187500000; '
            '}'),
        'outgoing_policer_name': '10M-GA-DOWN-VPN',
        'outgoing_policer_config': (
            'if-exceeding { bandwidth-limit 10m; burst-size-limit '
            '187500000; } then discard;')},
    'static_route': {
        'name': 'sample-static-route', 'description': 'Sample Static-route',
        'vpn_gw_id': GATEWAY, 'destination': '192.168.0.0/24',
        'nexthop': '172.16.101.1', 'service_type': 'vpn'},
}


def _put(client, esi_type, body, state=None):
    client.put(keys.config(esi_type, body['id']), records.config(body, 1))
    if state is not None:
        client.put(keys.state(esi_type, body['id']), state)


def infrastructure():
    """[(type, body)] of the seed's HA gateway, as its creates left it.

    The two edge routers (the secondary is CreateEdgeRouter_02's; the
    primary the same at 10.79.5.185, as the static route's job shows), the
    HA router, its uplink HA interface (CreateHaInterface_01) and its
    downlink (the same, link_type downlink, as the gateway's vrf_name
    shows its name).
    """
    _id, secondary = config('edge_router')
    primary = dict(secondary, id=esi_fixtures.PRIMARY, ip='10.79.5.185',
                   name='sample-edge-router-primary')
    _id, ha_router = config('ha_router')
    _id, uplink = config('ha_interface')
    downlink = dict(uplink, id=DOWNLINK, link_type='downlink',
                    name='sample-ha-router-downlink')
    return [('edge_router', primary), ('edge_router', secondary),
            ('ha_router', ha_router), ('ha_interface', uplink),
            ('ha_interface', downlink)]


def register_infrastructure(client):
    """Write the seed's HA gateway (infrastructure()) into *client*."""
    for esi_type, body in infrastructure():
        _put(client, esi_type, body, records.state(
            'CREATE_COMPLETED', 1, {'x': 'ACTIVE'}))


def register_gateway(client, **changes):
    """Write CreateVpnGateway_01's gateway (point (1)) and its /state."""
    _id, body = config('vpn_gateway')
    body = dict(body, **changes)
    _put(client, 'vpn_gateway', body, records.state(
        'CREATE_COMPLETED', 1, {'downlink': 'ACTIVE'}))
    return body

"""ESI's gw_interface documents, and the resources they stand on, for tests.

CreateGwInterface_01 (the interface), _02 (its primary port) and _03 (its
primary ESE logical port) in tests/fixtures; write_world() writes the
/config (and a completed /state) of every resource their jobs' params
reach, with the seeds' ids: the VPN gateway, its VPN interface and
service, the downlink HA interface, its HA router and edge routers, their
interfaces, the ToR ports they are cabled to, the network and its subnet.
"""

import json

from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures

PROJECT = '0b576f6f4cbf414f829cd12f008bf08f'
GW_ID = 'fbd7d07e-9e84-4ad7-ab85-36d46adb9435'
PORT_ID = '33907bcb-8689-425d-a700-fe8acfd94aed'
LPORT_ID = 'ef450536-01c9-4380-a34d-a1ae56e0447e'
VPN_GW = '4fab887d-8f73-40e6-b2d8-2426255231bf'
VPN_INTERFACE = '0bea303d-b6eb-4edc-83ef-e32f915d3047'
VPN_SERVICE = '72b05fe5-88c6-4888-a6fb-feb793fffae8'
DOWNLINK = 'a3a62a37-5657-4822-98e0-991ab63f0e96'
HA_ROUTER = 'f01ed0a6-7094-4e54-b14b-94657fff1efb'
PRIMARY_ROUTER = '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'
SECONDARY_ROUTER = '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e'
PRIMARY_IF = '8ff57ce4-55f9-40d4-82ed-1f00c9051678'
SECONDARY_IF = '6b160a8d-fdad-4fe7-aaed-3ff5f729d6c8'
ESE_DEVICE = '5314fffc-6c86-4410-a64b-5386286ac629'
PRIMARY_TOR = 'eec156b0-7317-48dd-b76c-019c0758e99d'
# The seeds show only the first ToR port (CreateEsePhysicalPort_01).
SECONDARY_TOR = '9d3e6a3c-2b8f-4c1e-9a57-0d6f3b7c2e11'
NETWORK = 'bb69041d-c654-4e9f-a763-afd4333275bc'
SUBNET = 'b4f0c956-2fe0-4634-b7c8-22bfd8095aaf'

# The interface as a stack gives it (CreateGwInterface_01's POST).
PROPERTIES = {
    'name': 'sample-gw-interface', 'description': 'Sample Gw-interface',
    'service_type': 'vpn', 'vpn_gw_id': VPN_GW, 'network_id': NETWORK,
    'vrid': 20, 'gw_vipv4': '172.16.101.151',
    'primary_ipv4': '172.16.101.152', 'secondary_ipv4': '172.16.101.153',
    'netmask': 24,
}
# ESI's params that name a device's credentials: not in heat-esi's jobs
# (NetconfNamedConfigs and vrrp_session read them from /config).
CREDENTIALS = ('primary_device_username', 'primary_device_password',
               'secondary_device_username', 'secondary_device_password',
               'primary_device_login', 'secondary_device_login')


def points(document):
    """{'(1)': [(key, value), ...], ...}: every block of each point."""
    return esi_fixtures.seed_points(document)


def config(document):
    """The body of the document's point (1)."""
    return points(document)['(1)'][0][1]['body']


def jobs(document):
    """{handler: job} of the document's point (2)."""
    return {value[0]: value[1] for _key, value in points(document)['(2)']}


def without_credentials(params):
    return [p for p in params if p['param'] not in CREDENTIALS]


def world():
    """{(esi_type, id): body} of what the gw_interface's params reach."""
    found = {
        ('vpn_gateway', VPN_GW): dict(
            config('CreateVpnGateway_01.md'),
            connected_vpn_interface=VPN_INTERFACE),
        ('vpn_interface', VPN_INTERFACE): config(
            'CreateVpnInterface_01.md'),
        ('vpn_service', VPN_SERVICE): config('CreateVpnService_01.md'),
        ('ha_interface', DOWNLINK): {
            'id': DOWNLINK, 'name': 'sample-ha-router-downlink',
            'ha_router_id': HA_ROUTER, 'primary_interface_id': PRIMARY_IF,
            'secondary_interface_id': SECONDARY_IF, 'link_type': 'downlink'},
        ('ha_router', HA_ROUTER): {
            'id': HA_ROUTER, 'name': 'sample-ha-router',
            'primary_router_id': PRIMARY_ROUTER,
            'secondary_router_id': SECONDARY_ROUTER},
        ('edge_router', PRIMARY_ROUTER): {
            'id': PRIMARY_ROUTER, 'name': 'vMX1', 'ip': '10.79.5.185',
            'ssh_port': 830, 'login': 'esi', 'password': 'esiesi0000'},
        ('edge_router', SECONDARY_ROUTER): {
            'id': SECONDARY_ROUTER, 'name': 'vMX2', 'ip': '10.79.5.184',
            'ssh_port': 830, 'login': 'esi', 'password': 'esiesi0000'},
        ('er_physical_interface', PRIMARY_IF): {
            'id': PRIMARY_IF, 'name': 'ae0', 'device_id': PRIMARY_ROUTER,
            'connected_ese_port_id': PRIMARY_TOR},
        ('er_physical_interface', SECONDARY_IF): {
            'id': SECONDARY_IF, 'name': 'ae0', 'device_id': SECONDARY_ROUTER,
            'connected_ese_port_id': SECONDARY_TOR},
        ('ese_device', ESE_DEVICE): config('CreateEseDevice_01.md'),
        ('ese_physical_port', PRIMARY_TOR): config(
            'CreateEsePhysicalPort_01.md'),
        ('ese_physical_port', SECONDARY_TOR): dict(
            config('CreateEsePhysicalPort_01.md'), id=SECONDARY_TOR,
            name='xe-0/0/4'),
        ('network', NETWORK): config('CreateNetwork_01.md'),
        ('subnet', SUBNET): config('CreateSubnet_01.md'),
    }
    for (_type, rid), body in found.items():
        body.setdefault('tenant_id', PROJECT)
        body.setdefault('status', 'ACTIVE')
    return found


def write_world(client, **changes):
    """Write world() into *client*: each /config, and a completed /state.

    :param changes: {esi_type: {field: value}} changed in its bodies.
    """
    for (esi_type, rid), body in world().items():
        body = dict(body, **changes.get(esi_type, {}))
        client.put(keys.config(esi_type, rid), records.config(body, 1))
        client.put(keys.state(esi_type, rid),
                   records.state('CREATE_COMPLETED', 1, {}))


def with_ids(value, pairs):
    """*value* with each id of [(old, new)] replaced."""
    text = json.dumps(value)
    for old, new in pairs:
        text = text.replace(old, new)
    return json.loads(text)

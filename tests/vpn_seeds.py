"""ESI's VPN seed documents, and the HA infrastructure they stand on.

CreateVpnGateway_01 and CreateVpnInterface_01 (tests/fixtures) name the
seed's HA router, its two edge routers, its four physical interfaces and
its uplink and downlink HA interfaces, and CreateVpnService_01 /
CreateQosOption_01 the catalog. WORLD is all of them as their creates leave
them: the seeds' own bodies where a document shows one (the uplink HA
interface, the secondary edge router, the HA router, the primary uplink
interface), the others made alike with the values the VPN documents show
(10.79.5.185, ae0, "sample-ha-router-downlink" whose restricted_vlans
0-1024,4094 make 1025 its first free VLAN).
"""

import json
import os
import re

from heat_esi import keys
from heat_esi import records
from heat_esi import vlans
from tests import esi_fixtures

PROJECT = '0b576f6f4cbf414f829cd12f008bf08f'
SERVICE = '72b05fe5-88c6-4888-a6fb-feb793fffae8'
QOS = '4f59680b-52b6-41da-b15a-09946c155efd'
HA_ROUTER = 'f01ed0a6-7094-4e54-b14b-94657fff1efb'
PRIMARY, SECONDARY = ('792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198',
                      '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e')
UPLINK, DOWNLINK = ('5e552b8f-cd5a-454c-a224-33f7da0afa24',
                    'a3a62a37-5657-4822-98e0-991ab63f0e96')
PRIMARY_UP, SECONDARY_UP = ('6e8f473f-47ec-4b54-8f0f-d459d440393b',
                            'f87c6efe-f590-4c29-8fc9-2f914e1eb362')
PRIMARY_DOWN, SECONDARY_DOWN = ('8ff57ce4-55f9-40d4-82ed-1f00c9051678',
                                '6b160a8d-fdad-4fe7-aaed-3ff5f729d6c8')
GATEWAY = '4fab887d-8f73-40e6-b2d8-2426255231bf'
INTERFACE = '0bea303d-b6eb-4edc-83ef-e32f915d3047'

DOCUMENTS = {
    'vpn_gateway': 'CreateVpnGateway_01.md',
    'vpn_interface': 'CreateVpnInterface_01.md',
    'vpn_service': 'CreateVpnService_01.md',
    'qos_option': 'CreateQosOption_01.md',
    'ha_interface': 'CreateHaInterface_01.md',
    'edge_router': 'CreateEdgeRouter_02.md',
    'ha_router': 'CreateHaRouter_01.md',
    'er_physical_interface': 'CreateErPhysicalInterface_01.md',
}

# The properties of each seed's resource, as a stack gives them.
SEED_PROPERTIES = {
    'vpn_gateway': {
        'name': 'sample-vpn-gateway',
        'description': 'this resource is vpn-gateway',
        'vpn_service_id': SERVICE, 'qos_option_id': QOS,
        'uplink_vlan_id': 122, 'local_as_number': 65101,
        'maximum_static_routes': 32},
    'vpn_interface': {
        'name': 'sample-vpn-interface',
        'description': 'Sample Vpn-interface',
        'vpn_gw_id': GATEWAY, 'bgp_remote_as': 9598, 'bgp_md5': 'test',
        'primary': {'ip_address': '192.168.8.2/30',
                    'bgp_peer_ip': '192.168.8.1',
                    'bgp_router_id': '192.168.8.2'},
        'secondary': {'ip_address': '192.168.8.6/30',
                      'bgp_peer_ip': '192.168.8.5',
                      'bgp_router_id': '192.168.8.6'}},
}
RESOURCE_TYPES = {'vpn_gateway': 'ESI::VpnGateway',
                  'vpn_interface': 'ESI::VpnInterface'}


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


def jobs(esi_type):
    """{handler: job} of the document's point (2)."""
    return {value[0]: value[1] for _key, value in points(esi_type)['(2)']}


def _downlink():
    _rid, uplink = config('ha_interface')
    pool_state, available = vlans.pool(vlans.parse('0-1024,4094'))
    return dict(uplink, id=DOWNLINK, name='sample-ha-router-downlink',
                link_type='downlink', restricted_vlans='0-1024,4094',
                vlan_pool_state=pool_state, vlan_ids_available=available,
                primary_interface_id=PRIMARY_DOWN,
                secondary_interface_id=SECONDARY_DOWN)


def world():
    """{(esi_type, id): body} of the HA infrastructure and the catalog."""
    _rid, secondary = config('edge_router')
    _rid, interface = config('er_physical_interface')
    found = {
        ('edge_router', SECONDARY): secondary,
        ('edge_router', PRIMARY): dict(secondary, id=PRIMARY,
                                       name='vMX-router-02',
                                       ip='10.79.5.185',
                                       description='MX80 #2'),
        ('ha_router', HA_ROUTER): config('ha_router')[1],
        ('ha_interface', UPLINK): config('ha_interface')[1],
        ('ha_interface', DOWNLINK): _downlink(),
        ('vpn_service', SERVICE): config('vpn_service')[1],
        ('qos_option', QOS): config('qos_option')[1],
    }
    for rid, device, name in ((PRIMARY_UP, PRIMARY, 'ge-0/0/1'),
                              (SECONDARY_UP, SECONDARY, 'ge-0/0/1'),
                              (PRIMARY_DOWN, PRIMARY, 'ae0'),
                              (SECONDARY_DOWN, SECONDARY, 'ae0')):
        found[('er_physical_interface', rid)] = dict(
            interface, id=rid, device_id=device, name=name)
    return found


def put_world(client, project=PROJECT):
    """Write WORLD's /config (version 1), each of *project*."""
    for (esi_type, rid), body in world().items():
        client.put(keys.config(esi_type, rid),
                   records.config(dict(body, tenant_id=project), 1))


def with_id(value, old, new):
    """*value* with every occurrence of the id *old* replaced by *new*."""
    return json.loads(json.dumps(value).replace(old, new))


def without_device_logins(params):
    """The seed's params less the devices' usernames, logins, passwords.

    heat-esi's by design (NetconfNamedConfigs and bgp_session read them
    from the edge router's /config).
    """
    return [p for p in params
            if not re.match(r'(primary|secondary)_device_'
                            r'(username|password|login)$', p['param'])]

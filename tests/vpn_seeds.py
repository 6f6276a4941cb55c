"""ESI's VPN seed documents, the HA infrastructure they stand on, a fake.

CreateVpnGateway_01 and CreateVpnInterface_01 (tests/fixtures) name the
seed's HA router, its two edge routers, its four physical interfaces and
its uplink and downlink HA interfaces, CreateVpnService_01 /
CreateQosOption_01 the catalog, and CreateStaticRoute_01 the gateway.
WORLD is all of them as their creates leave them: the seeds' own bodies
where a document shows one (the uplink HA interface, the secondary edge
router, the HA router, the primary uplink interface), the others made
alike with the values the VPN documents show (10.79.5.185, ae0,
"sample-ha-router-downlink" whose restricted_vlans 0-1024,4094 make 1025
its first free VLAN).

fake_etcd() and resource_maker() are the unit tests' heat-engine: a fake
etcd holding the shipped templates and a world, and resources of one type
in stacks of their own.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import contextlib
import json
import re
import uuid

from heat_esi import client as esi_client
from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from heat_esi import vlans
from tests import esi_fixtures
from tests import fakes

PROJECT = esi_fixtures.PROJECT
SERVICE = '72b05fe5-88c6-4888-a6fb-feb793fffae8'
QOS = '4f59680b-52b6-41da-b15a-09946c155efd'
HA_ROUTER = 'f01ed0a6-7094-4e54-b14b-94657fff1efb'
PRIMARY, SECONDARY = esi_fixtures.PRIMARY, esi_fixtures.SECONDARY
UPLINK, DOWNLINK = ('5e552b8f-cd5a-454c-a224-33f7da0afa24',
                    'a3a62a37-5657-4822-98e0-991ab63f0e96')
PRIMARY_UP, SECONDARY_UP = ('6e8f473f-47ec-4b54-8f0f-d459d440393b',
                            'f87c6efe-f590-4c29-8fc9-2f914e1eb362')
PRIMARY_DOWN, SECONDARY_DOWN = ('8ff57ce4-55f9-40d4-82ed-1f00c9051678',
                                '6b160a8d-fdad-4fe7-aaed-3ff5f729d6c8')
GATEWAY = '4fab887d-8f73-40e6-b2d8-2426255231bf'
INTERFACE = '0bea303d-b6eb-4edc-83ef-e32f915d3047'
# ESI's device credentials: in the routers' /config, never in a job.
LOGIN, PASSWORD = 'esi', 'esiesi0000'

DOCUMENTS = {
    'vpn_gateway': 'CreateVpnGateway_01.md',
    'vpn_interface': 'CreateVpnInterface_01.md',
    'vpn_service': 'CreateVpnService_01.md',
    'qos_option': 'CreateQosOption_01.md',
    'ha_interface': 'CreateHaInterface_01.md',
    'edge_router': 'CreateEdgeRouter_02.md',
    'ha_router': 'CreateHaRouter_01.md',
    'er_physical_interface': 'CreateErPhysicalInterface_01.md',
    'static_route': 'CreateStaticRoute_01.md',
}

# The properties of each seed's resource, as a stack gives them: the
# fields of its POST (esi-vpn-run/07 to 10, 14).
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
RESOURCE_TYPES = {'vpn_gateway': 'ESI::VpnGateway',
                  'vpn_interface': 'ESI::VpnInterface',
                  'vpn_service': 'ESI::VpnService',
                  'qos_option': 'ESI::QosOption',
                  'static_route': 'ESI::StaticRoute'}
# The types of the catalog and the gateway's routes (not HA-specific).
CATALOG = ('vpn_service', 'qos_option', 'static_route')


def points(esi_type):
    """{'(1)': [(key, value), ...], ...}: every block of each point."""
    return esi_fixtures.seed_points(DOCUMENTS[esi_type])


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


def put_gateway(client):
    """Write CreateVpnGateway_01's gateway /config (point (1)) alone."""
    rid, body = config('vpn_gateway')
    client.put(keys.config('vpn_gateway', rid), records.config(body, 1))
    return body


def infrastructure():
    """[(type, body)] of WORLD's HA gateway: the catalog's ground.

    The primary and the secondary edge router, the HA router, its uplink
    and its downlink HA interface.
    """
    found = world()
    return [(esi_type, found[(esi_type, rid)]) for esi_type, rid in (
        ('edge_router', PRIMARY), ('edge_router', SECONDARY),
        ('ha_router', HA_ROUTER), ('ha_interface', UPLINK),
        ('ha_interface', DOWNLINK))]


def register_infrastructure(client):
    """Write infrastructure() with the /state its creates leave."""
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


def _put(client, esi_type, body, state):
    client.put(keys.config(esi_type, body['id']), records.config(body, 1))
    client.put(keys.state(esi_type, body['id']), state)


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


def netconf_properties(hot):
    """{device: properties} of a VPN stack's two NETCONF resources.

    Asserted on the way: the stack (a heat_worker's render, parsed) has
    netconf_configure_primary and _secondary only, each an
    OS::Contrail::NetconfNamedConfigs given its device's address and port
    as the stack parameters <device>_device_ip and <device>_device_port.
    """
    assert sorted(hot['resources']) == ['netconf_configure_primary',
                                        'netconf_configure_secondary']
    found = {}
    for device in ('primary', 'secondary'):
        res = hot['resources']['netconf_configure_%s' % device]
        assert res['type'] == 'OS::Contrail::NetconfNamedConfigs'
        props = found[device] = res['properties']
        assert props['device_ip'] == {'get_param': '%s_device_ip' % device}
        assert props['device_port'] == {
            'get_param': '%s_device_port' % device}
    return found


# --- the unit tests' heat-engine --------------------------------------------

@contextlib.contextmanager
def fake_etcd(monkeypatch, *writers):
    """heat-engine's fake etcd: the shipped templates, then writer(fake)s.

    The in-process Heat engine is set up, and heat_esi.client gives it the
    fake (through *monkeypatch*, pytest's); the endpoint is the fake's own,
    so that no other test's client is shared.
    """
    fake = fakes.FakeEtcd(
        endpoints=['http://fake-etcd-%s:2379' % uuid.uuid4().hex[:8]],
        max_watch_wait=0.05)
    try:
        heat_engine.setup(0)
        monkeypatch.setattr(esi_client, 'etcd_client', lambda: fake)
        templates.store(fake, templates.load_dir())
        for write in writers:
            write(fake)
        yield fake
    finally:
        fake.close()


def resource_maker(resource_type, properties, name='res', project=PROJECT):
    """make(**props): a *resource_type* in a stack of its own.

    Its properties are *properties* updated by *props*; the stack is of
    *project*, and kept here: a resource holds its stack by a weak
    reference only.
    """
    stacks = []

    def make(**props):
        stacks.append(heat_engine.stack({
            'heat_template_version': '2018-08-31',
            'resources': {name: {'type': resource_type,
                                 'properties': dict(properties, **props)}}},
            ctx=heat_engine.context(project_id=project)))
        return stacks[-1][name]
    return make

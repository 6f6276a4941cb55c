"""`heat-esi demo`, the main job, run as a user runs it."""

import os
import re
import subprocess
import sys

import psutil

from heat_esi import keys
from heat_esi import records
from heat_esi import templates

DEMO = [os.path.join(os.path.dirname(sys.executable), 'heat-esi')]


def children_of_me():
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_demo_with_its_own_etcd_runs_and_cleans_up():
    before = children_of_me()
    result = subprocess.run(DEMO + ['demo'], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert 'SIMULATED' in out
    for point in ('(1)', '(2)', '(3)', '(4)'):
        assert 'at the point of %s in etcd' % point in out
    assert '"worker_state": "CREATE_COMPLETED"' in out
    assert 'stack ha-router-demo: CREATE_COMPLETE' in out
    assert 'stack ha-router-demo: DELETE_COMPLETE' in out
    assert 'left in etcd: none' in out
    assert children_of_me() == before      # its etcd is stopped


def test_demo_on_an_existing_etcd_leaves_only_what_was_there(
        etcd_client, etcd_server):
    etcd_client.put('/somebody/else', 'keep me')
    # Someone's own heat_template, and a job of a production router that
    # no worker has taken yet: the demo's worker must leave both alone.
    body = templates.load_dir()['ha_router_monitoring']
    body['template_file'] += '# the operator\'s own copy\n'
    templates.store(etcd_client, {'ha_router_monitoring': body})
    rid = 'f3e4b1c2-0000-4000-8000-00000000beef'
    config = {'id': rid, 'ip': '127.0.0.9', 'tenant_id': 'production',
              'status': 'PENDING_CREATE'}
    job_id, job = records.job('create', 'monitoring_worker', 'edge_router',
                              rid, 1, [], config)
    etcd_client.put(keys.config('edge_router', rid),
                    records.config(config, 1))
    etcd_client.put(keys.job(job_id), job)
    before = sorted((kv.key, kv.value, kv.mod_revision)
                    for kv in etcd_client.get_prefix('/')[0])

    result = subprocess.run(DEMO + ['--etcd-url', etcd_server.url, 'demo'],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    after = sorted((kv.key, kv.value, kv.mod_revision)
                   for kv in etcd_client.get_prefix('/')[0])
    assert after == before
    assert 'ha_router_monitoring (kept)' in result.stdout


GATEWAY_PARTS = (('primary_router', 'edge_routers', True),
                 ('secondary_router', 'edge_routers', True),
                 ('primary_uplink', 'er_physical_interfaces', True),
                 ('primary_downlink', 'er_physical_interfaces', True),
                 ('secondary_uplink', 'er_physical_interfaces', True),
                 ('secondary_downlink', 'er_physical_interfaces', True),
                 ('ha_router', 'ha_routers', False),
                 ('uplink', 'ha_interfaces', False),
                 ('downlink', 'ha_interfaces', False))


def test_demo_gateway_shows_every_part_and_cleans_up():
    before = children_of_me()
    result = subprocess.run(DEMO + ['demo', '--gateway'], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert 'devices: SIMULATED' in out
    assert 'stack ha-gateway-demo: CREATE_COMPLETE' in out
    # Each part, then its points: (1) to (4), and (5) where a device is
    # polled; every point shows a key of the part's type.
    sections = re.split(r'^## ', out, flags=re.M)[1:]
    assert [s.split(':', 1)[0] for s in sections] == [
        name for name, _, _ in GATEWAY_PARTS]
    for section, (name, plural, polled) in zip(sections, GATEWAY_PARTS):
        points = re.findall(r'at the point of (\(\d\)) in etcd\n(\S+)',
                            section)
        expected = ['(1)', '(2)', '(3)', '(4)'] + (['(5)'] if polled
                                                   else [])
        assert [p for p, _ in points] == expected, section
        rid = section.split('\n', 1)[0].rsplit(' ', 1)[1]
        for point, key in points:
            assert rid in key and (plural in key or point == '(2)'), key
        assert '"worker_state": "CREATE_COMPLETED"' in section
        if polled:
            assert re.search(r'"(router|interface)": "UP"', section), section
    assert 'stack ha-gateway-demo: DELETE_COMPLETE' in out
    assert 'left in etcd: none' in out
    assert children_of_me() == before      # its etcd is stopped


# The points of ESI's documents CreateNetwork_01 and CreateSubnet_01 that
# the demo shows a key of, the network's (7) (/monitoring, written by the
# monitor from the network's stack) included.
NETWORK_POINTS = {
    'network': ['(1)', '(2)', '(3)', '(4)', '(5)', '(6)', '(7)'],
    'subnet': ['(1)', '(2)', '(3)', '(4)', '(5)'],
}


def test_demo_network_runs_both_handlers_and_leaves_nothing():
    before = children_of_me()
    result = subprocess.run(DEMO + ['demo', '--network'],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert 'Contrail: SIMULATED' in out
    assert 'stack tenant-network-demo: CREATE_COMPLETE' in out
    sections = re.split(r'^## ', out, flags=re.M)[1:]
    assert [s.split(' ', 1)[0] for s in sections] == ['network', 'subnet']
    rids = {}
    for section in sections:
        esi_type, rid = section.split('\n', 1)[0].split(' ')
        rids[esi_type] = rid
        points = re.findall(r'at the point of (\(\d\)) in etcd\n'
                            r'(?:\* Jobs for \w+\n)?(/\S+)', section)
        assert [p for p, _ in points] == NETWORK_POINTS[esi_type], section
        for point, key in points:
            assert rid in key, key
        # Each resource's own stack, made by the heat_worker, and its
        # outputs handed on to /state.
        assert '"stack_id": "%s_%s"' % (esi_type, rid) in section
        assert '"stack_status": "CREATE_COMPLETE"' in section
        assert '"worker_state": "CREATE_COMPLETED"' in section
        assert '"heat_outputs": ' in section
    network, subnet = sections
    # The network's two jobs: the heat_worker's, then the monitoring's.
    assert re.findall(r'\* Jobs for (\w+)', network) == [
        'heat_worker', 'monitoring_worker']
    assert re.findall(r'\* Jobs for (\w+)', subnet) == ['heat_worker']
    assert '"state_monitoring": ' in network
    assert re.search(r'point of \(7\) in etcd\n/monitoring/\S+\n'
                     r'\{[^}]*"network": "UP"', network), network
    # The stacks of the project: the demo's and one per resource.
    listing = out.split('# the demo\'s stack and the worker\'s', 1)[1]
    listing = listing.split('openstack stack delete', 1)[0]
    for name in ('tenant-network-demo', 'network_' + rids['network'],
                 'subnet_' + rids['subnet']):
        assert re.search(r'^  %s +CREATE_COMPLETE$' % name, listing,
                         flags=re.M), listing
    assert 'stack tenant-network-demo: DELETE_COMPLETE' in out
    assert 'left in etcd: none' in out
    assert 'Heat stacks left: none' in out
    assert children_of_me() == before      # its etcd is stopped


def test_demo_network_on_an_existing_etcd_leaves_only_what_was_there(
        etcd_client, etcd_server):
    etcd_client.put('/somebody/else', 'keep me')
    before = sorted((kv.key, kv.value, kv.mod_revision)
                    for kv in etcd_client.get_prefix('/')[0])
    result = subprocess.run(
        DEMO + ['--etcd-url', etcd_server.url, 'demo', '--network'],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Heat stacks left: none' in result.stdout
    after = sorted((kv.key, kv.value, kv.mod_revision)
                   for kv in etcd_client.get_prefix('/')[0])
    assert after == before


# The parts demo --vpn shows, in order, and the points of ESI's documents
# it shows a key of: the catalog's two (CreateVpnService_01,
# CreateQosOption_01), then the tenant's (CreateVpnGateway_01 ...
# CreateStaticRoute_01; a gateway interface's two ports and two logical
# ports follow it, CreateGwInterface_02 and _03).
VPN_PARTS = ['vpn_service', 'qos_option', 'vpn_gateway', 'vpn_interface',
             'network', 'subnet', 'gw_interface', 'port', 'port',
             'ese_logical_port', 'ese_logical_port', 'static_route']
VPN_POINTS = {
    'vpn_service': ['(1)', '(2)'],
    'qos_option': ['(1)', '(2)'],
    'vpn_gateway': ['(1)', '(2)', '(3)', '(4)', '(5)', '(6)'],
    'vpn_interface': ['(1)', '(2)', '(3)', '(4)', '(5)', '(6)', '(7)'],
    'network': ['(1)', '(2)', '(3)', '(4)', '(5)', '(6)', '(7)'],
    'subnet': ['(1)', '(2)', '(3)', '(4)', '(5)'],
    'gw_interface': ['(1)', '(2)', '(3)', '(4)', '(5)', '(6)', '(7)'],
    'port': ['(1)', '(2)', '(3)', '(4)', '(5)', '(6)'],
    # (7), /monitoring: in ESI's watcher log, not in its document.
    'ese_logical_port': ['(1)', '(2)', '(3)', '(4)', '(5)', '(6)', '(7)'],
    'static_route': ['(1)', '(2)', '(3)', '(4)', '(5)'],
}


def test_demo_vpn_configures_both_routers_and_leaves_nothing():
    # The README's command is this one, through tox.
    with open(os.path.join(os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))), 'README.md')) as f:
        assert 'python3 -m tox -e demo -- --vpn ' in f.read()
    before = children_of_me()
    result = subprocess.run(DEMO + ['demo', '--vpn'], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # What is simulated, said plainly.
    for said in ('edge routers: SIMULATED by two NETCONF test devices',
                 'SNMP checks: SIMULATED', 'Contrail: SIMULATED'):
        assert said in out
    assert 'stack vpn-gateway-demo: CREATE_COMPLETE' in out
    # The hidden parameters are masked where the commands are shown.
    assert '--parameter bgp_md5=****** ' in out
    assert '--parameter password=****** ' in out
    parts = [s for s in re.split(r'^## ', out, flags=re.M)[1:]
             if s.split(' ', 1)[0] in VPN_POINTS]
    assert [s.split(' ', 1)[0] for s in parts] == VPN_PARTS
    for section in parts:
        esi_type, rid = section.split('\n', 1)[0].split(' ')
        points = re.findall(r'at the point of (\(\d\)) in etcd\n'
                            r'(?:\* Jobs for \w+\n)?(/\S+)', section)
        assert [p for p, _ in points] == VPN_POINTS[esi_type], section
        for _, key in points:
            assert rid in key, key
    sections = dict((s.split(' ', 1)[0], s) for s in parts)
    assert '"worker_state": "READ_COMPLETE"' in sections['vpn_service']
    # The BGP sessions and the VRRP groups, as the monitor found them on
    # the routers.
    assert re.search(r'point of \(7\) in etcd\n/monitoring/\S+\n\{[^}]*'
                     r'"primary": "ESTABLISHED"', sections['vpn_interface'])
    assert re.search(r'point of \(7\) in etcd\n/monitoring/\S+\n\{[^}]*'
                     r'"primary": "MASTER"', sections['gw_interface'])
    # The gateway's second version, once its VPN interface exists.
    assert '### Later version of vpn_gateway' in sections['vpn_gateway']
    # Each router's running configuration, after the create, holds every
    # part's; after the delete, only what it held before.
    routers = re.findall(r'^## (primary|secondary) router \S+, running '
                         r'configuration after the create\n(.*?)(?=^#|\Z)',
                         out, flags=re.M | re.S)
    assert [role for role, _ in routers] == ['primary', 'secondary']
    for role, text in routers:
        for fragment in ('unit 122', 'unit 1025',
                         'vrf_gw_sample-ha-router-downlink_1025',
                         'vrrp-group', 'FILTER_10M-GA-UP-VPN', 'static',
                         # The BGP key, as JUNOS shows one.
                         'authentication-key "********"; ## SECRET-DATA'):
            assert fragment in text, (role, fragment, text)
    assert len(re.findall(r'running configuration after the delete\n'
                          r'\(the same as before the VPN gateway', out)) == 2
    assert 'routers with configuration of the VPN gateway left: none' in out
    assert 'secrets outside /config: none' in out
    assert 'worker stacks left: none' in out
    # The tenant's stack and the operator's three, each leaving no key.
    assert out.count('left in etcd: none') == 4
    assert children_of_me() == before      # its etcd is stopped

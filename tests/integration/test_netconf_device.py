"""The NETCONF test device and heat_esi.netconf.Device against each other.

Real NETCONF over SSH on loopback: ncclient (through heat_esi.netconf) on
one side, the paramiko server of heat_esi/simulated/netconf_device.py on
the other.
"""

import subprocess
import sys
import threading

from lxml import etree
import pytest

from heat_esi import exceptions
from heat_esi import junos
from heat_esi import netconf
from tests import netconf_devices

GATEWAY = '''apply-groups VPNGW2-VRRP
vlan-id 1025;
description vpn_gw;
family inet {
    filter {
        input FILTER_10M-GA-UP-VPN;
        output FILTER_10M-GA-DOWN-VPN;
    }
}
'''
UNIT_PATH = [
    {'config_type': 'tag', 'xml_type': 'tag', 'tag': 'interfaces'},
    {'config_type': 'name', 'xml_type': 'named_tag', 'tag': 'interface',
     'name': 'ae0'},
    {'config_type': 'named_tag', 'xml_type': 'named_tag', 'tag': 'unit',
     'name': '1025'},
]


@pytest.fixture
def device():
    started = netconf_devices.start()
    yield started
    started.stop()


def client(device, password=netconf_devices.PASSWORD, **kwargs):
    return netconf.Device('127.0.0.1', device.port, 'esi', password,
                          netconf.HostKeyPolicy(verify=False), timeout=10,
                          **kwargs)


def test_apply_then_remove_leaves_the_router_as_it_was(device):
    # The router's own: the physical interface the unit goes in exists.
    device.load_running('system { host-name mx1; }\n'
                        'interfaces { interface ae0 { description lag; } }')
    before = etree.tostring(device.running())
    top, _ = junos.place(GATEWAY, UNIT_PATH)
    client(device).apply([top], lock_timeout=5)
    unit = device.running().find(
        'interfaces/interface[name="ae0"]/unit[name="1025"]')
    assert unit is not None, device.running_text()
    assert unit.findtext('vlan-id') == '1025'
    assert unit.findtext('apply-groups') == 'VPNGW2-VRRP'
    assert unit.findtext('family/inet/filter/input') == \
        'FILTER_10M-GA-UP-VPN'
    assert device.running().findtext('system/host-name') == 'mx1'
    # The lock was released and the candidate is the running one.
    assert device._lock_owner is None
    assert client(device).remove(junos.removal_chains(GATEWAY, UNIT_PATH))
    assert etree.tostring(device.running()) == before, device.running_text()
    # Gone already is done: nothing to commit.
    commits = device.counts['commits']
    assert not client(device).remove(junos.removal_chains(GATEWAY,
                                                          UNIT_PATH))
    assert device.counts['commits'] == commits


def test_a_shared_container_loses_only_the_fragments_statements(device):
    device.load_running('routing-instances { instance vrf1 { '
                        'routing-options { static { route 0.0.0.0/0 { '
                        'next-hop 10.0.0.1; } } } } }')
    path = [{'xml_type': 'tag', 'tag': 'routing-instances'},
            {'xml_type': 'named_tag', 'tag': 'instance', 'name': 'vrf1'},
            {'xml_type': 'tag', 'tag': 'routing-options'}]
    text = 'router-id 10.1.1.1;\nautonomous-system 65101;\n'
    client(device).apply([junos.place(text, path)[0]])
    options = device.running().find(
        'routing-instances/instance/routing-options')
    assert options.findtext('router-id') == '10.1.1.1'
    client(device).remove(junos.removal_chains(text, path))
    options = device.running().find(
        'routing-instances/instance/routing-options')
    assert options.find('router-id') is None
    assert options.find('autonomous-system') is None
    assert options.find('static/route') is not None


def test_a_refused_commit_fails_with_the_devices_message(device):
    device.refuse_next_commit('error: VLAN 1025 is in use by ae0.99')
    top, _ = junos.place(GATEWAY, UNIT_PATH)
    with pytest.raises(exceptions.NetconfRefused) as caught:
        client(device).apply([top], lock_timeout=5)
    assert 'VLAN 1025 is in use by ae0.99' in str(caught.value)
    assert '127.0.0.1:%d' % device.port in str(caught.value)
    # Discarded and unlocked: nothing left in either configuration.
    assert len(device.running()) == 0
    assert len(device.candidate()) == 0
    assert device._lock_owner is None
    # The marker refuses every commit that holds it.
    bad, _ = junos.place('description %s;' % device.refuse_marker,
                         UNIT_PATH)
    with pytest.raises(exceptions.NetconfRefused) as caught:
        client(device).apply([bad])
    assert device.refuse_marker in str(caught.value)


def test_bad_credentials_are_a_clear_error_without_the_password(device):
    with pytest.raises(exceptions.NetconfAuthFailed) as caught:
        client(device, password='wrong-Pass-123').apply([])
    message = str(caught.value)
    assert 'login esi' in message and '127.0.0.1' in message
    assert 'wrong-Pass-123' not in message
    assert netconf_devices.PASSWORD not in message
    assert device.counts['auth_failures'] == 1


def test_the_host_key_is_checked_against_known_hosts(device, tmp_path):
    known = tmp_path / 'known_hosts'
    policy = netconf.HostKeyPolicy(verify=True, known_hosts_file=str(known))
    known.write_text('')
    unknown = netconf.Device('127.0.0.1', device.port, 'esi',
                             netconf_devices.PASSWORD, policy, timeout=10)
    with pytest.raises(exceptions.NetconfAuthFailed) as caught:
        unknown.get_config()
    assert 'host key is not known' in str(caught.value)
    known.write_text(device.known_hosts_line())
    assert unknown.get_config().tag == 'configuration'


def test_an_unreachable_router_is_a_clear_error():
    stopped = netconf_devices.start()
    port = stopped.port
    stopped.stop()
    with pytest.raises(exceptions.NetconfUnreachable) as caught:
        netconf.Device('127.0.0.1', port, 'esi', netconf_devices.PASSWORD,
                       netconf.HostKeyPolicy(verify=False),
                       timeout=5).get_config()
    assert '127.0.0.1:%d' % port in str(caught.value)


def test_a_held_lock_is_waited_for_then_fails_after_lock_timeout(device):
    from ncclient import manager
    holder = manager.connect(host='127.0.0.1', port=device.port,
                             username='esi',
                             password=netconf_devices.PASSWORD,
                             hostkey_verify=False, allow_agent=False,
                             look_for_keys=False, timeout=10)
    try:
        holder.lock('candidate')
        top, _ = junos.place(GATEWAY, UNIT_PATH)
        with pytest.raises(exceptions.NetconfRefused) as caught:
            client(device).apply([top], lock_timeout=0.5)
        assert 'locked' in str(caught.value)
        done = threading.Event()
        errors = []

        def apply():
            try:
                client(device).apply([top], lock_timeout=30)
            except Exception as exc:
                errors.append(exc)
            done.set()
        thread = threading.Thread(target=apply)
        thread.start()
        # The waiting session has tried at least once before the release.
        assert not done.wait(0.5)
        holder.unlock('candidate')
        assert done.wait(30)
        thread.join()
        assert not errors
        assert device.running().find('interfaces') is not None
    finally:
        holder.close_session()


def test_sessions_to_two_devices_at_once():
    first, second = netconf_devices.start('mx1'), netconf_devices.start('mx2')
    try:
        errors = []

        def apply(dev, vlan):
            path = UNIT_PATH[:2] + [dict(UNIT_PATH[2], name=str(vlan))]
            try:
                client(dev).apply([junos.place('vlan-id %d;' % vlan,
                                               path)[0]], lock_timeout=30)
            except Exception as exc:
                errors.append(exc)
        threads = [threading.Thread(target=apply, args=(dev, vlan))
                   for dev in (first, second) for vlan in (1, 2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        for dev in (first, second):
            units = dev.running().findall('interfaces/interface/unit')
            assert sorted(u.findtext('name') for u in units) == \
                ['1', '2', '3']
    finally:
        first.stop()
        second.stop()


def test_bgp_and_vrrp_states_follow_the_test(device):
    device.load_running(
        'interfaces { interface ae0 { unit 1025 { family inet { '
        'address 10.0.0.2/24 { vrrp-group 10 { virtual-address 10.0.0.1; '
        'priority 105; } } } } } }\n'
        'routing-instances { instance vrf1 { protocols { bgp { '
        'group CloudGW1 { peer-as 65000; neighbor 192.0.2.1; } } } } }')
    dev = client(device)
    info = dev.rpc('<get-bgp-summary-information/>')
    assert info.tag == 'bgp-information'
    peer = info.find('bgp-peer')
    assert peer.findtext('peer-address') == '192.0.2.1'
    assert peer.findtext('peer-state') == 'Established'
    device.set_bgp_peer('192.0.2.1', 'Active')
    assert dev.rpc('<get-bgp-summary-information/>').findtext(
        'bgp-peer/peer-state') == 'Active'
    vrrp = dev.rpc('<get-vrrp-information/>')
    entry = vrrp.find('vrrp-interface')
    assert entry.findtext('interface') == 'ae0.1025'
    assert entry.findtext('group') == '10'
    assert entry.findtext('vrrp-state') == 'master'
    device.set_vrrp('ae0.1025', 10, 'backup')
    assert dev.rpc('<get-vrrp-information/>').findtext(
        'vrrp-interface/vrrp-state') == 'backup'
    with pytest.raises(exceptions.NetconfRefused) as caught:
        dev.rpc('<get-no-such-thing/>')
    assert 'not supported' in str(caught.value)


def test_netconf_1_0_framing_is_served(device):
    """A client that offers base:1.0 only gets end-of-message framing."""
    import paramiko
    transport = paramiko.Transport(('127.0.0.1', device.port))
    try:
        transport.connect(username='esi', password=netconf_devices.PASSWORD)
        channel = transport.open_session()
        channel.invoke_subsystem('netconf')
        channel.sendall(
            b'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            b'<capabilities><capability>urn:ietf:params:netconf:base:1.0'
            b'</capability></capabilities></hello>]]>]]>'
            b'<rpc message-id="7" xmlns="urn:ietf:params:xml:ns:netconf:'
            b'base:1.0"><get-config><source><running/></source>'
            b'</get-config></rpc>]]>]]>')
        received = b''
        while received.count(b']]>]]>') < 2:
            data = channel.recv(65536)
            assert data
            received += data
        hello, reply = received.split(b']]>]]>')[:2]
        assert b'urn:ietf:params:netconf:base:1.1' in hello
        assert b'message-id="7"' in reply and b'<configuration' in reply
    finally:
        transport.close()


def test_the_command_line_device_prints_ready():
    process = subprocess.Popen(
        [sys.executable, '-m', 'heat_esi.simulated.netconf_device',
         '--port', '0', '--username', 'u', '--password', 'p-123'],
        stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith('ready 127.0.0.1:')
        port = int(line.rsplit(':', 1)[1])
        dev = netconf.Device('127.0.0.1', port, 'u', 'p-123',
                             netconf.HostKeyPolicy(verify=False), timeout=10)
        assert dev.get_config().tag == 'configuration'
    finally:
        process.terminate()
        assert process.wait(30) == 0


def test_concurrent_applies_to_one_router_wait_for_the_lock_and_all_land(
        device):
    """As many gateways created at once configure the same routers."""
    errors = []

    def apply(vlan):
        path = UNIT_PATH[:2] + [dict(UNIT_PATH[2], name=str(vlan))]
        try:
            client(device).apply([junos.place('vlan-id %d;' % vlan,
                                              path)[0]], lock_timeout=120)
        except Exception as exc:
            errors.append(exc)
    threads = [threading.Thread(target=apply, args=(vlan,))
               for vlan in range(1100, 1110)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(150)
    assert not errors
    units = device.running().findall('interfaces/interface/unit')
    assert sorted(u.findtext('name') for u in units) == [
        str(v) for v in range(1100, 1110)]
    assert device.counts['commits'] == 10

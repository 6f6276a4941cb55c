"""bgp_session and vrrp_session against a NETCONF test router.

The router's login and password are in its edge router's /config in a real
etcd; the elements are shaped as ESI's vpn_interface_monitoring and
gw_interface_monitoring templates render them (without login/password).
Flipping a session on the router changes what a job's check and a
monitor's poll answer.
"""

import threading

from oslo_config import cfg
import pytest
from stevedore import driver

from heat_esi import conf
from heat_esi import exceptions
from heat_esi.worker.plugins import netconf as plugins
from tests import esi_fixtures
from tests import netconf_devices

NEVER = threading.Event()
ROUTER = '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'
RUNNING = '''
interfaces { interface ae0 { unit 1025 { family inet {
    address 10.0.0.2/24 { vrrp-group 10 { virtual-address 10.0.0.1;
                                          priority 105; } } } } } }
routing-instances { instance vrf_gw_1025 { protocols { bgp {
    group CloudGW1 { peer-as 65000; neighbor 192.0.2.1; } } } } }
'''


@pytest.fixture
def router(etcd_client, tmp_path):
    device = netconf_devices.start('mx1', host='127.0.0.2')
    device.load_running(RUNNING)
    esi_fixtures.register(etcd_client, 'edge_router', ROUTER, name='mx1',
                          ip=device.host, ssh_port=device.port, login='esi',
                          password=netconf_devices.PASSWORD)
    known = tmp_path / 'known_hosts'
    known.write_text(device.known_hosts_line())
    config = cfg.ConfigOpts()
    conf.register_worker_opts(config)
    config([])
    config.set_override('known_hosts_file', str(known), group='netconf')
    config.set_override('timeout', 5, group='netconf')
    yield device, etcd_client, config
    device.stop()


def bgp(device, **props):
    return dict({'type': 'bgp_session', 'host': device.host,
                 'port': device.port, 'peer_address': '192.0.2.1',
                 'instance': 'vrf_gw_1025', 'timeout': 2,
                 'time_between_retries': 0.1}, **props)


def vrrp(device, **props):
    return dict({'type': 'vrrp_session', 'host': device.host,
                 'port': device.port, 'interface': 'ae0.1025', 'vrid': 10,
                 'wanted_status': 'master', 'timeout': 2,
                 'time_between_retries': 0.1}, **props)


def test_the_plugins_are_the_entry_points_of_esis_types():
    for name, cls in (('bgp_session', plugins.BgpSession),
                      ('vrrp_session', plugins.VrrpSession)):
        found = driver.DriverManager('heat_esi.monitoring_plugins', name,
                                     invoke_on_load=False).driver
        assert found.__name__ == cls.__name__
        assert found.__module__ == cls.__module__


def test_a_bgp_session_going_down_and_up(router):
    device, client, config = router
    plugin = plugins.BgpSession(client, config)
    assert plugin.check(bgp(device), NEVER) == 'ESTABLISHED'
    assert plugin.poll(bgp(device), NEVER) == ('ESTABLISHED', '')
    device.set_bgp_peer('192.0.2.1', 'Active')
    state, why = plugin.poll(bgp(device), NEVER)
    assert state == 'DOWN'
    assert why == 'the BGP session of 127.0.0.2:%d with 192.0.2.1 is ' \
        "'Active'" % device.port
    with pytest.raises(exceptions.JobFailed) as caught:
        plugin.check(bgp(device), NEVER)
    assert 'is \'Active\' after 2 s' in str(caught.value)
    device.set_bgp_peer('192.0.2.1', 'Established')
    assert plugin.poll(bgp(device), NEVER) == ('ESTABLISHED', '')
    # heat-esi's own spelling of the properties.
    assert plugin.poll({'device_ip': device.host, 'peer_ip': '192.0.2.1'},
                       NEVER) == ('ESTABLISHED', '')
    state, why = plugin.poll(bgp(device, peer_address='192.0.2.9'), NEVER)
    assert state == 'DOWN' and 'no BGP peer 192.0.2.9' in why


def test_a_vrrp_group_master_or_backup_as_wanted(router):
    device, client, config = router
    plugin = plugins.VrrpSession(client, config)
    assert plugin.check(vrrp(device), NEVER) == 'master'
    assert plugin.poll(vrrp(device), NEVER) == ('MASTER', '')
    state, why = plugin.poll(vrrp(device, wanted_status='backup'), NEVER)
    assert state == 'DOWN' and 'is \'master\', not backup' in why
    device.set_vrrp('ae0.1025', 10, 'backup')
    assert plugin.check(vrrp(device, wanted_status='backup'),
                        NEVER) == 'backup'
    assert plugin.poll(vrrp(device, wanted_status='backup'),
                       NEVER) == ('BACKUP', '')
    assert plugin.poll(vrrp(device), NEVER)[0] == 'DOWN'


def test_no_credentials_or_bad_ones_say_so_without_the_password(router):
    device, client, config = router
    plugin = plugins.BgpSession(client, config)
    with pytest.raises(exceptions.JobFailed) as caught:
        plugin.check(bgp(device, host='127.0.0.9'), NEVER)
    assert 'no edge router with ip 127.0.0.9' in str(caught.value)
    esi_fixtures.register(client, 'edge_router', ROUTER, name='mx1',
                          ip=device.host, ssh_port=device.port, login='esi',
                          password='Wr0ng-pass')
    state, why = plugin.poll(bgp(device), NEVER)
    assert state == 'DOWN' and 'refused the login esi' in why
    assert 'Wr0ng-pass' not in why
    # ESI's login/password properties are not used.
    state, why = plugin.poll(bgp(device, login='esi',
                                 password=netconf_devices.PASSWORD), NEVER)
    assert state == 'DOWN' and 'refused the login' in why

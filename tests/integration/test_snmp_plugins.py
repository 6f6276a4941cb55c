"""The SNMP resource plugins against a real snmpd on loopback."""

import re
import socket
import threading

from oslo_config import cfg
import pytest

from heat_esi import conf
from heat_esi import exceptions
from heat_esi.worker.plugins import snmp
from tests import snmp_agents


@pytest.fixture
def agent(tmp_path):
    port = snmp_agents.free_udp_port('127.0.0.2')
    started = snmp_agents.SnmpAgent(str(tmp_path), '127.0.0.2', port).start()
    yield started
    started.stop()


@pytest.fixture
def worker_conf(agent):
    config = cfg.ConfigOpts()
    conf.register_worker_opts(config)
    config([])
    config.set_override('port', agent.port, group='snmp')
    config.set_override('request_timeout', 0.3, group='snmp')
    config.set_override('uptime_interval', 0.3, group='snmp')
    config.set_override('communities',
                        {'C': snmp_agents.COMMUNITY, 'WRONG': 'nope'},
                        group='snmp')
    config.set_override('allowed_networks', ['127.0.0.0/8', '::1/128'],
                        group='snmp')
    return config


NEVER = threading.Event()


@pytest.mark.parametrize('plugin', [snmp.Router, snmp.Switch])
def test_router_and_switch_are_up_when_uptime_grows(worker_conf, plugin):
    check = plugin(None, worker_conf)
    props = {'ip': '127.0.0.2', 'community_name': 'C', 'mibs': []}
    assert check.check(props, NEVER) == 'ACTIVE'
    assert check.poll(props, NEVER) == ('UP', '')


def test_wrong_community_is_down_and_fails_naming_the_address(worker_conf):
    check = snmp.Router(None, worker_conf)
    props = {'ip': '127.0.0.2', 'community_name': 'WRONG', 'timeout': 0.5}
    assert check.poll(props, NEVER)[0] == 'DOWN'
    with pytest.raises(exceptions.JobFailed) as err:
        check.check(props, NEVER)
    assert 'router 127.0.0.2 is not UP after 0.5 s: no SNMP answer' in \
        str(err.value)
    assert 'nope' not in str(err.value)


def test_unknown_community_name_is_a_clear_error(worker_conf):
    check = snmp.Router(None, worker_conf)
    with pytest.raises(exceptions.JobFailed,
                       match='no SNMP community named OTHER'):
        check.check({'ip': '127.0.0.2', 'community_name': 'OTHER'}, NEVER)


def test_physical_port_finds_the_interface_by_name(worker_conf):
    check = snmp.PhysicalPort(None, worker_conf)
    props = {'device_ip': '127.0.0.2', 'community_name': 'C', 'name': 'lo'}
    assert check.check(props, NEVER) == 'ACTIVE'
    assert check.poll(props, NEVER) == ('UP', '')
    with pytest.raises(exceptions.JobFailed,
                       match='127.0.0.2: no interface named ge-0/0/9'):
        check.check(dict(props, name='ge-0/0/9'), NEVER)


def test_ipv6_device_over_udp6(worker_conf, agent6):
    worker_conf.set_override('port', agent6.port, group='snmp')
    check = snmp.Router(None, worker_conf)
    props = {'ip': '::1', 'community_name': 'C'}
    assert check.check(props, NEVER) == 'ACTIVE'
    assert check.poll(props, NEVER) == ('UP', '')
    port = snmp.PhysicalPort(None, worker_conf)
    assert port.check({'device_ip': '::1', 'community_name': 'C',
                       'name': 'lo'}, NEVER) == 'ACTIVE'


def test_address_outside_allowed_networks_is_refused_unsent(worker_conf):
    # A socket of ours listens where the device would be, but only
    # 127.0.0.3 is allowed: the check and the poll fail, naming the
    # option, and send nothing there.
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(('127.0.0.2', 0))
    listener.settimeout(10)
    worker_conf.set_override('port', listener.getsockname()[1],
                             group='snmp')
    worker_conf.set_override('allowed_networks', ['127.0.0.3/32'],
                             group='snmp')
    check = snmp.Router(None, worker_conf)
    props = {'ip': '127.0.0.2', 'community_name': 'C', 'timeout': 1}
    try:
        with pytest.raises(exceptions.JobFailed) as err:
            check.check(props, NEVER)
        assert ('SNMP to 127.0.0.2 refused: the address is outside [snmp] '
                'allowed_networks (127.0.0.3/32)') in str(err.value)
        with pytest.raises(exceptions.JobFailed):
            check.poll(props, NEVER)
        # Loopback queues a datagram at once: a request sent by the plugin
        # would be in the socket before this marker, sent after both.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b'marker', listener.getsockname())
        assert listener.recv(65536) == b'marker'
    finally:
        listener.close()


def test_empty_allowed_networks_refuses_everything_and_says_how(
        worker_conf):
    worker_conf.set_override('allowed_networks', [], group='snmp')
    check = snmp.PhysicalPort(None, worker_conf)
    with pytest.raises(exceptions.JobFailed) as err:
        check.check({'device_ip': '127.0.0.2', 'community_name': 'C',
                     'name': 'lo'}, NEVER)
    assert '[snmp] allowed_networks is empty' in str(err.value)
    assert 'set it to the CIDRs of the management networks' in \
        str(err.value)


@pytest.mark.parametrize('ip, expected', [
    ('router.example.com', "'router.example.com' is not an IP address"),
    (10, '10 is not an IP address'),
    (['127.0.0.2'], "['127.0.0.2'] is not an IP address"),
])
def test_ip_must_be_an_address_string(worker_conf, ip, expected):
    check = snmp.Router(None, worker_conf)
    with pytest.raises(exceptions.JobFailed, match=re.escape(expected)):
        check.check({'ip': ip, 'community_name': 'C'}, NEVER)


def test_bad_allowed_network_stops_the_plugin_from_loading(worker_conf):
    worker_conf.set_override('allowed_networks', ['10.0.0.0/33'],
                             group='snmp')
    with pytest.raises(ValueError, match="allowed_networks has an entry "
                       "that is not a network in CIDR notation: "
                       "'10.0.0.0/33'"):
        snmp.Router(None, worker_conf)


def test_device_failures_say_which(worker_conf, agent):
    from pysnmp.proto import errind
    from pysnmp.proto import rfc1905
    check = snmp.Router(None, worker_conf)
    # net-snmp drops a wrong v2c community without a word.
    state, why = check.poll({'ip': '127.0.0.2', 'community_name': 'WRONG'},
                            NEVER)
    assert state == 'DOWN'
    assert why == ('no SNMP answer from 127.0.0.2:%d within 0.3 s (the '
                   'agent is down or unreachable, or silently drops a '
                   'wrong community)' % agent.port)
    # An agent that reports the authentication error is named as such.
    err = snmp.failure('192.0.2.1:161', 1.0, errind.unknownCommunityName,
                       0)
    assert isinstance(err, snmp.AuthError)
    assert str(err).startswith('SNMP authentication error from '
                               '192.0.2.1:161')
    err = snmp.failure('192.0.2.1:161', 1.0, None,
                       rfc1905.errorStatus.clone('authorizationError'))
    assert isinstance(err, snmp.AuthError)
    err = snmp.failure('192.0.2.1:161', 1.0, None,
                       rfc1905.errorStatus.clone('genErr'))
    assert not isinstance(err, snmp.AuthError)
    assert 'SNMP error from 192.0.2.1:161: genErr' == str(err)
    # A missing interface is neither.
    state, why = snmp.PhysicalPort(None, worker_conf).poll(
        {'device_ip': '127.0.0.2', 'community_name': 'C',
         'name': 'ge-0/0/9'}, NEVER)
    assert (state, why) == ('DOWN', '127.0.0.2: no interface named ge-0/0/9')

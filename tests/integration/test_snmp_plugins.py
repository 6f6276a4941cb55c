"""The SNMP resource plugins against a real snmpd on loopback."""

import threading

import pytest
from oslo_config import cfg

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
    return config


NEVER = threading.Event()


@pytest.mark.parametrize('plugin', [snmp.Router, snmp.Switch])
def test_router_and_switch_are_up_when_uptime_grows(worker_conf, plugin):
    check = plugin(None, worker_conf)
    props = {'ip': '127.0.0.2', 'community_name': 'C', 'mibs': []}
    assert check.check(props, NEVER) == 'ACTIVE'
    assert check.poll(props, NEVER) == 'UP'


def test_wrong_community_is_down_and_fails_naming_the_address(worker_conf):
    check = snmp.Router(None, worker_conf)
    props = {'ip': '127.0.0.2', 'community_name': 'WRONG', 'timeout': 0.5}
    assert check.poll(props, NEVER) == 'DOWN'
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
    assert check.poll(props, NEVER) == 'UP'
    with pytest.raises(exceptions.JobFailed,
                       match='127.0.0.2: no interface named ge-0/0/9'):
        check.check(dict(props, name='ge-0/0/9'), NEVER)

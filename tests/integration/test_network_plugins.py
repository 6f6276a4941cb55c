"""The monitoring elements of ESE devices, their ports and networks.

ESI's ese_device_monitoring and ese_physical_port_monitoring templates,
rendered as a job renders them, are checked and polled by the SNMP plugins
against a real snmpd; network_monitoring's virtual_network element reads
its network's stack record in a real etcd.
"""

import json
import os
import threading

from oslo_config import cfg
import pytest
import yaml

from heat_esi import conf
from heat_esi import exceptions
from heat_esi import templates
from heat_esi.worker import elements
from heat_esi.worker.plugins import snmp
from heat_esi.worker.plugins import virtual_network
from tests import snmp_agents

NEVER = threading.Event()
NETWORK = 'bb69041d-c654-4e9f-a763-afd4333275bc'
FQ_NAME = 'default-domain:admin:%s' % NETWORK


def template(name):
    with open(os.path.join(templates.default_dir(), name + '.yaml')) as f:
        return templates.validate(name, yaml.safe_load(f))


@pytest.fixture
def agent(tmp_path):
    port = snmp_agents.free_udp_port('127.0.0.2')
    started = snmp_agents.SnmpAgent(str(tmp_path), '127.0.0.2', port).start()
    yield started
    started.stop()


def worker_conf(**snmp_options):
    config = cfg.ConfigOpts()
    conf.register_worker_opts(config)
    config([])
    for name, value in snmp_options.items():
        config.set_override(name, value, group='snmp')
    config.set_override('etcd_reader_timeout', 0.5, group='worker')
    config.set_override('etcd_reader_retry_interval', 0.05, group='worker')
    return config


@pytest.fixture
def snmp_conf(agent):
    return worker_conf(
        port=agent.port, request_timeout=0.3, uptime_interval=0.3,
        communities={'ESE_NODE_COMMUNITY': snmp_agents.COMMUNITY},
        allowed_networks=['127.0.0.0/8'])


def test_an_ese_device_is_a_switch_checked_over_snmp(snmp_conf):
    rendered = elements.render(template('ese_device_monitoring'), {
        'community_name': 'ESE_NODE_COMMUNITY', 'device_ip': '127.0.0.2'})
    assert rendered == {'switch': {
        'type': 'switch', 'community_name': 'ESE_NODE_COMMUNITY',
        'ip': '127.0.0.2', 'mibs': []}}
    plugin = snmp.Switch(None, snmp_conf)
    assert plugin.check(rendered['switch'], NEVER) == 'ACTIVE'
    assert plugin.poll(rendered['switch'], NEVER) == ('UP', '')


def test_an_ese_physical_port_is_checked_by_name(snmp_conf):
    rendered = elements.render(template('ese_physical_port_monitoring'), {
        'community_name': 'ESE_NODE_COMMUNITY', 'device_ip': '127.0.0.2',
        'name': 'lo'})
    assert rendered['port']['type'] == 'physical_port'
    plugin = snmp.PhysicalPort(None, snmp_conf)
    assert plugin.check(rendered['port'], NEVER) == 'ACTIVE'
    missing = dict(rendered['port'], name='xe-0/0/3', timeout=0.5)
    state, why = plugin.poll(missing, NEVER)
    assert (state, why) == ('DOWN', '127.0.0.2: no interface named xe-0/0/3')


# --- virtual_network ---------------------------------------------------------

def record(status='CREATE_COMPLETE', network_id=NETWORK, fq_name=FQ_NAME):
    """A heat_stacks record as heat_worker writes it (CreateNetwork_01)."""
    return {'stack_id': 'network_%s' % NETWORK,
            'tenant_id': '0b576f6f4cbf414f829cd12f008bf08f',
            'stack_status': status,
            'output': [
                {'output_value': '[]', 'output_key': 'route_targets',
                 'description': 'The name of the virtual network.'},
                {'output_value': fq_name, 'output_key': 'fq_name',
                 'description': 'The FQ name of the virtual network.'},
                {'output_value': network_id, 'output_key': 'id',
                 'description': 'A unique id for the virtual network.'}],
            'status_reason': 'Stack %s' % status,
            'id': 'network:%s' % NETWORK}


@pytest.fixture
def network(etcd_client):
    """(plugin, element, key): network_monitoring's element, rendered."""
    plugin = virtual_network.VirtualNetwork(etcd_client, worker_conf())
    rendered = elements.render(template('network_monitoring'), {
        'fq_name': FQ_NAME, 'uuid': NETWORK})
    assert rendered == {'network': {'type': 'virtual_network',
                                    'uuid': NETWORK, 'fq_name': FQ_NAME}}
    key = '/esi-worker/heat_stacks/v2.0/networks/%s' % NETWORK
    assert plugin.keys(rendered['network']) == (key,)
    return plugin, rendered['network'], key


@pytest.mark.parametrize('status', ['CREATE_COMPLETE', 'UPDATE_COMPLETE'])
def test_a_network_whose_stack_made_it_is_active(etcd_client, network,
                                                 status):
    plugin, props, key = network
    etcd_client.put(key, json.dumps(record(status)))
    assert plugin.check(props, NEVER) == 'ACTIVE'
    assert plugin.poll(props, NEVER) == ('UP', '')


def test_a_network_is_checked_with_the_record_read_with_the_claim(
        etcd_client, network):
    plugin, props, key = network
    etcd_client.put(key, json.dumps(record()))
    kv = etcd_client.get(key)
    etcd_client.delete(key)
    assert plugin.check(props, NEVER, read={key: kv}) == 'ACTIVE'


def test_a_network_waits_for_its_stack(etcd_client, network):
    plugin, props, key = network
    etcd_client.put(key, json.dumps(record('CREATE_IN_PROGRESS')))
    assert plugin.poll(props, NEVER) == (
        'DOWN', "the stack of network %s is 'CREATE_IN_PROGRESS': "
        "'Stack CREATE_IN_PROGRESS'" % NETWORK)
    done = threading.Timer(0.1, etcd_client.put,
                           (key, json.dumps(record())))
    done.start()
    try:
        assert plugin.check(dict(props, timeout=10), NEVER) == 'ACTIVE'
    finally:
        done.cancel()


@pytest.mark.parametrize('value, message', [
    (None, 'network %s has no stack record' % NETWORK),
    (record('CREATE_FAILED'), "the stack of network %s is 'CREATE_FAILED'"
     % NETWORK),
    (record(network_id='4f3e2d1c-0000-4000-8000-000000000000'),
     "the stack of network %s made the virtual network '4f3e2d1c" % NETWORK),
    (record(fq_name='default-domain:other:x'),
     "has fq_name 'default-domain:other:x', not '%s'" % FQ_NAME),
])
def test_a_network_not_made_is_down_and_fails_saying_why(
        etcd_client, network, value, message):
    plugin, props, key = network
    if value is not None:
        etcd_client.put(key, json.dumps(value))
    state, why = plugin.poll(props, NEVER)
    assert state == 'DOWN' and message in why
    with pytest.raises(exceptions.JobFailed) as err:
        plugin.check(props, NEVER)
    assert message in str(err.value)
    assert 'after 0.5 s' in str(err.value)


def test_a_malformed_record_or_uuid_fails_naming_it(etcd_client, network):
    plugin, props, key = network
    etcd_client.put(key, '{"stack_status": ')
    with pytest.raises(exceptions.JobFailed) as err:
        plugin.check(props, NEVER)
    assert 'malformed value at %s' % key in str(err.value)
    with pytest.raises(exceptions.JobFailed) as err:
        plugin.poll(dict(props, uuid='../x'), NEVER)
    assert '"uuid" must be a network id' in str(err.value)
    assert plugin.keys(dict(props, uuid=None)) == ()

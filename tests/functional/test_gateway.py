"""A whole HA gateway from templates/hot/ha_gateway.yaml, through the CLI.

`openstack stack create --wait` against real heat-api, heat-engine,
RabbitMQ, MariaDB, etcd and an esi-worker, with the edge routers' devices
played by two SNMP agents (snmpd on 127.0.0.2 and 127.0.0.3): interfaces of
this host stand in for the routers' interfaces.
"""

import json
import os

import pytest

from heat_esi.demo import run as demo_run
from heat_esi import keys
from tests import esi_fixtures
from tests.functional import services
from tests import snmp_agents

GATEWAY = os.path.join(services.HOT, 'ha_gateway.yaml')
HOSTS = ('127.0.0.2', '127.0.0.3')
# The nine parts of the gateway: (resource name, ESI resource type).
PARTS = demo_run.GATEWAY_PARTS


def interfaces_up():
    """Names of this host's interfaces that snmpd reports up.

    lo first (its operstate is "unknown", but snmpd says up), then the
    others whose operstate is up.
    """
    found = ['lo']
    for name in sorted(os.listdir('/sys/class/net')):
        try:
            with open('/sys/class/net/%s/operstate' % name) as f:
                state = f.read().strip()
        except OSError:
            continue
        if name != 'lo' and state == 'up':
            found.append(name)
    return found


@pytest.fixture
def snmp_agents_and_worker(cloud_worker_stopped, tmp_path):
    """The two routers' SNMP agents, and a worker that speaks SNMP to them.

    The job of an edge router or an interface goes to its SNMP agent: the
    cloud's own worker has no [snmp] settings, so it is stopped meanwhile
    (cloud_worker_stopped), and only this one claims jobs. The agents are
    yielded, primary first.
    """
    cloud = cloud_worker_stopped
    port = snmp_agents.free_udp_port(HOSTS[0])
    agents = []
    worker = esi_fixtures.WorkerProcess(
        str(tmp_path), cloud.etcd.port, name='gateway-worker',
        etcd_reader_retry_interval=0.2, etcd_reader_timeout=5,
        sections=snmp_agents.worker_sections(port))
    try:
        for host in HOSTS:
            agents.append(snmp_agents.SnmpAgent(str(tmp_path), host,
                                                port).start())
        worker.start()
        yield agents
    finally:
        worker.stop()
        for agent in agents:
            agent.stop()


def finished(cloud, name):
    """(status, reason) of the stack, or None while an action runs."""
    show, _ = cloud.show_stack(name)
    if show['stack_status'].endswith('_IN_PROGRESS'):
        return None
    return show['stack_status'], show['stack_status_reason']


def test_the_whole_gateway_created_checked_and_deleted(
        cloud, snmp_agents_and_worker):
    agents = snmp_agents_and_worker
    client = cloud.etcd.client()
    names = interfaces_up()
    uplink, downlink = names[0], names[-1]
    result, elapsed = cloud.stack_create(
        'gateway', '--parameter', 'primary_ip=%s' % HOSTS[0],
        '--parameter', 'secondary_ip=%s' % HOSTS[1],
        '--parameter', 'primary_uplink_name=%s' % uplink,
        '--parameter', 'secondary_uplink_name=%s' % uplink,
        '--parameter', 'primary_downlink_name=%s' % downlink,
        '--parameter', 'secondary_downlink_name=%s' % downlink,
        '--parameter', 'restricted_vlans=0-1024,4094',
        template=GATEWAY, timeout=300)
    print('openstack stack create --wait (nine resources): %.1f s'
          % elapsed)
    assert 'CREATE_COMPLETE' in result.stdout
    show, outputs = cloud.show_stack('gateway')
    assert show['stack_status'] == 'CREATE_COMPLETE'

    # The outputs name every part by its id in ESI, and its state.
    ids = outputs['ids']
    assert sorted(ids) == sorted(name for name, _ in PARTS)
    for name, esi_type in PARTS:
        assert ids[name] == cloud.resource_id('gateway', name), name
        assert client.get(keys.config(esi_type, ids[name])) is not None, \
            name
    assert outputs['status'] == {name: 'ACTIVE' for name, _ in PARTS}
    # Each HA interface pairs the two routers' interfaces of its link.
    for link in ('uplink', 'downlink'):
        kv = client.get(keys.config('ha_interface', ids[link]))
        body = json.loads(kv.value)['body']
        assert body['ha_router_id'] == ids['ha_router']
        assert body['primary_interface_id'] == ids['primary_' + link]
        assert body['secondary_interface_id'] == ids['secondary_' + link]
        assert body['link_type'] == link

    # The secondary router's device stops answering: the monitor turns its
    # interfaces DOWN, the HA interfaces show it, and stack check names
    # the device.
    agents[1].stop()
    down = keys.monitoring('er_physical_interface', ids['secondary_uplink'])
    esi_fixtures.wait_until(
        lambda: json.loads(client.get(down).value)['interface'] == 'DOWN',
        timeout=30, interval=0.5, message='%s DOWN' % down)
    _, outputs = cloud.show_stack('gateway')
    assert outputs['status']['uplink'] == 'DOWN'
    assert outputs['status']['primary_uplink'] == 'ACTIVE'
    cloud.openstack('stack', 'check', 'gateway')
    status, reason = esi_fixtures.wait_until(
        lambda: finished(cloud, 'gateway'), timeout=120, interval=1,
        message='the end of stack check')
    assert status == 'CHECK_FAILED'
    assert 'at %s: ' % HOSTS[1] in reason, reason
    agents[1].start()

    cloud.openstack('stack', 'delete', '--wait', '--yes', 'gateway')
    for name, _ in PARTS:
        assert esi_fixtures.resource_keys(client, ids[name]) == [], name

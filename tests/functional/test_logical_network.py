"""The four logical-network documents end to end, through the CLI.

As tenant a, ``openstack stack create --wait`` of templates/hot/tor.yaml
(an ESE device and two ports) and templates/hot/tenant_network.yaml (a
network and its subnet) against real Keystone, heat-api, heat-engine and
one esi-worker running both handlers (monitoring_worker and heat_worker,
with the simulated Contrail environment); the ESE device is an snmpd on
HOST, whose interfaces stand in for the switch's ports.

Each document's points (tests/fixtures/CreateEseDevice_01.md,
CreateEsePhysicalPort_01.md, CreateNetwork_01.md, CreateSubnet_01.md) are
compared field by field, the transient ones read from etcd's history from
a revision taken before the creates. What differs by design is replaced
before the comparison: ids, the tenant, the job ids' random suffixes, what
this test chose (the switch's address, the ports' names, the subnet's name
and description, which tenant_network.yaml derives from the network's),
and the device's password in its jobs (heat-esi keeps secrets in /config).
Stack outputs are the Contrail stand-ins': their keys and descriptions
are compared, not their values.

The tests of this module run in order: the last one deletes the stacks.
"""

import concurrent.futures
import json
import os

import pytest

from heat_esi import keys
from heat_esi import template_mappings
from tests import esi_fixtures
from tests.functional import services
from tests import network_seeds
from tests import snmp_agents

pytestmark = pytest.mark.skipif(
    'subnet' not in template_mappings.TEMPLATE_MAPPINGS.get(
        'heat_worker', {}),
    reason='the logical-network types are not in this tree')

TOR = os.path.join(services.HOT, 'tor.yaml')
TENANT_NETWORK = os.path.join(services.HOT, 'tenant_network.yaml')
# The ESE device's management address: its snmpd listens there.
HOST = '127.0.0.4'
TOR_STACK, NETWORK_STACK = 'e2e-tor', 'e2e-network'
# What the document gives and tenant_network.yaml derives from the
# network's name (sample-network, as the document's).
SUBNET_NAMES = {'sample-subnet': 'sample-network-subnet',
                'Sample Subnet': 'Subnet of sample-network'}
SEED_DEVICE_IP = '10.161.0.34'
# The fields of one stack output in ESI's records (output_error when Heat
# could not compute its value).
OUTPUT_FIELDS = {'output_key', 'output_value', 'description', 'output_error'}


def interfaces_up():
    """Names of this host's interfaces that snmpd reports up (lo first)."""
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


@pytest.fixture(scope='module')
def switch_and_worker(cloud_worker_stopped, tmp_path_factory):
    """The switch's snmpd, and a worker of both handlers that polls it.

    The cloud's own worker has no [snmp] settings: it is stopped meanwhile
    (cloud_worker_stopped), so that only this one claims the jobs.
    """
    cloud = cloud_worker_stopped
    directory = str(tmp_path_factory.mktemp('logical-network'))
    port = snmp_agents.free_udp_port(HOST)
    sections = snmp_agents.worker_sections(port)
    sections['snmp']['communities'] = 'ESE_NODE_COMMUNITY:%s' % (
        snmp_agents.COMMUNITY)
    sections['heat_worker'] = {'poll_interval': 0.5}
    agent = snmp_agents.SnmpAgent(directory, HOST, port)
    worker = None
    try:
        agent.start()
        worker = cloud.start_worker(name='logical-network-worker',
                                    sections=sections)
        yield worker
    finally:
        if worker is not None:
            worker.stop()
        agent.stop()


@pytest.fixture(scope='module')
def created(cloud, switch_and_worker):
    """Both stacks created as tenant a: what the tests compare.

    {since, project, ports (their names), ids: {esi_type: [id, ...]}}.
    """
    client = cloud.etcd.client()
    since = client.revision() + 1
    ports = interfaces_up()
    ports = [ports[0], ports[-1]]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        tor = pool.submit(
            cloud.stack_create, TOR_STACK,
            '--parameter', 'management_ip_address=%s' % HOST,
            '--parameter', 'password=password',
            '--parameter', 'first_port_name=%s' % ports[0],
            '--parameter', 'second_port_name=%s' % ports[1],
            template=TOR, timeout=240)
        network = pool.submit(cloud.stack_create, NETWORK_STACK,
                              template=TENANT_NETWORK, timeout=240)
        for future in (tor, network):
            result, elapsed = future.result()
            print('openstack stack create --wait: %.1f s' % elapsed)
            assert 'CREATE_COMPLETE' in result.stdout, result.stdout
    _, tor_out = cloud.show_stack(TOR_STACK)
    _, net_out = cloud.show_stack(NETWORK_STACK)
    return {'since': since, 'client': client, 'ports': ports,
            'project': cloud.keystone.projects['a']['id'],
            'ids': {'ese_device': [tor_out['ese_device_id']],
                    'ese_physical_port': tor_out['ese_physical_port_ids'],
                    'network': [net_out['network_id']],
                    'subnet': [net_out['subnet_id']]}}


def expected_points(esi_type, index, created):
    """The document's points, with this run's ids and choices in them."""
    ids = created['ids']
    rid = ids[esi_type][index]
    seed_rid, seed_body = network_seeds.config(esi_type)
    swaps = {seed_rid: rid, network_seeds.PROJECT: created['project'],
             SEED_DEVICE_IP: HOST}
    if esi_type == 'ese_physical_port':
        swaps[seed_body['ese_device_id']] = ids['ese_device'][0]
        swaps[seed_body['name']] = created['ports'][index]
    if esi_type == 'subnet':
        swaps[seed_body['network_id']] = ids['network'][0]
        swaps.update(SUBNET_NAMES)
    text = json.dumps(network_seeds.points(esi_type))
    for old, new in swaps.items():
        text = text.replace(old, new)
    return {point: blocks for point, blocks in json.loads(text).items()}


def puts(created, prefix, key=None, first=False):
    """Values (JSON) put under *prefix* (or at *key*) since the creates.

    :param first: only the puts that made a key (its version 1).
    """
    return [json.loads(event.kv.value) for event in esi_fixtures.history(
        created['client'], prefix, created['since'])
        if (key is None or event.kv.key == key) and
        (not first or event.kv.version == 1)]


def output_shape(outputs):
    """[(output_key, description)] of stack outputs, sorted."""
    for output in outputs:
        assert set(output) <= OUTPUT_FIELDS, output
        assert 'output_value' in output, output
    return sorted((o['output_key'], o['description']) for o in outputs)


CASES = [('ese_device', 0), ('ese_physical_port', 0),
         ('ese_physical_port', 1), ('network', 0), ('subnet', 0)]


@pytest.mark.parametrize('esi_type,index', CASES)
def test_the_points_are_the_documents(cloud, created, esi_type, index):
    client = created['client']
    rid = created['ids'][esi_type][index]
    points = expected_points(esi_type, index, created)
    by_key = {}
    for point, blocks in points.items():
        for key, value in blocks:
            by_key.setdefault(key, []).append((point, value))

    # (1) /config as Heat first wrote it.
    (config_key, config), = points['(1)']
    assert config_key == keys.config(esi_type, rid)
    assert puts(created, config_key, config_key)[0] == config

    # (2) the jobs of the plan, the job ids' suffixes this run's.
    written = {}
    for value in puts(created, keys.JOBS_ALL, first=True):
        if value[1]['resource_id'] == rid and value[1]['version'] == 1:
            esi_fixtures.operator_fields(value)
            written.setdefault(value[0], []).append(value)
    assert sorted(written) == sorted(job[0] for _k, job in points['(2)'])
    text = json.dumps(points['(2)'])
    for _key, job in points['(2)']:
        (ours,) = written[job[0]]
        text = text.replace(job[1]['id'], ours[1]['id'])
    for key, job in json.loads(text):
        job[1]['resource_input'].pop('password', None)
        assert written[job[0]] == [job]
        assert key == keys.JOBS_ALL + job[1]['id']

    # (3) the stack's record: as the document's, outputs by their shape.
    stack_key = keys.heat_stack(esi_type, rid)
    ((point, seed_record),) = by_key[stack_key]
    record = esi_fixtures.json_at(client, stack_key)
    assert output_shape(record.pop('output')) == \
        output_shape(seed_record.pop('output'))
    assert record == seed_record
    outputs = esi_fixtures.json_at(client, stack_key)['output']

    # (4), (5) job_state: the stack's outputs, then the monitoring's state.
    state_key = keys.job_state(esi_type, rid)
    seen = [value for _point, value in by_key[state_key]]
    for value in seen:
        assert output_shape(value['heat_outputs']) == output_shape(outputs)
        value['heat_outputs'] = outputs
    assert puts(created, '/esi-worker/job_state/', state_key) == seen
    assert client.get(state_key) is None

    # (6) (a subnet's (5)) /state: the outputs and monitoring as JSON text.
    ((point, seed_state),) = by_key[keys.state(esi_type, rid)]
    state = esi_fixtures.json_at(client, keys.state(esi_type, rid))
    assert json.loads(state['state'].pop('heat_outputs')) == outputs
    output_shape(json.loads(seed_state['state'].pop('heat_outputs')))
    assert state == seed_state

    # (7) /monitoring, once the monitor has polled.
    for key, value in by_key.items():
        if key.startswith('/monitoring/'):
            ((point, seed_monitoring),) = value
            esi_fixtures.wait_until(
                lambda: esi_fixtures.json_at(client, key) == seed_monitoring,
                timeout=30, interval=0.5, message='%s as %s' % (key, point))


def worker_stacks(created):
    return {'%s_%s' % (esi_type, rid) for esi_type, ids in
            created['ids'].items() for rid in ids}


def stack_names(cloud, project):
    listed = json.loads(cloud.openstack('stack', 'list', '-f', 'json',
                                        project=project).stdout)
    return {stack['Stack Name'] for stack in listed}


def test_the_worker_stacks_are_the_tenants_only(cloud, created):
    assert len(worker_stacks(created)) == 5
    assert worker_stacks(created) <= stack_names(cloud, 'a')
    assert not worker_stacks(created) & stack_names(cloud, 'b')


def test_the_subnet_stack_took_the_network_stack_output(cloud, created):
    client = created['client']
    net_id, = created['ids']['network']
    sub_id, = created['ids']['subnet']
    net_outputs = {o['output_key']: o['output_value'] for o in
                   esi_fixtures.json_at(client, keys.heat_stack(
                       'network', net_id))['output']}
    show = json.loads(cloud.openstack(
        'stack', 'show', 'subnet_%s' % sub_id, '-f', 'json').stdout)
    assert show['parameters']['network_id'] == net_outputs['id']
    sub_outputs = {o['output_key']: o['output_value'] for o in
                   esi_fixtures.json_at(client, keys.heat_stack(
                       'subnet', sub_id))['output']}
    assert sub_outputs['network_id'] == net_outputs['id']


FOREIGN_SUBNET = """
heat_template_version: 2018-08-31
resources:
  subnet:
    type: ESI::Subnet
    properties:
      name: foreign
      network_id: %s
      cidr: 172.16.201.0/24
"""


def test_project_b_cannot_use_project_as_network(cloud, created, tmp_path):
    client = created['client']
    net_id, = created['ids']['network']
    other = cloud.keystone.projects['b']['id']
    template = tmp_path / 'foreign-subnet.yaml'
    template.write_text(FOREIGN_SUBNET % net_id)
    since = client.revision() + 1
    result, _ = cloud.stack_create('e2e-foreign-subnet', template=str(
        template), check=False, project='b')
    try:
        said = result.stdout + result.stderr
        shown = cloud.openstack('stack', 'show', 'e2e-foreign-subnet',
                                '-f', 'json', project='b', check=False)
        if shown.returncode == 0:
            show = json.loads(shown.stdout)
            assert show['stack_status'] == 'CREATE_FAILED'
            said += show['stack_status_reason']
        else:
            assert result.returncode != 0
        assert 'network %s does not exist in ESI' % net_id in said, said
        written = [event.kv.key for event in esi_fixtures.history(
            client, '/', since, puts_only=False)
            if event.kv.key.startswith(('/config/', '/jobs/', '/state/')) or
            other in event.kv.key or other in (event.kv.value or '')]
        assert written == []
    finally:
        cloud.openstack('stack', 'delete', '--wait', '--yes',
                        'e2e-foreign-subnet', project='b', check=False)


def test_deleting_both_stacks_leaves_no_stack_and_no_key(cloud, created):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for result in pool.map(
                lambda name: cloud.openstack('stack', 'delete', '--wait',
                                             '--yes', name, timeout=240),
                [TOR_STACK, NETWORK_STACK]):
            assert result.returncode == 0
    assert not worker_stacks(created) & stack_names(cloud, 'a')
    for esi_type, ids in created['ids'].items():
        for rid in ids:
            assert esi_fixtures.resource_keys(created['client'], rid) == \
                [], (esi_type, rid)

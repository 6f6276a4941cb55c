"""The heat_worker against real processes: Keystone, heat-api, heat-engine.

Each test runs its own esi-worker with the heat_worker handler (the cloud's
own worker runs only the monitoring_worker), and writes a network's
heat_worker job into etcd as heat-engine does. The stack is made from the
shipped ``network`` heat_template through the real heat-api, in project
a's Keystone project, with the Contrail stand-ins' environment
(heat_esi/simulated). What the user sees is checked where they see it:
/state and ``openstack stack list``.
"""

import contextlib
import json
import socket
import uuid

import pytest
import requests

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import template_mappings
from tests import esi_fixtures

pytestmark = pytest.mark.skipif(
    'network' not in template_mappings.TEMPLATE_MAPPINGS.get(
        'heat_worker', {}),
    reason='the network type (its heat_worker mapping and template) is not '
           'in this tree')

HANDLERS = ('heat_worker',)


def free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_network(client, project, rid, action=records.CREATE, version=1):
    """A network's heat_worker job, with its /config, as Heat writes them.

    The params are the seed's (CreateNetwork_01, point 2).
    """
    body = {'status': 'PENDING_CREATE', 'subnets': [],
            'description': 'heat_worker test', 'admin_state_up': True,
            'tenant_id': project, 'tags': {}, 'plane': 'data',
            'shared': False, 'id': rid, 'name': 'net-%s' % rid[:8]}
    params = [{'resources': [], 'type': 'value', 'value': rid,
               'param': 'uuid'},
              {'resources': [], 'type': 'value', 'value': rid,
               'param': 'name'},
              {'resources': [], 'type': 'value', 'value': True,
               'param': 'admin_state_up'}]
    job_id, value = records.job(action, 'heat_worker', 'network', rid,
                                version, params, body)
    client.txn([], [etcd.put(keys.config('network', rid),
                             records.config(body, version)),
                    etcd.put(keys.job(job_id), value)])
    return job_id


def state_of(client, rid):
    return esi_fixtures.state_of(client, rid, 'network')


def wait_state(client, rid, worker_state, timeout=120):
    def reached():
        found = state_of(client, rid)
        return found if found and found['state']['worker_state'] in (
            worker_state, states.failed(records.CREATE)) else None
    found = esi_fixtures.wait_until(reached, timeout, 0.2,
                                    'network %s %s' % (rid, worker_state))
    return found


def stack_names(cloud, project='a'):
    """The stacks of *project* as its user sees them."""
    listed = json.loads(cloud.openstack('stack', 'list', '-f', 'json',
                                        project=project).stdout)
    return [stack['Stack Name'] for stack in listed]


def heat_stacks_named(cloud, name, project='a'):
    """heat-api's stacks of *project* named *name* (cheaper than the CLI)."""
    resp = requests.get(cloud.heat.endpoint(project) + '/stacks',
                        params={'name': name},
                        headers={'X-Auth-Token':
                                 cloud.keystone.token(project)},
                        timeout=10)
    resp.raise_for_status()
    return [s for s in resp.json()['stacks'] if s['stack_name'] == name]


@pytest.fixture
def client(cloud):
    return cloud.etcd.client()


@pytest.fixture
def project(cloud):
    return cloud.keystone.projects['a']['id']


def test_create_modify_delete_a_real_stack(cloud, client, project):
    worker = cloud.start_worker(HANDLERS, name='heat-worker-cd')
    try:
        rid = str(uuid.uuid4())
        name = 'network_%s' % rid
        write_network(client, project, rid)
        found = wait_state(client, rid, 'CREATE_COMPLETED')
        assert found['error'] == ''
        record = esi_fixtures.json_at(client, keys.heat_stack('network',
                                                              rid))
        assert record['stack_id'] == name
        assert record['tenant_id'] == project
        assert record['stack_status'] == 'CREATE_COMPLETE'
        assert record['status_reason'] == \
            'Stack CREATE completed successfully'
        assert record['id'] == 'network:%s' % rid
        outputs = {o['output_key']: o['output_value']
                   for o in record['output']}
        assert outputs['id'] == rid and outputs['name'] == rid
        assert outputs['fq_name'].endswith(':%s' % rid)
        assert json.loads(found['state']['heat_outputs']) == \
            record['output']
        # The last job's finish took job_state away.
        assert client.get(keys.job_state('network', rid)) is None
        # The tenant sees its stack; the other tenant does not.
        assert name in stack_names(cloud, 'a')
        assert name not in stack_names(cloud, 'b')

        # A modify updates the same stack (a PUT of the whole template).
        write_network(client, project, rid, records.MODIFY, 2)
        esi_fixtures.wait_until(
            lambda: (state_of(client, rid) or {}).get('version') == 2,
            120, 0.2, 'network %s modified' % rid)
        assert state_of(client, rid)['state']['worker_state'] == \
            states.completed(records.MODIFY)
        record = esi_fixtures.json_at(client, keys.heat_stack('network',
                                                              rid))
        assert record['stack_status'] == 'UPDATE_COMPLETE'
        assert len(heat_stacks_named(cloud, name)) == 1

        write_network(client, project, rid, records.LOGICAL_DELETE, 3)
        esi_fixtures.wait_until(
            lambda: client.get(keys.heat_stack('network', rid)) is None,
            120, 0.2, 'the heat_stacks record of network %s gone' % rid)
        assert state_of(client, rid)['state']['worker_state'] == \
            states.completed(records.LOGICAL_DELETE)
        assert name not in stack_names(cloud, 'a')
        assert not [k for k in esi_fixtures.resource_keys(client, rid)
                    if k.startswith(('/esi-worker/', '/jobs/'))]
    finally:
        worker.stop()


def test_a_stand_in_told_to_fail_fails_the_job_with_heats_reason(
        cloud, client, project):
    worker = cloud.start_worker(HANDLERS, name='heat-worker-fail')
    try:
        # The stand-in refuses a network named fail-...: its name is its id.
        rid = 'fail-%s' % uuid.uuid4()
        write_network(client, project, rid)
        found = wait_state(client, rid, states.failed(records.CREATE))
        assert found['state']['worker_state'] == 'CREATE_FAILED'
        assert found['error'].startswith(
            'network %s: stack network_%s CREATE_FAILED: ' % (rid, rid))
        assert 'simulated Contrail refused' in found['error']
        assert client.get(keys.heat_stack('network', rid)) is None
    finally:
        worker.stop()


def test_a_wrong_keystone_password_stops_the_worker_with_one_line(cloud):
    wrong = 'not-the-password-%s' % uuid.uuid4().hex
    worker = cloud.start_worker(
        HANDLERS, name='heat-worker-wrong-password', wait=False,
        sections={'heat_worker': {'password': wrong}})
    try:
        assert worker.proc.wait(60) == 2
        log = worker.log()
        errors = [line for line in log.splitlines() if ' ERROR ' in line]
        assert len(errors) == 1, log
        assert 'esi-worker cannot start: [heat_worker] Keystone at %s ' \
            'refused the credentials of user esi-worker' % \
            cloud.keystone.auth_url in errors[0]
        assert 'Traceback' not in log
        assert wrong not in log
        assert cloud.keystone.worker_auth['password'] not in log
    finally:
        worker.stop()


def test_heat_api_unreachable_is_retried_then_fails_clearly(
        cloud, client, project):
    # heat-api's catalog entry for this worker (interface internal) names a
    # port where nothing listens: the cloud's heat-api stays up for the rest.
    admin = cloud.keystone.admin()
    orchestration = admin.services.list(type='orchestration')[0]
    port = free_port()
    endpoint = admin.endpoints.create(
        orchestration, 'http://127.0.0.1:%d/v1/%%(project_id)s' % port,
        interface='internal', region='RegionOne')
    worker = None
    try:
        worker = cloud.start_worker(
            HANDLERS, name='heat-worker-unreachable', job_timeout=6,
            sections={'heat_worker': {'interface': 'internal'}})
        rid = str(uuid.uuid4())
        write_network(client, project, rid)
        found = wait_state(client, rid, states.failed(records.CREATE))
        assert found['state']['worker_state'] == 'CREATE_FAILED'
        assert found['error'].startswith(
            'network %s: heat-api at http://127.0.0.1:%d/v1/%s unreachable: '
            'ConnectFailure' % (rid, port, project)), found['error']
        assert 'job deadline' in found['error']
        # Retried, not failed at the first refusal.
        assert worker.log().count('cannot be reached, retry') >= 2
        assert client.get(keys.heat_stack('network', rid)) is None
    finally:
        if worker is not None:
            worker.stop()
        admin.endpoints.delete(endpoint)


def test_a_claim_taken_over_mid_create_makes_one_stack(cloud, client,
                                                       project):
    # The first worker creates the stack, then waits a long poll interval
    # before it looks at it again: it dies in that window.
    first = cloud.start_worker(
        HANDLERS, name='heat-worker-dies', claim_ttl=3,
        sections={'heat_worker': {'poll_interval': 300}})
    second = None
    try:
        rid = str(uuid.uuid4())
        name = 'network_%s' % rid
        write_network(client, project, rid)
        esi_fixtures.wait_until(lambda: heat_stacks_named(cloud, name), 60,
                                0.2, 'stack %s created' % name)
        first.proc.kill()
        first.proc.wait()
        assert state_of(client, rid) is None
        second = cloud.start_worker(HANDLERS, name='heat-worker-takes-over')
        found = wait_state(client, rid, 'CREATE_COMPLETED')
        assert found['error'] == ''
        assert len(heat_stacks_named(cloud, name)) == 1
        assert stack_names(cloud, 'a').count(name) == 1
        assert 'found stack %s/' % name in second.log()
        record = esi_fixtures.json_at(client, keys.heat_stack('network',
                                                              rid))
        assert record['stack_status'] == 'CREATE_COMPLETE'
    finally:
        first.stop()
        if second is not None:
            second.stop()

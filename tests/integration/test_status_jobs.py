"""`heat-esi status` and `heat-esi jobs` against a real etcd and workers.

There is a backlog, a job in flight, one waiting on another, a failed
resource, a rejected value and a device down.
"""

import json
import socket
import subprocess
import time

import pytest
import yaml

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures

HEAT_ESI = esi_fixtures.HEAT_ESI
FAILED = '70000000-0000-0000-0000-000000000001'
IN_FLIGHT = '70000000-0000-0000-0000-000000000002'
REJECTED = '70000000-0000-0000-0000-000000000003'
OTHER = '70000000-0000-0000-0000-000000000004'
DOWN_ROUTER = '70000000-0000-0000-0000-000000000005'
ROUTER_PARAMS = [{'resources': [], 'type': 'value', 'value': router,
                  'param': name}
                 for name, router in (
                     ('primary_device_id', esi_fixtures.PRIMARY),
                     ('secondary_device_id', esi_fixtures.SECONDARY))]


heat_esi = esi_fixtures.heat_esi


def as_json(server, *args, code=0):
    result = heat_esi(server, *args, '-f', 'json')
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def trouble(loaded, etcd_server, workers):
    """Two workers and one of everything an operator looks for."""
    client = loaded
    esi_fixtures.routers_active(client)
    # A job claimed twice before, with max_attempts 2: it fails at once.
    failed_job = esi_fixtures.write_ha_job(client, FAILED)
    kv = client.get(keys.job(failed_job))
    for _ in range(2):
        client.put(kv.key, kv.value)
    pair = workers(2, max_attempts=2, etcd_reader_timeout=60,
                   shutdown_grace=0)
    esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, FAILED),
                            message='the failed state')
    # A job that waits for its router, and a job that waits for it.
    running = esi_fixtures.job_on_missing_router(
        client, IN_FLIGHT,
        request_id='req-' + '1' * 8 + '-1111-1111-1111-' + '1' * 12)
    esi_fixtures.wait_until(lambda: client.get(keys.working(running)),
                            message='the claim')
    blocked, value = records.job('modify', 'monitoring_worker', 'ha_router',
                                 IN_FLIGHT, 2, [], {}, dependency=[running])
    client.put(keys.job(blocked), value)
    esi_fixtures.wait_until(
        lambda: any('waits for %s' % running in w.log() for w in pair),
        message='the parked job')
    # A value no worker can read.
    rejected = records.job('create', 'monitoring_worker', 'ha_router',
                           REJECTED, 1, [], {})[0]
    client.put(keys.job(rejected), 'not json{')
    esi_fixtures.wait_until(
        lambda: client.get(keys.JOBS_REJECTED + rejected),
        message='the rejected value')
    # Ten minutes of backlog for a handler no worker runs.
    other, value = records.job('create', 'other_handler', 'ha_router', OTHER,
                               1, [], {})
    value[1]['created_at'] -= 600
    client.put(keys.job(other), value)
    # A device its monitor found down.
    client.put(keys.monitoring('edge_router', DOWN_ROUTER),
               {'router': 'DOWN', 'version': 1})
    return dict(client=client, server=etcd_server, workers=pair,
                failed=failed_job, running=running, blocked=blocked,
                rejected=rejected, other=other)


def test_status_json_and_yaml_field_by_field(trouble):
    server = trouble['server']
    found = as_json(server, 'status', code=1)
    assert sorted(found) == sorted([
        'workers', 'backlog', 'in_flight', 'waiting_on_dependencies',
        'rejected', 'failed', 'devices_down', 'attention'])

    members = {w['id']: w for w in found['workers']}
    assert len(members) == 2
    for member in members.values():
        assert member['host'] == socket.gethostname()
        assert member['slots'] == 8
        assert member['handlers'] == ['monitoring_worker']
        assert time.strptime(member['since'], '%Y-%m-%dT%H:%M:%SZ')
        assert 0 <= member['up_for'] < 120

    backlog = {b['handler']: b for b in found['backlog']}
    assert backlog['monitoring_worker']['jobs'] == 1        # the blocked
    assert backlog['monitoring_worker']['waiting_on_dependencies'] == 1
    assert backlog['monitoring_worker']['oldest_age'] < 60
    assert backlog['other_handler']['jobs'] == 1
    assert 600 <= backlog['other_handler']['oldest_age'] < 700
    assert backlog['other_handler']['waiting_on_dependencies'] == 0

    in_flight, = found['in_flight']
    assert in_flight['id'] == trouble['running']
    assert in_flight['holder'] in members
    assert in_flight['attempts'] == 0
    assert in_flight['request_id'].startswith('req-11111111-')

    waiting, = found['waiting_on_dependencies']
    assert waiting['id'] == trouble['blocked']
    assert waiting['waiting_for'] == [trouble['running']]

    rejected, = found['rejected']
    assert rejected['id'] == trouble['rejected']
    assert (rejected['resource_type'], rejected['resource_id']) == (
        'ha_router', REJECTED)
    assert 'not JSON' in rejected['error']

    # The rejected value failed its resource too.
    failed = {f['resource_id']: f for f in found['failed']}
    assert sorted(failed) == [FAILED, REJECTED]
    assert (failed[FAILED]['resource_type'], failed[FAILED]['worker_state'],
            failed[FAILED]['version']) == ('ha_router', 'CREATE_FAILED', 1)
    assert 'max_attempts 2' in failed[FAILED]['error']
    assert trouble['rejected'] in failed[REJECTED]['error']

    down, = found['devices_down']
    assert down == {'resource_type': 'edge_router',
                    'resource_id': DOWN_ROUTER, 'down': ['router'],
                    'version': 1}

    reasons = [a['reason'] for a in found['attention']]
    assert len(reasons) == 4, reasons
    assert reasons[0].startswith('1 other_handler job(s) waiting, the '
                                 'oldest for 6')
    assert reasons[1:] == [
        '1 rejected job value(s): heat-esi jobs list --state rejected',
        '2 resource(s) whose last action failed: heat-esi jobs retry TYPE '
        'ID',
        '1 device(s) down']

    result = heat_esi(server, 'status', '-f', 'yaml')
    assert result.returncode == 1
    as_yaml = yaml.safe_load(result.stdout)
    assert as_yaml['failed'] == found['failed']
    assert as_yaml['in_flight'][0]['id'] == trouble['running']

    # The human table names each section.
    table = heat_esi(server, 'status')
    assert table.returncode == 1
    for title in ('workers:', 'backlog:', 'in flight:', 'rejected:',
                  'failed:', 'devices down:', 'attention:'):
        assert title in table.stdout
    assert trouble['running'] in table.stdout

    # Nothing needs attention once the ten-minute backlog is allowed and
    # the rest is cleared.
    client = trouble['client']
    client.delete(keys.JOBS_REJECTED + trouble['rejected'])
    client.delete(keys.state('ha_router', FAILED))
    client.delete(keys.state('ha_router', REJECTED))
    client.delete(keys.monitoring('edge_router', DOWN_ROUTER))
    result = heat_esi(server, 'status', '--max-age', '3600')
    assert result.returncode == 0, result.stdout
    assert 'attention: none' in result.stdout


def test_jobs_list_filters_and_show(trouble):
    server = trouble['server']
    listed = as_json(server, 'jobs', 'list')
    assert {j['id']: j['state'] for j in listed} == {
        trouble['running']: 'running', trouble['blocked']: 'blocked',
        trouble['rejected']: 'rejected', trouble['other']: 'waiting'}
    assert [j['id'] for j in as_json(
        server, 'jobs', 'list', '--state', 'running', '--state',
        'blocked')] == sorted([trouble['running'], trouble['blocked']])
    # The rejected value has no date of its own, but was written before
    # the ten-minute-old job: at least as old, by etcd's order of writes.
    older = as_json(server, 'jobs', 'list', '--older-than', '500')
    assert [j['id'] for j in older] == [trouble['other'],
                                        trouble['rejected']]
    assert older[1]['age'] >= 600
    assert [j['id'] for j in as_json(server, 'jobs', 'list', '--handler',
                                     'other_handler')] == [trouble['other']]
    assert as_json(server, 'jobs', 'list', '--resource-type',
                   'edge_router') == []

    shown = as_json(server, 'jobs', 'show', trouble['running'])
    assert shown['state'] == 'running'
    assert shown['claim'] == trouble['client'].get(
        keys.working(trouble['running'])).value
    assert shown['holder'] in [w['id'] for w in as_json(
        server, 'status', code=1)['workers']]
    assert shown['attempts'] == 0
    assert shown['dependency'] == []
    assert shown['value'][0] == 'monitoring_worker'
    assert shown['value'][1]['id'] == trouble['running']
    # The resource's keys as stored, in the seed's layout.
    assert shown['config'] == json.loads(trouble['client'].get(
        keys.config('ha_router', IN_FLIGHT)).value)
    assert set(shown['config']) == {'body', 'version', 'marked_for_deletion'}
    assert shown['resource_state'] is None

    blocked = as_json(server, 'jobs', 'show', trouble['blocked'])
    assert (blocked['state'], blocked['dependency'],
            blocked['waiting_for']) == ('blocked', [trouble['running']],
                                        [trouble['running']])
    assert blocked['claim'] is None

    missing = heat_esi(server, 'jobs', 'show', 'create:x:y:z:1:aaaaa')
    assert missing.returncode == 1
    assert 'no job create:x:y:z:1:aaaaa in /jobs/all/' in missing.stderr


def test_retry_brings_a_failed_resource_to_completed(trouble):
    server, client = trouble['server'], trouble['client']
    before = client.revision()
    answered_no = heat_esi(server, 'jobs', 'retry', 'ha_router', FAILED,
                           stdin='n\n')
    assert answered_no.returncode == 1
    assert 'Retry the create of ha_router %s' % FAILED in answered_no.stdout
    assert 'nothing written' in answered_no.stdout
    assert client.revision() == before

    result = heat_esi(server, 'jobs', 'retry', 'ha_router', FAILED, '--yes')
    assert result.returncode == 0, result.stderr
    assert 'version 2 and job create:monitoring_worker:ha_router:%s:2:' \
        % FAILED in result.stdout
    state = esi_fixtures.wait_until(
        lambda: (lambda s: s if s['version'] == 2 else None)(
            esi_fixtures.state_of(client, FAILED)),
        message='version 2 answered')
    assert state['state']['worker_state'] == 'CREATE_COMPLETED'
    assert state['error'] == ''
    config = json.loads(client.get(keys.config('ha_router', FAILED)).value)
    assert config['version'] == 2

    again = heat_esi(server, 'jobs', 'retry', 'ha_router', FAILED, '--yes')
    assert again.returncode == 1
    assert 'is CREATE_COMPLETED, not FAILED' in again.stderr


def test_retry_a_fixed_rejected_value_and_purge(trouble):
    server, client = trouble['server'], trouble['client']
    job_id = trouble['rejected']
    refused = heat_esi(server, 'jobs', 'retry', '--rejected', job_id,
                       '--yes')
    assert refused.returncode == 1
    assert 'not JSON' in refused.stderr and 'fix the value' in \
        refused.stderr
    # The operator fixes the value in place, then retries it.
    client.put(keys.config('ha_router', REJECTED),
               records.config({'id': REJECTED}, 1))
    _, fixed = records.job('create', 'monitoring_worker', 'ha_router',
                           REJECTED, 1, ROUTER_PARAMS, {'id': REJECTED})
    fixed[1]['id'] = job_id
    client.put(keys.JOBS_REJECTED + job_id, fixed)
    result = heat_esi(server, 'jobs', 'retry', '--rejected', job_id,
                      '--yes')
    assert result.returncode == 0, result.stderr
    assert 'moved /jobs/rejected/%s back' % job_id in result.stdout

    def completed():
        state = esi_fixtures.state_of(client, REJECTED)
        done = state['state']['worker_state'] == 'CREATE_COMPLETED'
        return state if done else None
    state = esi_fixtures.wait_until(completed, message='the retried job')
    assert state['error'] == ''
    assert client.get(keys.JOBS_REJECTED + job_id) is None

    # Purge: old rejected values go, young and undated ones stay.
    old_id, old = records.job('create', 'monitoring_worker', 'ha_router',
                              'old', 1, [], {})
    old[1]['created_at'] -= 8 * 24 * 3600
    young_id, young = records.job('create', 'monitoring_worker',
                                  'ha_router', 'young', 1, [], {})
    client.txn([], [etcd.put(keys.JOBS_REJECTED + old_id, old),
                    etcd.put(keys.JOBS_REJECTED + young_id, young),
                    etcd.put(keys.JOBS_REJECTED + 'undated', 'garbage')],
               key=keys.JOBS_REJECTED)
    answered_no = heat_esi(server, 'jobs', 'purge', stdin='')
    assert answered_no.returncode == 1
    assert old_id in answered_no.stdout and young_id not in \
        answered_no.stdout
    result = heat_esi(server, 'jobs', 'purge', '--yes')
    assert result.returncode == 0
    left = sorted(kv.key[len(keys.JOBS_REJECTED):] for kv in
                  client.get_prefix(keys.JOBS_REJECTED)[0])
    assert left == sorted([young_id, 'undated'])
    result = heat_esi(server, 'jobs', 'purge', '--all', '--yes')
    assert result.returncode == 0
    assert 'deleted 2 rejected value(s)' in result.stdout
    assert client.get_prefix(keys.JOBS_REJECTED)[0] == []


def test_status_watch_redraws_in_place(loaded, etcd_server, workers):
    workers(1)
    proc = subprocess.Popen(
        [HEAT_ESI, '--etcd-url', etcd_server.url, 'status', '--watch',
         '0.2'], stdout=subprocess.PIPE, text=True)
    try:
        seen = ''
        deadline = time.monotonic() + 20
        while seen.count('\033[H\033[2J') < 3 and \
                time.monotonic() < deadline:
            seen += proc.stdout.read(1)
        assert seen.count('\033[H\033[2J') == 3
        assert seen.count('workers:') == 2
        assert 'every 0.2 s (Ctrl-C to stop)' in seen
    finally:
        proc.terminate()
        proc.wait(10)


def test_status_without_workers_or_etcd_exits_1(etcd_client, etcd_server):
    found = as_json(etcd_server, 'status', code=1)
    assert [a['reason'] for a in found['attention']] == [
        'no esi-worker is alive (no member key in etcd)']
    assert all(found[s] == [] for s in found if s != 'attention')
    port = esi_fixtures.free_port()      # nothing listens there
    result = subprocess.run(
        [HEAT_ESI, '--etcd-url', 'http://127.0.0.1:%d' % port, 'status'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    # One line naming the endpoint and the cause, no traceback.
    assert result.stderr.startswith('heat-esi: error: etcd at '
                                    'http://127.0.0.1:%d is unreachable'
                                    % port), result.stderr
    assert result.stderr.endswith('connection refused\n')
    assert result.stderr.count('\n') == 1


def test_status_reads_past_values_nested_too_deeply(etcd_client,
                                                    etcd_server):
    deep = '[' * 100000 + ']' * 100000
    etcd_client.put(keys.MEMBERS + 'w-1', deep)
    etcd_client.put(keys.monitoring('edge_router', 'r-1'), deep)
    found = as_json(etcd_server, 'status', code=1)
    assert found['devices_down'] == [{
        'resource_type': 'edge_router', 'resource_id': 'r-1',
        'down': ['value'], 'version': None}]
    assert [w['id'] for w in found['workers']] == ['w-1']

"""esi-worker against a real etcd, as real processes."""

import json
import signal

import pytest

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures
from tests import scrape

PRIMARY = esi_fixtures.PRIMARY
SECONDARY = esi_fixtures.SECONDARY


def write_seed_job(client, seed):
    (config_key, config), (job_key, job) = seed['(1)'], seed['(2)']
    client.txn([], [etcd.put(config_key, config), etcd.put(job_key, job)],
               key=config_key)
    return job_key[len(keys.JOBS_ALL):]


def no_job_keys(client):
    kvs, _ = client.get_prefix('/jobs/')
    job_state, _ = client.get_prefix('/esi-worker/job_state/')
    return [kv.key for kv in kvs + job_state]


def puts_under(client, prefix, start_revision):
    """Every PUT under *prefix* since *start_revision* (etcd history)."""
    return [ev.kv for ev in esi_fixtures.history(client, prefix,
                                                 start_revision)]


def test_seed_flow_writes_steps_3_and_4_exactly(loaded, seed, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    start = client.revision() + 1
    workers(1)
    write_seed_job(client, seed)
    state_key, expected_state = seed['(4)']
    kv = esi_fixtures.wait_until(lambda: client.get(state_key),
                                 message=state_key)
    assert json.loads(kv.value) == expected_state
    job_state_key, expected_job_state = seed['(3)']
    written = [kv for kv in puts_under(client, '/esi-worker/', start)
               if not kv.key.startswith(keys.MEMBERS)]
    assert [kv.key for kv in written] == [job_state_key]
    assert json.loads(written[0].value) == expected_job_state
    assert no_job_keys(client) == []


def test_two_workers_200_jobs_each_state_written_once(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    workers(2)
    start = client.revision() + 1
    ids = ['00000000-0000-0000-0000-%012d' % i for i in range(200)]
    for rid in ids:
        esi_fixtures.write_ha_job(client, rid)
    esi_fixtures.wait_until(
        lambda: all(esi_fixtures.state_of(client, rid) for rid in ids),
        timeout=60, interval=0.2, message='200 states')
    writes = puts_under(client, '/state/v2.0/ha_routers/', start)
    assert sorted(kv.key for kv in writes) == sorted(
        keys.state('ha_router', rid) for rid in ids)
    worker_states = {
        esi_fixtures.state_of(client, rid)['state']['worker_state']
        for rid in ids}
    assert worker_states == {'CREATE_COMPLETED'}
    assert no_job_keys(client) == []


def test_killed_worker_jobs_finish_elsewhere_with_attempt_count_1(
        loaded, workers):
    client = loaded
    first, = workers(1, claim_ttl=2)
    ids = ['10000000-0000-0000-0000-%012d' % i for i in range(3)]
    job_ids = [esi_fixtures.write_ha_job(client, rid) for rid in ids]
    # Routers not active yet: the first worker holds the claims, waiting.
    esi_fixtures.wait_until(
        lambda: len(client.get_prefix(keys.JOBS_WORKING)[0]) == 3,
        message='3 claims')
    first.proc.kill()
    first.proc.wait()
    # Before the second worker starts: it may re-claim as soon as the dead
    # worker's lease expires, and the re-claim rewrite must be seen.
    start = client.revision() + 1
    port = esi_fixtures.free_port()
    workers(1, claim_ttl=2, metrics_port=port)
    esi_fixtures.routers_active(client)
    esi_fixtures.wait_until(
        lambda: all(esi_fixtures.state_of(client, r) for r in ids),
        timeout=20, message='states after kill -9')
    # The re-claim's rewrite is the job's second claim: the key's version
    # counts it; the value's third element stays the seed's 0.
    rewrites = puts_under(client, keys.JOBS_ALL, start)
    reclaims = {json.loads(kv.value)[1]['id']: records.earlier_claims(
        kv, held=True) for kv in rewrites}
    assert reclaims == {job_id: 1 for job_id in job_ids}
    assert [json.loads(kv.value)[2] for kv in rewrites] == [0, 0, 0]
    assert no_job_keys(client) == []
    # The second worker counted them as re-claims after expiry.
    assert scrape.value(scrape.families(port),
                        'esi_worker_reclaims_total') == 3


@pytest.mark.parametrize('corrupt, expected', [
    (lambda v: 'not json{', 'not JSON'),
    (lambda v: json.dumps([v[0], {'id': v[1]['id']}, 0]), 'lacks field'),
])
def test_malformed_job_value_fails_with_error(loaded, workers, corrupt,
                                              expected):
    client = loaded
    esi_fixtures.routers_active(client)
    worker, = workers(1)
    rid = '20000000-0000-0000-0000-000000000001'
    job_id, job = records.job('create', 'monitoring_worker', 'ha_router',
                              rid, 1, [], {})
    client.put(keys.job(job_id), corrupt(job))
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid),
                                    message='failed state')
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert expected in state['error'] and job_id in state['error']
    # Nothing is lost: the value is kept for an operator to read.
    assert client.get(keys.JOBS_REJECTED + job_id) is not None
    assert client.get(keys.job(job_id)) is None
    # The worker stays up and serves the next job.
    ok_rid = '20000000-0000-0000-0000-000000000002'
    esi_fixtures.write_ha_job(client, ok_rid)
    esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, ok_rid))
    assert worker.proc.poll() is None


@pytest.mark.parametrize('template_file, expected', [
    ('primary:\n  type: etcd_reader\n  etcd_id: {{ nowhere }}\n',
     "'nowhere' is undefined"),
    ('primary:\n  type: etcd_reader\n  etcd_id: {% if %}\n',
     'template_file line 3'),
    ('primary:\n  type: teleporter\n', 'unknown plugin type teleporter'),
])
def test_bad_templates_fail_the_job_and_the_worker_goes_on(
        loaded, workers, template_file, expected):
    client = loaded
    esi_fixtures.routers_active(client)
    esi_fixtures.put_template(client, 'ha_router_monitoring',
                              template_file=template_file)
    worker, = workers(1)
    rid = '30000000-0000-0000-0000-000000000001'
    esi_fixtures.write_ha_job(client, rid)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert expected in state['error']
    assert 'ha_router_monitoring' in state['error']
    assert rid in state['error']
    assert no_job_keys(client) == []
    assert worker.proc.poll() is None


def test_unknown_template_fails_the_job(etcd_client, workers):
    client = etcd_client          # no heat_templates loaded
    workers(1)
    rid = '30000000-0000-0000-0000-000000000002'
    esi_fixtures.write_ha_job(client, rid)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert 'heat_template ha_router_monitoring is not in etcd' in \
        state['error']


def test_router_never_active_fails_after_timeout(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client, PRIMARY)
    esi_fixtures.routers_active(client, SECONDARY, state='DOWN')
    esi_fixtures.put_template(client, 'ha_router_monitoring', template_file=(
        'primary:\n  type: etcd_reader\n  etcd_type: edge_router\n'
        '  etcd_id: {{ primary_device_id }}\n  timeout: 0.5\n'
        'secondary:\n  type: etcd_reader\n  etcd_type: edge_router\n'
        '  etcd_id: {{ secondary_device_id }}\n  timeout: 0.5\n'))
    workers(1)
    rid = '30000000-0000-0000-0000-000000000003'
    esi_fixtures.write_ha_job(client, rid)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert json.loads(state['state']['state_monitoring']) == {
        'primary': 'ACTIVE', 'secondary': 'DOWN'}
    assert ('element secondary (etcd_reader), ha_router %s: edge_router %s '
            'is not ACTIVE after 0.5 s (router DOWN)' % (rid, SECONDARY)
            in state['error'])


def test_on_failure_ignore_completes_the_job(loaded, workers):
    client = loaded
    workers(1, etcd_reader_timeout=0.2)
    rid = '30000000-0000-0000-0000-000000000004'
    esi_fixtures.write_ha_job(client, rid, on_failure='ignore')
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_COMPLETED'
    assert state['error'] == ''


def test_monitoring_key_wins_over_state(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)       # /state says ACTIVE ...
    client.put(keys.monitoring('edge_router', PRIMARY),
               {'router': 'DOWN', 'version': 1})   # ... the monitor does not
    workers(1, etcd_reader_timeout=0.3)
    rid = '30000000-0000-0000-0000-000000000005'
    esi_fixtures.write_ha_job(client, rid)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert 'router DOWN' in state['error']


def test_dependency_waits_for_the_other_job(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    blocker = 'create:other_handler:ha_router:x:1:abcde'
    client.put(keys.job(blocker), ['other_handler', {}, 0])
    worker, = workers(1)
    rid = '30000000-0000-0000-0000-000000000006'
    job_id = esi_fixtures.write_ha_job(client, rid, dependency=[blocker])
    # The worker read the job and decided that it waits: only now can its
    # missing /state mean anything.
    worker.wait_for_log('job %s waits for %s' % (job_id, blocker))
    assert esi_fixtures.state_of(client, rid) is None
    client.delete(keys.job(blocker))
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_COMPLETED'


def test_sigterm_with_running_jobs_loses_nothing_runs_nothing_twice(
        loaded, workers):
    client = loaded
    first, = workers(1, shutdown_grace=1)
    ids = ['40000000-0000-0000-0000-%012d' % i for i in range(3)]
    for rid in ids:
        esi_fixtures.write_ha_job(client, rid)
    esi_fixtures.wait_until(
        lambda: len(client.get_prefix(keys.JOBS_WORKING)[0]) == 3,
        message='3 claims')
    start = client.revision() + 1
    first.signal(signal.SIGTERM)
    assert first.proc.wait(15) == 0
    # Released at once, not after the lease's TTL.
    assert client.get_prefix(keys.JOBS_WORKING)[0] == []
    assert len(client.get_prefix(keys.JOBS_ALL)[0]) == 3
    workers(1)
    esi_fixtures.routers_active(client)
    esi_fixtures.wait_until(
        lambda: all(esi_fixtures.state_of(client, r) for r in ids),
        message='states after SIGTERM')
    writes = puts_under(client, '/state/v2.0/ha_routers/', start)
    assert sorted(kv.key for kv in writes) == sorted(
        keys.state('ha_router', r) for r in ids)
    assert 'released job' in first.log()


def test_paused_worker_late_writes_are_refused(loaded, workers):
    client = loaded
    paused, = workers(1, claim_ttl=2)
    rid = '50000000-0000-0000-0000-000000000001'
    job_id = esi_fixtures.write_ha_job(client, rid)
    esi_fixtures.wait_until(lambda: client.get(keys.working(job_id)),
                            message='claim')
    start = client.revision() + 1
    paused.signal(signal.SIGSTOP)
    esi_fixtures.wait_until(lambda: client.get(keys.working(job_id)) is None,
                            timeout=10, message='lease expiry')
    workers(1, claim_ttl=2)
    esi_fixtures.routers_active(client)
    esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid),
                            message='state from the second worker')
    paused.signal(signal.SIGCONT)
    paused.wait_for_log('job %s dropped' % job_id)
    writes = puts_under(client, '/state/v2.0/ha_routers/', start)
    assert [kv.key for kv in writes] == [keys.state('ha_router', rid)]
    # The paused worker's job_state write was refused too: one write only.
    # (Member keys, also under /esi-worker/, are the workers' own.)
    job_states = [kv for kv in puts_under(client, '/esi-worker/', start)
                  if not kv.key.startswith(keys.MEMBERS)]
    assert [kv.key for kv in job_states] == [
        keys.job_state('ha_router', rid)]


def test_a_job_for_a_handler_nobody_installed_is_refused_at_once(
        loaded, workers):
    client = loaded
    # A handler installed on this host but not enabled here: left alone.
    other, value = records.job('create', 'other_handler', 'ha_router',
                               'r-other', 1, [], {'id': 'r-other'})
    client.put(keys.job(other), value)
    unknown, value = records.job('create', 'heat_wroker', 'ha_router',
                                 'r-typo', 1, [], {'id': 'r-typo'})
    client.put(keys.job(unknown), value)
    worker, = workers(1)
    state = esi_fixtures.wait_until(
        lambda: esi_fixtures.state_of(client, 'r-typo'))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert "no job handler 'heat_wroker' is installed" in state['error']
    assert client.get(keys.JOBS_REJECTED + unknown) is not None
    assert client.get(keys.job(unknown)) is None
    worker.wait_for_log('job %s rejected' % unknown)
    assert client.get(keys.job(other)) is not None
    assert esi_fixtures.state_of(client, 'r-other') is None


def write_plan(client, rid, params):
    """Write an ha_router's /config and a plan of two monitoring jobs."""
    body = {'id': rid, 'name': rid, 'status': 'PENDING_CREATE',
            'tenant_id': 't'}
    steps = [records.Step('create', 'monitoring_worker')] * 2
    made = records.job_plan(steps, 'ha_router', rid, 1, lambda step: params,
                            body)
    client.txn([], [etcd.put(keys.config('ha_router', rid),
                             records.config(body, 1))] +
               [etcd.put(keys.job(job_id), value) for job_id, value in made],
               key=keys.config('ha_router', rid))
    return [job_id for job_id, _ in made]


def test_a_failed_first_job_ends_its_workflow_and_the_last_never_runs(
        loaded, workers):
    client = loaded
    start = client.revision() + 1
    rid = '30000000-0000-0000-0000-000000000021'
    missing = [{'resources': [], 'type': 'value',
                'value': esi_fixtures.MISSING_ROUTER, 'param': name}
               for name in ('primary_device_id', 'secondary_device_id')]
    first, last = write_plan(client, rid, missing)
    worker, = workers(1, etcd_reader_timeout=0.3)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert esi_fixtures.MISSING_ROUTER in state['error']
    esi_fixtures.wait_until(lambda: no_job_keys(client) == [],
                            message='the plan gone')
    # The last job was deleted with the first's finish, never claimed.
    assert 'job %s claimed' % first in worker.log()
    assert 'job %s claimed' % last not in worker.log()
    states = [kv for kv in puts_under(client, '/state/', start)]
    assert [kv.key for kv in states] == [keys.state('ha_router', rid)]


def test_the_last_job_of_a_plan_writes_state_once(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    start = client.revision() + 1
    rid = '30000000-0000-0000-0000-000000000022'
    first, last = write_plan(client, rid, esi_fixtures.ha_router_params())
    worker, = workers(1)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_COMPLETED'
    esi_fixtures.wait_until(lambda: no_job_keys(client) == [],
                            message='the plan gone')
    assert worker.log().index('job %s finished' % first) < \
        worker.log().index('job %s claimed' % last)
    assert len(puts_under(client, '/state/', start)) == 1

"""esi-worker against a real etcd, as real processes."""

import json
import signal
import time

import pytest

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures

PRIMARY = '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'
SECONDARY = '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e'


def routers_active(client, *ids, state='ACTIVE'):
    """Edge routers reported by their own finished jobs, as in the seed run.
    """
    for rid in ids or (PRIMARY, SECONDARY):
        client.put(keys.state('edge_router', rid),
                   records.state('CREATE_COMPLETED', 1, {'router': state}))


def write_seed_job(client, seed):
    (config_key, config), (job_key, job) = seed['(1)'], seed['(2)']
    client.txn([], [etcd.put(config_key, config), etcd.put(job_key, job)],
               key=config_key)
    return job_key[len(keys.JOBS_ALL):]


def write_ha_job(client, rid, **job_fields):
    body = {'maximum_gateways': 500, 'status': 'PENDING_CREATE',
            'primary_router_id': PRIMARY, 'secondary_router_id': SECONDARY,
            'description': '', 'tenant_id': 't', 'available_gateways': 500,
            'id': rid, 'name': rid}
    params = [{'resources': [], 'type': 'value', 'value': SECONDARY,
               'param': 'secondary_device_id'},
              {'resources': [], 'type': 'value', 'value': PRIMARY,
               'param': 'primary_device_id'}]
    job_id, job = records.job('create', 'monitoring_worker', 'ha_router',
                              rid, 1, params, body)
    job[1].update(job_fields)
    client.txn([], [etcd.put(keys.config('ha_router', rid),
                             records.config(body, 1)),
                    etcd.put(keys.job(job_id), job)], key=keys.job(job_id))
    return job_id


def state_of(client, rid):
    kv = client.get(keys.state('ha_router', rid))
    return json.loads(kv.value) if kv else None


def no_job_keys(client):
    kvs, _ = client.get_prefix('/jobs/')
    job_state, _ = client.get_prefix('/esi-worker/')
    return [kv.key for kv in kvs + job_state]


def puts_under(client, prefix, start_revision):
    """Every PUT under *prefix* since *start_revision* (etcd history)."""
    found = []
    end = client.revision()
    for event in client.watch(prefix, start_revision, timeout=1):
        if event.type == etcd.PUT:
            found.append(event.kv)
        if event.kv.mod_revision >= end:
            break
    return found


def test_seed_flow_writes_steps_3_and_4_exactly(loaded, seed, workers):
    client = loaded
    routers_active(client)
    start = client.revision() + 1
    workers(1)
    write_seed_job(client, seed)
    state_key, expected_state = seed['(4)']
    kv = esi_fixtures.wait_until(lambda: client.get(state_key),
                                 message=state_key)
    assert json.loads(kv.value) == expected_state
    job_state_key, expected_job_state = seed['(3)']
    written = [kv for kv in puts_under(client, '/esi-worker/', start)]
    assert [kv.key for kv in written] == [job_state_key]
    assert json.loads(written[0].value) == expected_job_state
    assert no_job_keys(client) == []


def test_two_workers_200_jobs_each_state_written_once(loaded, workers):
    client = loaded
    routers_active(client)
    workers(2)
    start = client.revision() + 1
    ids = ['00000000-0000-0000-0000-%012d' % i for i in range(200)]
    for rid in ids:
        write_ha_job(client, rid)
    esi_fixtures.wait_until(
        lambda: all(state_of(client, rid) for rid in ids), timeout=60,
        interval=0.2, message='200 states')
    writes = puts_under(client, '/state/v2.0/ha_routers/', start)
    assert sorted(kv.key for kv in writes) == sorted(
        keys.state('ha_router', rid) for rid in ids)
    assert all(state_of(client, rid)['state']['worker_state'] ==
               'CREATE_COMPLETED' for rid in ids)
    assert no_job_keys(client) == []


def test_killed_worker_jobs_finish_elsewhere_with_attempt_count_1(
        loaded, workers):
    client = loaded
    first, = workers(1, claim_ttl=2)
    ids = ['10000000-0000-0000-0000-%012d' % i for i in range(3)]
    job_ids = [write_ha_job(client, rid) for rid in ids]
    # Routers not active yet: the first worker holds the claims, waiting.
    esi_fixtures.wait_until(
        lambda: len(client.get_prefix(keys.JOBS_WORKING)[0]) == 3,
        message='3 claims')
    first.proc.kill()
    first.proc.wait()
    workers(1, claim_ttl=2)
    start = client.revision() + 1
    routers_active(client)
    esi_fixtures.wait_until(lambda: all(state_of(client, r) for r in ids),
                            timeout=20, message='states after kill -9')
    reclaims = {json.loads(kv.value)[1]['id']: json.loads(kv.value)[2]
                for kv in puts_under(client, keys.JOBS_ALL, start)}
    assert reclaims == {job_id: 1 for job_id in job_ids}
    assert no_job_keys(client) == []


@pytest.mark.parametrize('corrupt, expected', [
    (lambda v: 'not json{', 'not JSON'),
    (lambda v: json.dumps([v[0], {'id': v[1]['id']}, 0]), 'lacks field'),
])
def test_malformed_job_value_fails_with_error(loaded, workers, corrupt,
                                              expected):
    client = loaded
    routers_active(client)
    workers(1)
    rid = '20000000-0000-0000-0000-000000000001'
    job_id = write_ha_job(client, rid)
    # Rewrite the job into garbage before anyone sees it would race the
    # worker; write it under a fresh id instead.
    kv = client.get(keys.job(job_id))
    esi_fixtures.wait_until(lambda: state_of(client, rid))
    bad_id = job_id[:-5] + 'zzzzz'
    client.put(keys.job(bad_id), corrupt(json.loads(kv.value)))
    state = esi_fixtures.wait_until(
        lambda: (state_of(client, rid) or {}).get('error') and
        state_of(client, rid), message='failed state')
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert expected in state['error'] and bad_id in state['error']
    assert client.get(keys.JOBS_REJECTED + bad_id) is not None
    # The worker stays up and serves the next job.
    ok_rid = '20000000-0000-0000-0000-000000000002'
    write_ha_job(client, ok_rid)
    esi_fixtures.wait_until(lambda: state_of(client, ok_rid))

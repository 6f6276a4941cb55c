"""Claims and their fenced writes (heat_esi.worker.claims), on a fake etcd.

A claim is the working key of a job, under a worker's lease; every write
made for the job afterwards is fenced on the claim's id. These tests take
leases away, lose answers and let late writes land, which a real etcd
cannot be made to do on cue.
"""

import json

import pytest

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi.worker import claims
from tests import fakes

HANDLER = 'monitoring_worker'


@pytest.fixture
def store():
    store = fakes.FakeEtcd()
    yield store
    store.close()


def new_job(store, action='create', resource_id='r1', version=1, **fields):
    """Write a job as Heat does; its KV as a worker reads it."""
    job_id, value = records.job(
        action, HANDLER, 'ha_router', resource_id, version, [],
        {'id': resource_id, 'password': 'pa55'}, **fields)
    store.put(keys.job(job_id), value)
    return store.get(keys.job(job_id))


def take(store, kv, lease, prefetch=()):
    """claims.claim() as a worker calls it, after parsing the job."""
    handler, body = records.parse_job(kv.key, kv.value)[:2]
    return claims.claim(store, kv, handler, body, lease, prefetch)


def job_id_of(kv):
    return kv.key[len(keys.JOBS_ALL):]


def state_of(store, rid='r1'):
    kv = store.get(keys.state('ha_router', rid))
    return kv and records.parse_state(kv.key, kv.value)


# --- claiming ----------------------------------------------------------------

def test_a_claim_holds_the_job_under_the_lease(store):
    kv = new_job(store)
    lease = store.grant_lease(30)
    claim = take(store, kv, lease)
    working = store.get(keys.working(claim.job_id))
    assert (working.value, working.lease) == (claim.claim_id, lease)
    assert claim.attempts == 0
    assert claim.resource == ('ha_router', 'r1')
    # The claim rewrote the job once: its version counts the claims.
    assert store.get(kv.key).version == 2


def test_a_claim_keeps_a_clean_value_and_sends_none(store):
    kv = new_job(store)
    sent = []
    txn = store.txn

    def spy(compare, success, failure=(), key=None):
        sent.append(success)
        return txn(compare, success, failure, key=key)
    store.txn = spy
    claim = take(store, kv, store.grant_lease(30))
    puts = [op['request_put'] for op in sent[0] if 'request_put' in op]
    job_put, = [p for p in puts if p['key'] == etcd._b64(kv.key)]
    # The job's key is written again without its value: etcd keeps it.
    assert job_put == {'key': etcd._b64(kv.key), 'ignore_value': True}
    after = store.get(kv.key)
    assert (after.value, after.version) == (kv.value, 2)
    assert claim.attempts == 0


@pytest.mark.parametrize('stored', [
    # An older worker's count in the third element: the seed's 0 again.
    lambda v: json.dumps([v[0], v[1], 7]),
    # A secret in resource_input (written the old way): left out.
    lambda v: json.dumps([v[0], dict(v[1], resource_input={
        'id': 'r1', 'password': 'pa55'}), 0]),
    # A \u escape could spell a secret's name: rewritten to be sure.
    lambda v: json.dumps([v[0], dict(v[1], resource_input={
        'id': 'r1', 'password': 'pa55'}), 0]).replace(
            '"password"', '"passwor\\u0064"'),
])
def test_a_claim_rewrites_a_value_that_is_not_as_job_value_writes(
        store, stored):
    job_id, value = records.job('create', HANDLER, 'ha_router', 'r1', 1, [],
                                {'id': 'r1'})
    store.put(keys.job(job_id), stored(value))
    kv = store.get(keys.job(job_id))
    claim = take(store, kv, store.grant_lease(30))
    after = store.get(kv.key)
    assert after.version == 2
    assert json.loads(after.value) == [HANDLER, claim.job, 0]
    assert 'pa55' not in after.value


def test_a_retried_claim_request_counts_once(store):
    kv = new_job(store)
    lease = store.grant_lease(30)
    # The claim landed, its answer was lost; the read-back adopts it.
    store.fail(fakes.OUTCOME_UNKNOWN, landed=True, only=['txn'])
    claim = take(store, kv, lease)
    assert claim.attempts == 0
    assert store.get(kv.key).version == 2
    # A slot that claims it again (the job offered twice) writes nothing.
    revision = store.revision()
    assert take(store, kv, store.grant_lease(30)) is None
    assert store.revision() == revision
    # When it expires, the next claim counts exactly that one.
    store.expire(lease)
    again = take(store, store.get(kv.key), store.grant_lease(30))
    assert again.attempts == 1
    assert store.get(kv.key).version == 3


def test_a_job_is_claimed_once(store):
    kv = new_job(store)
    first = take(store, kv, store.grant_lease(30))
    assert first is not None
    assert take(store, kv, store.grant_lease(30)) is None
    # Nor by a worker that read the job after the claim.
    assert take(store, store.get(kv.key), store.grant_lease(30)) is None
    assert store.get(keys.working(first.job_id)).value == first.claim_id


def test_a_job_changed_since_it_was_read_is_not_claimed(store):
    kv = new_job(store)
    store.put(kv.key, kv.value)        # withdrawn and written again, say
    assert take(store, kv, store.grant_lease(30)) is None
    assert store.get(keys.working(job_id_of(kv))) is None


def test_keys_are_read_with_the_claim(store):
    kv = new_job(store)
    store.put('/config/v2.0/heat_templates/t', 'template')
    claim = take(store, kv, store.grant_lease(30),
                 prefetch=('/config/v2.0/heat_templates/t', '/none'))
    assert claim.prefetched['/config/v2.0/heat_templates/t'].value == \
        'template'
    assert claim.prefetched['/none'] is None


def test_claims_after_expired_leases_count_as_attempts(store):
    kv = new_job(store)
    for attempt in range(3):
        lease = store.grant_lease(30)
        claim = take(store, store.get(kv.key), lease)
        assert claim.attempts == attempt
        store.expire(lease)
    assert store.get(keys.working(claim.job_id)) is None


# --- answers lost ------------------------------------------------------------

def test_a_claim_that_landed_unanswered_is_adopted(store):
    kv = new_job(store)
    store.fail(fakes.OUTCOME_UNKNOWN, landed=True, only=['txn'])
    claim = take(store, kv, store.grant_lease(30))
    assert claim is not None
    assert store.get(keys.working(claim.job_id)).value == claim.claim_id
    assert claim.attempts == 0


def test_a_claim_that_did_not_land_is_tried_again(store):
    kv = new_job(store)
    store.fail(fakes.OUTCOME_UNKNOWN, landed=False, only=['txn'])
    with pytest.raises(exceptions.EtcdError) as caught:
        take(store, kv, store.grant_lease(30))
    assert 'will be tried again' in str(caught.value)
    assert store.get(keys.working(job_id_of(kv))) is None
    claim = take(store, store.get(kv.key), store.grant_lease(30))
    assert store.get(keys.working(claim.job_id)).value == claim.claim_id


def test_a_claim_that_lands_late_is_adopted_by_the_retry(store):
    kv = new_job(store)
    lease = store.grant_lease(30)
    store.fail(fakes.OUTCOME_UNKNOWN, landed=fakes.LATER, only=['txn'])
    with pytest.raises(exceptions.EtcdError):
        take(store, kv, lease)
    (landed, _), = store.deliver_late()
    assert landed
    late = store.get(keys.working(job_id_of(kv))).value
    # The retry finds the job held by the lost claim, and takes it as its
    # own instead of leaving it to expire.
    claim = take(store, store.get(kv.key), lease)
    assert claim is not None and claim.claim_id == late
    assert claim.attempts == 0
    claim.finish(records.state('CREATE_COMPLETED', 1))
    assert store.get(kv.key) is None


def test_a_late_claim_after_another_worker_took_the_job_is_not_adopted(
        store):
    kv = new_job(store)
    store.fail(fakes.OUTCOME_UNKNOWN, landed=fakes.LATER, only=['txn'])
    with pytest.raises(exceptions.EtcdError):
        take(store, kv, store.grant_lease(30))
    other = take(store, store.get(kv.key), store.grant_lease(30))
    (landed, _), = store.deliver_late()
    assert not landed
    assert take(store, store.get(kv.key), store.grant_lease(30)) is None
    assert store.get(keys.working(other.job_id)).value == other.claim_id


# --- fenced writes -----------------------------------------------------------

@pytest.fixture
def taken_over(store):
    """(old claim, new claim) of a job taken over.

    The first worker's lease expired, and a second worker claimed the job.
    """
    kv = new_job(store)
    lease = store.grant_lease(30)
    old = take(store, kv, lease)
    store.expire(lease)
    new = take(store, store.get(kv.key), store.grant_lease(30))
    assert new is not None
    return old, new


def test_a_claim_taken_over_can_write_nothing(store, taken_over):
    old, new = taken_over
    revision = store.revision()
    with pytest.raises(claims.ClaimLost):
        old.put_job_state(records.job_state({'a': 'UP'}))
    with pytest.raises(claims.ClaimLost):
        old.finish(records.state('CREATE_FAILED', 1, error='late'))
    assert old.release() is False
    assert store.revision() == revision     # nothing written at all
    assert new.attempts == 1


def test_the_claim_that_holds_the_job_finishes_it(store, taken_over):
    old, new = taken_over
    new.put_job_state(records.job_state({'a': 'UP'}))
    assert store.get(keys.job_state('ha_router', 'r1')) is not None
    new.finish(records.state('CREATE_COMPLETED', 1, {'a': 'UP'}))
    assert store.dump('/jobs/') == {}
    assert store.get(keys.job_state('ha_router', 'r1')) is None
    assert state_of(store) == {'worker_state': 'CREATE_COMPLETED',
                               'version': 1, 'error': '',
                               'state_monitoring': {'a': 'UP'}}


def test_a_job_state_whose_answer_is_lost_is_read_back(store):
    claim = take(store, new_job(store), store.grant_lease(30))
    key = keys.job_state('ha_router', 'r1')
    store.fail(fakes.OUTCOME_UNKNOWN, landed=True, only=['txn'])
    claim.put_job_state({'state_monitoring': {'a': 'UP'}})
    assert json.loads(store.get(key).value) == {
        'state_monitoring': {'a': 'UP'}}
    assert store.get(key).version == 1          # not written twice
    store.fail(fakes.OUTCOME_UNKNOWN, landed=False, only=['txn'])
    claim.put_job_state({'state_monitoring': {'a': 'DOWN'}})
    assert json.loads(store.get(key).value) == {
        'state_monitoring': {'a': 'DOWN'}}


def test_a_finish_whose_answers_keep_getting_lost_says_so(store):
    claim = take(store, new_job(store), store.grant_lease(30))
    store.fail(fakes.OUTCOME_UNKNOWN, count=3, only=['txn'])
    with pytest.raises(exceptions.EtcdOutcomeUnknown):
        claim.finish(records.state('CREATE_COMPLETED', 1))
    assert store.get(keys.job(claim.job_id)) is not None
    # Once etcd answers again, the same finish goes through.
    claim.finish(records.state('CREATE_COMPLETED', 1))
    assert state_of(store)['worker_state'] == 'CREATE_COMPLETED'


def test_only_the_last_job_of_a_workflow_writes_state(store):
    claim = take(store, new_job(store, is_last=False), store.grant_lease(30))
    claim.put_job_state({'state_monitoring': {}})
    claim.finish(records.state('CREATE_COMPLETED', 1),
                 extra_deletes=[keys.monitoring('ha_router', 'r1')])
    assert state_of(store) is None
    assert store.get(keys.job_state('ha_router', 'r1')) is not None
    assert store.dump('/jobs/') == {}


def test_a_finish_deletes_the_extra_keys_it_is_given(store):
    store.put(keys.monitoring('ha_router', 'r1'), '{}')
    claim = take(store, new_job(store, action='logical_delete'),
                 store.grant_lease(30))
    claim.finish(records.state('DELETE_COMPLETED', 1),
                 extra_deletes=[keys.monitoring('ha_router', 'r1')])
    assert store.get(keys.monitoring('ha_router', 'r1')) is None


def test_a_released_job_can_be_claimed_at_once(store):
    kv = new_job(store)
    claim = take(store, kv, store.grant_lease(30))
    assert claim.release() is True
    assert store.get(keys.working(claim.job_id)) is None
    assert store.get(kv.key) is not None
    again = take(store, store.get(kv.key), store.grant_lease(30))
    assert again is not None
    with pytest.raises(claims.ClaimLost):
        claim.put_job_state({})


# --- unreadable jobs ---------------------------------------------------------

def test_an_unreadable_job_is_moved_aside_without_its_secrets(store):
    kv = new_job(store)
    value = json.loads(kv.value)
    value[1]['version'] = 'one'
    value[1]['resource_input']['password'] = 'pa55'
    store.put(kv.key, json.dumps(value))
    kv = store.get(kv.key)
    assert claims.fail_unreadable(store, kv, 'bad version')
    rejected = store.get(keys.JOBS_REJECTED + job_id_of(kv)).value
    assert 'pa55' not in rejected
    assert json.loads(rejected)[1]['version'] == 'one'
    assert store.get(kv.key) is None
    state = state_of(store)
    assert state['worker_state'] == 'CREATE_FAILED'
    assert state['error'] == 'job %s: bad version' % job_id_of(kv)


def test_a_claimed_job_is_not_moved_aside(store):
    kv = new_job(store)
    take(store, kv, store.grant_lease(30))
    assert not claims.fail_unreadable(store, store.get(kv.key), 'bad')
    assert store.get(kv.key) is not None
    assert store.dump(keys.JOBS_REJECTED) == {}


# --- job_state over a workflow -----------------------------------------------

def test_job_state_entries_accumulate_over_the_jobs_of_a_resource(store):
    first = take(store, new_job(store, is_last=False), store.grant_lease(30))
    first.put_job_state({'heat_outputs': [{'output_key': 'id'}]})
    first.finish(records.state('CREATE_COMPLETED', 1))
    last = take(store, new_job(store), store.grant_lease(30),
                prefetch=[keys.job_state('ha_router', 'r1')])
    assert last.job_state() == {'heat_outputs': [{'output_key': 'id'}]}
    last.put_job_state({'state_monitoring': {'a': 'UP'}})
    assert json.loads(store.get(keys.job_state('ha_router', 'r1')).value) == {
        'heat_outputs': [{'output_key': 'id'}],
        'state_monitoring': {'a': 'UP'}}


def test_a_job_state_that_is_no_object_is_replaced(store):
    store.put(keys.job_state('ha_router', 'r1'), '[1, 2')
    claim = take(store, new_job(store), store.grant_lease(30))
    claim.put_job_state({'state_monitoring': {}})
    assert json.loads(store.get(keys.job_state('ha_router', 'r1')).value) == {
        'state_monitoring': {}}


def workflow(store, steps=2, version=1, rid='r1'):
    """Write the jobs of a plan of *steps* jobs; their KVs, in order."""
    made = records.job_plan(
        [records.Step('create', HANDLER)] * steps, 'ha_router', rid,
        version, lambda step: [], {'id': rid})
    for job_id, value in made:
        store.put(keys.job(job_id), value)
    return [store.get(keys.job(job_id)) for job_id, _ in made]


def test_a_failed_job_before_the_last_ends_the_workflow(store):
    first, second, third = workflow(store, steps=3)
    other_version = workflow(store, steps=1, version=2)[0]
    other_resource = workflow(store, steps=1, rid='r2')[0]
    claim = take(store, first, store.grant_lease(30))
    claim.put_job_state({'heat_outputs': []})
    claim.finish(records.state('CREATE_FAILED', 1, error='stack failed'),
                 failed=True)
    assert state_of(store) == {'worker_state': 'CREATE_FAILED',
                               'version': 1, 'error': 'stack failed',
                               'state_monitoring': {}}
    assert store.get(keys.job_state('ha_router', 'r1')) is None
    # The later jobs never run; the others are not this workflow's.
    assert sorted(store.dump(keys.JOBS_ALL)) == sorted(
        [other_version.key, other_resource.key])
    assert second.key not in store.dump('/jobs/')
    assert third.key not in store.dump('/jobs/')


def test_a_failure_keeps_a_later_job_someone_claimed(store):
    first, second = workflow(store)
    claim = take(store, first, store.grant_lease(30))
    # Not a worker's doing (it waits for the first), but an operator's.
    store.put(keys.working(job_id_of(second)), 'held')
    claim.finish(records.state('CREATE_FAILED', 1, error='x'), failed=True)
    assert state_of(store)['worker_state'] == 'CREATE_FAILED'
    assert store.get(second.key) is not None
    assert store.get(first.key) is None


def test_a_failure_of_a_claim_taken_over_drops_nothing(store):
    first, second = workflow(store)
    lease = store.grant_lease(30)
    old = take(store, first, lease)
    store.expire(lease)
    take(store, store.get(first.key), store.grant_lease(30))
    revision = store.revision()
    with pytest.raises(claims.ClaimLost):
        old.finish(records.state('CREATE_FAILED', 1, error='late'),
                   failed=True)
    assert store.revision() == revision
    assert store.get(second.key) is not None


def test_a_failed_last_job_finishes_as_before(store):
    (only,) = workflow(store, steps=1)
    claim = take(store, only, store.grant_lease(30))
    claim.finish(records.state('CREATE_FAILED', 1, error='x'), failed=True)
    assert state_of(store)['error'] == 'x'
    assert store.dump('/jobs/') == {}


def test_a_handler_writes_other_keys_only_while_its_claim_holds(store,
                                                                taken_over):
    old, new = taken_over
    new.put('/esi-worker/heat_stacks/v2.0/networks/n1', {'stack_id': 'x'})
    assert json.loads(store.get(
        '/esi-worker/heat_stacks/v2.0/networks/n1').value) == {
            'stack_id': 'x'}
    revision = store.revision()
    with pytest.raises(claims.ClaimLost):
        old.put('/esi-worker/heat_stacks/v2.0/networks/n1', {})
    assert store.revision() == revision


def test_a_failure_drops_the_later_jobs_written_with_it(store):
    made = records.job_plan([records.Step('create', HANDLER)] * 3,
                            'ha_router', 'r1', 1, lambda step: [],
                            {'id': 'r1'})
    store.txn([], [etcd.put(keys.job(job_id), value)
                   for job_id, value in made], key=keys.job(made[0][0]))
    claim = take(store, store.get(keys.job(made[0][0])),
                 store.grant_lease(30))
    claim.finish(records.state('CREATE_FAILED', 1, error='x'), failed=True)
    assert store.dump('/jobs/') == {}
    assert state_of(store)['worker_state'] == 'CREATE_FAILED'

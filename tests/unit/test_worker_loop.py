"""The worker loop (heat_esi.worker.service.Worker) on a fake etcd.

The Worker runs its real threads (intake, slots, lease keeper, deadline
watch) against tests.fakes.FakeEtcd, with a handler whose jobs do what
each test says. Tests wait on etcd keys (a watch with a deadline) and on
events the handler sets, never for a fixed time.
"""

import json
import logging
import threading
import time

import pytest

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi.worker import claims
from heat_esi.worker import service
from tests import fakes

HANDLER = 'monitoring_worker'
WAIT = 5        # seconds before a test gives up on what it waits for


class Handler(object):
    """A job handler whose jobs do what the test planned for them.

    By default a job completes at once with one element UP; ``plan[rid]``
    replaces that for the jobs of resource *rid*: a callable(claim, clock)
    returning the outcome or raising.
    """

    def __init__(self):
        self.plan = {}
        self.ran = []               # job ids, in the order they started
        self.started = {}           # resource id -> threading.Event
        self.threads = {}           # resource id -> thread of its last job

    def prefetch(self, job):
        return ()

    def run(self, claim, clock):
        rid = claim.job['resource_id']
        self.ran.append(claim.job_id)
        self.threads[rid] = threading.current_thread()
        self.started.setdefault(rid, threading.Event()).set()
        action = self.plan.get(rid)
        outcome = action(claim, clock) if action else None
        return outcome or {'state_monitoring': {'router': 'UP'}}, ()

    def started_event(self, rid):
        return self.started.setdefault(rid, threading.Event())


@pytest.fixture
def store():
    store = fakes.FakeEtcd()
    yield store
    store.close()


@pytest.fixture
def handler():
    return Handler()


class LogWatch(logging.Handler):
    """The worker's log lines, and a wait for one of them."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []
        self.cond = threading.Condition()

    def emit(self, record):
        with self.cond:
            self.lines.append(record.getMessage())
            self.cond.notify_all()

    def wait(self, text):
        """Whether a line containing *text* came within WAIT seconds."""
        with self.cond:
            return self.cond.wait_for(
                lambda: any(text in line for line in self.lines), WAIT)


@pytest.fixture
def logs():
    watch = LogWatch()
    logger = logging.getLogger('heat_esi')
    level = logger.level
    logger.addHandler(watch)
    logger.setLevel(logging.INFO)
    yield watch
    logger.removeHandler(watch)
    logger.setLevel(level)


@pytest.fixture
def gates():
    """Events the handlers of a test wait on, all set at its end."""
    made = []

    def gate():
        made.append(threading.Event())
        return made[-1]
    yield gate
    for event in made:
        event.set()


@pytest.fixture
def start(store, handler):
    """start(**Worker options) -> a running Worker, stopped at the end."""
    started = []
    before = set(threading.enumerate())

    def run(**options):
        options.setdefault('job_slots', 2)
        options.setdefault('shutdown_grace', 0.5)
        worker = service.Worker(store, {HANDLER: handler}, **options)
        worker.start()
        started.append(worker)
        return worker
    yield run
    for worker in started:
        if not worker.stopping.is_set():
            worker.stop()
    store.close()
    deadline = time.monotonic() + WAIT
    for thread in set(threading.enumerate()) - before:
        thread.join(max(deadline - time.monotonic(), 0))
    assert not [t.name for t in set(threading.enumerate()) - before
                if t.is_alive()], 'worker threads left running'


def new_job(store, rid='r1', action='create', version=1, **fields):
    """Write a job as Heat does; its id."""
    job_id, value = records.job(action, HANDLER, 'ha_router', rid, version,
                                [], {'id': rid}, **fields)
    store.put(keys.job(job_id), value)
    return job_id


def claim_elsewhere(store, job_id, lease):
    """Claim the job as another worker would, under *lease*."""
    kv = store.get(keys.job(job_id))
    handler, body = records.parse_job(kv.key, kv.value)[:2]
    return claims.claim(store, kv, handler, body, lease)


def wait_for(store, key, predicate=lambda kv: kv is not None):
    """The KV at *key* once *predicate(KV or None)* holds.

    A watch on the key, and a deadline: no polling, no fixed sleep.
    """
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with store.watching(key, deadline - time.monotonic()) as events:
            kv = store.get(key)
            if predicate(kv):
                return kv
            for event in events:
                kv = event.kv if event.type == etcd.PUT else None
                if predicate(kv):
                    return kv
    raise AssertionError('%s: not as expected within %s s' % (key, WAIT))


def state(store, rid='r1', version=1):
    """The /state of *rid* once the worker wrote it for *version*."""
    key = keys.state('ha_router', rid)
    kv = wait_for(store, key, lambda kv: kv is not None and
                  records.parse_state(key, kv.value)['version'] >= version)
    return records.parse_state(key, kv.value)


# --- intake ------------------------------------------------------------------

def test_jobs_found_at_start_are_run(store, start):
    ids = [new_job(store, rid) for rid in ('r1', 'r2', 'r3')]
    start()
    for rid in ('r1', 'r2', 'r3'):
        assert state(store, rid) == {
            'worker_state': 'CREATE_COMPLETED', 'version': 1, 'error': '',
            'state_monitoring': {'router': 'UP'}}
    for job_id in ids:
        wait_for(store, keys.job(job_id), lambda kv: kv is None)
    assert store.dump('/jobs/') == {}
    assert store.dump('/esi-worker/job_state/') == {}


def test_jobs_written_later_come_through_the_watch(store, start, handler):
    start()
    # The intake has read /jobs/ and watches it: what follows is an event.
    assert store.wait_for_request(lambda name, key: name == 'watch')
    job_id = new_job(store)
    assert state(store)['worker_state'] == 'CREATE_COMPLETED'
    assert handler.ran == [job_id]


def test_a_job_whose_claim_expired_is_taken(store, start, handler):
    job_id = new_job(store)
    other = store.grant_lease(30)
    assert claim_elsewhere(store, job_id, other) is not None
    start()
    assert store.wait_for_request(lambda name, key: name == 'watch')
    # Claimed by a worker that died: the end of its lease frees the job.
    store.expire(other)
    assert state(store)['worker_state'] == 'CREATE_COMPLETED'
    assert handler.ran == [job_id]


def test_an_intake_that_cannot_read_retries(store, start, handler):
    store.fail(fakes.UNAVAILABLE, count=2, only=['get_prefix'])
    new_job(store)
    start()
    assert state(store)['worker_state'] == 'CREATE_COMPLETED'


# --- bad jobs ----------------------------------------------------------------

def test_a_bad_job_is_rejected_with_a_failed_state(store, start, handler):
    job_id, value = records.job('create', HANDLER, 'ha_router', 'r1', 1, [],
                                {'id': 'r1', 'password': 'pa55'})
    value[1]['is_last'] = 'yes'
    store.put(keys.job(job_id), value)
    start()
    found = state(store)
    assert found['worker_state'] == 'CREATE_FAILED'
    assert found['error'].startswith('job %s: malformed value at %s'
                                     % (job_id, keys.job(job_id)))
    assert '"is_last" must be true or false' in found['error']
    rejected = wait_for(store, keys.JOBS_REJECTED + job_id)
    assert 'pa55' not in rejected.value
    assert store.get(keys.job(job_id)) is None
    assert handler.ran == []


def test_a_job_of_another_handler_is_left_alone(store, start, handler):
    other_id, value = records.job('create', 'other_worker', 'ha_router',
                                  'r9', 1, [], {})
    store.put(keys.job(other_id), value)
    mine = new_job(store)
    start()
    state(store)
    assert handler.ran == [mine]
    assert store.get(keys.job(other_id)) is not None
    assert store.get(keys.working(other_id)) is None


# --- dependencies ------------------------------------------------------------

def test_a_job_waits_for_the_jobs_it_depends_on(store, start, handler,
                                                gates, logs):
    gate = gates()
    handler.plan['r1'] = lambda claim, clock: (
        None if claim.job['version'] > 1 else gate.wait(WAIT) and None)
    first = new_job(store)
    second = new_job(store, action='modify', version=2, dependency=[first])
    start()
    assert handler.started_event('r1').wait(WAIT)
    # The first one runs; the other slot looked at the second one, which
    # waits for it.
    assert logs.wait('job %s waits for %s' % (second, first))
    assert store.get(keys.working(second)) is None
    assert handler.ran == [first]
    gate.set()
    assert state(store, version=2)['worker_state'] == 'MODIFY_COMPLETED'
    assert handler.ran == [first, second]


def test_a_job_waits_for_another_resources_job_of_its_transaction(
        store, start, handler, gates, logs):
    # actions.commit writes several resources' jobs at one revision; the
    # ordering between them is only their dependency lists.
    gate = gates()
    handler.plan['r1'] = lambda claim, clock: gate.wait(WAIT) and None
    first, first_value = records.job('create', HANDLER, 'ha_router', 'r1',
                                     1, [], {'id': 'r1'})
    second, second_value = records.job('modify', HANDLER, 'ha_router', 'r2',
                                       2, [], {'id': 'r2'},
                                       dependency=[first])
    store.txn([], [etcd.put(keys.job(second), second_value),
                   etcd.put(keys.job(first), first_value)])
    start()
    assert handler.started_event('r1').wait(WAIT)
    assert logs.wait('job %s waits for %s' % (second, first))
    assert handler.ran == [first]
    gate.set()
    assert state(store, 'r2', version=2)['worker_state'] == \
        'MODIFY_COMPLETED'
    assert handler.ran == [first, second]


def test_a_job_never_waits_for_a_later_one(store, start, handler):
    # Written first but naming a later job: it must not wait for it (two
    # such jobs would wait for each other forever).
    first, first_value = records.job('create', HANDLER, 'ha_router', 'r1',
                                     1, [], {})
    later, later_value = records.job('modify', HANDLER, 'ha_router', 'r1',
                                     2, [], {}, dependency=[first])
    first_value[1]['dependency'] = [later]
    store.put(keys.job(first), first_value)
    store.put(keys.job(later), later_value)
    start()
    assert state(store, version=2)['worker_state'] == 'MODIFY_COMPLETED'
    assert handler.ran[0] == first


def test_the_waiting_map_is_empty_once_dependent_jobs_ran(
        store, start, handler, gates, logs):
    gate = gates()
    handler.plan['r1'] = lambda claim, clock: (
        None if claim.job['version'] > 1 else gate.wait(WAIT) and None)
    worker = start()
    first = new_job(store)
    assert handler.started_event('r1').wait(WAIT)
    # One job waits for a running one...
    second = new_job(store, action='modify', version=2, dependency=[first])
    assert logs.wait('job %s waits for %s' % (second, first))
    gate.set()
    assert state(store, version=2)['worker_state'] == 'MODIFY_COMPLETED'
    # ... and others name jobs that had finished: none waits.
    for version in (3, 4, 5):
        new_job(store, action='modify', version=version,
                dependency=[first, second])
        assert state(store, version=version)['version'] == version
    assert worker._waiting == {}


# --- fairness between projects ---------------------------------------------

def project_job(store, project, rid):
    """Write a job of *project* (the tenant_id Heat writes); its id."""
    job_id, value = records.job('create', HANDLER, 'ha_router', rid, 1, [],
                                {'id': rid, 'tenant_id': project})
    store.put(keys.job(job_id), value)
    return job_id


@pytest.fixture
def permits(handler):
    """A semaphore the jobs of resources a* wait on, opened at the end."""
    held = threading.Semaphore(0)
    started = []

    def hold(claim, clock):
        started.append(claim.job['resource_id'])
        held.acquire(timeout=WAIT * 4)
    handler.plan = _Prefixed('a', hold)
    held.started = started
    yield held
    for _ in range(1000):
        held.release()


class _Prefixed(dict):
    """A handler plan for every resource id that starts with *prefix*."""

    def __init__(self, prefix, action):
        super().__init__()
        self.prefix, self.action = prefix, action

    def get(self, rid, default=None):
        return self.action if rid.startswith(self.prefix) else default


def ran_before(handler, job_id):
    """The jobs the handler started before *job_id*."""
    return handler.ran[:handler.ran.index(job_id)]


@pytest.mark.parametrize('found_at_start', [True, False],
                         ids=['found-at-start', 'through-the-watch'])
def test_a_free_slot_goes_to_the_project_with_fewer_jobs_running(
        store, start, handler, permits, found_at_start):
    # More than one worker's take window (64), all busy for long: on
    # main, the other project's job waited behind most of them.
    count = 70
    busy = ['a%d' % i for i in range(count)]
    for rid in busy if found_at_start else ():
        project_job(store, 'busy', rid)
    worker = start(job_slots=2)
    assert store.wait_for_request(lambda name, key: name == 'watch')
    for rid in () if found_at_start else busy:
        project_job(store, 'busy', rid)
    wait_until(lambda: len(permits.started) == 2)
    other = project_job(store, 'other', 'b1')
    # The worker knows it (the watch delivers events on its own thread)
    # when one of the busy project's jobs ends.
    wait_until(lambda: other in worker._candidates)
    permits.release()
    assert state(store, 'b1')['worker_state'] == 'CREATE_COMPLETED'
    assert len(ran_before(handler, other)) == 2
    assert worker.max_jobs_per_project is None


def test_a_project_at_its_limit_leaves_slots_to_the_others(
        store, start, handler, permits):
    for i in range(10):
        project_job(store, 'busy', 'a%d' % i)
    start(job_slots=3, max_jobs_per_project=0)      # job_slots - 1
    wait_until(lambda: len(permits.started) == 2)
    # Every busy job holds its slot: the third slot is free for others.
    other = project_job(store, 'other', 'b1')
    assert state(store, 'b1')['worker_state'] == 'CREATE_COMPLETED'
    assert len(ran_before(handler, other)) == 2
    assert len(permits.started) == 2


def test_jobs_found_at_start_are_read_again_when_etcd_fails(
        store, start, handler, logs):
    # Read in one batch to learn their projects; that read fails twice.
    ids = [project_job(store, 'p%d' % (i % 2), 'b%d' % i) for i in range(4)]
    store.fail(fakes.UNAVAILABLE, count=2, only=['txn'])
    worker = start()
    for i in range(4):
        assert state(store, 'b%d' % i)['worker_state'] == 'CREATE_COMPLETED'
    assert logs.wait('cannot read 4 job(s) found at start or freed')
    assert sorted(handler.ran) == sorted(ids)
    # Each slot lets go of its project's share once its job is recorded.
    wait_until(lambda: not worker._taken)
    assert len(worker._candidates) == 0


def wait_until(predicate):
    """Poll *predicate* (the handler's own lists) until it holds."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, 'not within %s s' % WAIT
        time.sleep(0.01)


# --- outcomes ----------------------------------------------------------------

def failing(message, **outcome):
    def run(claim, clock):
        raise exceptions.JobFailed(message, outcome)
    return run


def test_a_failed_job_records_its_error(store, start, handler):
    handler.plan['r1'] = failing('router DOWN',
                                 state_monitoring={'router': 'DOWN'})
    new_job(store, request_id='req-123')
    start()
    assert state(store) == {
        'worker_state': 'CREATE_FAILED', 'version': 1,
        'error': 'router DOWN (request req-123)',
        'state_monitoring': {'router': 'DOWN'}}


def test_a_failure_to_ignore_completes(store, start, handler):
    handler.plan['r1'] = failing('router DOWN')
    new_job(store, on_failure='ignore')
    start()
    found = state(store)
    assert (found['worker_state'], found['error']) == ('CREATE_COMPLETED',
                                                       '')


def test_a_crashing_handler_fails_the_job_not_the_worker(store, start,
                                                         handler):
    def crash(claim, clock):
        raise KeyError('oops')
    handler.plan['r1'] = crash
    new_job(store)
    worker = start()
    found = state(store)
    assert found['worker_state'] == 'CREATE_FAILED'
    assert found['error'] == ("ha_router r1: internal error in handler "
                              "monitoring_worker: KeyError: 'oops'")
    new_job(store, rid='r2')
    assert state(store, 'r2')['worker_state'] == 'CREATE_COMPLETED'
    assert worker.dead_threads() == []


def test_a_job_claimed_too_often_fails(store, start, handler):
    job_id = new_job(store)
    for _ in range(3):
        lease = store.grant_lease(30)
        claim_elsewhere(store, job_id, lease)
        store.expire(lease)
    start(max_attempts=3)
    found = state(store)
    assert found['worker_state'] == 'CREATE_FAILED'
    assert ('job %s for ha_router r1 was claimed 3 times without finishing '
            '(max_attempts 3)' % job_id) in found['error']
    assert handler.ran == []


# --- deadlines ---------------------------------------------------------------

def test_a_job_past_its_deadline_fails(store, start, handler):
    handler.plan['r1'] = lambda claim, clock: clock.wait(WAIT * 2)
    new_job(store)
    start(job_timeout=0.05)
    found = state(store)
    assert found['worker_state'] == 'CREATE_FAILED'
    assert found['error'] == ('job deadline passed: still running after '
                              '0.05 s ([worker] job_timeout)')


def test_a_handler_that_ignores_its_deadline_is_left_behind(
        store, start, handler, gates):
    gate = gates()
    handler.plan['r1'] = lambda claim, clock: gate.wait(WAIT) and None
    new_job(store)
    worker = start(job_slots=1, job_timeout=0.05, deadline_grace=0.05)
    found = state(store)
    assert found['worker_state'] == 'CREATE_FAILED'
    assert found['error'] == (
        'ha_router r1: job deadline passed: still running after 0.05 s '
        '([worker] job_timeout); its handler did not stop within 0.05 s '
        'more, so the job failed without it')
    # Its slot has a new thread: the next job runs with the first still
    # stuck in its handler.
    new_job(store, rid='r2')
    assert state(store, 'r2')['worker_state'] == 'CREATE_COMPLETED'
    # When the stuck handler returns at last, its result is discarded.
    revision = store.revision()
    gate.set()
    handler.threads['r1'].join(WAIT)
    assert not handler.threads['r1'].is_alive()
    assert store.revision() == revision
    assert worker.dead_threads() == []


# --- takeovers and outages -------------------------------------------------

def test_a_job_taken_over_while_running_is_dropped(store, start, handler,
                                                   gates, logs):
    gate = gates()
    handler.plan['r1'] = lambda claim, clock: gate.wait(WAIT) and None
    job_id = new_job(store)
    worker = start()
    assert handler.started_event('r1').wait(WAIT)
    # The worker was paused past its lease; another one took the job.
    store.expire(worker.lease_id)
    other = claim_elsewhere(store, job_id, store.grant_lease(30))
    assert other is not None and other.attempts == 1
    gate.set()
    assert logs.wait('job %s dropped, its result discarded' % job_id)
    assert store.get(keys.state('ha_router', 'r1')) is None
    assert store.get(keys.working(job_id)).value == other.claim_id
    other.finish(records.state('CREATE_COMPLETED', 1))
    assert state(store)['worker_state'] == 'CREATE_COMPLETED'


def test_a_result_etcd_did_not_take_is_recorded_once_it_answers(
        store, start, handler):
    def outage(claim, clock):
        # etcd goes away as the job ends, the first time: its finish
        # fails twice.
        if len(handler.ran) == 1:
            store.fail(fakes.UNAVAILABLE, count=2, only=['txn'])
    handler.plan['r1'] = outage
    job_id = new_job(store)
    start()
    assert state(store)['worker_state'] == 'CREATE_COMPLETED'
    wait_for(store, keys.job(job_id), lambda kv: kv is None)
    assert store.dump('/jobs/') == {}


# --- shutdown ----------------------------------------------------------------

def test_shutdown_releases_the_jobs_still_running(store, start, handler):
    def until_shutdown(claim, clock):
        if clock.wait(WAIT * 2):
            raise exceptions.JobInterrupted()
    handler.plan['r1'] = until_shutdown
    job_id = new_job(store)
    worker = start(shutdown_grace=0.05)
    assert handler.started_event('r1').wait(WAIT)
    assert store.get(keys.working(job_id)) is not None
    worker.stop()
    assert store.get(keys.working(job_id)) is None
    assert store.get(keys.job(job_id)) is not None      # for another worker
    assert store.get(keys.state('ha_router', 'r1')) is None
    assert store.leases() == set()
    assert store.dump(keys.MEMBERS) == {}


def test_shutdown_lets_a_job_finish_within_the_grace(store, start, handler,
                                                     gates):
    gate = gates()
    handler.plan['r1'] = lambda claim, clock: gate.wait(WAIT) and None
    new_job(store)
    worker = start(shutdown_grace=WAIT)
    assert handler.started_event('r1').wait(WAIT)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    assert worker.stopping.wait(WAIT)
    new_job(store, rid='r2')            # not taken: the worker is stopping
    gate.set()
    stopper.join(WAIT)
    assert not stopper.is_alive()
    assert store.get(keys.state('ha_router', 'r1')) is not None
    assert store.get(keys.state('ha_router', 'r2')) is None
    assert [job for job in handler.ran if ':r2:' in job] == []


def test_shutdown_is_woken_by_the_last_job_not_by_polling(
        store, start, handler, monkeypatch):
    polls, sleep, stopper = [], time.sleep, threading.current_thread()

    def no_polling(seconds):
        # time is the module every thread uses: only stop()'s calls count.
        if threading.current_thread() is stopper:
            polls.append(seconds)
        sleep(seconds)
    monkeypatch.setattr(service.time, 'sleep', no_polling)
    worker = start(shutdown_grace=WAIT)
    handler.plan['r1'] = (
        lambda claim, clock: worker.stopping.wait(WAIT) and None)
    new_job(store)
    assert handler.started_event('r1').wait(WAIT)
    worker.stop()
    assert polls == []
    assert store.get(keys.state('ha_router', 'r1')) is not None


# --- the handler's result ----------------------------------------------------

def test_a_handlers_heat_outputs_reach_state(store, start, handler):
    handler.plan['r1'] = lambda claim, clock: {
        'state_monitoring': {'router': 'UP'}, 'heat_outputs': {'id': 'x'}}
    new_job(store)
    start()
    state(store)
    raw = json.loads(store.get(keys.state('ha_router', 'r1')).value)
    assert json.loads(raw['state']['heat_outputs']) == {'id': 'x'}


def test_a_plan_step_failing_with_on_failure_ignore_lets_the_next_run(
        store, start, handler):
    def run(claim, clock):
        if claim.job['action'] == 'delete':
            raise exceptions.JobFailed('unmonitor failed')
    handler.plan['r1'] = run
    steps = (records.Step(records.DELETE, HANDLER, 'ignore'),
             records.Step(records.CREATE, HANDLER))
    made = records.job_plan(steps, 'ha_router', 'r1', 1, lambda s: [],
                            {'id': 'r1'})
    for job_id, value in made:
        store.put(keys.job(job_id), value)
    start()
    wait_for(store, keys.job(made[-1][0]), lambda kv: kv is None)
    assert handler.ran == [made[0][0], made[1][0]]
    found = state(store)        # the last job's: a create
    assert (found['worker_state'], found['error']) == (
        states.completed(records.CREATE), '')


# --- workflows of several jobs -----------------------------------------------

def plan_jobs(store, steps, rid='r1'):
    """Write the jobs of a plan (records.Step list); their ids, in order."""
    made = records.job_plan(steps, 'ha_router', rid, 1, lambda step: [],
                            {'id': rid})
    for job_id, value in made:
        store.put(keys.job(job_id), value)
    return [job_id for job_id, _ in made]


def raw_state(store, rid='r1'):
    """/state's inner entries, JSON-decoded, once it is written."""
    kv = wait_for(store, keys.state('ha_router', rid))
    value = json.loads(kv.value)
    inner = value['state']
    return dict({k: v if k == 'worker_state' else json.loads(v)
                 for k, v in inner.items()}, error=value['error'])


def test_the_last_job_fills_state_from_what_the_first_put_in_job_state(
        store, start, handler):
    first, last = plan_jobs(store, [records.Step('create', HANDLER)] * 2)

    def by_job(claim, clock):
        if claim.job_id == first:
            claim.put_job_state({'heat_outputs': [{'output_key': 'uuid',
                                                   'output_value': 'u-1'}]})
            # The test handler's outcome: nothing for /state of its own.
            return {'state_monitoring': None}
        claim.put_job_state({'state_monitoring': {'router': 'UP'}})
        return {'state_monitoring': {'router': 'UP'}}
    handler.plan['r1'] = by_job
    start()
    assert raw_state(store) == {
        'worker_state': 'CREATE_COMPLETED', 'error': '',
        'state_monitoring': {'router': 'UP'},
        'heat_outputs': [{'output_key': 'uuid', 'output_value': 'u-1'}]}
    assert handler.ran == [first, last]
    wait_for(store, keys.job(last), lambda kv: kv is None)
    assert store.dump('/esi-worker/job_state/') == {}


def test_a_first_job_that_fails_ends_the_workflow(store, start, handler):
    first, last = plan_jobs(store, [records.Step('create', HANDLER)] * 2)

    def fails(claim, clock):
        claim.put_job_state({'heat_outputs': []})
        raise exceptions.JobFailed('ha_router r1: stack CREATE_FAILED')
    handler.plan['r1'] = fails
    start()
    found = raw_state(store)
    assert found['worker_state'] == 'CREATE_FAILED'
    assert found['error'] == 'ha_router r1: stack CREATE_FAILED'
    wait_for(store, keys.job(first), lambda kv: kv is None)
    assert store.dump('/jobs/') == {}
    assert store.dump('/esi-worker/job_state/') == {}
    assert handler.ran == [first]           # the last job never ran


def test_a_first_job_whose_failure_is_ignored_lets_the_next_run(
        store, start, handler):
    first, last = plan_jobs(store, [records.Step('delete', HANDLER,
                                                 'ignore'),
                                    records.Step('create', HANDLER)])

    def by_job(claim, clock):
        if claim.job_id == first:
            raise exceptions.JobFailed('ha_router r1: nothing to unmonitor')
        return None
    handler.plan['r1'] = by_job
    start()
    assert state(store)['worker_state'] == 'CREATE_COMPLETED'
    assert handler.ran == [first, last]


def test_a_job_for_a_handler_nobody_installed_is_refused(
        store, start, handler):
    job_id, value = records.job('create', 'no_such_worker', 'ha_router',
                                'r1', 1, [], {'id': 'r1'})
    store.put(keys.job(job_id), value)
    start()
    found = state(store)
    assert found['worker_state'] == 'CREATE_FAILED'
    assert "no job handler 'no_such_worker' is installed" in found['error']
    assert job_id in found['error']
    assert store.get(keys.JOBS_REJECTED + job_id) is not None
    assert store.dump(keys.JOBS_ALL) == {}
    assert handler.ran == []


def test_a_claim_that_lands_after_its_read_back_is_adopted(
        store, start, handler, logs):
    # A frozen etcd leader had passed the claim on: it lands after the
    # read-back found nothing. The job, held under our lease, is ours.
    worker = start(job_slots=1)
    assert store.wait_for_request(lambda name, key: name == 'watch')
    store.fail(fakes.OUTCOME_UNKNOWN, landed=fakes.LATER, only=['txn'])
    job_id = new_job(store)
    assert logs.wait('leaving it to be retried')
    (landed, _), = store.deliver_late()
    assert landed
    assert state(store)['worker_state'] == 'CREATE_COMPLETED'
    assert handler.ran == [job_id]
    wait_for(store, keys.job(job_id), lambda kv: kv is None)
    assert store.dump('/jobs/') == {}
    assert worker.lease_id in store.leases()


def test_the_jobs_of_a_plan_written_at_once_run_in_order(
        store, start, handler, gates, logs):
    # Heat writes a plan's jobs in one transaction: one create revision.
    gate = gates()
    made = records.job_plan([records.Step('create', HANDLER)] * 2,
                            'ha_router', 'r1', 1, lambda step: [],
                            {'id': 'r1'})
    (first, _), (last, _) = made
    handler.plan['r1'] = lambda claim, clock: (
        gate.wait(WAIT) and None if claim.job_id == first else None)
    store.txn([], [etcd.put(keys.job(job_id), value)
                   for job_id, value in made], key=keys.job(first))
    start()
    assert logs.wait('job %s waits for %s' % (last, first))
    # The wait is logged when the last job is found, which may be before
    # the first one has started: wait for that start, then for nothing.
    wait_until(lambda: handler.ran)
    assert handler.ran == [first]
    gate.set()
    assert state(store)['worker_state'] == 'CREATE_COMPLETED'
    wait_for(store, keys.job(last), lambda kv: kv is None)
    assert handler.ran == [first, last]


def test_jobs_written_at_once_that_name_each_other_do_not_wedge(
        store, start, handler):
    one, one_value = records.job('create', HANDLER, 'ha_router', 'r1', 1,
                                 [], {'id': 'r1'})
    two, two_value = records.job('create', HANDLER, 'ha_router', 'r2', 1,
                                 [], {'id': 'r2'}, dependency=[one])
    three, three_value = records.job('create', HANDLER, 'ha_router', 'r3',
                                     1, [], {'id': 'r3'}, dependency=[two])
    one_value[1]['dependency'] = [three]        # a cycle of three
    store.txn([], [etcd.put(keys.job(job_id), value) for job_id, value in
                   ((one, one_value), (two, two_value),
                    (three, three_value))], key=keys.job(one))
    start()
    for rid in ('r1', 'r2', 'r3'):
        assert state(store, rid)['worker_state'] == 'CREATE_COMPLETED'
    assert sorted(handler.ran) == sorted([one, two, three])

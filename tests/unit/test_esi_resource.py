"""The Heat side of the ESI protocol (heat_esi.esi_resource) on a fake etcd.

An ESI::HaRouter of a real, stored Heat stack (tests.heat_engine: Heat in
this process, on its in-memory test database) is driven through its
handle_* and check_*_complete methods as heat-engine calls them, with
heat-engine's etcd client (the ESI client plugin's, heat_esi.client)
replaced by tests.fakes.FakeEtcd: the fixture ``etcd_of_heat`` is the one
place that knows how a resource reaches etcd.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import threading
import time
import uuid

from heat.common import exception
import pytest

from heat_esi import client
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import state_watch
from heat_esi import templates
from tests import esi_fixtures
from tests import fakes

WAIT = 5
CREATE = {'version': 1, 'action': records.CREATE}
OTHER_PROJECT = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6'


@pytest.fixture
def etcd_of_heat(monkeypatch):
    """The fake etcd that heat-engine's ESI resources use.

    A store of its own per test (its endpoint too: heat-engine caches
    heat_templates per endpoint), holding the shipped heat_templates, the
    two edge routers of the template, and a live esi-worker's member key.
    """
    store = fakes.FakeEtcd(
        endpoints=['http://fake-etcd-%s:2379' % uuid.uuid4().hex[:8]],
        max_watch_wait=0.05)
    heat_engine.setup(0)
    # The client plugin's etcd client, the one client heat-engine has.
    monkeypatch.setattr(client, 'etcd_client', lambda: store)
    # A check of a quiet /state waits as long as the fake's watches.
    monkeypatch.setattr(lifecycle, 'CHECK_WAIT', 0.05)
    templates.store(store, templates.load_dir())
    esi_fixtures.register_edge_routers(store)
    store.put(keys.MEMBERS + 'worker-1', {'id': 'worker-1'})
    yield store
    store.close()


@pytest.fixture
def ha_router(etcd_of_heat):
    """ha_router(project) -> the ESI::HaRouter of a new stored stack."""
    stacks = []     # a resource holds its stack by a weak reference

    def make(project=esi_fixtures.PROJECT):
        ctx = heat_engine.context(project_id=project)
        stacks.append(heat_engine.stack(heat_engine.ha_router_template(),
                                        ctx=ctx))
        return stacks[-1]['ha']
    return make


@pytest.fixture
def router(ha_router):
    return ha_router()


def config(store, res):
    kv = store.get(keys.config('ha_router', res.resource_id))
    return kv and records.parse_config(kv.key, kv.value)


def jobs(store, res):
    """{job id: job} of the resource's jobs in /jobs/all."""
    found = {}
    for kv in store.get_prefix(keys.JOBS_ALL)[0]:
        if ':%s:' % res.resource_id in kv.key:
            found[kv.key[len(keys.JOBS_ALL):]] = records.parse_job(
                kv.key, kv.value)[1]
    return found


def answer(store, res, worker_state, version=1, error='', monitoring=None):
    """What a worker writes when it finishes a job of *res*."""
    store.put(keys.state('ha_router', res.resource_id), records.state(
        worker_state, version, monitoring or {'router': 'UP'}, error))


# --- create ------------------------------------------------------------------

def test_create_writes_config_and_job_in_one_transaction(etcd_of_heat,
                                                         router):
    store = etcd_of_heat
    revision = store.revision()
    assert router.handle_create() == CREATE
    assert store.revision() == revision + 1
    body, version, marked = config(store, router)
    assert (version, marked) == (1, False)
    assert body['status'] == 'PENDING_CREATE'
    assert body['tenant_id'] == esi_fixtures.PROJECT
    (job_id, job), = jobs(store, router).items()
    assert job_id.startswith('create:monitoring_worker:ha_router:%s:1:'
                             % router.resource_id)
    assert (job['action'], job['version'], job['dependency']) == (
        'create', 1, [])
    config_kv = store.get(keys.config('ha_router', router.resource_id))
    assert store.get(keys.job(job_id)).mod_revision == \
        config_kv.mod_revision


def test_a_retried_create_writes_nothing_twice(etcd_of_heat, router):
    store = etcd_of_heat
    router.handle_create()
    before = store.dump()
    assert router.handle_create() == CREATE
    assert store.dump() == before


def test_a_retried_create_answered_already_is_done_at_once(
        etcd_of_heat, monkeypatch, router):
    # The retry, by a heat-engine started since (a /state watch of its
    # own), writes nothing: the answer came before it, and the check
    # reads it instead of waiting for it on the watch.
    store = etcd_of_heat
    monkeypatch.setattr(lifecycle, 'CHECK_WAIT', WAIT)
    router.handle_create()
    answer(store, router, 'CREATE_COMPLETED')
    monkeypatch.setattr(state_watch, '_CURRENT', None)
    assert router.handle_create() == CREATE
    started = time.monotonic()
    assert router.check_create_complete(CREATE)
    assert time.monotonic() - started < WAIT / 2


def test_a_create_whose_answer_was_lost_is_not_written_again(etcd_of_heat,
                                                             router):
    store = etcd_of_heat
    store.fail(fakes.OUTCOME_UNKNOWN, landed=True, only=['txn'])
    assert router.handle_create() == CREATE
    assert len(jobs(store, router)) == 1
    assert config(store, router)[1] == 1


def test_a_create_whose_write_was_lost_is_written(etcd_of_heat, router):
    store = etcd_of_heat
    store.fail(fakes.OUTCOME_UNKNOWN, landed=False, only=['txn'])
    assert router.handle_create() == CREATE
    assert len(jobs(store, router)) == 1


def test_a_retried_create_whose_job_was_withdrawn_writes_it_again(
        etcd_of_heat, router):
    store = etcd_of_heat
    router.handle_create()
    (first, _), = jobs(store, router).items()
    router.handle_create_cancel(CREATE)     # no worker took it yet
    assert jobs(store, router) == {}
    router.handle_create()
    (second, job), = jobs(store, router).items()
    assert second != first and job['version'] == 1
    # Once answered, a retry writes nothing.
    store.delete(keys.job(second))
    answer(store, router, 'CREATE_COMPLETED')
    router.handle_create()
    assert jobs(store, router) == {}


def test_a_claimed_job_is_not_withdrawn(etcd_of_heat, router):
    store = etcd_of_heat
    router.handle_create()
    (job_id, _), = jobs(store, router).items()
    store.put(keys.working(job_id), 'claim-1')
    router.handle_create_cancel(CREATE)
    assert list(jobs(store, router)) == [job_id]


def test_create_over_another_projects_config_is_refused(
        etcd_of_heat, ha_router):
    store = etcd_of_heat
    theirs = ha_router(project=OTHER_PROJECT)
    theirs.handle_create()
    mine = ha_router()
    mine.resource_id_set(theirs.resource_id)
    before = store.dump()
    with pytest.raises(exception.Error) as caught:
        mine.handle_create()
    assert 'does not exist in ESI' in str(caught.value)
    assert OTHER_PROJECT not in str(caught.value)
    assert store.dump() == before


# --- the worker's answer -----------------------------------------------------

def test_no_answer_yet_is_not_complete(etcd_of_heat, router):
    router.handle_create()
    assert router.check_create_complete(dict(CREATE)) is False


def test_an_answer_for_the_version_completes(etcd_of_heat, router):
    router.handle_create()
    answer(etcd_of_heat, router, 'CREATE_COMPLETED')
    assert router.check_create_complete(dict(CREATE)) is True


def test_an_answer_that_comes_during_the_check_is_seen(etcd_of_heat,
                                                       monkeypatch, router):
    store = etcd_of_heat
    router.handle_create()
    monkeypatch.setattr(store, 'max_watch_wait', WAIT)
    monkeypatch.setattr(lifecycle, 'CHECK_WAIT', WAIT)
    watch = state_watch.of(store)

    def worker():
        # Once heat-engine's check waits for /state, the worker answers.
        deadline = time.monotonic() + WAIT
        while not watch.waiting and time.monotonic() < deadline:
            time.sleep(0.005)
        if watch.waiting:
            answer(store, router, 'CREATE_COMPLETED')
    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert router.check_create_complete(dict(CREATE)) is True
    finally:
        thread.join(WAIT)


def test_a_failed_job_is_a_resource_in_error(etcd_of_heat, router):
    router.handle_create()
    answer(etcd_of_heat, router, 'CREATE_FAILED',
           error='ha_router r1: router DOWN')
    with pytest.raises(exception.ResourceInError) as caught:
        router.check_create_complete(dict(CREATE))
    assert 'ha_router r1: router DOWN' in str(caught.value)
    assert 'CREATE_FAILED' in str(caught.value)


def test_an_answer_for_an_older_version_is_waited_past(etcd_of_heat,
                                                       router):
    router.handle_create()
    answer(etcd_of_heat, router, 'CREATE_COMPLETED', version=1)
    assert router.check_update_complete(
        {'version': 2, 'action': records.MODIFY}) is False


def test_an_unexpected_answer_is_an_unknown_status(etcd_of_heat, router):
    router.handle_create()
    answer(etcd_of_heat, router, 'DELETE_COMPLETED')
    with pytest.raises(exception.ResourceUnknownStatus) as caught:
        router.check_create_complete(dict(CREATE))
    assert 'DELETE_COMPLETED' in str(caught.value)


def test_a_short_etcd_outage_does_not_fail_the_check(etcd_of_heat, router):
    router.handle_create()
    etcd_of_heat.fail(fakes.UNAVAILABLE)
    assert router.check_create_complete(dict(CREATE)) is False
    answer(etcd_of_heat, router, 'CREATE_COMPLETED')
    assert router.check_create_complete(dict(CREATE)) is True


def test_without_a_worker_the_wait_is_explained(etcd_of_heat, router):
    store = etcd_of_heat
    store.delete(keys.MEMBERS + 'worker-1')
    router.handle_create()
    cookie = dict(CREATE)
    assert router.check_create_complete(cookie) is False
    assert 'no esi-worker is running' in router.status_reason
    store.put(keys.MEMBERS + 'worker-2', {})
    assert router.check_create_complete(cookie) is False
    assert 'an esi-worker is running again' in router.status_reason


# --- update and delete -------------------------------------------------------

def created(store, res):
    res.handle_create()
    for job_id in jobs(store, res):
        store.delete(keys.job(job_id))
    answer(store, res, 'CREATE_COMPLETED')


def test_an_update_writes_the_next_version(etcd_of_heat, router):
    store = etcd_of_heat
    created(store, router)
    cookie = router.handle_update(None, None, {'name': 'renamed'})
    assert cookie == {'version': 2, 'action': records.MODIFY}
    body, version, _ = config(store, router)
    assert (body['name'], body['status'], version) == (
        'renamed', 'PENDING_UPDATE', 2)
    (job_id, job), = jobs(store, router).items()
    assert (job['action'], job['version']) == ('modify', 2)
    # Heat retries the same update: nothing new is written.
    before = store.dump()
    assert router.handle_update(None, None, {'name': 'renamed'}) == cookie
    assert store.dump() == before
    answer(store, router, 'MODIFY_COMPLETED', version=2)
    assert router.check_update_complete(cookie) is True


def test_an_update_waits_for_the_jobs_in_flight(etcd_of_heat, router):
    store = etcd_of_heat
    router.handle_create()
    (create_job, _), = jobs(store, router).items()
    router.handle_update(None, None, {'name': 'renamed'})
    modify = [job for job in jobs(store, router).values()
              if job['action'] == 'modify']
    assert [job['dependency'] for job in modify] == [[create_job]]


def test_an_update_of_a_config_changed_meanwhile_is_refused(etcd_of_heat,
                                                            router):
    store = etcd_of_heat
    created(store, router)
    real_get = store.get

    def get_then_change(key, revision=None):
        # Someone writes /config between the read and the write.
        kv = real_get(key, revision)
        if key == keys.config('ha_router', router.resource_id):
            store.put(key, kv.value)
        return kv
    store.get = get_then_change
    with pytest.raises(exception.Error) as caught:
        router.handle_update(None, None, {'name': 'renamed'})
    assert 'changed in etcd during the update' in str(caught.value)


def test_a_delete_marks_the_config_and_forgets_it_once_done(etcd_of_heat,
                                                            router):
    store = etcd_of_heat
    created(store, router)
    cookie = router.handle_delete()
    assert cookie == {'version': 2, 'action': records.LOGICAL_DELETE}
    body, version, marked = config(store, router)
    assert (body['status'], version, marked) == ('PENDING_DELETE', 2, True)
    (job_id, job), = jobs(store, router).items()
    assert job['action'] == 'logical_delete'
    assert router.check_delete_complete(cookie) is False
    store.delete(keys.job(job_id))
    answer(store, router, 'DELETE_COMPLETED', version=2)
    assert router.check_delete_complete(cookie) is True
    assert esi_fixtures.resource_keys(store, router.resource_id) == []


def test_a_repeated_delete_waits_for_the_first(etcd_of_heat, router):
    store = etcd_of_heat
    created(store, router)
    cookie = router.handle_delete()
    before = store.dump()
    assert router.handle_delete() == cookie
    assert store.dump() == before


def test_deleting_what_is_gone_just_forgets_it(etcd_of_heat, router):
    store = etcd_of_heat
    created(store, router)
    store.delete(keys.config('ha_router', router.resource_id))
    assert router.handle_delete() is None
    assert esi_fixtures.resource_keys(store, router.resource_id) == []


def test_deleting_another_projects_resource_touches_nothing(
        etcd_of_heat, ha_router):
    store = etcd_of_heat
    theirs = ha_router(project=OTHER_PROJECT)
    created(store, theirs)
    mine = ha_router()
    mine.resource_id_set(theirs.resource_id)
    before = store.dump()
    assert mine.handle_delete() is None
    assert store.dump() == before


# --- tenants and errors ------------------------------------------------------

def test_another_projects_resource_shows_nothing(etcd_of_heat, ha_router):
    store = etcd_of_heat
    theirs = ha_router(project=OTHER_PROJECT)
    created(store, theirs)
    mine = ha_router()
    mine.resource_id_set(theirs.resource_id)
    assert mine.FnGetAtt('show') == {}
    assert mine.FnGetAtt('worker_state') is None
    assert theirs.FnGetAtt('worker_state') == 'CREATE_COMPLETED'
    assert theirs.FnGetAtt('show')['id'] == theirs.resource_id


def test_adopting_another_projects_resource_is_refused(
        etcd_of_heat, ha_router):
    store = etcd_of_heat
    theirs = ha_router(project=OTHER_PROJECT)
    created(store, theirs)
    with pytest.raises(exception.Error) as caught:
        ha_router().handle_adopt({'resource_id': theirs.resource_id})
    assert 'does not exist in ESI' in str(caught.value)


@pytest.mark.parametrize('failure, text', [
    (fakes.UNAVAILABLE, 'the ESI store (etcd) is unreachable'),
    (fakes.OUTCOME_UNKNOWN, 'did not say whether a write on key'),
    (exceptions.EtcdAuthFailed('http://fake-etcd:2379', 'heat',
                               'invalid password'),
     "refused heat-engine's credentials"),
])
def test_etcd_failures_reach_the_tenant_without_the_endpoint(
        etcd_of_heat, router, failure, text):
    etcd_of_heat.fail(failure, count=10, only=['txn'])
    with pytest.raises(exception.Error) as caught:
        router.handle_create()
    assert text in str(caught.value)
    assert 'fake-etcd' not in str(caught.value)
    assert "details are in heat-engine's log" in str(caught.value)


def test_the_status_attribute_combines_state_and_monitoring(etcd_of_heat,
                                                            router):
    store = etcd_of_heat
    router.handle_create()
    assert router.FnGetAtt('status') == 'PENDING_CREATE'
    answer(store, router, 'CREATE_COMPLETED')
    assert router.FnGetAtt('status') == 'ACTIVE'
    assert router.FnGetAtt('state_monitoring') == {'primary': 'UP',
                                                   'secondary': 'UP'}
    store.put(keys.monitoring('edge_router', esi_fixtures.SECONDARY),
              json.dumps({'state_monitoring': {'router': 'DOWN'}}))
    assert router.FnGetAtt('state_monitoring')['secondary'] == 'DOWN'


def test_needs_replace_failed_hides_the_etcd_endpoint(etcd_of_heat, router):
    """An etcd failure while Heat asks whether to replace: no endpoint.

    needs_replace_failed had no translation of its own (issue 20, item 1):
    the tenant saw the endpoint of heat-engine's etcd.
    """
    router.handle_create()
    etcd_of_heat.fail(fakes.UNAVAILABLE, count=10, only=['get'])
    with pytest.raises(exception.Error) as caught:
        router.needs_replace_failed()
    assert 'the ESI store (etcd) is unreachable' in str(caught.value)
    assert 'fake-etcd' not in str(caught.value)


def test_a_method_a_new_type_adds_hides_the_endpoint_too():
    """The boundary is the base's: a type's own method cannot miss it.

    A type that adds an action (handle_suspend, check_suspend_complete) or
    overrides one (validate) writes no decorator of its own.
    """
    from heat_esi.resources import ha_router as ha_router_module
    failure = exceptions.EtcdUnavailable('http://fake-etcd:2379', '/k',
                                         'connection refused')

    class Suspendable(ha_router_module.HaRouter):
        def handle_suspend(self):
            raise failure

        def check_suspend_complete(self, cookie):
            raise failure

        def validate(self):
            raise failure

        def _helper(self):
            raise failure       # not tenant-facing: left as it is

    res = object.__new__(Suspendable)
    res.name = 'suspendable'
    for call in (res.handle_suspend, lambda: res.check_suspend_complete({}),
                 res.validate):
        with pytest.raises(exception.Error) as caught:
            call()
        assert 'the ESI store (etcd) is unreachable' in str(caught.value)
        assert 'fake-etcd' not in str(caught.value)
    with pytest.raises(exceptions.EtcdUnavailable):
        res._helper()

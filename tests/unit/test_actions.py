"""actions.plan and actions.commit: several resources in one transaction.

On the fake etcd, with the network type of test_job_plans (two handlers):
two networks stand for any two resources whose action writes together,
and a plain key for the extra compare/put of a caller (an HA interface's
VLAN pool).
"""

import json

import pytest

from heat_esi import actions
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from tests import fakes
from tests.unit import test_job_plans as plans

FIRST, SECOND = ('11111111-1111-4111-8111-111111111111',
                 '22222222-2222-4222-8222-222222222222')
POOL = keys.config('ha_interface', '33333333-3333-4333-8333-333333333333')


@pytest.fixture
def store(network_type):
    store = fakes.FakeEtcd(max_watch_wait=0.05)
    templates.store(store, {name: templates.validate(name, body)
                            for name, body in plans.NETWORK_TEMPLATES.items()})
    store.put(POOL, {'pool': 'before'})
    yield store
    store.close()


network_type = plans.network_type


def body(rid):
    return dict(plans.body(), id=rid)


def plan(store, rid, action=records.CREATE, version=1, **kwargs):
    return actions.plan(store, actions.stored_template(store, 'network',
                                                       body(rid)),
                        'network', rid, action, body(rid), version, **kwargs)


def test_two_plans_and_a_put_land_at_one_revision(store):
    pool = store.get(POOL)
    first = plan(store, FIRST)
    second = plan(store, SECOND, depends_on=first.job_ids[-1:])
    done = actions.commit(
        store, [first, second],
        compare=[etcd.absent(keys.config('network', FIRST)),
                 etcd.mod_revision_is(POOL, pool.mod_revision)],
        extra_puts=[etcd.put(POOL, {'pool': 'after'})])
    assert done == (first.job_ids, second.job_ids)
    written = [keys.config('network', FIRST), keys.config('network', SECOND),
               POOL] + [keys.job(j) for j in first.job_ids + second.job_ids]
    assert len({store.get(key).mod_revision for key in written}) == 1
    assert json.loads(store.get(POOL).value) == {'pool': 'after'}
    assert json.loads(store.get(keys.config('network', SECOND)).value) == \
        records.config(body(SECOND), 1)
    # The second's first job waits for the first's last; its next ones
    # for the one before, as in any plan.
    jobs = plans.jobs(store)
    assert jobs[second.job_ids[0]][1]['dependency'] == [first.job_ids[-1]]
    assert jobs[second.job_ids[1]][1]['dependency'] == [second.job_ids[0]]
    assert jobs[first.job_ids[0]][1]['dependency'] == []


def test_depends_on_adds_to_the_jobs_in_flight(store):
    created = actions.commit(store, [plan(store, FIRST)])[0]
    modified = plan(store, FIRST, records.MODIFY, 2,
                    depends_on=['create:heat_worker:other:x:1:abcde'])
    assert sorted(modified.jobs[0][1][1]['dependency']) == sorted(
        list(created) + ['create:heat_worker:other:x:1:abcde'])


def test_a_failed_compare_writes_no_plan_and_no_put(store):
    pool = store.get(POOL)
    store.put(POOL, {'pool': 'changed meanwhile'})
    first, second = plan(store, FIRST), plan(store, SECOND)
    assert actions.commit(
        store, [first, second],
        compare=[etcd.mod_revision_is(POOL, pool.mod_revision)],
        extra_puts=[etcd.put(POOL, {'pool': 'after'})]) is None
    assert plans.jobs(store) == {}
    assert store.get(keys.config('network', FIRST)) is None
    assert store.get(keys.config('network', SECOND)) is None
    assert json.loads(store.get(POOL).value) == {'pool': 'changed meanwhile'}


def test_a_template_changed_meanwhile_makes_every_plan_again(store):
    first, second = plan(store, FIRST), plan(store, SECOND)
    changed = dict(plans.NETWORK_TEMPLATES['network_monitoring'],
                   parameter_mappings={'uuid': {'output_key': 'id'}})
    templates.store(store, {'network_monitoring': changed})
    done = actions.commit(store, [first, second])
    # Both written once, from the new template; none of the stale jobs.
    jobs = plans.jobs(store)
    assert sorted(jobs) == sorted(done[0] + done[1])
    assert not set(first.job_ids + second.job_ids) & set(jobs)
    for job_ids in done:
        assert [p['param'] for p in jobs[job_ids[1]][1]['params']] == [
            'uuid']


def test_plans_made_again_wait_for_each_others_new_jobs(store):
    first = plan(store, FIRST)
    second = plan(store, SECOND, depends_on=first.job_ids)
    changed = dict(plans.NETWORK_TEMPLATES['network'],
                   parameter_mappings={'uuid': {'field': 'id'}})
    templates.store(store, {'network': changed})
    done = actions.commit(store, [first, second])
    jobs = plans.jobs(store)
    assert sorted(jobs[done[1][0]][1]['dependency']) == sorted(done[0])


def test_a_lost_answer_of_a_commit_that_landed_is_not_written_again(store):
    first, second = plan(store, FIRST), plan(store, SECOND)
    store.fail(fakes.OUTCOME_UNKNOWN, landed=True, only=['txn'])
    assert actions.commit(store, [first, second],
                          [etcd.absent(keys.config('network', FIRST))]) == (
        first.job_ids, second.job_ids)
    assert sorted(plans.jobs(store)) == sorted(first.job_ids +
                                               second.job_ids)


def test_a_lost_answer_of_a_commit_that_did_not_land_is_written_again(
        store):
    first, second = plan(store, FIRST), plan(store, SECOND)
    store.fail(fakes.OUTCOME_UNKNOWN, landed=False, only=['txn'])
    done = actions.commit(store, [first, second],
                          [etcd.absent(keys.config('network', FIRST))])
    assert sorted(plans.jobs(store)) == sorted(done[0] + done[1])
    assert len(done[0]) == len(done[1]) == 2


def test_jobs_alone_are_planned_without_config(store):
    planned = plan(store, FIRST, with_config=False)
    assert planned.config is None
    assert [op for op in planned.ops
            if keys.config('network', FIRST) in json.dumps(op)] == []
    assert actions.commit(store, [planned]) == (planned.job_ids,)
    assert store.get(keys.config('network', FIRST)) is None


def test_a_commit_needs_a_plan(store):
    with pytest.raises(ValueError):
        actions.commit(store, [])


def test_write_keeps_its_answer(store):
    # write() is plan() and commit() of one resource.
    config_key = keys.config('network', FIRST)
    job_ids = actions.write(
        store, actions.stored_template(store, 'network', body(FIRST)),
        'network', FIRST, None, records.CREATE, body(FIRST), 1,
        [etcd.absent(config_key)])
    assert isinstance(job_ids, tuple) and len(job_ids) == 2
    assert actions.write(
        store, actions.stored_template(store, 'network', body(FIRST)),
        'network', FIRST, None, records.CREATE, body(FIRST), 1,
        [etcd.absent(config_key)]) is None
    with pytest.raises(exceptions.TemplateError):
        actions.plan(store, lambda handler, refresh: None, 'network', FIRST,
                     records.CREATE, body(FIRST), 1)

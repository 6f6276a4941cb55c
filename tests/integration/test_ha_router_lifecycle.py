"""ESI::HaRouter beyond create.

Replace, failures, check, cancel, abandon and adopt, retries; the
in-process Heat engine, a real etcd and real esi-worker processes.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import threading

import pytest

from heat.common import exception as heat_exc
from heat.engine import stack as stack_mod
from heat.engine import template as template_mod

from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from tests import esi_fixtures

PRIMARY, SECONDARY = esi_fixtures.PRIMARY, esi_fixtures.SECONDARY
THIRD = '5e552b8f-0000-4000-8000-000000000003'


@pytest.fixture
def heat(heat_engine_on):
    esi_fixtures.register_edge_routers(heat_engine_on, PRIMARY, SECONDARY,
                                       THIRD)
    return heat_engine_on


def update(stk, **props):
    new = stack_mod.Stack(stk.context, stk.name, template_mod.Template(
        heat_engine.ha_router_template(**props)))
    stk.update(new)
    return stk


def test_changing_a_router_id_replaces_the_resource(heat, workers):
    workers(1)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    old = stk['ha'].resource_id
    update(stk, secondary_router_id=THIRD)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    new = stk['ha'].resource_id
    assert new != old
    assert esi_fixtures.resource_keys(heat, old) == []
    config = json.loads(heat.get(keys.config('ha_router', new)).value)
    assert config['body']['secondary_router_id'] == THIRD
    assert config['version'] == 1


def test_a_router_that_never_becomes_active_fails_the_create(heat, workers):
    body = templates.load_dir()['ha_router_monitoring']
    body['template_file'] = body['template_file'].replace(
        'etcd_id: {{ secondary_device_id }}',
        'etcd_id: {{ secondary_device_id }}\n  timeout: 0.5')
    templates.store(heat, {'ha_router_monitoring': body})
    esi_fixtures.register_edge_routers(heat, SECONDARY, state='DOWN')
    workers(1)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    reason = stk['ha'].status_reason
    assert 'CREATE_FAILED' in reason
    assert 'edge_router %s is not ACTIVE after 0.5 s (router DOWN)' % \
        SECONDARY in reason
    assert stk['ha'].FnGetAtt('status') == 'ERROR'


def test_check_fails_naming_the_router_that_is_down(heat, workers):
    workers(1)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    stk.check()
    assert stk.state == ('CHECK', 'COMPLETE'), stk.status_reason
    heat.put(keys.monitoring('edge_router', PRIMARY),
             {'router': 'DOWN', 'version': 1})
    stk.check()
    assert stk.state == ('CHECK', 'FAILED')
    assert 'edge_router %s (primary): router DOWN' % PRIMARY in \
        stk['ha'].status_reason


def test_unknown_router_id_is_rejected_at_validation(heat):
    stk = heat_engine.stack(heat_engine.ha_router_template(
        primary_router_id='no-such-router'))
    before = heat.revision()
    with pytest.raises(heat_exc.StackValidationFailed) as err:
        stk.validate()
    assert 'edge_router no-such-router does not exist in ESI' in \
        str(err.value)
    assert heat.revision() == before


def test_router_being_deleted_is_rejected(heat):
    key = keys.config('edge_router', THIRD)
    heat.put(key, records.config({'id': THIRD,
                                  'tenant_id': heat_engine.PROJECT},
                                 2, marked_for_deletion=True))
    stk = heat_engine.stack(heat_engine.ha_router_template(
        secondary_router_id=THIRD))
    with pytest.raises(heat_exc.StackValidationFailed,
                       match='is being deleted'):
        stk.validate()


def test_create_that_times_out_withdraws_its_unclaimed_job(heat):
    # No worker: the job stays unclaimed until the stack times out.
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.timeout_mins = 0.05          # 3 s
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'timed out' in stk.status_reason.lower()
    assert heat.get_prefix(keys.JOBS_ALL)[0] == []
    # The configuration stays for the delete to clean up.
    rid = stk['ha'].resource_id
    assert heat.get(keys.config('ha_router', rid)) is not None


def test_timed_out_create_leaves_a_claimed_job_to_finish(heat, workers):
    esi_fixtures.register_edge_routers(heat, SECONDARY, state='DOWN')
    workers(1, etcd_reader_timeout=6)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.timeout_mins = 0.05
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    rid = stk['ha'].resource_id
    state = esi_fixtures.wait_until(
        lambda: heat.get(keys.state('ha_router', rid)), timeout=15)
    assert json.loads(state.value)['state']['worker_state'] == \
        'CREATE_FAILED'
    assert heat.get_prefix(keys.JOBS_ALL)[0] == []


def test_failed_delete_can_be_finished_by_a_second_delete(heat, workers):
    workers(1)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    rid = stk['ha'].resource_id
    # The delete job is answered with a failure, as a worker would.
    config = json.loads(heat.get(keys.config('ha_router', rid)).value)
    heat.put(keys.config('ha_router', rid),
             records.config(dict(config['body'], status='PENDING_DELETE'),
                            2, marked_for_deletion=True))
    heat.put(keys.state('ha_router', rid),
             records.state('DELETE_FAILED', 2, error='device said no'))
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert esi_fixtures.resource_keys(heat, rid) == []


def test_delete_failure_is_reported_then_retried(heat, workers):
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.timeout_mins = 0.1
    worker, = workers(1)
    stk.create()
    rid = stk['ha'].resource_id
    worker.stop()

    def fail_delete():      # the only answer to the delete: a failure
        kvs = esi_fixtures.wait_until(
            lambda: heat.get_prefix(keys.JOBS_ALL)[0], message='delete job')
        heat.delete(kvs[0].key)
        heat.put(keys.state('ha_router', rid),
                 records.state('DELETE_FAILED', 2, error='device said no'))
    threading.Thread(target=fail_delete, daemon=True).start()
    stk.delete()
    assert stk.state == ('DELETE', 'FAILED')
    assert 'device said no' in stk.status_reason
    workers(1)
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert esi_fixtures.resource_keys(heat, rid) == []


def test_abandon_leaves_etcd_alone_and_adopt_resumes(heat, workers):
    workers(1)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    rid = stk['ha'].resource_id
    data = stk.prepare_abandon()
    before = heat.revision()
    stk.delete(abandon=True)
    assert heat.revision() == before
    adopted = stack_mod.Stack(
        stk.context, stk.name + '-adopted',
        template_mod.Template(data['template']), adopt_stack_data=data)
    adopted.store()
    adopted.adopt()
    assert adopted.state == ('ADOPT', 'COMPLETE'), adopted.status_reason
    assert adopted['ha'].resource_id == rid
    assert adopted['ha'].FnGetAtt('worker_state') == 'CREATE_COMPLETED'
    adopted.delete()
    assert adopted.state == ('DELETE', 'COMPLETE')
    assert esi_fixtures.resource_keys(heat, rid) == []


def test_heat_retries_a_failed_create_without_duplicates(heat, workers):
    from oslo_config import cfg
    cfg.CONF.set_override('action_retry_limit', 1)
    esi_fixtures.register_edge_routers(heat, SECONDARY, state='DOWN')
    workers(1, etcd_reader_timeout=0.3)
    start = heat.revision() + 1
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    # Two attempts; the first one's keys were deleted before the second.
    configs = heat.get_prefix('/config/v2.0/ha_routers/')[0]
    assert [kv.key for kv in configs] == [
        keys.config('ha_router', stk['ha'].resource_id)]
    assert heat.get_prefix(keys.JOBS_ALL)[0] == []
    created = [ev.kv.key for ev in esi_fixtures.history(
        heat, '/config/v2.0/ha_routers/', start) if ev.kv.version == 1]
    assert len(created) == 2


def test_repeated_update_writes_one_version(heat, workers):
    workers(1)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    res = stk['ha']
    first = res.handle_update(None, None, {'name': 'again'})
    second = res.handle_update(None, None, {'name': 'again'})
    assert first == second == {'version': 2, 'action': 'modify'}
    assert json.loads(heat.get(keys.config('ha_router', res.resource_id))
                      .value)['version'] == 2


def test_lowering_maximum_gateways_below_use_is_rejected(heat, workers):
    workers(1)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    rid = stk['ha'].resource_id
    config = json.loads(heat.get(keys.config('ha_router', rid)).value)
    config['body']['available_gateways'] = 100        # 400 in use
    heat.put(keys.config('ha_router', rid), config)
    update(stk, maximum_gateways=300)
    assert stk.state == ('UPDATE', 'FAILED')
    assert 'maximum_gateways cannot be lowered to 300: 400 gateways are ' \
        'in use' in stk.status_reason


def test_delete_of_a_create_nobody_ran_waits_for_it(heat, workers):
    # No worker yet: the create job and then the delete job pile up.
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.timeout_mins = 0.05
    res = stk['ha']
    res.handle_create()
    delete_cookie = res.handle_delete()
    jobs = {kv.key[len(keys.JOBS_ALL):]: json.loads(kv.value)[1]
            for kv in heat.get_prefix(keys.JOBS_ALL)[0]}
    create_id = [j for j in jobs if j.startswith('create:')][0]
    delete_id = [j for j in jobs if j.startswith('logical_delete:')][0]
    assert jobs[delete_id]['dependency'] == [create_id]
    workers(2)
    esi_fixtures.wait_until(lambda: heat.get_prefix(keys.JOBS_ALL)[0] == [],
                            message='both jobs done')
    assert res.check_delete_complete(delete_cookie)
    assert esi_fixtures.resource_keys(heat, res.resource_id) == []

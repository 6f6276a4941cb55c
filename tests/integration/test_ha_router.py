"""ESI::HaRouter through the real Heat engine, against a real etcd."""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import threading

import pytest

from heat.common import exception as heat_exc

from heat_esi import keys
from tests import esi_fixtures

SEED_NAME = 'sample-ha-router'
SEED_DESCRIPTION = 'sample_ha_router'


@pytest.fixture
def heat(heat_engine_on):
    esi_fixtures.register_edge_routers(heat_engine_on)
    return heat_engine_on


def seed_stack(**props):
    props.setdefault('name', SEED_NAME)
    props.setdefault('description', SEED_DESCRIPTION)
    return heat_engine.stack(heat_engine.ha_router_template(**props))


def test_create_writes_the_seed_config_and_job(heat, seed, stand_in):
    stand_in()
    stk = seed_stack()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['ha'].resource_id
    seed_rid = 'f01ed0a6-7094-4e54-b14b-94657fff1efb'

    config_key, config = seed['(1)']
    kv = heat.get(config_key.replace(seed_rid, rid))
    assert json.loads(kv.value) == json.loads(
        json.dumps(config).replace(seed_rid, rid))

    job_key, job = seed['(2)']
    jobs = [ev.kv for ev in esi_fixtures.history(heat, keys.JOBS_ALL, 1)
            if rid in ev.kv.key]
    assert len(jobs) == 1
    job_id = jobs[0].key[len(keys.JOBS_ALL):]
    assert keys.parse_job_id(job_id)['resource_id'] == rid
    expected = json.loads(json.dumps(job).replace(seed_rid, rid)
                          .replace('w4ig8', job_id[-5:]))
    written = json.loads(jobs[0].value)
    assert 'request_id' in esi_fixtures.operator_fields(written)
    assert written == expected


def test_create_completes_on_state_and_exposes_attributes(heat, stand_in):
    stand_in()
    stk = seed_stack()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE')
    res = stk['ha']
    # The routers' state as monitored, in the monitor's words.
    assert res.FnGetAtt('state_monitoring') == {'primary': 'UP',
                                                'secondary': 'UP'}
    assert res.FnGetAtt('worker_state') == 'CREATE_COMPLETED'
    assert res.FnGetAtt('status') == 'ACTIVE'
    assert res.FnGetAtt('available_gateways') == 500
    assert res.FnGetAtt('show')['primary_router_id'] == \
        '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'


def test_worker_failure_fails_the_resource_with_its_text(heat, stand_in):
    stand_in(fail='create', error='edge_router 3ca3 is not ACTIVE after 5 s')
    stk = seed_stack()
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'edge_router 3ca3 is not ACTIVE after 5 s' in \
        stk['ha'].status_reason
    assert 'CREATE_FAILED' in stk['ha'].status_reason


def test_malformed_state_fails_naming_the_key(heat):
    stk = seed_stack()
    stk.timeout_mins = 1

    def corrupt():
        kvs = esi_fixtures.wait_until(
            lambda: heat.get_prefix(keys.JOBS_ALL)[0], message='job')
        job = json.loads(kvs[0].value)[1]
        heat.put(keys.state('ha_router', job['resource_id']), '{"state": 3')
    threading.Thread(target=corrupt, daemon=True).start()
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    rid = stk['ha'].resource_id
    assert ('malformed value at %s' % keys.state('ha_router', rid)
            in stk['ha'].status_reason)


@pytest.mark.parametrize('props, message', [
    ({'secondary_router_id': '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'},
     'must name two different edge routers'),
    ({'primary_router_id': None}, 'primary_router_id'),
    ({'maximum_gateways': 0}, 'maximum_gateways'),
])
def test_bad_properties_fail_validation_and_write_nothing(heat, props,
                                                          message):
    template = heat_engine.ha_router_template(**props)
    if props.get('primary_router_id', '') is None:
        del template['resources']['ha']['properties']['primary_router_id']
    stk = heat_engine.stack(template)
    before = heat.revision()
    with pytest.raises(heat_exc.StackValidationFailed) as err:
        stk.validate()
    assert message in str(err.value)
    assert heat.revision() == before


@pytest.mark.parametrize('stage', ['validation', 'create'])
def test_etcd_down_gives_a_clear_error_and_no_partial_write(heat, caplog,
                                                            stage):
    from oslo_config import cfg
    dead = esi_fixtures.free_port()
    stk = seed_stack()
    cfg.CONF.set_override('port', dead, group='esi_etcd')
    cfg.CONF.set_override('timeout', 1, group='esi_etcd')
    try:
        if stage == 'validation':
            stk.create()
            assert stk.state == ('CREATE', 'FAILED')
            reason = stk['ha'].status_reason
        else:
            # Past the constraint: the create's own write fails.
            with pytest.raises(heat_exc.Error) as err:
                stk['ha'].handle_create()
            reason = str(err.value)
    finally:
        cfg.CONF.clear_override('timeout', group='esi_etcd')
    assert 'the ESI store (etcd) is unreachable' in reason
    assert "the details are in heat-engine's log" in reason
    # The endpoint is the operator's business, not the tenant's.
    assert '127.0.0.1' not in reason and str(dead) not in reason
    who = 'ha' if stage == 'create' else 'constraint edge_router'
    assert '%s: etcd at http://127.0.0.1:%d is unreachable' % (who, dead) \
        in caplog.text
    assert 'connection refused' in caplog.text
    kvs, _ = heat.get_prefix('/config/v2.0/ha_routers/')
    assert kvs == []


def test_retried_create_never_duplicates(heat):
    stk = seed_stack()
    res = stk['ha']
    # Two handle_create calls for the same resource, as after an engine
    # restart in the middle of the action.
    res.handle_create()
    res.handle_create()
    assert len(heat.get_prefix('/config/v2.0/ha_routers/')[0]) == 1
    assert len(heat.get_prefix(keys.JOBS_ALL)[0]) == 1


def test_create_and_delete_with_a_real_worker(heat, workers, seed):
    esi_fixtures.register_edge_routers(heat)
    workers(1)
    stk = seed_stack()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['ha'].resource_id
    state_key, expected = seed['(4)']
    kv = heat.get(keys.state('ha_router', rid))
    assert json.loads(kv.value) == expected
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert esi_fixtures.resource_keys(heat, rid) == []


def test_update_in_place_with_a_real_worker(heat, workers):
    esi_fixtures.register_edge_routers(heat)
    workers(1)
    stk = seed_stack()
    stk.create()
    rid = stk['ha'].resource_id
    from heat.engine import stack as stack_mod
    from heat.engine import template as template_mod
    new = stack_mod.Stack(stk.context, stk.name, template_mod.Template(
        heat_engine.ha_router_template(name='renamed',
                                       maximum_gateways=600)))
    stk.update(new)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    assert stk['ha'].resource_id == rid
    config = json.loads(heat.get(keys.config('ha_router', rid)).value)
    assert config['version'] == 2
    assert config['body']['name'] == 'renamed'
    assert config['body']['status'] == 'PENDING_UPDATE'
    assert config['body']['maximum_gateways'] == 600
    assert config['body']['available_gateways'] == 600
    state = json.loads(heat.get(keys.state('ha_router', rid)).value)
    assert state['version'] == 2
    assert state['state']['worker_state'] == 'MODIFY_COMPLETED'


def test_a_changed_heat_template_is_used_by_the_next_create(heat, stand_in):
    from heat_esi import templates
    stand_in()
    seed_stack().create()        # caches the template in the plugin
    body = templates.load_dir()['ha_router_monitoring']
    body['parameter_mappings']['community'] = {'constant': 'C1'}
    templates.store(heat, {'ha_router_monitoring': body})
    stk = seed_stack()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE')
    rid = stk['ha'].resource_id
    job = [ev.kv for ev in esi_fixtures.history(heat, keys.JOBS_ALL, 1)
           if rid in ev.kv.key][0]
    params = json.loads(job.value)[1]['params']
    assert params[-1]['param'] == 'community'
    assert params[-1]['value'] == 'C1'

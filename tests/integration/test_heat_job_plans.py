"""A type of two handlers through the real Heat engine: its job plans.

The heat_worker types come with modules of their own; here the edge router
is given a heat_worker mapping and a heat_template for the test only, so
that Heat writes, withdraws and waits for plans of several jobs. The
stand-in below answers as workers do: each job finishes (its key goes) and
the last one of a plan writes /state.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import threading

import pytest

from heat_esi import keys
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates
from tests import esi_fixtures
from tests import network_seeds

HEAT, MONITORING = (template_mappings.HEAT_WORKER,
                    template_mappings.MONITORING_WORKER)
STACK_TEMPLATE = {
    'id': 'edge_router_stack', 'handler': HEAT, 'watch': [],
    'template_file': 'heat_template_version: 2013-05-23\n',
    'parameter_mappings': {'name': {'field': 'name'},
                           'device_ip': {'field': 'ip'},
                           'router_uuid': {'output_key': 'id'}}}


@pytest.fixture
def heat(heat_engine_on, monkeypatch):
    """heat-engine on etcd, the edge router a type of two handlers."""
    monkeypatch.setitem(template_mappings.TEMPLATE_MAPPINGS, HEAT,
                        {'edge_router': 'Cedge_router_stack'})
    templates.store(heat_engine_on, {'edge_router_stack': templates.validate(
        'edge_router_stack', STACK_TEMPLATE)})
    return heat_engine_on


def router_stack(**props):
    props = dict({'ip': esi_fixtures.SILENT_DEVICE, 'description': 'one'},
                 **props)
    return heat_engine.stack({
        'heat_template_version': '2018-08-31',
        'resources': {'router': {'type': 'ESI::EdgeRouter',
                                 'properties': props}}})


@pytest.fixture
def seen(heat):
    """[(mod_revision, job value)] of every job written, in order."""
    found = []
    with esi_fixtures.jobs_watched(
            heat, lambda revision, value: found.append((revision, value))):
        yield found


@pytest.fixture
def workers_of_plans(heat):
    """A stand-in for workers of both handlers; yields the jobs it ran."""
    with network_seeds.plans_answered(
            heat, {'router': 'ACTIVE'},
            [{'output_key': 'id', 'output_value': 'x'}]) as ran:
        yield ran


def test_a_create_writes_both_jobs_and_a_timeout_withdraws_both(heat, seen):
    stk = router_stack()
    stk.timeout_mins = 0.05          # 3 s, no worker
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    rid = stk['router'].resource_id
    config = heat.get(keys.config('edge_router', rid))
    (heat_rev, heat_job), (mon_rev, mon_job) = seen
    # With /config, in one transaction.
    assert heat_rev == mon_rev == config.create_revision
    assert heat_job[0] == heat_job[1]['handler'] == HEAT
    assert mon_job[0] == mon_job[1]['handler'] == MONITORING
    assert [(j[1]['action'], j[1]['is_first'], j[1]['is_last'],
             j[1]['on_failure'], j[1]['version'])
            for j in (heat_job, mon_job)] == [
        ('create', True, False, 'fail', 1), ('create', False, True, 'fail', 1)]
    assert heat_job[1]['dependency'] == []
    assert mon_job[1]['dependency'] == [heat_job[1]['id']]
    body = json.loads(config.value)['body']
    assert heat_job[1]['params'] == [
        {'resources': [], 'type': 'value', 'value': body['name'],
         'param': 'name'},
        {'resources': [], 'type': 'value',
         'value': esi_fixtures.SILENT_DEVICE, 'param': 'device_ip'},
        {'resources': [], 'type': 'output_key',
         'value': {'output_key': 'id', 'resource_type': 'edge_router',
                   'resource_id': rid}, 'param': 'router_uuid'}]
    assert [p['param'] for p in mon_job[1]['params']] == [
        'community_name', 'device_ip']
    # The stack timed out: both jobs, unclaimed, are withdrawn.
    assert heat.get_prefix(keys.JOBS_ALL)[0] == []


def test_a_cancel_leaves_a_claimed_job_and_withdraws_the_rest(heat, seen):
    stk = router_stack()
    stk.timeout_mins = 0.1           # 6 s, for the claim to come first
    claimed = []

    def claim_first():
        # A worker holds the heat job before Heat gives up.
        job = esi_fixtures.wait_until(lambda: seen and seen[0][1][1])
        heat.put(keys.working(job['id']), 'worker-1')
        claimed.append(job['id'])
    thread = threading.Thread(target=claim_first, daemon=True)
    thread.start()
    stk.create()
    thread.join()
    assert stk.state == ('CREATE', 'FAILED')
    left = [keys.under(keys.JOBS_ALL, kv.key)
            for kv in heat.get_prefix(keys.JOBS_ALL)[0]]
    assert left == claimed


def test_create_update_delete_wait_for_the_last_job_of_each_plan(
        heat, workers_of_plans):
    stk = router_stack()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    rid = stk['router'].resource_id
    assert [keys.parse_job_id(j)['handler'] for j in workers_of_plans] == [
        HEAT, MONITORING]
    state = records.parse_state(
        'state', heat.get(keys.state('edge_router', rid)).value)
    assert state['heat_outputs'] == [{'output_key': 'id',
                                      'output_value': 'x'}]
    # An update: ESI's modify sequence, whose last job is a create.
    updated = router_stack(description='two')
    stk.update(updated)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    assert [(p['action'], p['handler'], p['version']) for p in (
        keys.parse_job_id(j) for j in workers_of_plans[2:])] == [
        ('delete', MONITORING, 2), ('modify', HEAT, 2),
        ('create', MONITORING, 2)]
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert [(p['action'], p['handler']) for p in (
        keys.parse_job_id(j) for j in workers_of_plans[5:])] == [
        ('logical_delete', MONITORING), ('logical_delete', HEAT)]
    assert esi_fixtures.resource_keys(heat, rid) == []

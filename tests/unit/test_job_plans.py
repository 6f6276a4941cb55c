"""Job plans: a type of two handlers writes ESI's jobs (actions, lifecycle).

On the fake etcd, with the network of CreateNetwork_01 made a two-handler
type in the test (its heat_worker and monitoring_worker mappings and
heat_templates), as heat_esi.resources' network type will be.
"""

import argparse
import json
import os
import re

import pytest

from heat_esi import actions
from heat_esi.cmd import jobs as jobs_cmd
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates
from tests import fakes

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                        'fixtures')
NETWORK = 'bb69041d-c654-4e9f-a763-afd4333275bc'
HEAT, MONITORING = (template_mappings.HEAT_WORKER,
                    template_mappings.MONITORING_WORKER)

# ESI's two heat_templates of a network (the HOT and Jinja texts aside).
NETWORK_TEMPLATES = {
    'network': {
        'id': 'network', 'handler': HEAT, 'watch': [],
        'template_file': 'heat_template_version: 2013-05-23\n',
        'parameter_mappings': {'uuid': {'field': 'id'},
                               'name': {'field': 'id'},
                               'admin_state_up': {'field': 'admin_state_up'}}},
    'network_monitoring': {
        'id': 'network_monitoring', 'handler': MONITORING, 'watch': [],
        'template_file': 'network:\n  type: virtual_network\n',
        'parameter_mappings': {'fq_name': {'output_key': 'fq_name'},
                               'uuid': {'output_key': 'id'}}},
}


def seed(document, point):
    """[(key, value)] of every block of a seed's *point*, in order."""
    with open(os.path.join(FIXTURES, document)) as f:
        text = f.read()
    section = re.search(r'point of \(%s\) in etcd(.*?)(point of|\Z)'
                        % point, text, re.S).group(1)
    found = []
    for block in re.findall(r'```\n(.*?)```', section, re.S):
        key, _, value = block.strip().partition('\n')
        found.append((key.strip(), json.loads(value)))
    return found


@pytest.fixture
def network_type(monkeypatch):
    """network: a heat_worker and a monitoring_worker mapping."""
    monkeypatch.setitem(template_mappings.TEMPLATE_MAPPINGS, HEAT,
                        {'network': 'Cnetwork'})
    monkeypatch.setitem(
        template_mappings.TEMPLATE_MAPPINGS, MONITORING,
        dict(template_mappings.TEMPLATE_MAPPINGS[MONITORING],
             network='Cnetwork_monitoring'))


@pytest.fixture
def store(network_type):
    store = fakes.FakeEtcd(max_watch_wait=0.05)
    templates.store(store, {name: templates.validate(name, body)
                            for name, body in NETWORK_TEMPLATES.items()})
    yield store
    store.close()


def body():
    return seed('CreateNetwork_01.md', 1)[0][1]['body']


def write(store, action, version, compare=(), with_config=True, **kwargs):
    return actions.write(
        store, actions.stored_template(store, 'network', body()), 'network',
        NETWORK, None, action, body(), version, list(compare),
        with_config=with_config, **kwargs)


def jobs(store):
    """{job id: value} of /jobs/all, heat-esi's operator fields taken out."""
    found = {}
    for kv in store.get_prefix(keys.JOBS_ALL)[0]:
        value = json.loads(kv.value)
        for field in records.OPERATOR_FIELDS:
            value[1].pop(field, None)
        found[keys.under(keys.JOBS_ALL, kv.key)] = value
    return found


def without_suffix(job_id):
    return job_id[:-5]


def test_a_create_writes_the_seeds_two_jobs_in_one_transaction(store):
    config_key = keys.config('network', NETWORK)
    job_ids = write(store, records.CREATE, 1, [etcd.absent(config_key)])
    assert [keys.parse_job_id(j)['handler'] for j in job_ids] == [
        HEAT, MONITORING]
    # One transaction: the config and both jobs at one revision.
    config = store.get(config_key)
    assert {store.get(keys.job(j)).mod_revision for j in job_ids} == {
        config.mod_revision}
    assert json.loads(config.value) == seed('CreateNetwork_01.md', 1)[0][1]
    # Point (2), field by field; the ids differ in their random suffix.
    found = jobs(store)
    expected = seed('CreateNetwork_01.md', 2)
    assert len(found) == len(expected) == 2
    renamed = dict(zip((keys.under(keys.JOBS_ALL, k) for k, _ in expected),
                       job_ids))
    for key, value in expected:
        job_id = renamed[keys.under(keys.JOBS_ALL, key)]
        assert without_suffix(job_id) == without_suffix(
            keys.under(keys.JOBS_ALL, key))
        value[1]['id'] = job_id
        value[1]['dependency'] = [renamed[d]
                                  for d in value[1]['dependency']]
        assert found[job_id] == value


def test_a_modify_is_esis_sequence_after_the_jobs_in_flight(store):
    created = write(store, records.CREATE, 1)
    modified = write(store, records.MODIFY, 2)
    found = jobs(store)
    steps = [(found[j][1]['action'], found[j][0], found[j][1]['on_failure'],
              found[j][1]['is_first'], found[j][1]['is_last'])
             for j in modified]
    assert steps == [
        (records.DELETE, MONITORING, 'ignore', True, False),
        (records.MODIFY, HEAT, 'fail', False, False),
        (records.CREATE, MONITORING, 'fail', False, True)]
    # The first waits for both create jobs still queued; each next one for
    # the one before.
    assert sorted(found[modified[0]][1]['dependency']) == sorted(created)
    assert found[modified[1]][1]['dependency'] == [modified[0]]
    assert found[modified[2]][1]['dependency'] == [modified[1]]
    # Each from its handler's template, for the body at version 2.
    assert [p['param'] for p in found[modified[1]][1]['params']] == [
        'uuid', 'name', 'admin_state_up']
    assert found[modified[2]][1]['params'][1]['type'] == 'output_key'


def test_a_delete_unmonitors_first_then_deletes_the_stack(store):
    write(store, records.CREATE, 1)
    deleted = write(store, records.LOGICAL_DELETE, 2, marked=True)
    found = jobs(store)
    assert [(found[j][0], found[j][1]['on_failure'], found[j][1]['is_first'],
             found[j][1]['is_last']) for j in deleted] == [
        (MONITORING, 'ignore', True, False), (HEAT, 'fail', False, True)]


def test_a_handler_without_a_template_for_the_body_is_left_out(
        store, monkeypatch):
    # ESI's mappings may give no template for some bodies (a port's
    # network:dhcp): that handler writes no job, the other is first and last.
    monkeypatch.setitem(template_mappings.TEMPLATE_MAPPINGS[MONITORING],
                        'network', {'if_mapping': {'equal': [
                            {'field': 'plane'}, {'constant': 'data'}]}})
    job_id, = write(store, records.CREATE, 1)
    value = jobs(store)[job_id]
    assert value[0] == HEAT
    assert (value[1]['is_first'], value[1]['is_last']) == (True, True)
    monkeypatch.setitem(template_mappings.TEMPLATE_MAPPINGS[HEAT],
                        'network', {'if_mapping': {'equal': [
                            {'field': 'plane'}, {'constant': 'data'}]}})
    with pytest.raises(exceptions.TemplateError,
                       match='give it no heat_template for any handler'):
        write(store, records.MODIFY, 2)


def test_every_template_of_the_plan_is_compared(store):
    # The monitoring template changes between the read and the write: the
    # jobs are built again from the new one, never from the stale one.
    stale = actions.stored_template(store, 'network', body())(
        MONITORING, False)
    calls = []
    reader = actions.stored_template(store, 'network', body())

    def template(handler, refresh):
        calls.append((handler, refresh))
        if handler == MONITORING and not refresh:
            return 'network_monitoring', stale[1], stale[2]
        return reader(handler, refresh)
    changed = dict(NETWORK_TEMPLATES['network_monitoring'],
                   parameter_mappings={'uuid': {'output_key': 'id'}})
    templates.store(store, {'network_monitoring': changed})
    job_ids = actions.write(store, template, 'network', NETWORK, None,
                            records.CREATE, body(), 1, [])
    assert (MONITORING, True) in calls
    assert [p['param'] for p in jobs(store)[job_ids[1]][1]['params']] == [
        'uuid']


def test_a_compare_that_fails_writes_nothing(store):
    config_key = keys.config('network', NETWORK)
    write(store, records.CREATE, 1, [etcd.absent(config_key)])
    before = jobs(store)
    assert write(store, records.CREATE, 1, [etcd.absent(config_key)]) is None
    assert jobs(store) == before


def test_a_cancel_withdraws_every_unclaimed_job_of_the_plan(store):
    write(store, records.CREATE, 1)
    modified = write(store, records.MODIFY, 2)
    store.put(keys.working(modified[0]), 'worker-1')
    done = dict(lifecycle.withdraw(store, template_mappings.handlers(
        'network'), 'network', NETWORK, {'version': 2,
                                         'action': records.MODIFY}))
    assert done == {modified[0]: False, modified[1]: True,
                    modified[2]: True}
    # The create's jobs (version 1) are not the cancelled action's.
    assert [keys.parse_job_id(j)['version'] for j in jobs(store)] == [1, 1, 2]


def test_a_create_is_resumed_only_when_no_job_of_its_plan_is_left(store):
    config_key = keys.config('network', NETWORK)
    created = write(store, records.CREATE, 1, [etcd.absent(config_key)])
    kv = store.get(config_key)
    conditions = lifecycle.create_job_conditions(
        template_mappings.handlers('network'), 'network', NETWORK, kv)
    # The heat job was claimed and finished; the monitoring job is left.
    store.delete(keys.job(created[0]))
    assert write(store, records.CREATE, 1, conditions,
                 with_config=False) is None
    store.delete(keys.job(created[1]))
    again = write(store, records.CREATE, 1, conditions, with_config=False)
    assert [keys.parse_job_id(j)['handler'] for j in again] == [
        HEAT, MONITORING]
    store.put(keys.state('network', NETWORK),
              records.state('CREATE_FAILED', 1, error='x'))
    for job_id in again:
        store.delete(keys.job(job_id))
    assert write(store, records.CREATE, 1, conditions,
                 with_config=False) is None


def test_the_newest_plan_in_flight_is_waited_for_as_a_whole(store):
    handlers = template_mappings.handlers('network')
    write(store, records.CREATE, 1)
    modified = write(store, records.MODIFY, 2)
    newest = lifecycle.newest_job_in_flight(store, handlers, 'network',
                                            NETWORK)
    assert newest == {'version': 2, 'action': records.MODIFY}
    # Only the last job of the modify is left: still the modify's.
    for job_id in modified[:2]:
        store.delete(keys.job(job_id))
    assert lifecycle.newest_job_in_flight(store, handlers, 'network',
                                          NETWORK)['version'] == 2
    # Its last job, a create, answers the modify.
    assert lifecycle.expected_action('network', records.MODIFY) == \
        records.CREATE
    assert lifecycle.expected_action('ha_router', records.MODIFY) == \
        records.MODIFY


def test_jobs_retry_writes_the_plan_again(store, capsys):
    write(store, records.MODIFY, 2)
    for kv in store.get_prefix(keys.JOBS_ALL)[0]:
        store.delete(kv.key)        # run, the heat job failing
    store.put(keys.state('network', NETWORK),
              records.state('MODIFY_FAILED', 2, error='stack failed'))
    args = argparse.Namespace(target='network', resource_id=NETWORK,
                              handler=None, yes=True, rejected=None)
    assert jobs_cmd.retry(args, store) == 0
    found = jobs(store)
    assert sorted((keys.parse_job_id(j)['action'], v[0], v[1]['version'])
                  for j, v in found.items()) == [
        ('create', MONITORING, 3), ('delete', MONITORING, 3),
        ('modify', HEAT, 3)]
    assert 'version 3 and job delete:monitoring_worker:network:' in \
        capsys.readouterr().out
    # --handler: one job of that handler only.
    for job_id in found:
        store.delete(keys.job(job_id))
    store.put(keys.state('network', NETWORK),
              records.state('MODIFY_FAILED', 3, error='stack failed'))
    assert jobs_cmd.retry(argparse.Namespace(
        target='network', resource_id=NETWORK, handler=HEAT, yes=True,
        rejected=None), store) == 0
    job_id, = jobs(store)
    assert keys.parse_job_id(job_id)['handler'] == HEAT

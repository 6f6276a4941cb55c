#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The handler contract (handlers.base) and the template mappings in use."""

import json
import threading

import pytest

from heat_esi.cmd import worker as worker_cmd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates
from heat_esi.worker import elements
from heat_esi.worker.handlers import base
from heat_esi.worker.handlers import monitoring
from tests import fakes

RID = '0e000000-0000-0000-0000-000000000001'
# A job clock that never aborts.
NEVER = threading.Event()


class Claim(object):
    """What a handler's run() reads of a claim, and what it writes."""

    def __init__(self, job, prefetched):
        self.job, self.prefetched, self.job_states = job, prefetched, []

    def put_job_state(self, value):
        self.job_states.append(value)


def job(body):
    _, value = records.job(records.CREATE, 'monitoring_worker', 'ha_router',
                           RID, 1, [], body)
    return value[1]


def store(client, name, text):
    key = keys.heat_template(name)
    body = dict(templates.load_dir()['ha_router_monitoring'], id=name,
                template_file=text)
    client.put(key, records.config(body, 1))
    return client.get(key)


def test_the_type_mapping_picks_the_template(monkeypatch):
    monkeypatch.setitem(
        template_mappings.TEMPLATE_MAPPINGS['monitoring_worker'],
        'ha_router', 'ACha_router_&Pflavor')
    client = fakes.FakeEtcd()
    kv = store(client, 'ha_router_big', 'a:\n  type: one\n')
    pipeline = elements.Pipeline(client, {'one': fakes.FixedPlugin()})
    the_job = job({'flavor': 'big'})
    assert pipeline.prefetch(the_job) == (kv.key,)
    found = pipeline.for_job(the_job, {kv.key: kv})
    assert found.template == 'ha_router_big'
    assert list(found.items) == ['a']


def test_a_mapping_yielding_no_template_gives_an_empty_status(monkeypatch):
    monkeypatch.setitem(
        template_mappings.TEMPLATE_MAPPINGS['monitoring_worker'],
        'ha_router', {'if_mapping': {'regexp': [
            {'field': 'device_owner'},
            {'constant': 'network:dhcp|network:empty'}]},
            'then_mapping': {'constant': None},
            'else_mapping': {'constant': 'ha_router_monitoring'}})
    client = fakes.FakeEtcd()
    handler = monitoring.MonitoringHandler(client, None, {})
    the_job = job({'device_owner': 'network:dhcp'})
    assert handler.prefetch(the_job) == ()
    claim = Claim(the_job, {})
    result = handler.run(claim, NEVER)
    assert result.state_monitoring == {}
    assert result.deletes == (keys.monitoring('ha_router', RID),)
    assert client.requests == []        # no template read at all


def test_a_bad_mapping_fails_the_job_naming_the_resource(monkeypatch):
    monkeypatch.setitem(
        template_mappings.TEMPLATE_MAPPINGS['monitoring_worker'],
        'ha_router', 'Fedge_router+device_id:ip')
    pipeline = elements.Pipeline(fakes.FakeEtcd(), {})
    with pytest.raises(exceptions.JobFailed) as err:
        pipeline.for_job(job({}), {})
    assert str(err.value).startswith('ha_router %s: ' % RID)
    assert 'template mapping of ha_router' in str(err.value)


def test_results_old_and_new():
    assert base.result_of(({'state_monitoring': {'a': 'UP'}}, ['/k'])) == \
        base.Result({'a': 'UP'}, None, ('/k',))
    made = base.Result(heat_outputs={'id': 'x'})
    assert base.result_of(made) is made
    with pytest.raises(exceptions.EsiError) as err:
        base.result_of({'state_monitoring': {}})
    assert 'not a Result' in str(err.value)
    failed = exceptions.JobFailed('no', {'state_monitoring': {'a': 'DOWN'}})
    assert base.failed_result(failed) == base.Result({'a': 'DOWN'})


def test_state_has_a_place_for_heat_outputs():
    value = records.state('CREATE_COMPLETE', 2, {'a': 'UP'}, '',
                          {'id': 'x'})
    assert json.loads(value['state']['heat_outputs']) == {'id': 'x'}
    assert 'heat_outputs' not in records.state('CREATE_COMPLETE', 2)['state']


class Made(base.Handler):
    """A handler of no plugins: the base takes what it is built with."""

    def run(self, claim, clock):
        return base.Result(heat_outputs={'id': claim.job['resource_id']})


def test_handlers_are_found_by_their_entry_point(monkeypatch):
    import stevedore

    def driver(namespace, name, invoke_on_load, invoke_args, invoke_kwds):
        assert namespace == 'heat_esi.handlers'
        found = type('Manager', (), {})()
        found.driver = {'monitoring_worker': monitoring.MonitoringHandler,
                        'made': Made}[name](*invoke_args, **invoke_kwds)
        return found
    monkeypatch.setattr(stevedore, 'DriverManager', driver)
    client = fakes.FakeEtcd()
    found = worker_cmd.load_handlers(['monitoring_worker', 'made'], client,
                                     'conf', {'one': 1})
    assert all(isinstance(h, base.Handler) for h in found.values())
    assert found['made'].plugins == {'one': 1}
    assert found['made'].prefetch(job({})) == ()


def test_the_installed_entry_point_is_a_handler():
    found = worker_cmd.load_handlers(['monitoring_worker'], fakes.FakeEtcd(),
                                     None, {})
    assert isinstance(found['monitoring_worker'], base.Handler)

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

"""Job params resolved into values (heat_esi.worker.params), on the seeds.

The jobs and the heat_stacks records are ESI's own, from the seed
documents in tests/fixtures (CreateNetwork_01, CreateSubnet_01,
CreateGwInterface_02).
"""

import copy
import json
import os
import re

import pytest

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi.worker.handlers import monitoring
from heat_esi.worker import params
from tests import fakes

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'fixtures')
NETWORK = 'bb69041d-c654-4e9f-a763-afd4333275bc'
SUBNET_GW = 'b4f0c956-2fe0-4634-b7c8-22bfd8095aaf'


def blocks(document):
    """[(key, value)] of every etcd value shown in a seed document."""
    with open(os.path.join(FIXTURES, document)) as f:
        text = f.read()
    found = []
    for block in re.findall(r'```\n(.*?)```', text, re.S):
        key, _, value = block.strip().partition('\n')
        found.append((key.strip(), json.loads(value)))
    return found


def seed(document, prefix):
    """The first value of *document* whose key starts with *prefix*."""
    for key, value in blocks(document):
        if key.startswith(prefix):
            return key, value
    raise AssertionError('no %s in %s' % (prefix, document))


def job_of(document, prefix):
    _, value = seed(document, prefix)
    return value[1]


def network_stack():
    """The network's heat_stacks record, as CreateNetwork_01 (3) shows."""
    return seed('CreateNetwork_01.md', '/esi-worker/heat_stacks/')


class NoReads(object):
    """A client that must not be asked: everything was prefetched."""

    def get(self, key):
        raise AssertionError('read %s' % key)


def test_own_outputs_resolve_as_the_network_monitoring_job_needs():
    job = job_of('CreateNetwork_01.md', '/jobs/all/create:monitoring_worker')
    key, record = network_stack()
    assert params.prefetch_keys(job) == (key,)
    client = fakes.FakeEtcd()
    client.put(key, etcd.dumps(record))
    assert params.resolve(client, job) == {
        'fq_name': 'default-domain:admin:%s' % NETWORK, 'uuid': NETWORK}


def test_prefetched_records_need_no_read():
    job = job_of('CreateNetwork_01.md', '/jobs/all/create:monitoring_worker')
    key, record = network_stack()
    client = fakes.FakeEtcd()
    client.put(key, etcd.dumps(record))
    read = {key: client.get(key)}
    assert params.resolve(NoReads(), job, read)['uuid'] == NETWORK


def test_values_pass_as_they_are_and_a_referenced_output_is_read():
    job = job_of('CreateSubnet_01.md', '/jobs/all/')
    client = fakes.FakeEtcd()
    target = [p for p in job['params'] if p['type'] == 'output_key'][0]
    rtype = target['value']['resource_type']
    rid = target['value']['resource_id']
    client.put(keys.heat_stack(rtype, rid), etcd.dumps({
        'stack_id': '%s_%s' % (rtype, rid), 'output': [
            {'output_key': 'id', 'output_value': 'net-uuid',
             'description': 'A unique id for the virtual network.'}]}))
    values = params.resolve(client, job)
    assert values[target['param']] == 'net-uuid'
    for param in job['params']:
        if param['type'] == 'value':
            assert values[param['param']] == param['value']
    # The order of the job's params is kept.
    assert list(values) == [p['param'] for p in job['params']]


def test_a_list_resolves_each_of_its_outputs():
    job = job_of('CreateGwInterface_02.md', '/jobs/all/')
    client = fakes.FakeEtcd()
    client.put(keys.heat_stack('subnet', SUBNET_GW), etcd.dumps({
        'output': [{'output_key': 'id', 'output_value': '8f9e2ede',
                    'description': 'id'}]}))
    client.put(keys.heat_stack('network', NETWORK), etcd.dumps({
        'output': [{'output_key': 'id', 'output_value': 'vn-uuid',
                    'description': 'id'}]}))
    # Each stack once, though the list names the subnet twice.
    assert params.prefetch_keys(job) == (
        keys.heat_stack('network', NETWORK),
        keys.heat_stack('subnet', SUBNET_GW))
    values = params.resolve(client, job)
    assert values['virtual_network'] == 'vn-uuid'
    assert values['jinja_subnets'] == ['8f9e2ede', '8f9e2ede']


def test_an_output_heat_could_not_resolve_is_none():
    job = job_of('CreateNetwork_01.md', '/jobs/all/create:monitoring_worker')
    key, record = network_stack()
    record = copy.deepcopy(record)
    for output in record['output']:
        if output['output_key'] == 'fq_name':
            output.update(output_value=None,
                          output_error="'X' object has no attribute 'y'")
    client = fakes.FakeEtcd()
    client.put(key, etcd.dumps(record))
    assert params.resolve(client, job)['fq_name'] is None


def test_a_missing_stack_fails_naming_param_resource_and_key():
    job = job_of('CreateNetwork_01.md', '/jobs/all/create:monitoring_worker')
    with pytest.raises(exceptions.JobFailed) as err:
        params.resolve(fakes.FakeEtcd(), job)
    message = str(err.value)
    assert "param 'fq_name'" in message
    assert 'network %s' % NETWORK in message
    assert keys.heat_stack('network', NETWORK) in message


def test_a_missing_output_fails_naming_param_resource_and_output():
    job = job_of('CreateNetwork_01.md', '/jobs/all/create:monitoring_worker')
    key, record = network_stack()
    record = dict(record, output=[o for o in record['output']
                                  if o['output_key'] != 'id'])
    client = fakes.FakeEtcd()
    client.put(key, etcd.dumps(record))
    with pytest.raises(exceptions.JobFailed) as err:
        params.resolve(client, job)
    message = str(err.value)
    assert "param 'uuid'" in message
    assert 'network %s' % NETWORK in message
    assert "no output 'id'" in message
    assert 'fq_name' in message         # what the stack has


@pytest.mark.parametrize('param, why', [
    ({'param': 'a', 'type': 'output_key', 'value': 'id'},
     'must be {output_key, resource_type, resource_id}'),
    ({'param': 'a', 'type': 'list', 'value': 'x'}, 'must hold a list'),
    ({'param': 'a', 'type': 'list', 'value': [3]}, 'list item 3'),
    ({'param': 'a', 'type': 'lookup', 'value': 1}, "unknown param type"),
    ({'type': 'value', 'value': 1}, 'has no name'),
])
def test_malformed_params_fail_the_job_saying_what(param, why):
    with pytest.raises(exceptions.JobFailed) as err:
        params.resolve(fakes.FakeEtcd(), {'params': [param]})
    assert why in str(err.value)


def test_a_record_that_is_not_one_is_malformed():
    client = fakes.FakeEtcd()
    client.put(keys.heat_stack('network', NETWORK), '{"output": 3}')
    job = job_of('CreateNetwork_01.md', '/jobs/all/create:monitoring_worker')
    with pytest.raises(exceptions.MalformedValue) as err:
        params.resolve(client, job)
    assert keys.heat_stack('network', NETWORK) in str(err.value)


class Pipeline(object):
    """Stands in for the element pipeline: records the job it renders."""

    def __init__(self):
        self.jobs = []

    def prefetch(self, job):
        return ('/config/v2.0/heat_templates/network_monitoring',)

    def for_job(self, job, read):
        self.jobs.append(job)
        return 'elements'

    def check(self, found, clock, read):
        return {'network': 'ACTIVE'}


class Claim(object):
    def __init__(self, job, prefetched):
        self.job, self.prefetched, self.job_states = job, prefetched, []

    def put_job_state(self, value):
        self.job_states.append(value)


def test_the_monitoring_handler_renders_with_resolved_outputs():
    job = job_of('CreateNetwork_01.md', '/jobs/all/create:monitoring_worker')
    key, record = network_stack()
    client = fakes.FakeEtcd()
    client.put(key, etcd.dumps(record))
    handler = monitoring.MonitoringHandler(client, None, {})
    handler.pipeline = Pipeline()
    assert handler.prefetch(job) == (
        '/config/v2.0/heat_templates/network_monitoring', key)
    result = handler.run(Claim(job, {key: client.get(key)}), None)
    rendered, = handler.pipeline.jobs
    assert {p['param']: p['value'] for p in rendered['params']} == {
        'fq_name': 'default-domain:admin:%s' % NETWORK, 'uuid': NETWORK}
    assert result.state_monitoring == {'network': 'ACTIVE'}


def test_the_monitoring_handler_fails_naming_the_resource_without_stack():
    job = job_of('CreateNetwork_01.md', '/jobs/all/create:monitoring_worker')
    handler = monitoring.MonitoringHandler(fakes.FakeEtcd(), None, {})
    handler.pipeline = Pipeline()
    with pytest.raises(exceptions.JobFailed) as err:
        handler.run(Claim(job, {}), None)
    assert str(err.value).startswith('network %s: ' % NETWORK)
    assert handler.pipeline.jobs == []

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

"""The heat_worker handler against a fake heat-api, on a fake etcd.

The fake stands in for python-heatclient's Client (stacks.get, create,
update, delete) and answers as heat-api does: 404 for a stack that is not
there, 409 for a name that is taken, an action that takes a few polls,
and a connection failure on demand. HeatApi itself, its retries and its
Keystone loading are the real ones; claims are real claims on the fake
etcd, so the records are written through their fence.
"""

import json
import threading
import time

from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg
import pytest
import yaml

from heat_esi.cmd import worker as worker_cmd
from heat_esi import conf as heat_esi_conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import template_mappings
from heat_esi.worker import claims
from heat_esi.worker.handlers import heat
from heat_esi.worker import heat_api
from tests import fakes

RID = 'bb69041d-c654-4e9f-a763-afd4333275bc'
PROJECT = '0b576f6f4cbf414f829cd12f008bf08f'
NAME = 'network_%s' % RID
SECRET = 'keystone-pa55-w0rd'
HEAT_URL = 'http://heat.example:8004/v1/%s' % PROJECT
# ESI's network outputs (CreateNetwork_01.md, point 3).
OUTPUTS = [
    {'output_value': '[]', 'description': 'The name of the virtual network.',
     'output_key': 'route_targets'},
    {'output_value': 'default-domain:admin:%s' % RID,
     'description': 'The FQ name of the virtual network.',
     'output_key': 'fq_name'},
    {'output_value': RID, 'description': 'A unique id for the virtual '
     'network.', 'output_key': 'id'},
    {'output_value': RID, 'description': 'The name of the virtual network.',
     'output_key': 'name'},
]
HOT = '''heat_template_version: 2013-05-23
parameters:
  uuid: {type: string}
  name: {type: string}
  admin_state_up: {type: boolean}
resources:
{% for extra in jinja_extras %}
  {{ extra }}:
    type: OS::Heat::None
{% endfor %}
  network:
    type: OS::Contrail::VirtualNetwork
    properties:
      uuid: {get_param: uuid}
outputs:
  id:
    value: {get_resource: network}
'''
# The seed's params of the network's heat job, and two that are not stack
# parameters.
PARAMS = [
    {'resources': [], 'type': 'value', 'value': RID, 'param': 'uuid'},
    {'resources': [], 'type': 'value', 'value': RID, 'param': 'name'},
    {'resources': [], 'type': 'value', 'value': True,
     'param': 'admin_state_up'},
    {'resources': [], 'type': 'value', 'value': ['a', '{{ 7 * 7 }}'],
     'param': 'jinja_extras'},
    {'resources': [], 'type': 'value', 'value': '60',
     'param': 'heat_timeout'},
]
BODY = {'status': 'PENDING_CREATE', 'subnets': [], 'admin_state_up': True,
        'tenant_id': PROJECT, 'plane': 'data', 'shared': False, 'id': RID,
        'name': 'sample-network'}


# --- the fake heat-api ------------------------------------------------------

def _error(cls, message):
    return cls(json.dumps({'error': {'message': message}}))


class Stack(object):
    """A stack as heatclient's stacks.get() shows it."""

    def __init__(self, name, number, fields):
        self.stack_name, self.id = name, 'stack-%d' % number
        self.fields = fields
        self.updated_time = None
        self.outputs = OUTPUTS
        self._begin('CREATE')

    def _begin(self, action, polls=2, end='COMPLETE', reason=None):
        self.stack_status = '%s_IN_PROGRESS' % action
        self.stack_status_reason = 'Stack %s started' % action
        self._polls = polls
        self._end = ('%s_%s' % (action, end),
                     reason or 'Stack %s completed successfully' % action)

    def _poll(self):
        if self.stack_status == 'INIT_COMPLETE':
            # Stored by heat-engine; its create starts next.
            self.stack_status = 'CREATE_IN_PROGRESS'
        elif self.stack_status.endswith('_IN_PROGRESS'):
            self._polls -= 1
            if self._polls <= 0:
                self.stack_status, self.stack_status_reason = self._end

    def shown(self, outputs):
        copy = Stack.__new__(Stack)
        copy.__dict__.update(self.__dict__)
        if not outputs:
            del copy.outputs
        return copy


class FakeHeat(object):
    """heat-api: stacks by name in each project, and failures on demand."""

    def __init__(self):
        self.stacks = {}        # (project, name) -> Stack
        self.calls = []         # (method, project, argument)
        self.down = 0           # calls still to fail with ConnectFailure
        self.failing = None     # reason of the next action that fails
        self.created = 0
        self.on_create = None   # called before a create lands

    def client(self, project):
        return Client(self, project)


class Client(object):
    def __init__(self, heat, project):
        self.stacks = Stacks(heat, project)
        self.http_client = self

    def get_endpoint(self):
        return 'http://heat.example:8004/v1/%s' % self.stacks.project


class Stacks(object):
    def __init__(self, heat, project):
        self.heat, self.project = heat, project

    def _enter(self, method, argument):
        self.heat.calls.append((method, self.project, argument))
        if self.heat.down:
            self.heat.down -= 1
            raise ks_exc.ConnectFailure(
                'Unable to establish connection to %s/stacks: connection '
                'refused' % HEAT_URL)

    def _find(self, ident):
        name = ident.split('/')[0]
        stack = self.heat.stacks.get((self.project, name))
        if stack is None or ('/' in ident and ident.split('/')[1] != stack.id):
            raise _error(heat_exc.HTTPNotFound,
                         'The Stack (%s) could not be found.' % ident)
        return stack

    def get(self, ident, resolve_outputs=True):
        self._enter('get', ident)
        stack = self._find(ident)
        stack._poll()
        if stack.stack_status == 'DELETE_COMPLETE':
            del self.heat.stacks[(self.project, stack.stack_name)]
        return stack.shown(resolve_outputs)

    def create(self, **fields):
        self._enter('create', fields['stack_name'])
        if self.heat.on_create:
            self.heat.on_create()
        if (self.project, fields['stack_name']) in self.heat.stacks:
            raise _error(heat_exc.HTTPConflict, 'The Stack (%s) already '
                         'exists.' % fields['stack_name'])
        self.heat.created += 1
        stack = Stack(fields['stack_name'], self.heat.created, fields)
        if self.heat.failing:
            stack._begin('CREATE', end='FAILED', reason=self.heat.failing)
        self.heat.stacks[(self.project, stack.stack_name)] = stack
        return {'stack': {'id': stack.id, 'links': []}}

    def update(self, ident, existing=None, **fields):
        self._enter('update', ident)
        assert existing is False        # a PUT: the whole template
        stack = self._find(ident)
        if stack.stack_status.endswith('_IN_PROGRESS'):
            raise _error(heat_exc.HTTPConflict, 'Stack in progress')
        stack.fields = fields
        stack.updated_time = '2026-12-04T05:%02d:00Z' % len(self.heat.calls)
        stack._begin('UPDATE', end='FAILED' if self.heat.failing else
                     'COMPLETE', reason=self.heat.failing)

    def delete(self, ident):
        self._enter('delete', ident)
        self._find(ident)._begin('DELETE')


class Clock(object):
    """A JobClock on a virtual time: waiting costs nothing."""

    def __init__(self, timeout=300.0):
        self.started = time.monotonic()
        self.timeout = timeout
        self.source = '[worker] job_timeout'
        self.elapsed = 0.0
        self.aborting = threading.Event()
        # A list to record the waits in, among heat-api's calls.
        self.calls = None

    def set_timeout(self, timeout, source):
        self.timeout, self.source = timeout, source

    def check(self):
        if self.elapsed >= self.timeout:
            raise exceptions.JobTimedOut('job deadline passed')

    def wait(self, seconds):
        if self.calls is not None:
            self.calls.append(('wait', None, seconds))
        if self.aborting.is_set():
            return True
        if self.elapsed + seconds < self.timeout:
            self.elapsed += seconds
            return False
        self.elapsed = self.timeout
        raise exceptions.JobTimedOut('job deadline passed: still running '
                                     'after %s s (%s)' % (self.timeout,
                                                          self.source))


# --- fixtures ---------------------------------------------------------------

def write_conf(tmp_path, **extra):
    lines = ['[heat_worker]', 'auth_type = password',
             'auth_url = http://keystone.example:5000/v3',
             'username = esi-worker', 'password = %s' % SECRET,
             'project_name = service', 'user_domain_name = Default',
             'project_domain_name = Default', 'poll_interval = 1.0']
    lines += ['%s = %s' % item for item in extra.items()]
    path = tmp_path / 'esi-worker.conf'
    path.write_text('\n'.join(lines) + '\n')
    conf = cfg.ConfigOpts()
    heat_esi_conf.register_worker_opts(conf)
    conf(['--config-file', str(path)], project='heat-esi',
         default_config_files=[])
    return conf


@pytest.fixture
def mapped(monkeypatch):
    monkeypatch.setitem(template_mappings.TEMPLATE_MAPPINGS, heat.HANDLER,
                        {'network': 'Cnetwork'})


class World(object):
    """The handler on a fake etcd and a fake heat-api.

    The etcd holds the network heat_template; HeatApi is the real one.
    """

    def __init__(self, tmp_path, **options):
        self.client = fakes.FakeEtcd()
        self.heat = FakeHeat()
        self.conf = write_conf(tmp_path, **options)
        self.api = heat_api.HeatApi(self.conf)
        self.api.client = self.heat.client
        self.handler = heat.HeatHandler(self.client, self.conf, heat=self.api)
        template = {'handler': 'heat_worker', 'id': 'network', 'watch': [],
                    'parameter_mappings': {'uuid': {'field': 'id'}},
                    'template_file': HOT}
        self.client.put(keys.heat_template('network'),
                        records.config(template, 1))
        self.lease = self.client.grant_lease(60)

    def claim(self, action='create', params=PARAMS, body=BODY, version=1):
        job_id, value = records.job(action, 'heat_worker', 'network', RID,
                                    version, params, body)
        self.client.put(keys.job(job_id), value)
        kv = self.client.get(keys.job(job_id))
        handler, job = records.parse_job(kv.key, kv.value)
        return claims.claim(self.client, kv, handler, job, self.lease,
                            self.handler.prefetch(job))

    def run(self, claim, clock=None):
        return self.handler.run(claim, clock or Clock())

    def json(self, key):
        kv = self.client.get(key)
        return kv and json.loads(kv.value)


@pytest.fixture
def world(tmp_path, mapped):
    return World(tmp_path)


def methods(heat):
    return [call[0] for call in heat.calls]


# --- create -----------------------------------------------------------------

def test_create_makes_the_stack_and_records_it_as_esi_did(world):
    claim = world.claim()
    assert claim.prefetched.keys() == {keys.heat_template('network')}
    clock = Clock()
    result = world.run(claim, clock)
    stack = world.heat.stacks[(PROJECT, NAME)]
    fields = stack.fields
    assert fields['stack_name'] == NAME
    assert fields['disable_rollback'] is True
    assert fields['timeout_mins'] == 60
    # jinja_* render the template only; heat_timeout is the timeout.
    assert fields['parameters'] == {'uuid': RID, 'name': RID,
                                    'admin_state_up': True}
    assert '  a:\n    type: OS::Heat::None' in fields['template']
    assert '  {{ 7 * 7 }}:\n' in fields['template']     # data, not Jinja
    assert 'environment' not in fields
    # The job waits for Heat's stack timeout, not only [worker]'s.
    assert clock.timeout >= 60 * 60
    # Point (3), field by field and in ESI's order.
    record = world.json(keys.heat_stack('network', RID))
    assert list(record) == ['stack_id', 'tenant_id', 'stack_status',
                            'output', 'status_reason', 'id']
    assert record == {
        'stack_id': NAME, 'tenant_id': PROJECT,
        'stack_status': 'CREATE_COMPLETE', 'output': OUTPUTS,
        'status_reason': 'Stack CREATE completed successfully',
        'id': 'network:%s' % RID}
    assert keys.heat_stack('network', RID) == (
        '/esi-worker/heat_stacks/v2.0/networks/%s' % RID)
    # Point (4), and the Result that /state's heat_outputs comes from.
    assert world.json(keys.job_state('network', RID)) == {
        'heat_outputs': OUTPUTS}
    assert result.heat_outputs == OUTPUTS
    assert result.state_monitoring is None
    assert {call[1] for call in world.heat.calls} == {PROJECT}
    assert methods(world.heat).count('create') == 1


def test_the_first_look_at_a_new_stack_is_a_poll_interval_later(world):
    clock = Clock()
    clock.calls = world.heat.calls
    world.run(world.claim(), clock)
    called = methods(world.heat)
    created = called.index('create')
    assert called[created + 1] == 'wait'
    assert world.heat.calls[created + 1][2] == 1.0     # poll_interval
    assert called[created + 2] == 'get'


def test_the_environment_file_goes_with_every_stack(tmp_path, mapped):
    env = tmp_path / 'simulated.yaml'
    env.write_text('resource_registry:\n  OS::Contrail::VirtualNetwork: '
                   'ESI::Simulated::Contrail::VirtualNetwork\n')
    world = World(tmp_path, environment=str(env))
    world.run(world.claim())
    assert world.heat.stacks[(PROJECT, NAME)].fields['environment'] == {
        'resource_registry': {'OS::Contrail::VirtualNetwork':
                              'ESI::Simulated::Contrail::VirtualNetwork'}}


@pytest.mark.parametrize('text, why', [
    ('[a, b]\n', 'not a Heat environment'),
    ('a: [\n', 'not valid YAML'),
])
def test_a_bad_environment_file_stops_the_worker(tmp_path, mapped, text,
                                                 why):
    env = tmp_path / 'env.yaml'
    env.write_text(text)
    with pytest.raises(exceptions.ConfigError) as err:
        World(tmp_path, environment=str(env))
    assert why in str(err.value) and str(env) in str(err.value)
    with pytest.raises(exceptions.ConfigError) as err:
        World(tmp_path, environment=str(tmp_path / 'gone.yaml'))
    assert 'cannot be read' in str(err.value)


def test_the_default_timeout_is_ten_minutes(world):
    params = [p for p in PARAMS if p['param'] != 'heat_timeout']
    world.run(world.claim(params=params))
    assert world.heat.stacks[(PROJECT, NAME)].fields['timeout_mins'] == 10


def test_a_stack_found_by_name_is_adopted_not_made_twice(world):
    # An earlier claim created it, then its worker died mid-create.
    world.heat.client(PROJECT).stacks.create(stack_name=NAME, template='x')
    world.heat.calls.clear()
    result = world.run(world.claim())
    assert methods(world.heat).count('create') == 0
    assert len(world.heat.stacks) == 1
    assert result.heat_outputs == OUTPUTS
    assert world.json(keys.heat_stack('network', RID))['stack_status'] == \
        'CREATE_COMPLETE'


def test_a_stack_stored_but_not_started_is_waited_for(world):
    world.heat.client(PROJECT).stacks.create(stack_name=NAME, template='x')
    world.heat.stacks[(PROJECT, NAME)].stack_status = 'INIT_COMPLETE'
    result = world.run(world.claim())
    assert result.heat_outputs == OUTPUTS
    assert world.json(keys.heat_stack('network', RID))['stack_status'] == \
        'CREATE_COMPLETE'


def test_a_409_on_create_adopts_the_stack_someone_made(world):
    def race():
        world.heat.on_create = None
        world.heat.client(PROJECT).stacks.create(stack_name=NAME,
                                                 template='x')
    world.heat.on_create = race
    result = world.run(world.claim())
    assert world.heat.created == 1
    assert result.heat_outputs == OUTPUTS


def test_a_failed_stack_fails_the_job_with_heats_reason(world):
    world.heat.failing = ('Resource CREATE failed: simulated failure of '
                          'network')
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim())
    assert str(err.value) == (
        'network %s: stack %s CREATE_FAILED: Resource CREATE failed: '
        'simulated failure of network' % (RID, NAME))
    assert world.client.get(keys.heat_stack('network', RID)) is None
    assert world.client.get(keys.job_state('network', RID)) is None


def test_a_failed_stack_is_tried_again_in_place_by_a_rerun(world):
    world.heat.failing = 'boom'
    with pytest.raises(exceptions.JobFailed):
        world.run(world.claim())
    world.heat.failing = None
    result = world.run(world.claim())
    assert world.heat.created == 1
    assert 'update' in methods(world.heat)
    assert result.heat_outputs == OUTPUTS


def test_heat_api_unreachable_is_retried_then_fails_clearly(world):
    world.heat.down = 10 ** 6
    clock = Clock(timeout=30)
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim(), clock)
    message = str(err.value)
    assert message.startswith('network %s: heat-api at %s unreachable: '
                              'ConnectFailure' % (RID, HEAT_URL))
    assert 'job deadline' in message
    assert len(world.heat.calls) > 3
    assert world.heat.created == 0
    assert SECRET not in message


def test_heat_api_back_in_time_lets_the_job_finish(world):
    world.heat.down = 3
    result = world.run(world.claim())
    assert result.heat_outputs == OUTPUTS
    assert world.heat.created == 1


def test_a_shutdown_interrupts_the_wait(world):
    clock = Clock()
    clock.aborting.set()
    with pytest.raises(exceptions.JobInterrupted):
        world.run(world.claim(), clock)


def test_a_claim_taken_over_writes_no_record(world):
    claim = world.claim()
    world.client.put(keys.working(claim.job_id), 'another-claim')
    with pytest.raises(claims.ClaimLost):
        world.run(claim)
    assert world.client.get(keys.heat_stack('network', RID)) is None


def test_no_template_for_the_body_means_no_stack(world, monkeypatch):
    monkeypatch.setitem(template_mappings.TEMPLATE_MAPPINGS, heat.HANDLER,
                        {'network': {'constant': None}})
    result = world.run(world.claim())
    assert result == heat.base.Result()
    assert world.heat.calls == []


def test_a_job_without_project_fails_naming_it(world):
    body = dict(BODY)
    del body['tenant_id']
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim(body=body))
    assert 'network %s: resource_input has no tenant_id' % RID in str(
        err.value)


@pytest.mark.parametrize('value', ['0', 'soon', True, -3])
def test_a_bad_heat_timeout_fails_the_job(world, value):
    params = [dict(p, value=value) if p['param'] == 'heat_timeout' else p
              for p in PARAMS]
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim(params=params))
    assert 'heat_timeout must be a whole number of minutes' in str(err.value)
    assert world.heat.calls == []


def test_a_heat_error_quoting_a_secret_param_is_masked(world):
    params = PARAMS + [{'resources': [], 'type': 'value',
                        'value': 'device-s3cret', 'param': 'password'}]

    def refuse(**fields):
        raise _error(heat_exc.HTTPBadRequest,
                     'Parameter password: device-s3cret is invalid')
    world.heat.client = lambda project: type(
        'C', (), {'stacks': type('S', (), {
            'get': Stacks(world.heat, project).get,
            'create': staticmethod(refuse)})()})()
    world.api.client = world.heat.client
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim(params=params))
    assert 'device-s3cret' not in str(err.value)
    assert 'heat-api refused stack %s: HTTP 400' % NAME in str(err.value)


# --- Jinja ------------------------------------------------------------------

def test_jinja_runs_sandboxed():
    template = {'id': 't', 'template_file': '{{ x.__class__.__mro__ }}'}
    with pytest.raises(exceptions.JobFailed) as err:
        heat.render(template, {'x': 'a'})
    assert 'heat_template t' in str(err.value)


def test_an_unknown_jinja_name_is_an_error_not_empty_text():
    template = {'id': 't', 'template_file': 'a: {{ jinja_missing }}'}
    with pytest.raises(exceptions.JobFailed) as err:
        heat.render(template, {'jinja_other': 1})
    assert 'jinja_missing' in str(err.value)
    assert 'jinja_other' in str(err.value)


def test_jinja_values_are_data():
    template = {'id': 't', 'template_file': 'a: {{ jinja_v }}'}
    assert heat.render(template, {'jinja_v': '{{ 7 * 7 }}'}) == \
        'a: {{ 7 * 7 }}'


def test_params_split_as_esi_split_them():
    parameters, context, timeout = heat.split_params(
        {'a': 1, 'jinja_b': [2], 'heat_timeout': '60', 'c': None}, 10)
    assert parameters == {'a': 1, 'c': None}
    assert context == {'jinja_b': [2]}
    assert timeout == 60
    assert heat.split_params({}, 10)[2] == 10


# --- modify and delete ------------------------------------------------------

def test_modify_updates_the_stack_with_the_rerendered_template(world):
    world.run(world.claim())
    params = [dict(p, value=['z']) if p['param'] == 'jinja_extras' else p
              for p in PARAMS]
    world.heat.calls.clear()
    result = world.run(world.claim('modify', params=params, version=2))
    stack = world.heat.stacks[(PROJECT, NAME)]
    assert world.heat.created == 1
    assert ('update', PROJECT, '%s/%s' % (NAME, stack.id)) in \
        world.heat.calls
    assert '  z:\n' in stack.fields['template']
    assert 'stack_name' not in stack.fields
    record = world.json(keys.heat_stack('network', RID))
    assert record['stack_status'] == 'UPDATE_COMPLETE'
    assert record['status_reason'] == 'Stack UPDATE completed successfully'
    assert result.heat_outputs == OUTPUTS
    assert world.json(keys.job_state('network', RID)) == {
        'heat_outputs': OUTPUTS}


def test_modify_waits_for_an_action_in_progress_first(world):
    world.heat.client(PROJECT).stacks.create(stack_name=NAME, template='x')
    world.run(world.claim('modify', version=2))
    assert world.json(keys.heat_stack('network', RID))['stack_status'] == \
        'UPDATE_COMPLETE'


def test_a_failed_update_fails_the_job_with_heats_reason(world):
    world.run(world.claim())
    world.heat.failing = 'Resource UPDATE failed: no'
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim('modify', version=2))
    assert 'UPDATE_FAILED: Resource UPDATE failed: no' in str(err.value)


def test_delete_removes_the_stack_then_its_record(world):
    world.run(world.claim())
    claim = world.claim('logical_delete', version=2)
    assert claim.prefetched == {}
    result = world.run(claim)
    assert world.heat.stacks == {}
    assert 'delete' in methods(world.heat)
    # DELETE_COMPLETE first, then the record goes with the job's finish.
    record = world.json(keys.heat_stack('network', RID))
    assert record['stack_status'] == 'DELETE_COMPLETE'
    assert result.deletes == (keys.heat_stack('network', RID),
                              keys.monitoring('network', RID))
    claim.finish(etcd.dumps(records.state('DELETE_COMPLETED', 2)),
                 result.deletes)
    assert world.client.get(keys.heat_stack('network', RID)) is None


def test_delete_of_a_stack_already_gone_is_done(world):
    result = world.run(world.claim('logical_delete', version=2))
    assert methods(world.heat) == ['get']
    assert keys.heat_stack('network', RID) in result.deletes


# --- Keystone ---------------------------------------------------------------

def test_each_project_gets_its_own_scoped_session_cached(tmp_path):
    api = heat_api.HeatApi(write_conf(tmp_path))
    first = api.client(PROJECT)
    assert api.client(PROJECT) is first
    other = api.client('another-project')
    assert other is not first
    auth = first.http_client.session.auth
    assert auth._project_id == PROJECT
    assert auth._project_name is None
    assert auth._user_domain_name == 'Default'
    assert other.http_client.session.auth._project_id == 'another-project'
    assert first.http_client.service_type == 'orchestration'
    assert first.http_client.interface == 'public'


def test_missing_credentials_stop_the_worker(tmp_path):
    conf = cfg.ConfigOpts()
    heat_esi_conf.register_worker_opts(conf)
    conf([], project='heat-esi', default_config_files=[])
    with pytest.raises(exceptions.ConfigError) as err:
        heat_api.HeatApi(conf)
    assert '[heat_worker] auth_type is not set' in str(err.value)


def test_a_refused_password_is_one_line_without_the_secret(tmp_path,
                                                           monkeypatch):
    api = heat_api.HeatApi(write_conf(tmp_path))

    def refuse(session, *args, **kwargs):
        raise ks_exc.Unauthorized('The request you have made requires '
                                  'authentication.', http_status=401)
    monkeypatch.setattr('keystoneauth1.session.Session.get_token', refuse)
    with pytest.raises(exceptions.ConfigError) as err:
        api.check_credentials()
    message = str(err.value)
    assert message.startswith('[heat_worker] Keystone at '
                              'http://keystone.example:5000/v3 refused the '
                              'credentials of user esi-worker')
    assert '\n' not in message and SECRET not in message


def test_keystone_down_at_start_is_only_reported(tmp_path, monkeypatch):
    api = heat_api.HeatApi(write_conf(tmp_path))

    def down(session, *args, **kwargs):
        raise ks_exc.ConnectFailure('Unable to establish connection')
    monkeypatch.setattr('keystoneauth1.session.Session.get_token', down)
    assert 'cannot be asked now' in api.check_credentials()


def test_the_worker_refuses_to_start_on_refused_credentials():
    class Refusing(object):
        def check_credentials(self):
            raise exceptions.ConfigError('refused')
    assert worker_cmd.check_credentials({
        'heat_worker': Refusing(), 'monitoring_worker': object()}) == \
        'refused'
    assert worker_cmd.check_credentials({
        'monitoring_worker': object()}) is None


def test_a_project_keystone_refuses_fails_the_job(world):
    def refuse(project):
        raise ks_exc.Unauthorized('not authorized for project',
                                  http_status=401)
    world.api.client = refuse
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim())
    message = str(err.value)
    assert 'refused user esi-worker in project %s' % PROJECT in message
    assert SECRET not in message


def test_the_handler_is_an_entry_point():
    import importlib.metadata
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(
        group='heat_esi.handlers')}
    assert found['heat_worker'] == 'heat_esi.worker.handlers.heat:HeatHandler'


@pytest.mark.parametrize('exc, retried', [
    (ks_exc.ConnectFailure('refused'), True),
    (ks_exc.ConnectTimeout('slow'), True),
    (ks_exc.SSLError('bad certificate'), False),
    (_error(heat_exc.HTTPServiceUnavailable, 'down'), True),
    (heat_exc.HTTPException('{}', 504), True),
    (ks_exc.ServiceUnavailable(http_status=503), True),
    (_error(heat_exc.HTTPBadRequest, 'bad'), False),
    (_error(heat_exc.HTTPNotFound, 'gone'), False),
])
def test_what_is_retried(exc, retried):
    assert heat_api._retriable(exc) is retried


def test_no_orchestration_in_the_catalog_fails_the_job(world):
    def nothing(project):
        raise ks_exc.EndpointNotFound('no orchestration endpoint')
    world.api.client = nothing
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim())
    assert 'no orchestration endpoint (interface public' in str(err.value)


def test_several_environment_files_are_merged_in_order(tmp_path, mapped):
    first = tmp_path / 'simulated.yaml'
    first.write_text('resource_registry:\n'
                     '  OS::Contrail::VirtualNetwork: A::One\n'
                     '  OS::Contrail::NetconfNamedConfigs: A::Two\n')
    second = tmp_path / 'netconf.yaml'
    second.write_text('resource_registry:\n'
                      '  OS::Contrail::NetconfNamedConfigs: B::Two\n')
    world = World(tmp_path, environment='%s,%s' % (first, second))
    world.run(world.claim())
    fields = world.heat.stacks[(PROJECT, NAME)].fields
    # The later file wins, as with openstack stack create -e a -e b.
    assert fields['environment'] == {'resource_registry': {
        'OS::Contrail::VirtualNetwork': 'A::One',
        'OS::Contrail::NetconfNamedConfigs': 'B::Two'}}
    assert 'files' not in fields


def test_an_environment_that_names_a_template_sends_it(tmp_path, mapped):
    nested = tmp_path / 'nested.yaml'
    nested.write_text('heat_template_version: 2013-05-23\n')
    env = tmp_path / 'env.yaml'
    env.write_text('resource_registry:\n  My::Type: nested.yaml\n')
    world = World(tmp_path, environment=str(env))
    world.run(world.claim())
    fields = world.heat.stacks[(PROJECT, NAME)].fields
    url = fields['environment']['resource_registry']['My::Type']
    assert url.endswith('/nested.yaml')
    assert list(fields['files']) == [url]
    assert yaml.safe_load(fields['files'][url]) == {
        'heat_template_version': '2013-05-23'}


def test_a_bad_file_among_several_is_named(tmp_path, mapped):
    good = tmp_path / 'good.yaml'
    good.write_text('resource_registry: {}\n')
    with pytest.raises(exceptions.ConfigError) as err:
        World(tmp_path, environment='%s,%s' % (good, tmp_path / 'gone.yaml'))
    assert 'gone.yaml cannot be read' in str(err.value)

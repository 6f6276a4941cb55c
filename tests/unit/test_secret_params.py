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

"""Secret params: a reference in the job and in the stack, never the value.

heat_esi.templates builds the ``secret`` param from a mapping, the
heat_worker (heat_esi.worker.params, handlers/heat.py) passes it to Heat
as a reference ``<type>/<id>/<field>`` in a hidden stack parameter, which
ESI::Netconf::NamedConfigs reads from /config only when it sends the
configuration; the value is in no job, stack, error or log line.
"""

import json
import logging

from heatclient import exc as heat_exc
import pytest

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import redact
from heat_esi import templates
from heat_esi.worker import params
from tests import fakes
from tests.unit.test_heat_handler import _error   # noqa: H306
from tests.unit.test_heat_handler import BODY
from tests.unit.test_heat_handler import mapped   # noqa: F401
from tests.unit.test_heat_handler import NAME
from tests.unit.test_heat_handler import PROJECT
from tests.unit.test_heat_handler import RID
from tests.unit.test_heat_handler import Stacks
from tests.unit.test_heat_handler import World

MD5 = 'bgp-md5-s3cret'
NETWORK = 'a9ab1b77-6d4c-4ad5-9d31-1d0a8a06b1a7'
SUBNET = '0d2b0c3c-1f76-4b7e-9c39-0c6a2b1d0a55'
HIDDEN_HOT = '''heat_template_version: 2013-05-23
parameters:
  uuid: {type: string}
  md5:
    type: string
    hidden: true
resources:
  network:
    type: OS::Heat::None
'''


def template(handler='heat_worker', **mappings):
    return templates.validate('t', {
        'handler': handler, 'id': 't', 'watch': [],
        'parameter_mappings': mappings, 'template_file': ''})


def lookup_of(configs):
    return lambda esi_type, rid: configs.get((esi_type, rid))


# --- the param heat-engine writes -------------------------------------------

def test_a_secret_of_the_resource_itself_is_a_reference_not_the_value():
    body = {'id': RID, 'name': 'n', 'bgp_md5': MD5}
    built = templates.build_params(
        template(md5={'secret': 'bgp_md5'}), 'network', body, 1,
        lookup_of({}))
    assert built == [{'resources': [], 'type': 'secret', 'param': 'md5',
                      'value': {'resource_type': 'network',
                                'resource_id': RID, 'field': 'bgp_md5'}}]
    assert MD5 not in json.dumps(built)


def test_a_secret_along_a_path_names_the_resource_at_its_end():
    subnet = {'id': SUBNET, 'network_id': NETWORK}
    configs = {('network', NETWORK): {'id': NETWORK, 'password': MD5}}
    built = templates.build_params(
        template(pw={'secret': 'password', 'path': ['network_id']}),
        'subnet', subnet, 1, lookup_of(configs))
    assert built == [{
        'resources': [{'resource_type': 'network', 'resource_id': NETWORK}],
        'type': 'secret', 'param': 'pw',
        'value': {'resource_type': 'network', 'resource_id': NETWORK,
                  'field': 'password'}}]


def test_a_secret_field_that_is_not_there_is_refused_at_once():
    with pytest.raises(exceptions.TemplateError) as err:
        templates.build_params(template(md5={'secret': 'bgp_md5'}),
                               'network', {'id': RID}, 1, lookup_of({}))
    assert str(err.value) == ('heat_template t: parameter md5: network %s '
                              'has no field bgp_md5' % RID)


def test_a_delete_needs_no_secret_of_a_resource_gone():
    subnet = {'id': SUBNET, 'network_id': NETWORK}
    built = templates.build_params(
        template(pw={'secret': 'password', 'path': ['network_id']}),
        'subnet', subnet, 1, lookup_of({}), missing_ok=True)
    assert built[0]['type'] == 'value' and built[0]['value'] is None


@pytest.mark.parametrize('mapping, handler, expected', [
    ({'secret': ''}, 'heat_worker', '"secret" must be the name of a /config'
     ' field'),
    ({'secret': 7}, 'heat_worker', '"secret" must be the name'),
    ({'secret': 'bgp_md5'}, 'monitoring_worker', 'maps a secret, which only '
     'the heat_worker resolves'),
    ({'secret': 'bgp_md5', 'path': 'vpn_gw_id'}, 'heat_worker',
     '"path" must be a list'),
    ({'field': 'bgp_md5'}, 'heat_worker', 'maps the secret field bgp_md5'),
])
def test_bad_secret_mappings_are_refused(mapping, handler, expected):
    with pytest.raises(exceptions.TemplateError) as err:
        template(handler=handler, md5=mapping)
    assert expected in str(err.value)
    assert 'heat_template t: parameter md5' in str(err.value)


def test_bgp_md5_stays_out_of_a_jobs_resource_input():
    _, value = records.job('create', 'heat_worker', 'vpn_interface', RID, 1,
                           [], {'id': RID, 'bgp_md5': MD5, 'tenant_id': 'p'})
    assert MD5 not in value
    assert 'bgp_md5' not in value[1]['resource_input']


# --- the worker resolves it ------------------------------------------------

def secret_job(rtype='network', rid=RID, field='bgp_md5', name='md5'):
    return {'params': [
        {'resources': [], 'type': 'value', 'value': RID, 'param': 'uuid'},
        {'resources': [], 'type': 'secret', 'param': name,
         'value': {'resource_type': rtype, 'resource_id': rid,
                   'field': field}}]}


def etcd_with(body, esi_type='network', rid=RID):
    client = fakes.FakeEtcd()
    client.put(keys.config(esi_type, rid), records.config(body, 1))
    return client


REF = 'network/%s/bgp_md5@1' % RID


def test_the_worker_passes_a_reference_never_the_value():
    client = etcd_with(dict(BODY, bgp_md5=MD5))
    found = set()
    assert params.resolve(client, secret_job(), secrets=found) == {
        'uuid': RID, 'md5': REF}
    # No value read, none to hold: NamedConfigs reads it when it applies.
    assert found == set()
    assert params.secret_params(secret_job()) == ['md5']
    assert params.prefetch_keys(secret_job()) == ()


def test_a_secret_of_a_resource_gone_is_still_only_a_reference():
    # The resource that reads it (NamedConfigs secrets) refuses it then,
    # naming the reference; a delete does not need it at all.
    assert params.resolve(fakes.FakeEtcd(), secret_job(),
                          secrets=set())['md5'] == 'network/%s/bgp_md5' % RID


def test_a_new_version_of_the_secret_is_a_new_reference():
    # Heat updates the resource that reads it only if a property changed.
    client = etcd_with(dict(BODY, bgp_md5=MD5))
    client.put(keys.config('network', RID),
               records.config(dict(BODY, bgp_md5=MD5 + '2'), 2))
    assert params.resolve(client, secret_job(), secrets=set())['md5'] == \
        'network/%s/bgp_md5@2' % RID


def test_a_malformed_reference_is_refused_without_quoting_it():
    job = {'params': [{'resources': [], 'type': 'secret', 'param': 'md5',
                       'value': MD5}]}
    with pytest.raises(exceptions.JobFailed) as err:
        params.resolve(fakes.FakeEtcd(), job, secrets=set())
    assert "param 'md5': a secret param must be {resource_type" in str(
        err.value)
    assert MD5 not in str(err.value)


def test_the_monitoring_worker_never_resolves_a_secret():
    client = etcd_with(dict(BODY, bgp_md5=MD5))
    with pytest.raises(exceptions.JobFailed) as err:
        params.resolved_job(client, secret_job())
    assert "param 'md5' is a secret, which only the heat_worker resolves" in \
        str(err.value)
    assert MD5 not in str(err.value)


# --- the heat_worker passes it hidden ----------------------------------------

SECRET_PARAMS = [
    {'resources': [], 'type': 'value', 'value': RID, 'param': 'uuid'},
    {'resources': [], 'type': 'secret', 'param': 'md5',
     'value': {'resource_type': 'network', 'resource_id': RID,
               'field': 'bgp_md5'}}]


@pytest.fixture
def world(tmp_path, mapped):      # noqa: F811
    world = World(tmp_path)
    world.use_template(HIDDEN_HOT)
    world.client.put(keys.config('network', RID),
                     records.config(dict(BODY, bgp_md5=MD5), 1))
    return world


def _use_template(self, text):
    self.client.put(keys.heat_template('network'), records.config(
        {'handler': 'heat_worker', 'id': 'network', 'watch': [],
         'parameter_mappings': {'uuid': {'field': 'id'},
                                'md5': {'secret': 'bgp_md5'}},
         'template_file': text}, 1))


World.use_template = _use_template


def test_the_stack_gets_the_reference_as_a_hidden_parameter(world):
    claim = world.claim(params=SECRET_PARAMS)
    assert MD5 not in json.dumps(claim.job)
    world.run(claim)
    stack = world.heat.stacks[(PROJECT, NAME)]
    assert stack.fields['parameters'] == {'uuid': RID, 'md5': REF}
    assert MD5 not in json.dumps(stack.fields)
    assert redact.held() == set()


def test_a_secret_the_template_does_not_hide_fails_the_job(world):
    world.use_template(HIDDEN_HOT.replace('    hidden: true\n', ''))
    with pytest.raises(exceptions.JobFailed) as err:
        world.run(world.claim(params=SECRET_PARAMS))
    assert str(err.value) == (
        'network %s: heat_template network: param md5 is a secret, and its '
        'template_file must declare it a stack parameter with "hidden: '
        'true"' % RID)
    assert world.heat.calls == []


def test_no_request_or_log_of_the_worker_holds_the_value(world, caplog):
    logger = logging.getLogger('heatclient.fake')

    def refuse(**fields):
        # A client library's debug dump of the request, while the job runs.
        logger.warning('REQ: POST /stacks %s', json.dumps(fields))
        raise _error(heat_exc.HTTPBadRequest, 'Parameter value is invalid')
    world.heat.client = lambda project: type(
        'C', (), {'stacks': type('S', (), {
            'get': Stacks(world.heat, project).get,
            'create': staticmethod(refuse)})()})()
    world.api.client = world.heat.client
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(exceptions.JobFailed) as err:
            world.run(world.claim(params=SECRET_PARAMS))
    assert 'heat-api refused stack %s: HTTP 400' % NAME in str(err.value)
    assert MD5 not in str(err.value)
    assert 'REQ: POST /stacks' in caplog.text and REF in caplog.text
    assert MD5 not in caplog.text


def test_holding_masks_values_added_later_and_only_while_held():
    values = set()
    with redact.holding(values):
        values.add('late-s3cret')
        assert redact.text('x late-s3cret y') == 'x (masked) y'
        # Too short to search for in other text.
        values.add('abc')
        assert redact.text('abc') == 'abc'
    assert redact.text('x late-s3cret y') == 'x late-s3cret y'
    assert redact.scrub('a late-s3cret b', {'late-s3cret'}) == 'a (masked) b'


@pytest.mark.parametrize('text, why', [
    (HIDDEN_HOT + 'outputs:\n  leak: {value: {get_param: md5}}\n',
     'an output of its template_file shows it'),
    (HIDDEN_HOT + 'outputs:\n  leak:\n    value:\n      str_replace:\n'
     '        template: k=$K\n        params: {$K: {get_param: [md5]}}\n',
     'an output of its template_file shows it'),
    (HIDDEN_HOT.replace('hidden: true', 'hidden: yes-please'),
     'its template_file must declare it a stack parameter with "hidden: '
     'true"'),
])
def test_a_stack_that_would_show_the_secret_is_refused(text, why):
    with pytest.raises(exceptions.JobFailed) as err:
        params.check_hidden('t', text, ['md5'], {'uuid': RID, 'md5': MD5})
    assert str(err.value) == 'heat_template t: param md5 is a secret, ' \
        'and %s' % why
    # As a Jinja value it would be in the template itself.
    with pytest.raises(exceptions.JobFailed):
        params.check_hidden('t', HIDDEN_HOT, ['md5'], {'uuid': RID})

"""Unit tests of parameter_mappings, rendering and the value shapes."""

import json
import time

import pytest

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from heat_esi.worker import elements as pipeline

ER1 = '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'
EPI_BODY = {'id': 'epi-1', 'name': 'ge-0/0/1', 'device_id': ER1}
EDGE_ROUTERS = {ER1: {'id': ER1, 'ip': '10.79.5.185'}}


def lookup(resource_type, resource_id):
    assert resource_type == 'edge_router'
    return EDGE_ROUTERS.get(resource_id)


def template(**mappings):
    return templates.validate('t_monitoring', {
        'id': 't_monitoring', 'handler': 'monitoring_worker', 'watch': [],
        'template_file': '', 'parameter_mappings': mappings})


def test_field_constant_version_and_path():
    tmpl = template(
        device_ip={'field': 'ip', 'path': ['device_id']},
        community_name={'constant': 'EDGE_ROUTER_COMMUNITY'},
        name={'field': 'name'},
        version={'version': 'auto_filled'})
    params = templates.build_params(tmpl, 'er_physical_interface', EPI_BODY,
                                    3, lookup)
    assert params == [
        {'resources': [{'resource_type': 'edge_router',
                        'resource_id': ER1}],
         'type': 'value', 'value': '10.79.5.185', 'param': 'device_ip'},
        {'resources': [], 'type': 'value', 'value': 'EDGE_ROUTER_COMMUNITY',
         'param': 'community_name'},
        {'resources': [], 'type': 'value', 'value': 'ge-0/0/1',
         'param': 'name'},
        {'resources': [], 'type': 'value', 'value': 3, 'param': 'version'},
    ]


def test_relation_field_names_the_resource_it_points_to():
    tmpl = templates.load_dir()['ha_router_monitoring']
    body = {'primary_router_id': 'p', 'secondary_router_id': 's'}
    params = templates.build_params(tmpl, 'ha_router', body, 1, lookup)
    assert params[0] == {
        'resources': [{'resource_type': 'edge_router', 'resource_id': 's'}],
        'type': 'value', 'value': 's', 'param': 'secondary_device_id'}


def test_path_to_a_missing_resource():
    tmpl = template(device_ip={'field': 'ip', 'path': ['device_id']})
    body = dict(EPI_BODY, device_id='gone')
    with pytest.raises(exceptions.TemplateError,
                       match='parameter device_ip: edge_router gone does '
                             'not exist'):
        templates.build_params(tmpl, 'er_physical_interface', body, 1,
                               lookup)
    tmpl = template(device_ip={'field': 'ip', 'path': ['device_id'],
                               'ignore_missing': True})
    params = templates.build_params(tmpl, 'er_physical_interface', body, 1,
                                    lookup)
    assert params[0]['value'] is None


def test_unknown_mapping_kind_names_template_and_parameter():
    with pytest.raises(exceptions.TemplateError,
                       match='heat_template t_monitoring: parameter x has '
                             'an unknown mapping kind'):
        template(x={'concatenate': ['a', 'b']})


def test_missing_field_is_named():
    tmpl = template(x={'field': 'nope'})
    with pytest.raises(exceptions.TemplateError,
                       match='parameter x: ha_router has no field nope'):
        templates.build_params(tmpl, 'ha_router', {}, 1, lookup)


def test_shipped_templates_validate_and_render():
    found = templates.load_dir()
    tmpl = found['ha_router_monitoring']
    elements = pipeline.render(tmpl, {'primary_device_id': 'p',
                                      'secondary_device_id': 's'})
    assert elements == {
        'primary': {'type': 'etcd_reader', 'etcd_type': 'edge_router',
                    'etcd_id': 'p'},
        'secondary': {'type': 'etcd_reader', 'etcd_type': 'edge_router',
                      'etcd_id': 's'}}


def test_render_is_sandboxed():
    tmpl = template()
    tmpl['template_file'] = "a: {{ ''.__class__.__mro__ }}"
    with pytest.raises(exceptions.JobFailed, match='does not render'):
        pipeline.render(tmpl, {})


def test_job_id_layout():
    job_id, value = records.job('create', 'monitoring_worker', 'ha_router',
                                'abc', 1, [], {})
    parts = keys.parse_job_id(job_id)
    assert parts['action'] == 'create' and parts['version'] == 1
    assert job_id.startswith('create:monitoring_worker:ha_router:abc:1:')
    assert value[0] == 'monitoring_worker' and value[2] == 0
    assert sorted(value[1]) == sorted(records.JOB_FIELDS + ('created_at',))
    assert abs(value[1]['created_at'] - time.time()) < 60
    _, value = records.job('create', 'monitoring_worker', 'ha_router',
                           'abc', 1, [], {}, request_id='req-1')
    assert value[1]['request_id'] == 'req-1'


@pytest.mark.parametrize('text, reason', [
    ('{', 'not JSON'),
    ('{"state": {}}', 'worker_state'),
    ('{"state": {"worker_state": "X"}, "version": "1"}', 'version'),
    ('{"state": {"worker_state": "X", "state_monitoring": "{"}, '
     '"version": 1}', 'state_monitoring'),
])
def test_parse_state_names_the_key_and_the_fault(text, reason):
    with pytest.raises(exceptions.MalformedValue) as err:
        records.parse_state('/state/k', text)
    assert '/state/k' in str(err.value) and reason in str(err.value)


@pytest.mark.parametrize('ip', [
    '2001:db8::1', '::', '::1', '010', '1_000', 'null', 'true', '~', '0x1f',
    '1e3', '- a', '{a: b}', '"quoted"', "it's", '# not a comment', '*alias',
    '&anchor', '!!python/object:os.system', '', ' padded ',
])
def test_values_are_data_not_yaml(ip):
    # Each value comes back exactly as it was: a string, never re-parsed.
    tmpl = templates.load_dir()['edge_router_monitoring']
    elements = pipeline.render(tmpl, {'community_name': 'C',
                                      'device_ip': ip})
    assert elements == {'router': {'type': 'router', 'community_name': 'C',
                                   'ip': ip, 'mibs': []}}


def test_an_injected_newline_adds_no_element():
    tmpl = templates.load_dir()['ha_router_monitoring']
    hostile = 'p\nrouter:\n  type: router\n  ip: 192.0.2.66\n  x: '
    elements = pipeline.render(tmpl, {'primary_device_id': hostile,
                                      'secondary_device_id': 's'})
    assert sorted(elements) == ['primary', 'secondary']
    assert elements['primary']['etcd_id'] == hostile


def test_values_keep_their_json_types_and_embed_as_text():
    tmpl = template()
    tmpl['template_file'] = (
        'a:\n  type: x\n  n: {{ n }}\n  l: {{ l }}\n  none: {{ none }}\n'
        '  text: "{{ n }}/{{ l }}-{{ s }}"\n'
        '{{ s }}:\n  type: y\n')
    elements = pipeline.render(tmpl, {'n': 7, 'l': [1, {'k': 'v'}],
                                      'none': None, 's': 'b: c'})
    assert elements == {
        'a': {'type': 'x', 'n': 7, 'l': [1, {'k': 'v'}], 'none': None,
              'text': '7/[1, {"k": "v"}]-b: c'},
        'b: c': {'type': 'y'}}


def test_a_secret_field_cannot_be_mapped_into_a_job():
    with pytest.raises(exceptions.TemplateError,
                       match='parameter pw maps the secret field password'):
        template(pw={'field': 'password'})


def test_job_resource_input_has_no_password():
    body = {'id': 'r', 'ip': '192.0.2.1', 'login': 'admin',
            'password': 'pa55'}
    _, value = records.job('create', 'monitoring_worker', 'edge_router',
                           'r', 1, [], body)
    assert value[1]['resource_input'] == {'id': 'r', 'ip': '192.0.2.1',
                                          'login': 'admin'}
    assert 'pa55' not in json.dumps(value)

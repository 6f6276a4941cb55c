"""Unit tests of parameter_mappings, rendering and the value shapes."""

import json
import os
import re
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
        template(x={'join': ['a', 'b']})


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


# --- output_key and list: the params of ESI's heat_worker types ------------

def seed_jobs(document):
    """{job id: /jobs/all value} of every job of a seed's point (2)."""
    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)),
                           'fixtures', document)) as f:
        text = f.read()
    section = re.search(r'point of \(2\) in etcd(.*?)point of \(3\)', text,
                        re.S).group(1)
    found = {}
    for block in re.findall(r'```\n(.*?)```', section, re.S):
        key, _, value = block.strip().partition('\n')
        found[keys.under(keys.JOBS_ALL, key.strip())] = json.loads(value)
    return found


def seed_params(document, handler):
    """The params of the seed's job of *handler*, with its resource_input."""
    value, = [v for v in seed_jobs(document).values() if v[0] == handler]
    return value[1]['params'], value[1]['resource_input']


NETWORK = 'bb69041d-c654-4e9f-a763-afd4333275bc'
ESE_DEVICE = '5314fffc-6c86-4410-a64b-5386286ac629'


@pytest.fixture
def network_relations(monkeypatch):
    """The relations of the subnet and the physical port (types' own)."""
    monkeypatch.setitem(templates.RELATIONS, ('subnet', 'network_id'),
                        'network')
    monkeypatch.setitem(templates.RELATIONS,
                        ('ese_physical_port', 'ese_device_id'), 'ese_device')


def network_lookup(resource_type, resource_id):
    return {('network', NETWORK): {'id': NETWORK},
            ('ese_device', ESE_DEVICE): {
                'id': ESE_DEVICE, 'management_ip_address': '10.161.0.34'},
            }.get((resource_type, resource_id))


def test_output_keys_of_its_own_stack_as_the_network_seed():
    # network_monitoring reads its own stack's outputs (ESI's template).
    tmpl = templates.validate('network_monitoring', {
        'id': 'network_monitoring', 'handler': 'monitoring_worker',
        'watch': [], 'template_file': '',
        'parameter_mappings': {'fq_name': {'output_key': 'fq_name'},
                               'uuid': {'output_key': 'id'}}})
    params, body = seed_params('CreateNetwork_01.md', 'monitoring_worker')
    assert templates.build_params(tmpl, 'network', body, 1,
                                  network_lookup) == params


def test_an_output_key_along_a_path_as_the_subnet_seed(network_relations):
    # ESI's subnet template, its mappings in heat-esi's YAML forms, in the
    # seed's order (the order of the job's params).
    tmpl = templates.validate('subnet', {
        'id': 'subnet', 'handler': 'heat_worker', 'watch': [],
        'template_file': 'heat_template_version: 2013-05-23\n',
        'parameter_mappings': {
            'name': {'field': 'id'},
            'enable_dhcp': {'field': 'enable_dhcp'},
            'network_id': {'output_key': 'id', 'path': ['network_id']},
            'ipam': {'constant':
                     'default-domain:default-project:default-network-ipam'},
            'dns_nameservers': {'field': 'dns_nameservers'},
            'dhcp_server_address': {'field': 'dhcp_server_address'},
            'ntp_servers': {'field': 'ntp_servers'},
            'allocation_pools': {'field': 'allocation_pools'},
            'gateway_ip': {'field': 'gateway_ip'},
            'host_routes': {'field': 'host_routes'},
            'cidr': {'field': 'cidr'}}})
    params, body = seed_params('CreateSubnet_01.md', 'heat_worker')
    assert templates.build_params(tmpl, 'subnet', body, 1,
                                  network_lookup) == params


def test_the_physical_port_seeds_two_jobs(network_relations):
    heat = templates.validate('ese_physical_port_new', {
        'id': 'ese_physical_port_new', 'handler': 'heat_worker',
        'watch': [], 'template_file': '',
        'parameter_mappings': {
            'physical_port_name': {'field': 'name'},
            'physical_device': {'output_key': 'id',
                                'path': ['ese_device_id']}}})
    monitoring = templates.validate('ese_physical_port_monitoring', {
        'id': 'ese_physical_port_monitoring', 'watch': [],
        'handler': 'monitoring_worker', 'template_file': '',
        'parameter_mappings': {
            'community_name': {'constant': 'ESE_NODE_COMMUNITY'},
            'device_ip': {'field': 'management_ip_address',
                          'path': ['ese_device_id']},
            'name': {'field': 'name'}}})
    for tmpl in (heat, monitoring):
        params, body = seed_params('CreateEsePhysicalPort_01.md',
                                   tmpl['handler'])
        assert templates.build_params(tmpl, 'ese_physical_port', body, 1,
                                      network_lookup) == params


def test_an_output_key_to_a_resource_that_is_gone(network_relations):
    tmpl = template(network={'output_key': 'id', 'path': ['network_id']})
    body = {'id': 's1', 'network_id': 'gone'}
    with pytest.raises(exceptions.TemplateError,
                       match='parameter network: network gone does not '
                             'exist'):
        templates.build_params(tmpl, 'subnet', body, 1, network_lookup)
    # A delete job still names the stack: the worker finds it gone.
    param, = templates.build_params(tmpl, 'subnet', body, 2,
                                    network_lookup, missing_ok=True)
    assert param['type'] == 'output_key'
    assert param['value'] == {'output_key': 'id', 'resource_type': 'network',
                              'resource_id': 'gone'}


def test_a_list_of_outputs_as_the_logical_port_seed(monkeypatch):
    # CreateGwInterface_03: one output_key sub-param per id of port_ids;
    # CreateGwInterface_02: per fixed ip, its subnet_id ("item").
    monkeypatch.setitem(templates.RELATIONS,
                        ('ese_logical_port', 'port_ids'), 'port')
    port, subnet = '33907bcb-8689-425d-a700-fe8acfd94aed', 'sub-1'
    tmpl = template(
        vmis={'list': {'output_key': 'id', 'path': ['port_ids']}},
        subnets={'list': {'output_key': 'id', 'item': 'subnet_id',
                          'path': [{'type': 'subnet',
                                    'id': 'fixed_ips'}]}})
    body = {'id': 'lp', 'port_ids': [port],
            'fixed_ips': [{'subnet_id': subnet, 'ip_address': 'a'},
                          {'subnet_id': subnet, 'ip_address': 'b'}]}
    configs = {('port', port): {'id': port}, ('subnet', subnet): {}}
    vmis, subnets = templates.build_params(
        tmpl, 'ese_logical_port', body, 1,
        lambda t, i: configs.get((t, i)))
    assert vmis == {
        'resources': [{'resource_type': 'port', 'resource_id': port}],
        'type': 'list',
        'value': [{'param': 'vmis', 'type': 'output_key',
                   'value': {'output_key': 'id', 'resource_type': 'port',
                             'resource_id': port},
                   'resources': []}],
        'param': 'vmis'}
    assert subnets['resources'] == [
        {'resource_type': 'subnet', 'resource_id': subnet}] * 2
    assert [p['value']['resource_id'] for p in subnets['value']] == [
        subnet, subnet]


@pytest.mark.parametrize('mapping, error', [
    ({'output_key': 3}, '"output_key" must be the name of a stack output'),
    ({'output_key': ''}, '"output_key" must be the name of a stack output'),
    ({'output_key': 'id', 'path': 'network_id'}, '"path" must be a list'),
    ({'output_key': 'id', 'field': 'id'},
     'has mapping kinds field and output_key: it must have one'),
    ({'list': {'output_key': 'id'}},
     'list must be {output_key: k, path: [list field, ...]}'),
    ({'list': ['id']}, 'list must be {output_key: k, path'),
    ({'list': {'output_key': 'id', 'path': ['port_ids'], 'item': 1}},
     '"item" must be the field'),
])
def test_a_malformed_output_mapping_is_named(mapping, error):
    with pytest.raises(exceptions.TemplateError) as info:
        template(p=mapping)
    assert 'heat_template t_monitoring: parameter p' in str(info.value)
    assert error in str(info.value)


def test_a_list_field_that_is_not_a_list_is_named(monkeypatch):
    monkeypatch.setitem(templates.RELATIONS,
                        ('ese_logical_port', 'port_ids'), 'port')
    tmpl = template(vmis={'list': {'output_key': 'id',
                                   'path': ['port_ids']}})
    with pytest.raises(exceptions.TemplateError,
                       match='parameter vmis: ese_logical_port field '
                             'port_ids is not a list'):
        templates.build_params(tmpl, 'ese_logical_port',
                               {'id': 'lp', 'port_ids': 'p1'}, 1,
                               lambda t, i: {})

"""The parameter mappings of the VPN templates: nested, concatenate, secret.

ESI's vpn_gateway joins "FILTER_" and a QoS option's policer name
("ACFILTER_&F..."), vpn_interface reads fields inside its primary and
secondary maps ("Oprimary:bgp_peer_ip"), and its bgp_md5 enters a job as a
reference only (interfaces.md item 1).
"""

import pytest

from heat_esi import exceptions
from heat_esi import templates

GATEWAY = {'id': 'gw', 'qos_option_id': 'q1',
           'primary': {'bgp_peer_ip': '192.168.8.1'}, 'bgp_md5': 'k3y'}
CONFIGS = {('qos_option', 'q1'): {'id': 'q1', 'outgoing_policer_name': 'P',
                                  'enabled': True}}


def template(**mappings):
    return templates.validate('t', {
        'id': 't', 'handler': 'heat_worker', 'watch': [],
        'template_file': '', 'parameter_mappings': mappings})


def build(tmpl, body=GATEWAY, missing_ok=False, configs=CONFIGS):
    return templates.build_params(tmpl, 'vpn_gateway', body, 1,
                                  lambda t, i: configs.get((t, i)),
                                  missing_ok=missing_ok)


def test_concatenate_joins_constants_and_fields_with_their_resources():
    params = build(template(f={'concatenate': [
        {'constant': 'FILTER_'},
        {'field': 'outgoing_policer_name', 'path': ['qos_option_id']},
        {'constant': '-'},
        {'field': 'enabled', 'path': ['qos_option_id']}]}))
    assert params == [{'param': 'f', 'type': 'value', 'value': 'FILTER_P-true',
                       'resources': [{'resource_type': 'qos_option',
                                      'resource_id': 'q1'},
                                     {'resource_type': 'qos_option',
                                      'resource_id': 'q1'}]}]


def test_concatenate_of_a_gone_resource_is_none_for_a_delete():
    tmpl = template(f={'concatenate': [
        {'constant': 'FILTER_'},
        {'field': 'outgoing_policer_name', 'path': ['qos_option_id']}]})
    assert build(tmpl, missing_ok=True, configs={})[0]['value'] is None
    with pytest.raises(exceptions.TemplateError,
                       match='parameter f: qos_option q1 does not exist'):
        build(tmpl, configs={})


def test_nested_reads_inside_the_body():
    params = build(template(p={'nested': ['primary', 'bgp_peer_ip']}))
    assert params == [{'param': 'p', 'type': 'value',
                       'value': '192.168.8.1', 'resources': []}]
    with pytest.raises(exceptions.TemplateError,
                       match='vpn_gateway has no field primary:nope'):
        build(template(p={'nested': ['primary', 'nope']}))


def test_secret_is_a_reference_never_the_value():
    params = build(template(md5={'secret': 'bgp_md5'}))
    assert params == [{'param': 'md5', 'type': 'secret', 'resources': [],
                       'value': {'resource_type': 'vpn_gateway',
                                 'resource_id': 'gw', 'field': 'bgp_md5'}}]
    assert 'k3y' not in str(params)


@pytest.mark.parametrize('mapping, message', [
    ({'nested': []}, '"nested" must be a list of field names'),
    ({'nested': ['bgp_md5']}, 'maps a secret field'),
    ({'concatenate': []}, 'must be a list of parts'),
    ({'concatenate': [{'secret': 'bgp_md5'}]}, 'a part is one of'),
    ({'concatenate': [{'field': 'password'}]}, 'maps the secret field'),
    ({'secret': ''}, '"secret" must be the name of a /config field'),
])
def test_bad_mappings_are_refused_naming_the_parameter(mapping, message):
    with pytest.raises(exceptions.TemplateError) as err:
        template(x=mapping)
    assert 'heat_template t: parameter x' in str(err.value)
    assert message in str(err.value)

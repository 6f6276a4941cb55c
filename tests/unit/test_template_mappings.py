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

"""ESI's template mappings, with the examples ESI resolved."""

import pytest

from heat_esi import exceptions
from heat_esi import template_mappings as tm

# ESI's own mappings (memo template_mappings, heat_worker and Era A's
# monitoring_worker), copied here: tests do not read the reference.
ESI = {
    'heat_worker': {
        'ese_device': 'ACese_device_&Pexisting',
        'ese_physical_port': 'ACese_physical_port_&Pexisting',
        'gw_interface': 'ACgw_interface_&Pservice_type',
        'port': {'if_mapping': {'regexp': [
            {'field': 'device_owner'},
            {'constant': 'network:dhcp|network:empty'}]},
            'then_mapping': {'constant': None},
            'else_mapping': {'constant': 'port_monitoring'}},
    },
    'monitoring_worker': {'ha_router': 'Cha_router_monitoring'},
}


@pytest.mark.parametrize('handler, esi_type, body, name', [
    ('heat_worker', 'ese_device', {'existing': 'existing'},
     'ese_device_existing'),
    ('heat_worker', 'ese_device', {'existing': True}, 'ese_device_true'),
    ('heat_worker', 'ese_physical_port', {'existing': 'new'},
     'ese_physical_port_new'),
    ('heat_worker', 'gw_interface', {'service_type': 'vpn'},
     'gw_interface_vpn'),
    ('monitoring_worker', 'ha_router', {}, 'ha_router_monitoring'),
    ('heat_worker', 'port', {'device_owner': 'network:dhcp'}, None),
    ('heat_worker', 'port', {'device_owner': 'compute:nova'},
     'port_monitoring'),
])
def test_esi_examples_resolve(handler, esi_type, body, name):
    assert tm.template_name(handler, esi_type, body, mappings=ESI) == name


@pytest.mark.parametrize('esi_type', ['ha_router', 'edge_router',
                                      'er_physical_interface',
                                      'ha_interface'])
def test_todays_types_keep_their_monitoring_template(esi_type):
    assert (tm.template_name('monitoring_worker', esi_type, {'x': 1})
            == '%s_monitoring' % esi_type)


def test_other_forms():
    body = {'a': 'x', 'o': {'p': 'y'}, 'n': 3}
    assert tm.evaluate('Oo:p', body) == 'y'
    assert tm.evaluate('Vauto_filled', body, version=4) == 4
    assert tm.evaluate({'nested': ['o', 'p']}, body) == 'y'
    assert tm.evaluate({'concatenate': ['Ct_', {'field': 'n'}]},
                       body) == 't_3'
    assert tm.evaluate({'if_mapping': {'equal': ['Pa', 'Cx']},
                        'then_mapping': 'Cyes', 'else_mapping': 'Cno'},
                       body) == 'yes'
    assert tm.evaluate({'if_mapping': {'equal': ['Pa', 'Cz']},
                        'then_mapping': 'Cyes'}, body) is None


@pytest.mark.parametrize('mapping, says', [
    ('Fedge_router+device_id:ip', 'is not one that chooses a template'),
    ({'output_key': 'id'}, 'is not a template mapping'),
    ({'if_mapping': {'like': ['Pa', 'Cb']}}, 'if_mapping must be'),
    ({'if_mapping': {'regexp': ['Pa', 'C(']}}, 'regexp'),
    ('', 'is not a template mapping'),
])
def test_bad_mappings_are_named(mapping, says):
    with pytest.raises(exceptions.TemplateError) as err:
        tm.template_name('h', 't', {'a': 'b'}, mappings={'h': {'t': mapping}})
    assert 'template mapping of t for handler h' in str(err.value)
    assert says in str(err.value)


def test_a_type_without_mapping_is_named():
    with pytest.raises(exceptions.TemplateError) as err:
        tm.template_name('monitoring_worker', 'no_such_type', {})
    assert 'no template mapping of no_such_type for handler ' \
        'monitoring_worker' in str(err.value)


def test_a_mapping_yielding_no_name_is_refused():
    with pytest.raises(exceptions.TemplateError) as err:
        tm.template_name('h', 't', {'n': {'x': 1}},
                         mappings={'h': {'t': 'Pn'}})
    assert 'not a heat_template name' in str(err.value)


def test_a_deep_mapping_is_refused():
    mapping = 'Cx'
    for _ in range(40):
        mapping = {'concatenate': [mapping]}
    with pytest.raises(exceptions.TemplateError) as err:
        tm.evaluate(mapping, {})
    assert 'deeper than' in str(err.value)


# --- job plans ---------------------------------------------------------------

# A network monitored after its stack is made, a subnet with a stack only.
PLANS = {
    'heat_worker': {'network': 'Cnetwork', 'subnet': 'Csubnet'},
    'monitoring_worker': {'network': 'Cnetwork_monitoring',
                          'ha_router': 'Cha_router_monitoring'},
}


def steps(plan):
    return [(s.action, s.handler, s.on_failure) for s in plan]


def test_the_handlers_of_a_type_in_plan_order():
    assert tm.handlers('network', PLANS) == ('heat_worker',
                                             'monitoring_worker')
    assert tm.handlers('subnet', PLANS) == ('heat_worker',)
    assert tm.handlers('ha_router') == ('monitoring_worker',)
    with pytest.raises(exceptions.TemplateError,
                       match='no handler has a template mapping of nope'):
        tm.handlers('nope', PLANS)


def test_a_type_of_two_handlers_writes_esis_sequences():
    assert steps(tm.plan('network', 'create', PLANS)) == [
        ('create', 'heat_worker', 'fail'),
        ('create', 'monitoring_worker', 'fail')]
    assert steps(tm.plan('network', 'modify', PLANS)) == [
        ('delete', 'monitoring_worker', 'ignore'),
        ('modify', 'heat_worker', 'fail'),
        ('create', 'monitoring_worker', 'fail')]
    assert steps(tm.plan('network', 'logical_delete', PLANS)) == [
        ('logical_delete', 'monitoring_worker', 'ignore'),
        ('logical_delete', 'heat_worker', 'fail')]
    assert tm.plan_actions('network', PLANS) == (
        'create', 'modify', 'delete', 'logical_delete')


@pytest.mark.parametrize('esi_type, handler', [
    ('subnet', 'heat_worker'), ('ha_router', 'monitoring_worker')])
def test_a_type_of_one_handler_writes_one_job(esi_type, handler):
    table = PLANS if esi_type == 'subnet' else None
    for action in ('create', 'modify', 'logical_delete'):
        assert steps(tm.plan(esi_type, action, table)) == [
            (action, handler, 'fail')]
        assert tm.final_action(esi_type, action, table) == action
    assert tm.plan_actions(esi_type, table) == (
        'create', 'modify', 'logical_delete')


def test_the_plan_a_job_in_flight_belongs_to():
    assert tm.plan_action('network', 'delete', PLANS) == 'modify'
    assert tm.plan_action('network', 'create', PLANS) == 'create'
    assert tm.plan_action('ha_router', 'delete') == 'delete'
    # A modify ends with the monitoring job's create (ESI's /state of a
    # modified vpn_gateway says CREATE_COMPLETED).
    assert tm.final_action('network', 'modify', PLANS) == 'create'
    assert tm.final_action('network', 'logical_delete', PLANS) == \
        'logical_delete'


def test_a_pair_of_handlers_without_a_plan_is_refused():
    table = {'monitoring_worker': {'x': 'Cx'}, 'other_worker': {'x': 'Cy'}}
    with pytest.raises(exceptions.TemplateError,
                       match='x has template mappings for handlers '
                             'monitoring_worker, other_worker: no job plan'):
        tm.plan('x', 'create', table)

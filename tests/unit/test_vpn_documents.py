"""The comparison of a run's values with ESI's VPN documents."""

import pytest

from tests import vpn_documents

A = '4fab887d-8f73-40e6-b2d8-2426255231bf'
B = '72b05fe5-88c6-4888-a6fb-feb793fffae8'
OURS_A = '11111111-2222-4333-8444-555555555555'
OURS_B = '66666666-7777-4888-8999-000000000000'


def test_ids_are_swapped_one_for_one_wherever_they_are():
    ids = vpn_documents.Ids({vpn_documents.PROJECT: 'proj'})
    seed = {'id': A, 'vpn_service_id': B, 'tenant_id': vpn_documents.PROJECT,
            'job_name': 'vpn_gateway:%s:1' % A}
    ours = {'id': OURS_A, 'vpn_service_id': OURS_B, 'tenant_id': 'proj',
            'job_name': 'vpn_gateway:%s:1' % OURS_A}
    vpn_documents.compare(ids, seed, ours, 'body')
    # An id pointing at the wrong resource fails, though it is an id.
    wrong = dict(ours, vpn_service_id=OURS_A)
    with pytest.raises(AssertionError, match='stands for both'):
        vpn_documents.compare(vpn_documents.Ids({}), seed, wrong, 'body')
    # So does any other difference.
    with pytest.raises(AssertionError):
        vpn_documents.compare(vpn_documents.Ids({}), seed,
                              dict(ours, extra=1), 'body')
    with pytest.raises(AssertionError):
        vpn_documents.compare(vpn_documents.Ids({}), seed,
                              dict(ours, job_name='vpn_gateway:x:1'),
                              'body')


def test_job_ids_suffixes_and_param_order_do_not_count():
    job = ['heat_worker', {'id': 'create:heat_worker:x:%s:1:6zudv' % A,
                           'params': [{'param': 'b'}, {'param': 'a'}]}, 0]
    ours = ['heat_worker', {'id': 'create:heat_worker:x:%s:1:q8r2s' % A,
                            'params': [{'param': 'a'}, {'param': 'b'}]}, 0]
    vpn_documents.compare(vpn_documents.Ids({}), job, ours, 'job')


def test_the_documents_job_as_heat_esi_writes_it():
    (_, _, job), = [p for p in vpn_documents.points('vpn_interface')
                    if p[1].startswith('/jobs/all/create:heat_worker')]
    expected = vpn_documents.expected_job(
        'vpn_interface', job, {'primary': 4001, 'secondary': 4002})
    params = {p['param']: p for p in expected[1]['params']}
    assert not [name for name in params if 'password' in name or
                'username' in name]
    assert params['md5']['type'] == 'secret'
    assert params['md5']['value'] == {
        'resource_type': 'vpn_interface',
        'resource_id': expected[1]['resource_id'], 'field': 'bgp_md5'}
    assert 'test' not in str(params['md5'])
    assert 'bgp_md5' not in expected[1]['resource_input']
    assert params['primary_device_port']['value'] == 4001
    assert params['secondary_device_port']['value'] == 4002
    # The document itself is left as it was.
    assert 'bgp_md5' in job[1]['resource_input']


def test_every_document_is_there_and_names_itself():
    for esi_type in vpn_documents.DOCUMENTS:
        found = vpn_documents.points(esi_type)
        assert found[0][0] == '(1)'
        assert vpn_documents.seed_id(esi_type) in found[0][1]


def test_the_json_text_of_a_state_is_compared_as_its_value():
    seed = {'state': {'state_monitoring': '{"a": "UP", "b": "UP"}'}}
    vpn_documents.compare(vpn_documents.Ids({}), seed, {
        'state': {'state_monitoring': '{"b": "UP", "a": "UP"}'}}, 'state')
    with pytest.raises(AssertionError):
        vpn_documents.compare(vpn_documents.Ids({}), seed, {
            'state': {'state_monitoring': '{"a": "UP"}'}}, 'state')


def test_a_difference_is_named_by_its_place():
    seed = {'body': {'name': 'a', 'ids': [A, B]}}
    ours = {'body': {'name': 'b', 'ids': [OURS_A, OURS_B], 'x': 1}}
    with pytest.raises(AssertionError) as raised:
        vpn_documents.compare(vpn_documents.Ids({}), seed, ours, 'here')
    said = str(raised.value)
    assert "here:\n  .body.name: expected 'a', got 'b'" in said
    assert '.body.x: not expected (got 1)' in said
    assert '.body.ids' not in said


def test_an_id_inside_a_text_is_learned_where_the_rest_is_the_same():
    ids = vpn_documents.Ids({})
    vpn_documents.compare(ids, {'name': 'Port for : %s' % A, 'ese': A},
                          {'name': 'Port for : %s' % OURS_A,
                           'ese': OURS_A}, 'port')
    assert ids.map == {A: OURS_A}
    with pytest.raises(AssertionError, match='expected'):
        vpn_documents.compare(vpn_documents.Ids({}),
                              {'name': 'Port for : %s' % A},
                              {'name': 'Port of : %s' % OURS_A}, 'port')

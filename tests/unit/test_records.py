"""parse_job: every field the worker uses is checked, naming the key."""

import json

import pytest

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records


def good_job(**fields):
    job_id, value = records.job('create', 'monitoring_worker', 'ha_router',
                                'r1', 1, [{'param': 'p', 'value': 'v'}],
                                {'id': 'r1'})
    value[1].update(fields)
    return keys.job(job_id), value


def deep(levels):
    value = 'x'
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize('fields, expected', [
    ({'action': []}, '"action" must be one of create, modify'),
    ({'action': 'explode'}, '"action" must be one of'),
    ({'resource_type': ['x']}, '"resource_type" must be a resource type'),
    ({'resource_id': 'a/b'}, '"resource_id" must be a resource id'),
    ({'resource_id': 7}, '"resource_id" must be a resource id'),
    ({'resource_id': '\ud800'}, '"resource_id" must be a resource id'),
    ({'version': '1'}, '"version" must be an integer >= 0'),
    ({'version': True}, '"version" must be an integer >= 0'),
    ({'is_last': 'no'}, '"is_last" must be true or false'),
    ({'on_failure': None}, '"on_failure" must be one of fail, ignore'),
    ({'dependency': [1]}, '"dependency" must be a list of job ids'),
    ({'params': [{'param': [], 'value': 1}]}, '"params" must be a list'),
    ({'params': {'p': 1}}, '"params" must be a list'),
    ({'resource_input': 'x'}, '"resource_input" must be an object'),
    ({'handler': 'other'}, '"handler" \'other\' differs'),
    ({'resource_id': 'r2'}, '"resource_id" \'r2\' is not the resource_id '
                            'of the job id in the key'),
    ({'version': 2}, '"version" 2 is not the version'),
    ({'params': [{'param': 'p', 'value': deep(40)}]},
     'nested deeper than 32 levels'),
    ({'resource_input': {'pad': 'x' * (600 * 1024)}},
     'a job value of 614'),
])
def test_wrong_types_are_malformed_values_naming_the_key(fields, expected):
    key, value = good_job(**fields)
    with pytest.raises(exceptions.MalformedValue) as err:
        records.parse_job(key, json.dumps(value))
    assert str(err.value).startswith('malformed value at %s: ' % key)
    assert expected in str(err.value)


@pytest.mark.parametrize('text, expected', [
    (b'\xff\xfe{"a": 1}', 'not UTF-8 text (byte 0xff at offset 0)'),
    ('[' * 5000 + ']' * 5000, 'JSON nested too deeply'),
    ('["monitoring_worker", {}, -1]',
     'expected [handler, {job}, integer >= 0]'),
])
def test_undecodable_values(text, expected):
    key, _ = good_job()
    with pytest.raises(exceptions.MalformedValue) as err:
        records.parse_job(key, text)
    assert key in str(err.value) and expected in str(err.value)


def test_a_key_that_is_no_job_id_is_malformed():
    _, value = good_job()
    with pytest.raises(exceptions.MalformedValue,
                       match='the key is not a job id'):
        records.parse_job('/jobs/all/whatever', json.dumps(value))


def test_a_wrong_container_is_named_by_kind_only():
    key, value = good_job(action={'password': 'pa55'})
    with pytest.raises(exceptions.MalformedValue) as err:
        records.parse_job(key, json.dumps(value))
    assert 'not an object' in str(err.value)
    assert 'pa55' not in str(err.value)


def test_parsed_job_drops_secrets_from_resource_input():
    key, value = good_job(resource_input={'id': 'r1', 'password': 'pa55'})
    _, body = records.parse_job(key, json.dumps(value))
    assert body['resource_input'] == {'id': 'r1'}


def test_non_utf8_value_is_kept_as_bytes_by_the_etcd_layer():
    raw = etcd._kv({'key': etcd._b64('/k'), 'value': etcd._b64(b'\xff')})
    assert raw.value == b'\xff'
    with pytest.raises(exceptions.MalformedValue, match='/k: not UTF-8'):
        etcd.loads('/k', raw.value)


def test_the_key_version_counts_claims_and_the_third_element_nothing():
    # A value rewritten by an older worker holds its count (7 here); only
    # the etcd version counts: written once, then claimed twice.
    key, value = good_job()
    assert value[2] == 0
    value[2] = 7
    kv = etcd.KV(key, json.dumps(value), 10, 12, 3, 0)
    handler, body = records.parse_job(key, kv.value)
    assert records.earlier_claims(kv, held=True) == 1
    assert records.earlier_claims(kv, held=False) == 2
    assert records.job_value(handler, body) == [handler, body, 0]


@pytest.mark.parametrize('resource_input, expected', [
    ({'tenant_id': '0b576f6f4cbf414f829cd12f008bf08f'},
     '0b576f6f4cbf414f829cd12f008bf08f'),
    ({}, None),
    ({'tenant_id': ''}, None),
    ({'tenant_id': 42}, None),
    ({'tenant_id': ['a']}, None),
    ({'tenant_id': 'x' * (records.MAX_PROJECT_CHARS + 1)}, None),
])
def test_a_job_belongs_to_the_project_of_its_resource(resource_input,
                                                      expected):
    job_id, value = records.job('create', 'h', 'ha_router', 'r1', 1, [],
                                resource_input)
    assert records.project_of(value[1]) == expected
    assert records.job_project(json.dumps(value)) == expected


@pytest.mark.parametrize('text', [b'\xff', '{', '[', '["h", "job", 0]',
                                  '{"resource_input": {}}', '[[[' * 5000])
def test_an_unreadable_job_names_no_project(text):
    assert records.job_project(text) is None


# --- job plans (a made-up two-job type) --------------------------------------

def test_a_two_job_plan_is_chained_first_to_last():
    steps = (records.Step(records.CREATE, 'heat_worker'),
             records.Step(records.CREATE, 'monitoring_worker'))
    made = records.job_plan(steps, 'two_step', 'r1', 3,
                            lambda step: [{'param': 'by', 'value':
                                           step.handler}],
                            {'tenant_id': 'p', 'password': 'pa55'},
                            dependency=['earlier'])
    (first_id, first), (last_id, last) = made
    assert [v[0] for _, v in made] == ['heat_worker', 'monitoring_worker']
    assert (first[1]['is_first'], first[1]['is_last']) == (True, False)
    assert (last[1]['is_first'], last[1]['is_last']) == (False, True)
    assert first[1]['dependency'] == ['earlier']
    assert last[1]['dependency'] == [first_id]
    assert last[1]['params'] == [{'param': 'by',
                                  'value': 'monitoring_worker'}]
    for job_id, value in made:
        # Each job reads back as a valid job, without the secret.
        handler, body = records.parse_job(keys.job(job_id),
                                          json.dumps(value))
        assert 'password' not in body['resource_input']


def test_esis_modify_sequence():
    steps = records.modify_sequence('monitoring_worker', 'heat_worker')
    assert [(s.action, s.handler, s.on_failure) for s in steps] == [
        ('delete', 'monitoring_worker', 'ignore'),
        ('modify', 'heat_worker', 'fail'),
        ('create', 'monitoring_worker', 'fail')]
    made = records.job_plan(steps, 'two_step', 'r1', 2, lambda s: [], {})
    assert [v[1]['dependency'] for _, v in made] == [
        [], [made[0][0]], [made[1][0]]]


def test_todays_plan_is_one_job_as_before():
    (job_id, value), = records.job_plan(
        records.single(records.CREATE, 'monitoring_worker'), 'ha_router',
        'r1', 1, lambda s: [], {})
    assert (value[1]['is_first'], value[1]['is_last'],
            value[1]['dependency'], value[1]['on_failure']) == (
        True, True, [], 'fail')


@pytest.mark.parametrize('steps', [(), ('create', 'h')])
def test_a_bad_plan_is_refused(steps):
    with pytest.raises(exceptions.TemplateError):
        if steps:
            records.Step('rename', 'h')
        records.job_plan(steps, 't', 'r1', 1, lambda s: [], {})


def test_a_state_with_heat_outputs_reads_them_decoded():
    # CreateSubnet_01's point (5): heat_outputs only, a JSON string.
    outputs = [{'output_value': '172.16.101.0/24', 'output_key': 'ip_prefix',
                'description': 'IP prefix of local subnet.'}]
    text = json.dumps(records.state('CREATE_COMPLETED', 1,
                                    heat_outputs=outputs))
    assert json.loads(text)['state']['heat_outputs'] == json.dumps(outputs)
    state = records.parse_state('/state/k', text)
    assert state['heat_outputs'] == outputs
    assert state['state_monitoring'] == {}
    without = records.parse_state('/state/k', json.dumps(
        records.state('CREATE_COMPLETED', 1, {'router': 'ACTIVE'})))
    assert without.get('heat_outputs', []) == []


@pytest.mark.parametrize('outputs, reason', [
    ('[', '"heat_outputs" is not a JSON string'),
    (7, '"heat_outputs" is not a JSON string'),
])
def test_malformed_heat_outputs_are_named(outputs, reason):
    text = json.dumps({'state': {'worker_state': 'CREATE_COMPLETED',
                                 'heat_outputs': outputs},
                       'version': 1, 'error': ''})
    with pytest.raises(exceptions.MalformedValue) as info:
        records.parse_state('/state/k', text)
    assert '/state/k' in str(info.value) and reason in str(info.value)


def test_a_claim_keeps_only_a_value_job_value_would_write():
    key, value = good_job()
    assert records.kept_by_claim(json.dumps(value))
    assert not records.kept_by_claim(json.dumps(value).encode())
    assert not records.kept_by_claim(json.dumps([value[0], value[1], 10]))
    assert not records.kept_by_claim(json.dumps(
        [value[0], dict(value[1], resource_input={'bgp_md5': 'x'}), 0]))

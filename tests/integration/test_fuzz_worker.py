"""Fuzzing a real esi-worker process through a real etcd (issue 9).

hypothesis generates job values, config, state and monitoring bodies and
heat_templates: bytes that are not UTF-8, JSON of the wrong types, huge and
deeply nested values, strings that YAML or Jinja would misread. Each
example writes its values and a job, and waits for the job to end.

Pass: the worker never exits; every job leaves /jobs/all and
/jobs/working; every job either completes or fails (rejected, or FAILED
with an error naming its resource, and the culprit's key or name when a
value it reads was bad), never with an internal error or a traceback in
the log; a valid job written last completes.

ESI_FUZZ_EXAMPLES sets the number of examples (default 200, about 15 s,
for CI; run 1000 or more by hand).
"""

import itertools
import json
import os
import time

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import templates
from tests import esi_fixtures

EXAMPLES = int(os.environ.get('ESI_FUZZ_EXAMPLES', '200'))
PRIMARY, SECONDARY = esi_fixtures.PRIMARY, esi_fixtures.SECONDARY
HANDLER = 'monitoring_worker'
MONITORED = ['fz-mon-%d' % i for i in range(3)]

# Strings that a YAML re-parse, Jinja or a key would misread.
TRICKY = st.sampled_from([
    '2001:db8::1', '::', '::1', '010', '1_000', 'null', 'true', '~', '',
    '127.0.0.1', '127.0.0.2', '10.0.0.1', '0x7f000001', '1e3',
    'a\nrouter:\n  type: router\n  ip: 127.0.0.1', '{{ x }}', '{% if %}',
    'esi-value-0000000000000000-0', '- x', '*a', '&a x', '!!binary x',
    '\ud800', '\x00', '../../x', 'a/b', 'a:b', 'x' * 5000,
    PRIMARY, SECONDARY, 'ACTIVE', 'UP', 'CREATE_COMPLETED'])

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                    st.text(max_size=20), TRICKY)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10) | TRICKY, children,
                        max_size=4)),
    max_leaves=12)
# JSON as a whole value (a top-level string would otherwise be written as
# raw text, and a lone surrogate cannot be).
JSON_TEXT = JSON.map(json.dumps)


def nested(depth):
    return '[' * depth + '1' + ']' * depth


# Raw values: bytes (mostly not UTF-8), text that is not JSON, very deep
# or very large JSON.
RAW = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64),
    st.integers(30, 3000).map(nested),
    st.sampled_from([b'\xff\xfe', b'\xc3\x28', b'{"a": "\xed\xa0\x80"}',
                     'x' * (1400 * 1024), json.dumps(['x' * 700000])]))

_ids = itertools.count()


def new_rid():
    return 'fz-%d-%s' % (next(_ids), os.urandom(3).hex())


def good_ha_job(rid, action='create'):
    return records.job(action, HANDLER, 'ha_router', rid, 1,
                       esi_fixtures.ha_router_params(),
                       {'id': rid, 'primary_router_id': PRIMARY,
                        'secondary_router_id': SECONDARY})


def edge_job(rid, ip, community='EDGE_ROUTER_COMMUNITY'):
    params = [{'resources': [], 'type': 'value', 'value': community,
               'param': 'community_name'},
              {'resources': [], 'type': 'value', 'value': ip,
               'param': 'device_ip'}]
    return records.job('create', HANDLER, 'edge_router', rid, 1, params,
                       {'id': rid, 'ip': ip, 'password': 'never-copied'})


def ours(value):
    """Make a raw or JSON job value ours when its handler is a string.

    A job for another handler is another worker's, and stays.
    """
    if isinstance(value, (str, bytes)):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if isinstance(parsed, list) and parsed and isinstance(parsed[0],
                                                              str):
            parsed[0] = HANDLER
            return json.dumps(parsed)
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        value = [HANDLER] + value[1:]
    return value


@st.composite
def mutated(draw, value):
    """Replace or remove some entries of *value* (a JSON object or list).

    The replacements are generated ones.
    """
    value = json.loads(json.dumps(value))
    target = value[1] if isinstance(value, list) else value
    for field in draw(st.lists(st.sampled_from(sorted(target)), min_size=1,
                               max_size=3)):
        if draw(st.booleans()) and draw(st.booleans()):
            target.pop(field, None)
        else:
            target[field] = draw(JSON)
    return value


@st.composite
def cases(draw):
    """Generate a fuzz case.

    (kind, [(key, value) written first], job id, job value, culprit): the
    culprit is what a failed job's error must name.
    """
    kind = draw(st.sampled_from([
        'raw_job', 'json_job', 'mutated_job', 'params', 'edge_job',
        'state', 'monitoring', 'config', 'template', 'monitor_config']))
    rid = new_rid()
    # Mostly creates: a delete job reads no template and no router.
    job_id, job = good_ha_job(rid, draw(st.sampled_from(
        ['create'] * 4 + ['modify', 'delete', 'logical_delete'])))
    first, culprit = [], rid
    if kind == 'raw_job':
        job = draw(RAW)
    elif kind == 'json_job':
        job = draw(JSON_TEXT | st.lists(JSON, min_size=3, max_size=3))
    elif kind == 'mutated_job':
        job = draw(mutated(job))
        if draw(st.booleans()):
            job[2] = draw(JSON)
    elif kind == 'params':
        for param in job[1]['params']:
            param['value'] = draw(JSON)
    elif kind == 'edge_job':
        job_id, job = edge_job(rid, draw(JSON), draw(
            st.just('EDGE_ROUTER_COMMUNITY') | JSON))
    elif kind in ('state', 'monitoring', 'config'):
        key = getattr(keys, kind)('edge_router', PRIMARY)
        good = {'state': records.state('CREATE_COMPLETED', 1,
                                       {'router': 'ACTIVE'}),
                'monitoring': {'router': 'UP', 'version': 1},
                'config': records.config({'id': PRIMARY,
                                          'ip': '127.0.0.1'}, 1)}[kind]
        first.append((key, draw(RAW | JSON_TEXT | mutated(good))))
        culprit = PRIMARY
    elif kind == 'template':
        key = keys.heat_template('ha_router_monitoring')
        good = templates.load_dir()['ha_router_monitoring']
        good = dict(good, template_file=draw(st.sampled_from([
            good['template_file'],
            'primary:\n  type: etcd_reader\n  etcd_type: {{ x }}\n',
            'p:\n  type: {{ primary_device_id }}\n',
            '{{ primary_device_id }}:\n  type: etcd_reader\n'
            '  etcd_type: edge_router\n  etcd_id: {{ secondary_device_id }}'
            '\n  job_timeout: 0.3\n  timeout: 1e9\n',
            'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a]\n'
            'c: [*b, *b, *b, *b, *b, *b, *b]\n',
            '{% for i in range(3) %}', '[1, 2', '- a\n- b\n',
            'p:\n  type: router\n  ip: {{ primary_device_id }}\n'
            '  community_name: EDGE_ROUTER_COMMUNITY\n'])))
        body = draw(st.just(good) | mutated(good))
        value = draw(RAW | JSON_TEXT | st.just(records.config(body, 2)))
        first.append((key, value))
        culprit = 'ha_router_monitoring'
    elif kind == 'monitor_config':
        mid = draw(st.sampled_from(MONITORED))
        good = records.config({'id': mid, 'ip': '127.0.0.1'}, 1)
        first.append((keys.config('edge_router', mid), draw(
            RAW | JSON_TEXT | mutated(good))))
        first.append((keys.state('edge_router', mid), draw(st.one_of(
            st.just(records.state('CREATE_COMPLETED', 1)), RAW,
            JSON_TEXT))))
    return kind, first, job_id, ours(job), culprit


def restore(client):
    client.txn([], [
        etcd.put(keys.heat_template('ha_router_monitoring'), records.config(
            templates.load_dir()['ha_router_monitoring'], 1)),
        etcd.delete(keys.monitoring('edge_router', PRIMARY))],
        key=keys.heat_template('ha_router_monitoring'))
    esi_fixtures.register_edge_routers(client)


def outcome(client, job_id):
    """Say what a job left once nothing of it is left; None before.

    That is {"states": [the /state the job left]}, with [] when it left
    none: a true value either way, for wait_until to end on.
    """
    parts = keys.parse_job_id(job_id)
    state_key = keys.state(parts['resource_type'], parts['resource_id'])
    _, (job, working, state) = client.txn([], [
        etcd.get(keys.job(job_id)), etcd.get(keys.working(job_id)),
        etcd.get(state_key)], key=state_key)
    if job or working:
        return None
    return {'states': [json.loads(kv.value) for kv in state]}


def not_last(job):
    """Say whether *job* is a well-formed value whose is_last is false.

    Such a job ends without a /state.
    """
    if not (isinstance(job, list) and len(job) == 3):
        return False
    return isinstance(job[1], dict) and job[1].get('is_last') is False


def test_fuzz_worker(loaded, workers):
    client = loaded
    restore(client)
    worker, = workers(1, job_slots=4, job_timeout=3,
                      etcd_reader_timeout=0.2,
                      sections={
                          'snmp': {'port': 9, 'request_timeout': 0.1,
                                   'check_timeout': 0.2,
                                   'uptime_interval': 0.1,
                                   'allowed_networks': '127.0.0.0/8',
                                   'communities':
                                   'EDGE_ROUTER_COMMUNITY:fuzz-community'},
                          'monitor': {'interval': 0.5}})
    counts = {}
    start = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases())
    def run(case):
        kind, first, job_id, job, culprit = case
        try:
            for key, value in first:
                client.put(key, value)
            client.put(keys.job(job_id), job)
            found = esi_fixtures.wait_until(
                lambda: outcome(client, job_id), timeout=20,
                message='the end of %s job %s' % (kind, job_id))['states']
            parts = keys.parse_job_id(job_id)
            rid = parts['resource_id']
            if not found:
                assert not_last(job), job
                found = [{'state': {'worker_state': 'no state (is_last '
                                                    'false)'}}]
            state, = found
            worker_state = state['state']['worker_state']
            assert worker_state in (states.completed(parts['action']),
                                    states.failed(parts['action']),
                                    'no state (is_last false)')
            if worker_state.endswith('_FAILED'):
                assert rid in state['error'], state['error']
                assert 'internal error' not in state['error']
                if kind in ('state', 'monitoring', 'template'):
                    assert culprit in state['error'], state['error']
            counts[kind, worker_state] = counts.get(
                (kind, worker_state), 0) + 1
            assert worker.proc.poll() is None
        finally:
            if first:
                restore(client)

    run()
    elapsed = time.monotonic() - start
    # A valid job written last completes.
    rid = new_rid()
    job_id, job = good_ha_job(rid)
    client.put(keys.job(job_id), job)
    state, = esi_fixtures.wait_until(
        lambda: outcome(client, job_id))['states']
    assert state['state']['worker_state'] == 'CREATE_COMPLETED'
    assert client.get_prefix(keys.JOBS_ALL)[0] == []
    assert client.get_prefix(keys.JOBS_WORKING)[0] == []
    assert worker.proc.poll() is None
    log = worker.log()
    assert 'Traceback' not in log, log[log.index('Traceback') - 2000:][:6000]
    assert 'fuzz-community' not in log and 'never-copied' not in log
    print('%d examples in %.1f s: %s' % (
        sum(counts.values()), elapsed,
        ', '.join('%s %s %d' % (k[0], k[1], n)
                  for k, n in sorted(counts.items()))))

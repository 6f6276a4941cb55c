"""Fuzzing the operator commands over generated etcd contents (issue 19).

hypothesis generates what `heat-esi status` and `heat-esi jobs` read:
member keys, jobs in /jobs/all and /jobs/rejected with their claims, the
resources' /config, /state and /monitoring, each a well-formed value with
odd fields (since 1e300, handlers 5, created_at NaN, a worker_state
naming no action), JSON of the wrong shape, or raw bytes and text
(not UTF-8, control characters, 60 KB, nested 3000 deep), under keys
that are not UTF-8 either. Each example
runs status, jobs list, show, retry and purge on it, in a format drawn
too.

Pass: every command exits 0 or 1, never with an exception; what it
prints is UTF-8 text with no character a terminal acts on but the
newline; an exit 1 with an error says so in one line.

The bulk runs on the in-memory etcd of tests/fakes.py (the commands take
a client object); a subset runs the same checks on the real etcd.
ESI_FUZZ_OPERATOR_EXAMPLES sets the bulk's size (default 1000) and
ESI_FUZZ_OPERATOR_REAL the subset's (default 60).
"""

import contextlib
import io
import json
import os

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from heat_esi.cmd import manage
from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from tests import fakes

EXAMPLES = int(os.environ.get('ESI_FUZZ_OPERATOR_EXAMPLES', '1000'))
REAL_EXAMPLES = int(os.environ.get('ESI_FUZZ_OPERATOR_REAL', '60'))
HOSTILE = '\x1b]0;pwned\x07\nFORGED \u202e'
RESOURCE_TYPES = ('edge_router', 'ha_router', 'ha_interface')
FORMATS = ('table', 'json', 'yaml', 'value')

ODD_NUMBERS = st.sampled_from([
    1e300, -1e300, float('nan'), float('inf'), float('-inf'), 0, -1,
    10 ** 30, 5, 2 ** 63, 253402300800, 1.5, True, '1', None])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                    st.text(max_size=12), ODD_NUMBERS,
                    st.sampled_from([HOSTILE, 'x' * 70000, '\ud800',
                                     'CREATE_FAILED', 'ODD_FAILED', 'UP',
                                     'DOWN', '_FAILED']))
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=8) | st.sampled_from(
            ['password', 'since', 'handlers', 'created_at', HOSTILE]),
            children, max_size=3)),
    max_leaves=8)
RAW = st.one_of(
    st.binary(max_size=32), st.text(max_size=32),
    st.sampled_from([b'\xff\xfe', 'not json{', '[' * 3000 + ']' * 3000,
                     HOSTILE * 3, 'x' * 70000, '{"password": "s3cret"',
                     '[1, {"created_at": 1e300}, 0]', '5', 'NaN',
                     '{"since": Infinity, "handlers": 5}']))


def _dumps(value):
    # A value JSON cannot encode (a lone surrogate) goes as raw text.
    try:
        return json.dumps(value)
    except (UnicodeEncodeError, ValueError):
        return str(value)


ANY_VALUE = st.one_of(JSON.map(_dumps), RAW)
RIDS = st.one_of(st.sampled_from(['r-1', 'r-2', HOSTILE.replace('/', ''),
                                  'y' * 3000]),
                 st.text(st.characters(blacklist_characters=':/',
                                       blacklist_categories=['Cs']),
                         min_size=1, max_size=8))


@st.composite
def members(draw):
    if draw(st.booleans()):
        return draw(ANY_VALUE)
    value = {'id': 'w', 'host': 'h', 'pid': 1, 'slots': 8,
             'handlers': ['monitoring_worker'], 'since': 1.7e9}
    for field in draw(st.lists(st.sampled_from(sorted(value)),
                               max_size=3)):
        value[field] = draw(st.one_of(ODD_NUMBERS, JSON))
    return _dumps(value)


@st.composite
def jobs(draw):
    """(job id, value) of a job, well-formed but for a few fields."""
    rtype = draw(st.sampled_from(RESOURCE_TYPES))
    rid = draw(RIDS)
    action = draw(st.sampled_from(records.ACTIONS))
    job_id, value = records.job(action, 'monitoring_worker', rtype, rid, 1,
                                [], {'id': rid, 'password': 's3cret'})
    if draw(st.booleans()):
        job_id = draw(st.sampled_from([job_id, 'undated', HOSTILE,
                                       'a:b:c:d:1:aaaaa']))
    kind = draw(st.sampled_from(['good', 'fields', 'raw']))
    if kind == 'raw':
        return job_id, draw(ANY_VALUE)
    if kind == 'fields':
        for field in draw(st.lists(st.sampled_from(
                sorted(value[1]) + ['created_at'] * 3), max_size=3)):
            value[1][field] = draw(st.one_of(ODD_NUMBERS, JSON))
        if draw(st.booleans()):
            value[1]['dependency'] = [draw(st.sampled_from(
                [job_id, 'missing', HOSTILE]))]
    return job_id, _dumps(value)


@st.composite
def states(draw):
    if draw(st.booleans()):
        return draw(ANY_VALUE)
    value = records.state(draw(st.sampled_from(
        ['CREATE_FAILED', 'MODIFY_FAILED', 'DELETE_FAILED', 'ODD_FAILED',
         '_FAILED', 'CREATE_COMPLETED', HOSTILE])), draw(st.sampled_from(
             [1, 2, 0, -1])), error=draw(st.sampled_from(
                 ['', HOSTILE, 'input {"password": "s3cret"}', 'x' * 70000])))
    return _dumps(value)


@st.composite
def contents(draw):
    """{key: value} of one etcd, and the job ids and resources in it."""
    found = {}
    for i in range(draw(st.integers(0, 3))):
        found[keys.MEMBERS + draw(st.sampled_from(
            ['w-%d' % i, HOSTILE, 'host-1-2', 'w-\udcff']))] = draw(
                members())
    job_ids, resources = [], []
    for _ in range(draw(st.integers(0, 4))):
        job_id, value = draw(jobs())
        where = draw(st.sampled_from([keys.JOBS_ALL, keys.JOBS_REJECTED]))
        # A key that is not UTF-8 reads back with surrogate escapes.
        found[where + job_id + draw(st.sampled_from(['', '\udcfe']))] = \
            value
        if where == keys.JOBS_ALL and draw(st.booleans()):
            found[keys.working(job_id)] = draw(st.sampled_from(
                ['w-0', HOSTILE, '']))
        job_ids.append(job_id)
        parts = keys.parse_job_id(job_id)
        if parts:
            resources.append((parts['resource_type'],
                              parts['resource_id']))
    for rtype, rid in resources + [('edge_router', draw(RIDS))]:
        if draw(st.booleans()):
            version = draw(st.sampled_from([1, 2, '1', 2 ** 70]))
            found[keys.config(rtype, rid)] = draw(st.one_of(
                ANY_VALUE, st.just(_dumps(records.config(
                    {'id': rid, 'password': 's3cret'}, version)))))
        if draw(st.booleans()):
            found[keys.state(rtype, rid)] = draw(states())
        if draw(st.booleans()):
            found[keys.monitoring(rtype, rid)] = draw(st.one_of(
                ANY_VALUE, st.just(_dumps({'router': HOSTILE, 'version': 1,
                                           'x': {'a': 1}}))))
        resources.append((rtype, rid))
    commands = [['status', '-f', draw(st.sampled_from(FORMATS))],
                ['jobs', 'list', '-f', draw(st.sampled_from(FORMATS))]]
    for job_id in job_ids[:2] + [draw(st.sampled_from(
            [HOSTILE, 'create:x:y:z:1:aaaaa']))]:
        # "--" as an operator types it before an id that may start with
        # "-" (argparse would take it for an option and exit 2).
        commands.append(['jobs', 'show', '-f',
                         draw(st.sampled_from(FORMATS)), '--', job_id])
    if resources:
        rtype, rid = draw(st.sampled_from(resources))
        commands.append(['jobs', 'retry', '--yes', '--', rtype, rid])
    if job_ids:
        commands.append(['jobs', 'retry', '--yes',
                         '--rejected=' + draw(st.sampled_from(job_ids))])
    commands.append(draw(st.sampled_from([
        ['jobs', 'purge', '--yes'], ['jobs', 'purge', '--all', '--yes'],
        ['jobs', 'purge', '--older-than', '0', '--yes']])))
    return found, commands


def run_command(client, argv):
    """Run one command in-process: (exit status, what it printed)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = manage.main(['--etcd-url', 'http://unused:2379'] + argv,
                           client=client)
    return code, out.getvalue(), err.getvalue()


def check(client, commands):
    for argv in commands:
        code, out, err = run_command(client, argv)
        assert code in (0, 1), (argv, code)
        for text in (out, err):
            # What a terminal gets: UTF-8, nothing it acts on but "\n".
            text.encode('utf-8')
            assert all(c == '\n' or c.isprintable() for c in text), (
                argv, repr([c for c in text if not c.isprintable()][:5]))
            assert not any(line.startswith('FORGED')
                           for line in text.splitlines()), argv
        assert 's3cret' not in out + err, (argv, out, err)
        if code == 1 and err:
            assert err.startswith('heat-esi: error: '), (argv, err)
            assert err.count('\n') == 1, (argv, err)


_TEMPLATES = templates.load_dir()


def write(client, found):
    templates.store(client, _TEMPLATES)
    ops = [etcd.put(key, value) for key, value in sorted(found.items())]
    for start in range(0, len(ops), 100):
        client.txn([], ops[start:start + 100], key='/')


def test_fuzz_operator_commands_in_memory():
    runs = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=contents())
    def run(case):
        found, commands = case
        client = fakes.FakeEtcd()
        write(client, found)
        check(client, commands)
        runs.append(len(commands))

    run()
    assert len(runs) >= min(EXAMPLES, 1000) * 0.9, len(runs)


def test_fuzz_operator_commands_on_real_etcd(etcd_client):
    runs = []

    @settings(max_examples=REAL_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=contents())
    def run(case):
        found, commands = case
        etcd_client.delete_prefix('/')
        write(etcd_client, found)
        check(etcd_client, commands)
        runs.append(len(commands))

    run()
    assert len(runs) >= REAL_EXAMPLES * 0.9, len(runs)

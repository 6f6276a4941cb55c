"""What heat-esi status and jobs show of hostile values (issue 19).

Real etcd, the real commands as an operator runs them: secrets masked in
every format (finding 6), control characters escaped and long values cut
(finding 7), odd numbers read without a traceback (finding 8), ages that
do not rest on the writer's clock alone and a purge of what can be dated
(finding 9).
"""

import json
import subprocess
import time

import pytest

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures

PASSWORD = 'esiesi0000'
ROUTER = '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e'
# A name that retitles a terminal (OSC), clears it (CSI), forges a line,
# and floods.
HOSTILE = ('\x1b]0;pwned\x07\x1b[2J\nFORGED line\r\n\u202e' + 'x' * 60000)
FORMATS = (('-f', 'table'), ('-f', 'json'), ('-f', 'yaml'),
           ('-f', 'value'))


def member(client, name='w-1', **changes):
    value = {'id': name, 'host': 'h', 'pid': 1, 'slots': 8,
             'handlers': ['monitoring_worker'], 'since': time.time()}
    value.update(changes)
    client.put(keys.MEMBERS + name, json.dumps(value))


def run_ok(server, *args):
    """Run a command: exit 0 or 1, one readable error line at most."""
    result = esi_fixtures.heat_esi(server, *args)
    assert result.returncode in (0, 1), result
    assert 'Traceback' not in result.stderr, result.stderr
    assert result.stderr.count('\n') <= 1, result.stderr
    return result


def shows_nothing_raw(text):
    """No terminal control and no forged line in *text*."""
    assert not any(c in text for c in '\x1b\x07\r\u202e'), repr(text[:300])
    assert not any(line.startswith('FORGED') for line in
                   text.splitlines()), 'a forged line'


@pytest.fixture
def seed_router(etcd_client):
    """The seed's edge router: /config and a job holding its password."""
    blocks = esi_fixtures.seed_blocks('CreateEdgeRouter_02.md')
    (config_key, config), (job_key, job) = blocks['(1)'], blocks['(2)']
    assert config['body']['password'] == PASSWORD
    assert job[1]['resource_input']['password'] == PASSWORD
    etcd_client.put(config_key, json.dumps(config))
    etcd_client.put(job_key, json.dumps(job))
    return keys.under(keys.JOBS_ALL, job_key)


def test_secrets_are_masked_in_every_command_and_format(
        etcd_client, etcd_server, seed_router):
    client = etcd_client
    job_id = seed_router
    # A rejected value holding it, as JSON and as text that is not.
    rejected = keys.JOBS_REJECTED + 'create:monitoring_worker:edge_router:' \
        'r-2:1:aaaaa'
    client.put(rejected, '[1, {"password": "%s"}, "not' % PASSWORD)
    # A /state error from another component quoting it, free and as JSON.
    client.put(keys.state('edge_router', ROUTER), records.state(
        'CREATE_FAILED', 1, error='login esi/%s refused; input {"password":'
        ' "%s"}' % (PASSWORD, PASSWORD)))
    member(client)

    for fmt in FORMATS:
        for args in (('status',), ('jobs', 'list'),
                     ('jobs', 'show', job_id),
                     ('jobs', 'show', keys.under(keys.JOBS_REJECTED,
                                                 rejected))):
            result = run_ok(etcd_server, *(args + fmt))
            assert PASSWORD not in result.stdout + result.stderr, (
                args, fmt, result.stdout)
    shown = json.loads(run_ok(etcd_server, 'jobs', 'show', job_id, '-f',
                              'json').stdout)
    # Masked, not dropped: the operator sees there is a password.
    assert shown['config']['body']['password'] == '(masked)'
    assert shown['value'][1]['resource_input']['password'] == '(masked)'
    assert shown['resource_state']['error'] == (
        'login esi/(masked) refused; input {"password": "(masked)"}')
    assert shown['config']['body']['login'] == 'esi'
    status = json.loads(run_ok(etcd_server, 'status', '-f', 'json').stdout)
    assert status['failed'][0]['error'].startswith('login esi/(masked) ')


def test_control_characters_are_escaped_and_long_values_cut(
        etcd_client, etcd_server):
    client = etcd_client
    member(client, host=HOSTILE)
    rid = 'r-' + HOSTILE[:200]
    client.put(keys.state('edge_router', rid), records.state(
        'CREATE_FAILED', 1, error=HOSTILE))
    client.put(keys.monitoring('edge_router', rid),
               {'router': HOSTILE, 'version': 1})
    job_id, value = records.job('create', 'monitoring_worker', 'edge_router',
                                rid, 1, [], {'name': HOSTILE})
    client.put(keys.job(job_id), value)
    client.put(keys.config('edge_router', rid),
               records.config({'name': HOSTILE}, 1))
    for fmt in FORMATS:
        for args in (('status',), ('jobs', 'list'),
                     ('jobs', 'show', job_id)):
            result = run_ok(etcd_server, *(args + fmt))
            shows_nothing_raw(result.stdout + result.stderr)
            # Each 60 KB value is cut to its head, with a marker.
            assert len(result.stdout) < 60000, (args, fmt,
                                                len(result.stdout))
    found = json.loads(run_ok(etcd_server, 'status', '-f', 'json').stdout)
    error = found['failed'][0]['error']
    assert error.startswith('\\x1b]0;pwned\\x07\\x1b[2J\\nFORGED line\\r\\n'
                            '\\u202exxx')
    head, marker = error.rsplit('... (', 1)
    assert len(head) == 500
    assert 59500 < int(marker.split()[0]) < len(HOSTILE), marker
    assert found['workers'][0]['host'].startswith('\\x1b]0;pwned')
    # A command's error line quoting a key is escaped too.
    missing = esi_fixtures.heat_esi(
        etcd_server, 'jobs', 'show',
        'create:x:y:\x1b]0;t\x07\nFORGED:1:aaaaa')
    assert missing.returncode == 1
    shows_nothing_raw(missing.stderr)
    assert missing.stderr.count('\n') == 1


def test_odd_numbers_are_read_without_a_traceback(etcd_client, etcd_server):
    client = etcd_client
    member(client, 'w-1', since=1e300, handlers=5)
    member(client, 'w-2', since=float('nan'), slots='eight')
    client.put(keys.MEMBERS + 'w-3', '{"since": -Infinity, "handlers": {}}')
    ids = []
    for rid, created_at in (('r-1', 1e300), ('r-2', float('nan')),
                            ('r-3', float('inf')), ('r-4', -1e300),
                            ('r-5', '1')):
        job_id, value = records.job('create', 'monitoring_worker',
                                    'edge_router', rid, 1, [], {})
        value[1]['created_at'] = created_at
        client.put(keys.job(job_id), json.dumps(value))
        ids.append(job_id)
    # A /state whose worker_state names no action: nothing to retry.
    client.put(keys.config('edge_router', 'r-1'), records.config({}, 1))
    client.put(keys.state('edge_router', 'r-1'),
               records.state('ODD_FAILED', 1))
    for fmt in FORMATS:
        run_ok(etcd_server, 'status', *fmt)
        run_ok(etcd_server, 'jobs', 'list', *fmt)
        for job_id in ids:
            assert run_ok(etcd_server, 'jobs', 'show', job_id,
                          *fmt).returncode == 0
    found = json.loads(run_ok(etcd_server, 'status', '-f', 'json').stdout)
    workers = {w['id']: w for w in found['workers']}
    assert workers['w-1']['since'] is None
    assert workers['w-1']['handlers'] == [5]
    assert workers['w-2']['slots'] == 'eight'
    retried = run_ok(etcd_server, 'jobs', 'retry', 'edge_router', 'r-1',
                     '--yes')
    assert retried.returncode == 1
    assert "worker_state 'ODD_FAILED' names no action" in retried.stderr
    assert run_ok(etcd_server, 'jobs', 'purge', '--all',
                  '--yes').returncode == 0


def test_a_writer_clock_a_day_ahead_does_not_hide_a_stuck_job(
        etcd_client, etcd_server):
    client = etcd_client
    member(client)
    # heat-engine's clock is a day ahead when it writes the stuck job.
    stuck, value = records.job('create', 'other_handler', 'ha_router',
                               'r-stuck', 1, [], {})
    value[1]['created_at'] += 24 * 3600
    client.put(keys.job(stuck), value)
    found = json.loads(run_ok(etcd_server, 'status', '-f', 'json').stdout)
    backlog, = found['backlog']
    # Not 0: unknown, and said so.
    assert backlog['oldest_age'] is None
    reasons = [a['reason'] for a in found['attention']]
    assert any(r.startswith('1 job(s) dated up to 86') and
               'ahead of this host\'s clock' in r and
               '1 of unknown age' in r for r in reasons), reasons
    assert esi_fixtures.heat_esi(etcd_server, 'status').returncode == 1

    # A job written after it by a writer with a good clock, ten minutes
    # ago: etcd's order of writes says the stuck one is at least as old.
    later, value = records.job('create', 'monitoring_worker', 'ha_router',
                               'r-later', 1, [], {})
    value[1]['created_at'] -= 600
    client.put(keys.job(later), value)
    shown = json.loads(run_ok(etcd_server, 'jobs', 'show', stuck, '-f',
                              'json').stdout)
    listed = {j['id']: j for j in json.loads(run_ok(
        etcd_server, 'jobs', 'list', '-f', 'json').stdout)}
    assert 600 <= listed[stuck]['age'] < 700
    found = json.loads(run_ok(etcd_server, 'status', '-f', 'json').stdout)
    other = {b['handler']: b for b in found['backlog']}['other_handler']
    assert 600 <= other['oldest_age'] < 700
    reasons = [a['reason'] for a in found['attention']]
    assert any(r.startswith('1 other_handler job(s) waiting, the oldest '
                            'for 6') for r in reasons), reasons
    assert any('their age is taken from etcd\'s order of writes' in r
               for r in reasons), reasons
    assert 86000 < shown['clock_ahead'] <= 86400
    assert shown['age_from'] == 'etcd order'


def test_watch_dates_a_job_by_its_own_observation(etcd_client, etcd_server):
    client = etcd_client
    member(client)
    stuck, value = records.job('create', 'other_handler', 'ha_router',
                               'r-stuck', 1, [], {})
    value[1]['created_at'] += 24 * 3600
    client.put(keys.job(stuck), value)
    proc = subprocess.Popen(
        [esi_fixtures.HEAT_ESI, '--etcd-url', etcd_server.url, 'status',
         '--watch', '0.2', '-c', 'backlog', '-f', 'value'],
        stdout=subprocess.PIPE, text=True)
    try:
        # "value" rows: handler jobs oldest_age blocked; the age is None
        # until the command has seen the job for a while.
        seen = ''
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen += proc.stdout.readline()
            ages = [line.split()[2] for line in seen.splitlines()
                    if line.startswith('other_handler ')]
            if ages and ages[-1] != 'None' and float(ages[-1]) >= 1.0:
                break
        assert ages[0] in ('None', '0.0'), ages
        assert float(ages[-1]) >= 1.0, ages
    finally:
        proc.terminate()
        proc.wait(10)


def test_purge_dates_what_it_can_and_says_so(etcd_client, etcd_server):
    client = etcd_client
    # JSON with one wrong-typed field: it says when it was written.
    typed_id, typed = records.job('create', 'monitoring_worker', 'ha_router',
                                  'r-typed', 1, [], {})
    typed[1]['created_at'] -= 8 * 24 * 3600
    typed[1]['version'] = '1'
    # Not JSON at all, rejected before a job still waiting that Heat
    # wrote eight days ago: at least that old.
    client.put(keys.JOBS_REJECTED + typed_id, json.dumps(typed))
    client.put(keys.JOBS_REJECTED + 'create:monitoring_worker:ha_router:'
               'r-text:1:aaaaa', 'not json{')
    old_id, old = records.job('create', 'other_handler', 'ha_router',
                              'r-old', 1, [], {})
    old[1]['created_at'] -= 8 * 24 * 3600
    client.put(keys.job(old_id), old)
    # Undatable: nothing was written after it.
    client.put(keys.JOBS_REJECTED + 'undated', 'garbage')
    result = run_ok(etcd_server, 'jobs', 'purge', '--yes')
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert '1 rejected value(s) of unknown age kept (--all deletes them)' \
        in lines
    assert any(line.startswith(keys.JOBS_REJECTED + typed_id) and
               'from created_at' in line for line in lines), lines
    assert any('r-text' in line and 'from etcd order' in line
               for line in lines), lines
    assert 'deleted 2 rejected value(s)' in lines
    left = [kv.key for kv in client.get_prefix(keys.JOBS_REJECTED)[0]]
    assert left == [keys.JOBS_REJECTED + 'undated']


def test_purge_deletes_more_than_one_transaction_holds(etcd_client,
                                                       etcd_server):
    client = etcd_client
    puts = []
    for i in range(150):
        job_id, value = records.job('create', 'monitoring_worker',
                                    'ha_router', 'r-%d' % i, 1, [], {})
        puts.append(etcd.put(keys.JOBS_REJECTED + job_id, 'x%d' % i))
    for start in range(0, len(puts), 100):
        client.txn([], puts[start:start + 100], key=keys.JOBS_REJECTED)
    result = run_ok(etcd_server, 'jobs', 'purge', '--all', '--yes')
    assert result.returncode == 0, result
    assert 'deleted 150 rejected value(s)' in result.stdout
    assert client.get_prefix(keys.JOBS_REJECTED)[0] == []


def test_the_worker_log_escapes_what_it_quotes(etcd_client, etcd_server,
                                               workers):
    client = etcd_client
    worker, = workers(1)
    rid = 'r-\x1b]0;pwned\x07\nFORGED line ' + 'y' * 60000
    job_id, value = records.job(
        'create', 'monitoring_worker', 'ha_router', rid, 1, [], {},
        request_id='req-\x1b[2J\nFORGED request')
    client.put(keys.job(job_id), value)
    esi_fixtures.wait_until(
        lambda: client.get(keys.job(job_id)) is None, timeout=30,
        message='the job to end')
    # Whether escaped or not, the line is there.
    esi_fixtures.wait_until(lambda: 'FORGED line' in worker.log(),
                            message='the job in the log')
    log = worker.log()
    shows_nothing_raw(log)
    assert 'r-\\x1b]0;pwned\\x07\\nFORGED line' in log
    assert 'FORGED request' in log
    # 60 KB quoted in several lines, each cut.
    assert max(len(line) for line in log.splitlines()) < 8192 + 1000

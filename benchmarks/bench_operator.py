"""What redaction costs and bounds: worker log lines and operator output.

Each figure is a ratio or a per-unit cost within one run: a log record
through a handler with and without heat_esi.logs, and `heat-esi status` /
`jobs show` over the in-memory etcd of tests/fakes.py with heat_esi.redact
and with it bypassed (what the commands printed before it), alternated so
that the machine's drift falls on both. Also the size of what a hostile
60 KB name becomes in each.

    python benchmarks/bench_operator.py [--quick]
"""

import argparse
import contextlib
import io
import json
import logging
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from heat_esi.cmd import manage  # noqa: E402
from heat_esi import keys  # noqa: E402
from heat_esi import logs  # noqa: E402
from heat_esi import records  # noqa: E402
from heat_esi import redact  # noqa: E402
from tests import fakes  # noqa: E402

HOSTILE = '\x1b]0;pwned\x07\nFORGED line ' + 'x' * 60000
JOB_ID = ('create:monitoring_worker:ha_router:'
          '70000000-0000-0000-0000-000000000001:1:abcde')


def _handler(redacting):
    out = io.StringIO()
    logger = logging.Logger('bench')
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(
        '%(asctime)s %(levelname)s %(name)s %(message)s'))
    logger.addHandler(handler)
    if redacting:
        logs.install(logger)
    return logger, out


def log_cost(records_count, rounds=5):
    """Microseconds per record, with and without the filter; line sizes."""
    times = {False: [], True: []}
    for _ in range(rounds):
        for redacting in (False, True):
            logger, _ = _handler(redacting)
            start = time.perf_counter()
            for i in range(records_count):
                logger.info('job %s finished in %.3f s (request %s)',
                            JOB_ID, 0.012, 'req-%d' % i)
            times[redacting].append(
                (time.perf_counter() - start) / records_count * 1e6)
    sizes = {}
    for redacting in (False, True):
        logger, out = _handler(redacting)
        logger.info('job %s failed', HOSTILE)
        sizes[redacting] = {'bytes': len(out.getvalue()),
                            'lines': out.getvalue().count('\n')}
    plain, redacted = (statistics.median(times[k]) for k in (False, True))
    return {'plain_us': plain, 'redacted_us': redacted,
            'ratio': redacted / plain, 'hostile_plain': sizes[False],
            'hostile_redacted': sizes[True]}


@contextlib.contextmanager
def _bypassed():
    """redact as the identity: what the commands printed before it."""
    saved = redact.shown, redact.text
    redact.shown = lambda obj, secrets=None, depth=0: obj
    redact.text = lambda value, secrets=(), limit=0: (
        value if isinstance(value, str) else str(value))
    try:
        yield
    finally:
        redact.shown, redact.text = saved


def _filled(count):
    client = fakes.FakeEtcd()
    client.put(keys.MEMBERS + 'w-1', json.dumps({
        'host': 'h', 'slots': 8, 'handlers': ['monitoring_worker'],
        'since': time.time()}))
    for i in range(count):
        job_id, value = records.job('create', 'monitoring_worker',
                                    'ha_router', 'r-%d' % i, 1, [],
                                    {'id': 'r-%d' % i})
        client.put(keys.job(job_id), value)
        client.put(keys.state('ha_router', 'r-%d' % i), records.state(
            'CREATE_FAILED', 1, error='error %d' % i))
    return client


def _run(client, argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        manage.main(['--etcd-url', 'http://unused:2379'] + argv,
                    client=client)
    return out.getvalue()


def status_cost(jobs, rounds=5):
    """Milliseconds of `status -f json` and table over *jobs*, both ways."""
    client = _filled(jobs)
    found = {}
    for fmt in ('json', 'table'):
        times = {False: [], True: []}
        for _ in range(rounds):
            for redacting in (False, True):
                with contextlib.ExitStack() as stack:
                    if not redacting:
                        stack.enter_context(_bypassed())
                    start = time.perf_counter()
                    _run(client, ['status', '-f', fmt])
                    times[redacting].append(time.perf_counter() - start)
        plain, redacted = (statistics.median(times[k]) * 1000
                           for k in (False, True))
        found[fmt] = {'jobs': jobs, 'plain_ms': plain,
                      'redacted_ms': redacted, 'ratio': redacted / plain}
    return found


def hostile_output():
    """What `status` and `jobs show` (tables) print of a 60 KB name."""
    client = fakes.FakeEtcd()
    job_id, value = records.job('create', 'monitoring_worker', 'edge_router',
                                'r-1', 1, [], {'name': HOSTILE})
    client.put(keys.job(job_id), value)
    client.put(keys.config('edge_router', 'r-1'), records.config(
        {'name': HOSTILE, 'password': 'esiesi0000'}, 1))
    client.put(keys.state('edge_router', 'r-1'), records.state(
        'CREATE_FAILED', 1, error=HOSTILE))
    found = {}
    for argv in (['status'], ['jobs', 'show', job_id]):
        for redacting in (False, True):
            with contextlib.ExitStack() as stack:
                if not redacting:
                    stack.enter_context(_bypassed())
                text = _run(client, argv)
            found['%s %s' % (' '.join(argv[:2]), 'redacted' if redacting
                             else 'plain')] = {
                'bytes': len(text), 'raw_esc': text.count('\x1b'),
                'password_shown': 'esiesi0000' in text}
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    records_count, jobs = (2000, 100) if args.quick else (20000, 1000)
    result = {'log': log_cost(records_count),
              'status': status_cost(jobs), 'hostile': hostile_output()}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""A flood of idle connections on esi-worker's metrics/health port.

A real worker process against a real etcd. Its open-file limit is lowered
for the test, so that a few hundred sockets are more than it may hold.
"""

import os
import resource
import time

from tests import esi_fixtures
from tests import flood as idle
from tests import scrape

# Sockets the worker may open beyond those it holds once started: enough
# for its jobs' etcd connections, far fewer than the flood.
HEADROOM = 100
FLOOD = HEADROOM + 200


def cpu_seconds(pid):
    """User + system CPU seconds of process *pid* so far."""
    with open('/proc/%d/stat' % pid) as f:
        # The fields after the command's ")": utime and stime are the 12th
        # and 13th of them.
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def assert_closed_without_spinning(flood, pid, started, cpu_before, timeout):
    """The server closed every socket of *flood*, at a small CPU cost."""
    still_open = idle.closed_by_server(flood, timeout=timeout)
    cpu = cpu_seconds(pid) - cpu_before
    window = time.monotonic() - started
    print('\nCPU %.2f s over a flood window of %.1f s; %d connections '
          'still open' % (cpu, window, len(still_open)))
    assert not still_open
    # A spinning accept() took 30 to 60 % of a (shared) core; the worker,
    # jobs included, about 3 %.
    assert cpu < 0.2 * window, (cpu, window)


def test_idle_flood_leaves_jobs_healthz_and_cpu_alone(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    port = esi_fixtures.free_port()
    # A short per-connection timeout keeps the test short; the default
    # is a few seconds too.
    worker, = workers(1, metrics_port=port, metrics_timeout=2)
    pid = worker.proc.pid
    esi_fixtures.wait_until(
        lambda: scrape.get(port, '/healthz').status_code == 200,
        message='/healthz before the flood')
    limit = idle.open_files(pid) + HEADROOM
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))

    started, cpu_before = time.monotonic(), cpu_seconds(pid)
    flood = idle.connections(port, FLOOD)
    try:
        rids = ['70000000-0000-0000-0000-%012d' % i for i in range(5)]
        for rid in rids:
            esi_fixtures.write_ha_job(client, rid)
        done = []
        try:
            esi_fixtures.wait_until(
                lambda: all(esi_fixtures.state_of(client, r) for r in rids),
                timeout=20, message='the jobs under the flood')
        finally:
            done = [r for r in rids if esi_fixtures.state_of(client, r)]
            asked = time.monotonic()
            try:
                status = scrape.get(port, '/healthz').status_code
            except OSError as exc:      # requests' timeouts are OSErrors
                status = repr(exc)
            answered = time.monotonic() - asked
            print('\nflood of %d idle connections, limit %d files: %d/%d '
                  'jobs completed, /healthz %s after %.2f s; CPU %.2f s in '
                  '%.1f s' % (FLOOD, limit, len(done), len(rids), status,
                              answered, cpu_seconds(pid) - cpu_before,
                              time.monotonic() - started))
        assert len(done) == len(rids)
        assert status == 200

        # The worker drops connections that send nothing: the excess at
        # once, the rest after [worker] metrics_timeout.
        assert_closed_without_spinning(flood, pid, started, cpu_before, 15)
    finally:
        for sock in flood:
            sock.close()
    assert worker.proc.poll() is None
    assert scrape.get(port, '/healthz').status_code == 200
    assert 'Traceback' not in worker.log()


def test_out_of_files_accept_rests_and_warns_once(loaded, workers):
    port = esi_fixtures.free_port()
    # A bound above what the process may hold: its accept() does run out
    # of files.
    worker, = workers(1, metrics_port=port, metrics_timeout=2,
                      metrics_max_connections=1000)
    pid = worker.proc.pid
    esi_fixtures.wait_until(
        lambda: scrape.get(port, '/healthz').status_code == 200,
        message='/healthz before the flood')
    limit = idle.open_files(pid) + 50
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))

    started, cpu_before = time.monotonic(), cpu_seconds(pid)
    flood = idle.connections(port, 200)
    try:
        # Every idle connection is accepted in the end, and dropped after
        # its timeout, as files come free.
        assert_closed_without_spinning(flood, pid, started, cpu_before, 30)
    finally:
        for sock in flood:
            sock.close()
    assert scrape.get(port, '/healthz').status_code == 200
    # accept() did run out of files; one warning per minute says so,
    # however many times it failed.
    warnings = [line for line in worker.log().splitlines()
                if 'cannot accept' in line]
    assert len(warnings) == 1, warnings
    assert 'Too many open files' in warnings[0]
    assert 'LimitNOFILE' in warnings[0]
    assert worker.proc.poll() is None

"""esi-worker's metrics/health port under a flood of idle connections.

A real worker whose open files are limited to what it holds plus HEADROOM,
flooded with more idle connections than that (issue 19, finding 3). The
figures are per-unit costs and flood/quiet ratios of one run: CPU per
idle connection, /healthz and job latency with and without the flood.
"""

import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

from heat_esi import keys  # noqa: E402
from tests import esi_fixtures  # noqa: E402
from tests import flood as idle  # noqa: E402
from tests import scrape  # noqa: E402

# Files the worker may open beyond those it holds once started.
HEADROOM = 100
# Seconds a flood connection lives: [worker] metrics_timeout.
TIMEOUT = 2.0


def _healthz_ms(port, samples):
    found = []
    for _ in range(samples):
        start = time.perf_counter()
        status = scrape.get(port, '/healthz').status_code
        assert status == 200, status
        found.append((time.perf_counter() - start) * 1000)
    return statistics.median(found)


def _job_ms(client, tag, samples):
    """Median ms from a job's write to its /state (polled every 5 ms)."""
    found = []
    for i in range(samples):
        rid = '%s-%d' % (tag, i)
        start = time.perf_counter()
        common.write_jobs(client, [rid])
        esi_fixtures.wait_until(
            lambda: client.get(keys.state('ha_router', rid)),
            timeout=20, interval=0.005, message='the state of %s' % rid)
        found.append((time.perf_counter() - start) * 1000)
    return statistics.median(found)


def idle_flood(server, client, connections, samples, tag='http'):
    """The figures of a worker flooded with *connections* idle ones."""
    port = esi_fixtures.free_port()
    proc = common.worker(server, tag, metrics_port=port,
                         metrics_timeout=TIMEOUT).start()
    try:
        pid = proc.proc.pid
        esi_fixtures.wait_until(
            lambda: scrape.get(port, '/healthz').status_code == 200,
            message='/healthz')
        limit = idle.open_files(pid) + HEADROOM
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
        out = {'connections': connections, 'limit': limit,
               'healthz_quiet_ms': _healthz_ms(port, samples),
               'job_quiet_ms': _job_ms(client, tag + '-q', samples)}

        # CPU: the flood alone, from the first connection until the
        # worker has closed the last one.
        common.settle(pid, quiet=0.2)
        meter = common.CpuMeter(worker=pid).start()
        flood = idle.connections(port, connections)
        try:
            still_open = idle.closed_by_server(flood, timeout=TIMEOUT + 30)
        finally:
            for sock in flood:
                sock.close()
        meter.stop()
        out.update(still_open=len(still_open), window_s=meter.wall,
                   cpu_ms_per_connection=(meter.used['worker'] * 1000 /
                                          connections),
                   cpu_share=meter.used['worker'] / meter.wall)

        # Latency while flooded: a new flood for each measure, so that
        # every sample meets max_connections idle ones held.
        flood = idle.connections(port, connections)
        try:
            out['healthz_flood_ms'] = _healthz_ms(port, samples)
            out['job_flood_ms'] = _job_ms(client, tag + '-f', samples)
        finally:
            for sock in flood:
                sock.close()
        out['worker_alive'] = proc.proc.poll() is None
    finally:
        proc.stop()
    return out


if __name__ == '__main__':
    etcd_server, etcd_client = common.start_etcd()
    try:
        print(idle_flood(etcd_server, etcd_client, 300, 20))
    finally:
        etcd_server.cleanup()

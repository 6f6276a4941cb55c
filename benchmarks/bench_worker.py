"""esi-worker against a real etcd: CPU per job, latency, memory, profile.

Each function takes a running etcd (benchmarks.common.start_etcd) and
returns plain numbers, so that run.py can tabulate, store and draw them.

``python benchmarks/bench_worker.py --before TREE`` measures the CPU per
job in put-units for this tree's worker and for TREE's (a checkout of the
code before a change: its worker runs with PYTHONPATH=TREE), the two sides
alternated round by round in one etcd, so that the machine's drift falls
on both; it prints JSON. ``--claim-shapes N`` measures instead what a
claim's transaction costs by how it counts the claim (claim_shapes).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

from heat_esi import etcd  # noqa: E402
from heat_esi import exceptions  # noqa: E402
from heat_esi import keys  # noqa: E402
from heat_esi import records  # noqa: E402

STATES = '/state/v2.0/ha_routers/'


def cpu_per_job(server, client, n_workers, count, tag, profile=None,
                tree=None):
    """Measure the CPU per ha_router job of real workers draining a backlog.

    *n_workers* real workers drain *count* jobs that are all ready at once.

    The workers are paused (SIGSTOP) while the jobs are written, so that
    neither their start-up nor the writing is measured; etcd's CPU for the
    benchmark's own polls is measured separately and subtracted.

    :param profile: a path: py-spy samples the (single) worker meanwhile
        and writes its collapsed stacks there.
    :param tree: the heat_esi tree the workers run (None: this one).
    """
    saved = os.environ.get('PYTHONPATH')
    try:
        if tree:
            os.environ['PYTHONPATH'] = tree
        procs = [common.worker(server, '%s-%d' % (tag, i),
                               job_slots=8).start()
                 for i in range(n_workers)]
    finally:
        if saved is None:
            os.environ.pop('PYTHONPATH', None)
        else:
            os.environ['PYTHONPATH'] = saved
    revision0 = client.revision()
    wire0 = etcd_wire(server)
    spy = None
    try:
        for p in procs:
            p.signal(signal.SIGSTOP)
        prefix = '%s-' % tag
        common.write_jobs(client, [prefix + str(i) for i in range(count)],
                          per_txn=50)
        common.settle(server.proc.pid)
        pids = {'etcd': server.proc.pid}
        pids.update(('worker%d' % i, p.proc.pid)
                    for i, p in enumerate(procs))
        meter = common.CpuMeter(**pids).start()
        if profile:
            spy = subprocess.Popen(
                [os.path.join(os.path.dirname(sys.executable), 'py-spy'),
                 'record', '--pid', str(procs[0].proc.pid), '--rate', '200',
                 '--nonblocking', '--gil', '--format', 'raw',
                 '--output', profile],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)     # py-spy attaches
        for p in procs:
            p.signal(signal.SIGCONT)
        polls = common.wait_count(client, STATES + prefix, count)
        wall = time.perf_counter() - meter._t0
        # etcd revisions (one per write transaction) the jobs took, the
        # benchmark's own job writes left out.
        revisions = client.revision() - revision0 - (count + 49) // 50
        wire = {k: v - wire0.get(k, 0.0)
                for k, v in etcd_wire(server).items()}
        for p in procs:
            common.settle(p.proc.pid, quiet=0.2)
        used = meter.stop()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
            spy = None
    finally:
        if spy is not None:
            spy.kill()
            spy.wait()
        for p in procs:
            p.stop()
    etcd_own = common.poll_cost(server, client, STATES + prefix, polls)
    etcd_cpu = max(used.pop('etcd') - etcd_own, 0.0)
    worker_cpu = sum(used.values())
    return {'workers': n_workers, 'jobs': count,
            'jobs_per_s': count / wall,
            'worker_ms': worker_cpu / count * 1000,
            'etcd_ms': etcd_cpu / count * 1000,
            'total_ms': (worker_cpu + etcd_cpu) / count * 1000,
            'etcd_ms_subtracted': etcd_own / count * 1000,
            'revisions_per_job': revisions / count,
            'received_bytes_per_job': wire['received'] / count,
            'sent_bytes_per_job': wire['sent'] / count}


# etcd's counters of the bytes its clients sent and were sent (watch
# events included): a figure of the work per job that the machine's load
# does not blur. The benchmark's own polls are counted too (a few bytes
# per job).
_WIRE = {'etcd_network_client_grpc_received_bytes_total': 'received',
         'etcd_network_client_grpc_sent_bytes_total': 'sent'}


def etcd_wire(server):
    """{'received': bytes, 'sent': bytes} so far, from etcd's /metrics."""
    found = {'received': 0.0, 'sent': 0.0}
    text = requests.get(server.url + '/metrics', timeout=10).text
    for line in text.splitlines():
        name, _, value = line.partition(' ')
        if name in _WIRE:
            found[_WIRE[name]] += float(value)
    return found


def before_after(before, count, workers=(1, 2), rounds=2, put_count=2000):
    """CPU per job in put-units, TREE *before* and this tree alternated.

    Each round measures a put-unit, then each number of *workers* on both
    sides (the side that goes first alternates with the rounds).
    """
    server, client = common.start_etcd()
    runs = []
    try:
        for r in range(rounds):
            unit = common.put_cost(server, client, put_count)['total_ms']
            sides = [('before', before), ('after', None)]
            if r % 2:
                sides.reverse()
            for n in workers:
                for side, tree in sides:
                    found = cpu_per_job(server, client, n, count,
                                        '%s%d-%d-%s' % (side[0], n, r, 'x'),
                                        tree=tree)
                    found.update(side=side, round=r, put_unit_ms=unit,
                                 put_units=found['total_ms'] / unit)
                    runs.append(found)
    finally:
        server.cleanup()
    summary = {}
    for n in workers:
        for side in ('before', 'after'):
            mine = [x for x in runs if x['workers'] == n
                    and x['side'] == side]
            summary['%s, %d worker(s)' % (side, n)] = {
                'put_units_median': round(statistics.median(
                    x['put_units'] for x in mine), 2),
                'put_units': [round(x['put_units'], 2) for x in mine],
                'total_ms': [round(x['total_ms'], 2) for x in mine],
                'worker_share': [round(x['worker_ms'] / x['total_ms'], 2)
                                 for x in mine],
                'revisions_per_job': [round(x['revisions_per_job'], 2)
                                      for x in mine],
                'received_bytes_per_job': [
                    round(x['received_bytes_per_job']) for x in mine],
                'sent_bytes_per_job': [round(x['sent_bytes_per_job'])
                                       for x in mine],
                'jobs_per_s': [round(x['jobs_per_s']) for x in mine]}
    return {'summary': summary, 'runs': runs,
            'load': os.getloadavg()}


def claim_shapes(server, client, count, rounds=2):
    """etcd + client CPU of a claim's transaction, by how it counts.

    Each shape is *count* transactions (one at a time, a watcher of
    /jobs/ in this process decoding their events), on jobs written first:
    the claim key with the job's value rewritten (before), with the job's
    key touched (etcd's ignore_value, after), with a small count key
    outside /jobs/ instead, and the claim key alone (no count: the floor).
    Returns ms per transaction for each shape, per round.
    """
    _, _, job = common.ha_job('shape')
    text = etcd.dumps(job)
    lease = client.grant_lease(600)

    def ops(shape, i):
        job_key = keys.job('%s-%d' % (shape, i))
        claim = etcd.put(keys.working('%s-%d' % (shape, i)), 'c' * 36,
                         lease=lease)
        return {'rewrite': [claim, etcd.put(job_key, text)],
                'touch': [claim, etcd.touch(job_key)],
                'count_key': [claim, etcd.put('/bench/count/%d' % i, '1')],
                'claim_only': [claim]}[shape]

    found = {}
    for _ in range(rounds):
        for shape in ('rewrite', 'touch', 'count_key', 'claim_only'):
            for i in range(0, count, 50):
                client.txn([], [etcd.put(keys.job('%s-%d' % (shape, k)),
                                         text)
                                for k in range(i, min(i + 50, count))])
            events = []
            last = '%s-%d' % (shape, count - 1)
            ready = threading.Event()

            def watch(revision):
                for ev in server.client().watch(keys.JOBS, revision,
                                                timeout=10):
                    events.append(ev)
                    ready.set()
                    if ev.kv.key == keys.working(last):
                        return
            watcher = threading.Thread(target=watch,
                                       args=(client.revision() + 1,))
            watcher.start()
            client.put(keys.JOBS + 'bench-mark', '')
            ready.wait(10)
            common.settle(server.proc.pid, quiet=0.2)
            etcd0 = common.cpu_seconds(server.proc.pid)
            own0 = time.process_time()
            for i in range(count):
                client.txn([], ops(shape, i))
            watcher.join(30)
            own = time.process_time() - own0
            common.settle(server.proc.pid, quiet=0.2)
            used = common.cpu_seconds(server.proc.pid) - etcd0
            found.setdefault(shape, []).append(
                round((own + used) / count * 1000, 3))
            client.delete_prefix(keys.JOBS)
            client.delete_prefix('/bench/count/')
    client.revoke_lease(lease)
    return found


def latency(server, client, samples, tag='lat'):
    """Job write -> /state, one job at a time, in ms (every sample).

    A watch opened beforehand sees each /state (a watch opened after the
    write would start in the past, and etcd serves those from a loop that
    runs every 100 ms).
    """
    proc = common.worker(server, tag).start()
    arrived = {}
    seen = threading.Condition()
    prefix = STATES + tag + '-'

    def watch(revision):
        try:
            for ev in server.client().watch(prefix, revision, timeout=10):
                with seen:
                    arrived[ev.kv.key] = time.perf_counter()
                    seen.notify_all()
        except exceptions.EtcdError:
            pass    # etcd stopped at the end of the run
    threading.Thread(target=watch, args=(client.revision() + 1,),
                     daemon=True).start()
    found = []
    try:
        # The watch is open once a first job's answer arrives through it.
        common.write_jobs(client, [tag + '-warm'])
        key = keys.state('ha_router', tag + '-warm')
        with seen:
            if not seen.wait_for(lambda: key in arrived, timeout=20):
                raise RuntimeError('no answer to the first job')
        for i in range(samples):
            rid = '%s-%d' % (tag, i)
            key = keys.state('ha_router', rid)
            start = time.perf_counter()
            common.write_jobs(client, [rid])
            with seen:
                if not seen.wait_for(lambda: key in arrived, timeout=10):
                    raise RuntimeError('job %s not answered in 10 s' % rid)
            found.append((arrived[key] - start) * 1000)
    finally:
        proc.stop()
    ordered = sorted(found)
    return {'samples': found, 'median_ms': statistics.median(found),
            'p99_ms': common.percentile(ordered, 0.99)}


def rss_waiting(server, client, counts, tag='wait'):
    """esi-worker RSS when counts[i] jobs wait on a dependency.

    The dependency is a job of a handler no worker here runs, so it stays;
    every other job is parked behind it. Returns the idle RSS and, per
    count, the RSS once the worker is quiet again and the peak RSS.
    """
    proc = common.worker(server, tag, job_slots=8).start()
    try:
        common.settle(proc.proc.pid, quiet=0.5)
        idle = common.memory(proc.proc.pid)
        body, blocker, job = common.ha_job(tag + '-blocker',
                                           handler='other_worker')
        client.txn([], [etcd.put(keys.config('ha_router', tag + '-blocker'),
                                 records.config(body, 1)),
                        etcd.put(keys.job(blocker), job)], key=blocker)
        written = 0
        found = []
        for count in counts:
            start = time.perf_counter()
            common.write_jobs(client, ['%s-%d' % (tag, i)
                                       for i in range(written, count)],
                              dependency=[blocker], per_txn=50)
            written = count
            common.settle(proc.proc.pid, quiet=1.0, timeout=1800)
            mem = common.memory(proc.proc.pid)
            found.append({'jobs': count, 'rss': mem['rss'],
                          'hwm': mem['hwm'],
                          'seconds': time.perf_counter() - start})
    finally:
        proc.stop()
    return {'idle_rss': idle['rss'], 'waiting': found}


def top_of_profile(path, limit=12):
    """Rank the functions with most samples in py-spy's collapsed stacks.

    :returns: [(share of samples, 'function (file:line)' self, ...)], self
        and inclusive, and the share of samples with heat_esi's code on the
        stack (which the top of a short profile may leave out, its ties
        being in no particular order).
    """
    own, inclusive, total, ours = {}, {}, 0, 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip('\n').rpartition(' ')
            if not stack or not n.isdigit():
                continue    # not a "stack count" line (a torn write)
            n = int(n)
            total += n
            frames = [_short(fr) for fr in stack.split(';')]
            own[frames[-1]] = own.get(frames[-1], 0) + n
            for fr in set(frames):
                inclusive[fr] = inclusive.get(fr, 0) + n
            if any('heat_esi/' in fr for fr in frames):
                ours += n
    if not total:
        return {'samples': 0, 'self': [], 'inclusive': [], 'in_heat_esi': 0}

    def top(table):
        return [(round(v / total, 3), k) for k, v in
                sorted(table.items(), key=lambda kv: -kv[1])[:limit]]
    return {'samples': total, 'self': top(own), 'inclusive': top(inclusive),
            'in_heat_esi': round(ours / total, 3)}


def _short(frame):
    # "func (/long/path/site-packages/pkg/mod.py:12)" -> "func (pkg/mod.py:12)"
    name, _, where = frame.partition(' (')
    where = where.rstrip(')')
    for marker in ('/site-packages/', '/heat_esi/', '/lib/python3'):
        if marker in where:
            where = where.split(marker, 1)[1]
            if marker == '/heat_esi/':
                where = 'heat_esi/' + where
            break
    return '%s (%s)' % (name, where) if where else name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--before',
                        help='the tree of the "before" side')
    parser.add_argument('--jobs', type=int, default=1000)
    parser.add_argument('--workers', default='1,2')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--claim-shapes', type=int, default=0,
                        help='only the cost of a claim transaction by how '
                        'it counts (claim_shapes), with this many claims')
    args = parser.parse_args(argv)
    if args.claim_shapes:
        server, client = common.start_etcd()
        try:
            unit = common.put_cost(server, client, args.claim_shapes)
            found = claim_shapes(server, client, args.claim_shapes,
                                 args.rounds)
        finally:
            server.cleanup()
        print(json.dumps({'put_unit_ms': round(unit['total_ms'], 3),
                          'ms_per_claim': found,
                          'load': os.getloadavg()}))
        return
    if not args.before:
        parser.error('--before TREE is needed (or --claim-shapes N)')
    found = before_after(args.before, args.jobs,
                         [int(n) for n in args.workers.split(',')],
                         args.rounds)
    print(json.dumps(found['summary'], indent=1))
    print(json.dumps({'load': found['load']}))


if __name__ == '__main__':
    main()

"""esi-worker throughput and latency against a real etcd (not a test).

In one run:
- raw: the etcd requests one ha_router job needs (claim with its template,
  two router reads, job_state, finish), issued back to back by one client;
- jobs/s of 1 and of 2 real esi-worker processes on N ready jobs;
- job write -> /state latency, one job at a time, median and p99.
"""

import argparse
import os
import signal
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from heat_esi import etcd  # noqa: E402
from heat_esi import exceptions  # noqa: E402
from heat_esi import keys  # noqa: E402
from heat_esi import records  # noqa: E402
from heat_esi import templates  # noqa: E402
from heat_esi.worker.plugins import etcd_reader  # noqa: E402
from tests import esi_fixtures  # noqa: E402

PRIMARY = '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'
SECONDARY = '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e'


def ha_job(rid):
    body = {'maximum_gateways': 500, 'status': 'PENDING_CREATE',
            'primary_router_id': PRIMARY, 'secondary_router_id': SECONDARY,
            'description': '', 'tenant_id': 't', 'available_gateways': 500,
            'id': rid, 'name': rid}
    tmpl = templates.load_dir()['ha_router_monitoring']
    params = templates.build_params(tmpl, 'ha_router', body, 1, None)
    job_id, job = records.job('create', 'monitoring_worker', 'ha_router',
                              rid, 1, params, body)
    return body, job_id, job


def write_jobs(client, rids):
    for rid in rids:
        body, job_id, job = ha_job(rid)
        client.txn([etcd.absent(keys.config('ha_router', rid))],
                   [etcd.put(keys.config('ha_router', rid),
                             records.config(body, 1)),
                    etcd.put(keys.job(job_id), job)])


def raw_rate(client, count):
    """The requests of one job, sequentially, as jobs/s."""
    lease = client.grant_lease(60)
    write_jobs(client, ['raw-%d' % i for i in range(count)])
    kvs, _ = client.get_prefix(keys.JOBS_ALL)
    start = time.perf_counter()
    for kv in kvs:
        job_id = kv.key[len(keys.JOBS_ALL):]
        handler, job, _ = records.parse_job(kv.key, kv.value)
        rid = job['resource_id']
        # The claim reads the job's template in the same transaction.
        client.txn([etcd.absent(keys.working(job_id)),
                    etcd.mod_revision_is(kv.key, kv.mod_revision)],
                   [etcd.put(keys.working(job_id), 'c', lease=lease),
                    etcd.put(kv.key, [handler, job, 0]),
                    etcd.get(keys.heat_template('ha_router_monitoring'))])
        etcd_reader.parts_of(client, 'edge_router', PRIMARY)
        etcd_reader.parts_of(client, 'edge_router', SECONDARY)
        fence = etcd.value_is(keys.working(job_id), 'c')
        client.txn([fence], [etcd.put(keys.job_state('ha_router', rid),
                                      {'state_monitoring': {}})])
        client.txn([fence], [
            etcd.delete(kv.key), etcd.delete(keys.working(job_id)),
            etcd.put(keys.state('ha_router', rid),
                     records.state('CREATE_COMPLETED', 1, {})),
            etcd.delete(keys.job_state('ha_router', rid))])
    elapsed = time.perf_counter() - start
    client.revoke_lease(lease)
    return count / elapsed


def count_states(client, prefix):
    kvs, _ = client.get_prefix('/state/v2.0/ha_routers/' + prefix,
                               keys_only=True)
    return len(kvs)


def throughput(server, client, tmp, n_workers, count):
    """jobs/s of *n_workers* on *count* jobs that are all ready at once.

    The workers are started, then paused (SIGSTOP) while the jobs are
    written, so that neither their start-up nor the writing is timed.
    """
    procs = [esi_fixtures.WorkerProcess(tmp, server.port,
                                        name='bench%d-%d' % (n_workers, i),
                                        job_slots=8, debug=False).start()
             for i in range(n_workers)]
    try:
        for p in procs:
            p.signal(signal.SIGSTOP)
        write_jobs(client, ['tp%d-%d' % (n_workers, i)
                            for i in range(count)])
        start = time.perf_counter()
        for p in procs:
            p.signal(signal.SIGCONT)
        while count_states(client, 'tp%d-' % n_workers) < count:
            time.sleep(0.01)
        return count / (time.perf_counter() - start)
    finally:
        for p in procs:
            p.stop()


def latency(server, client, tmp, samples):
    """Write one job at a time; a watch opened beforehand sees its /state.

    (A watch opened after the write would start in the past, and etcd
    serves such watchers from a loop that runs every 100 ms.)
    """
    proc = esi_fixtures.WorkerProcess(tmp, server.port, name='lat',
                                      debug=False).start()
    arrived = {}
    seen = threading.Condition()

    def watch(revision):
        try:
            for ev in server.client().watch('/state/v2.0/ha_routers/lat-',
                                            revision, timeout=5):
                with seen:
                    arrived[ev.kv.key] = time.perf_counter()
                    seen.notify_all()
        except exceptions.EtcdError:
            pass    # etcd stopped at the end of the run
    watcher = threading.Thread(target=watch, args=(client.revision() + 1,),
                               daemon=True)
    watcher.start()
    time.sleep(0.2)
    found = []
    try:
        for i in range(samples):
            rid = 'lat-%d' % i
            key = keys.state('ha_router', rid)
            start = time.perf_counter()
            write_jobs(client, [rid])
            with seen:
                seen.wait_for(lambda: key in arrived, timeout=5)
            found.append((arrived[key] - start) * 1000)
    finally:
        proc.stop()
    found.sort()
    return statistics.median(found), found[int(len(found) * 0.99) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--jobs', type=int, default=1000)
    parser.add_argument('--samples', type=int, default=200)
    args = parser.parse_args()
    server = esi_fixtures.EtcdServer().start()
    try:
        client = server.client()
        templates.store(client, templates.load_dir())
        for rid in (PRIMARY, SECONDARY):
            client.put(keys.state('edge_router', rid),
                       records.state('CREATE_COMPLETED', 1,
                                     {'router': 'ACTIVE'}))
        raw = raw_rate(client, args.jobs)
        one = throughput(server, client, server.dir, 1, args.jobs)
        two = throughput(server, client, server.dir, 2, args.jobs)
        median, p99 = latency(server, client, server.dir, args.samples)
    finally:
        server.cleanup()
    print('raw etcd requests of one job, sequential: %7.1f jobs/s' % raw)
    print('1 worker  (%d jobs):                     %7.1f jobs/s  '
          '(%.2f x raw)' % (args.jobs, one, one / raw))
    print('2 workers (%d jobs):                     %7.1f jobs/s  '
          '(%.2f x one worker)' % (args.jobs, two, two / one))
    print('job write -> /state (%d jobs, one at a time): median %.1f ms, '
          'p99 %.1f ms' % (args.samples, median, p99))


if __name__ == '__main__':
    main()

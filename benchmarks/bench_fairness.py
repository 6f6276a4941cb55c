"""One project's backlog against another project's latency (issue 19, 2).

A real esi-worker on a real etcd. The busy project writes a backlog of
edge router creates against an address where nothing answers SNMP: each
holds a slot until [snmp] check_timeout, the "job unit" below. The other
project's HA router job (its routers are ACTIVE: it ends at once) is
timed from its write to its /state, alone and then behind the backlog,
written when every slot the backlog may use is busy. The figure is the
latency the backlog adds, in job units: at most about one with the
projects' turns alone, about none with the default max_jobs_per_project.
"""

import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

from heat_esi import exceptions  # noqa: E402
from heat_esi import keys  # noqa: E402
from tests import esi_fixtures  # noqa: E402
from tests import snmp_agents  # noqa: E402

BUSY, OTHER = 'project-busy', 'project-other'


def _sections(check_timeout):
    found = snmp_agents.worker_sections(161, check_timeout=check_timeout)
    found['monitor'] = {'enabled': 'false'}
    return found


def _claimed(client, tag):
    return [kv for kv in client.get_prefix(keys.JOBS_WORKING,
                                           keys_only=True)[0]
            if ':%s-' % tag in kv.key]


class Arrivals(object):
    """When each /state arrived, seen by a watch opened beforehand."""

    def __init__(self, server, client):
        self.seen = {}
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._watch, args=(server, client.revision() + 1),
            daemon=True)
        self.thread.start()

    def _watch(self, server, revision):
        watcher = server.client()
        while not self.stop.is_set():
            try:
                for ev in watcher.watch(keys.STATE, revision, timeout=0.5):
                    revision = ev.kv.mod_revision + 1
                    with self.cond:
                        self.seen.setdefault(ev.kv.key, time.perf_counter())
                        self.cond.notify_all()
            except exceptions.EtcdError:
                return      # etcd stopped at the end of the run

    def wait(self, predicate, timeout=600):
        """The arrival time of the first /state key *predicate* accepts."""
        with self.cond:
            found = self.cond.wait_for(lambda: sorted(
                t for k, t in self.seen.items() if predicate(k)), timeout)
        if not found:
            raise RuntimeError('no /state as expected within %s s'
                               % timeout)
        return found[0]

    def close(self):
        self.stop.set()
        self.thread.join(5)


def _other_latency(client, arrivals, rid):
    key = keys.state('ha_router', rid)
    start = time.perf_counter()
    esi_fixtures.write_as_heat(client, 'ha_router', rid, OTHER)
    return arrivals.wait(lambda k: k == key) - start


def scenario(server, client, tag, backlog, slots, check_timeout, samples,
             **worker):
    """Latencies of the other project's job, alone and behind a backlog.

    :returns: {'alone_s': [...], 'behind_s': [...], 'job_unit_s': the
        time of one busy job, write to /state}.
    """
    proc = common.worker(server, tag, job_slots=slots, shutdown_grace=0,
                         sections=_sections(check_timeout), **worker)
    proc.start()
    arrivals = Arrivals(server, client)
    try:
        alone = [_other_latency(client, arrivals, '%s-alone-%d' % (tag, i))
                 for i in range(samples)]
        start = time.perf_counter()
        for i in range(backlog):
            esi_fixtures.write_as_heat(client, 'edge_router',
                                       '%s-busy-%d' % (tag, i), BUSY)
        # Every slot the backlog may take is taken (or all of them).
        limit = worker.get('max_jobs_per_project') or max(slots - 1, 1)
        deadline = time.monotonic() + 60
        while len(_claimed(client, tag)) < min(limit, slots, backlog):
            if time.monotonic() > deadline:
                raise RuntimeError('the backlog never filled the slots')
            time.sleep(0.01)
        behind = []
        for i in range(samples):
            behind.append(_other_latency(client, arrivals,
                                         '%s-behind-%d' % (tag, i)))
        busy = keys.state_prefix('edge_router') + '%s-busy-' % tag
        unit = arrivals.wait(lambda k: k.startswith(busy)) - start
    finally:
        arrivals.close()
        proc.stop()
    for prefix in ('/jobs/', '/esi-worker/job_state/', '/state/', '/config/'):
        for kv in client.get_prefix(prefix, keys_only=True)[0]:
            if '/%s-' % tag in kv.key or ':%s-' % tag in kv.key:
                client.delete(kv.key)
    return {'alone_s': alone, 'behind_s': behind, 'job_unit_s': unit}


def run(backlog, slots, check_timeout, samples):
    """The scenario with the turns alone, and with the default limit.

    :returns: {'turns_only': figures, 'default_limit': figures} (see
        figures()), with the parameters.
    """
    server, client = common.start_etcd()
    try:
        out = {'backlog': backlog, 'slots': slots,
               'check_timeout': check_timeout}
        for name, options in (
                ('turns_only', {'max_jobs_per_project': slots}),
                ('default_limit', {})):
            raw = scenario(server, client, 'fair-%s' % name.replace('_', ''),
                           backlog, slots, check_timeout, samples, **options)
            out[name] = figures(raw)
        return out
    finally:
        server.cleanup()


def figures(raw):
    """Added latency of the other project's job, in seconds and job units."""
    alone = statistics.median(raw['alone_s'])
    added = [max(b - alone, 0.0) for b in raw['behind_s']]
    unit = raw['job_unit_s']
    return dict(raw, alone_median_s=alone,
                added_max_s=max(added),
                added_max_jobs=max(added) / unit,
                added_median_jobs=statistics.median(added) / unit)

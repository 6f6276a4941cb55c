#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The Prometheus metrics of esi-worker, all declared here.

The code that does the work calls the small functions below; the gauges of
the backlog are read from etcd when Prometheus scrapes (every worker of a
cluster reports the same backlog: aggregate them with max, not sum).

Labels are few and bounded (handler, action, resource type, a result): never
a resource, job or request id.
"""

import threading
import time

import prometheus_client
from prometheus_client import core

from heat_esi import exceptions
from heat_esi import overview
from heat_esi import states

REGISTRY = prometheus_client.CollectorRegistry()
prometheus_client.ProcessCollector(registry=REGISTRY)
prometheus_client.PlatformCollector(registry=REGISTRY)

_JOB_LABELS = ('handler', 'action', 'resource_type')
# Jobs wait on devices for up to tens of seconds.
_JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_ETCD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                 1, 2.5, 5)

JOBS_CLAIMED = prometheus_client.Counter(
    'esi_worker_jobs_claimed', 'Jobs claimed by this worker.', _JOB_LABELS,
    registry=REGISTRY)
JOBS_COMPLETED = prometheus_client.Counter(
    'esi_worker_jobs_completed', 'Jobs that ended *_COMPLETED (on_failure '
    'ignore included).', _JOB_LABELS, registry=REGISTRY)
JOBS_FAILED = prometheus_client.Counter(
    'esi_worker_jobs_failed', 'Jobs that ended *_FAILED.', _JOB_LABELS,
    registry=REGISTRY)
JOB_DURATION = prometheus_client.Histogram(
    'esi_worker_job_duration_seconds', 'Time from the claim of a job to its '
    'recorded result.', ('handler', 'action'), buckets=_JOB_BUCKETS,
    registry=REGISTRY)
JOB_LATENCY = prometheus_client.Histogram(
    'esi_worker_job_state_latency_seconds', 'Time from the job\'s write by '
    'heat-engine (its created_at) to the write of its result.',
    ('handler', 'action'), buckets=_JOB_BUCKETS, registry=REGISTRY)
CLAIMS_LOST = prometheus_client.Counter(
    'esi_worker_claims_lost', 'Fenced writes refused because the claim '
    'expired or was taken over; the job\'s result was dropped.',
    registry=REGISTRY)
RECLAIMS = prometheus_client.Counter(
    'esi_worker_reclaims', 'Claims of jobs whose earlier claim expired '
    'before they finished.', registry=REGISTRY)
REJECTED = prometheus_client.Counter(
    'esi_worker_rejected_values', 'Job values this worker could not read '
    'and moved to /jobs/rejected/.', registry=REGISTRY)
WATCH_RESTARTS = prometheus_client.Counter(
    'esi_worker_watch_restarts', 'Times the job watch was opened again, by '
    'why: error (the stream broke) or compacted (it fell behind).',
    ('reason',), registry=REGISTRY)
ETCD_FAILOVERS = prometheus_client.Counter(
    'esi_worker_etcd_failovers', 'Times the etcd client moved to another '
    'endpoint.', registry=REGISTRY)
MONITOR_POLLS = prometheus_client.Counter(
    'esi_worker_monitor_polls', 'Device polls by result: up (every element '
    'up), down (one or more down) or error (could not poll).', ('result',),
    registry=REGISTRY)
MONITOR_CHANGES = prometheus_client.Counter(
    'esi_worker_monitor_state_changes', 'Writes of /monitoring with a new '
    'device state.', registry=REGISTRY)
LEASE_RENEWALS = prometheus_client.Counter(
    'esi_worker_lease_renewals', 'Renewals of this worker\'s lease by '
    'result: ok, expired (a new lease was granted) or error.', ('result',),
    registry=REGISTRY)
LEASE_RENEWAL_DURATION = prometheus_client.Histogram(
    'esi_worker_lease_renewal_duration_seconds', 'Time one lease renewal '
    'took.', buckets=_ETCD_BUCKETS, registry=REGISTRY)
HTTP_DROPPED = prometheus_client.Counter(
    'esi_worker_http_connections_dropped', 'Connections to this HTTP server '
    'closed without an answer, by why: timeout (no whole request, or the '
    'answer not taken, within [worker] metrics_timeout), evicted (the oldest '
    'one without a request, to make room under [worker] '
    'metrics_max_connections) or refused (no room: every open one was being '
    'answered).', ('reason',), registry=REGISTRY)

for _result in ('ok', 'expired', 'error'):
    LEASE_RENEWALS.labels(_result)
for _reason in ('error', 'compacted'):
    WATCH_RESTARTS.labels(_reason)
for _result in ('up', 'down', 'error'):
    MONITOR_POLLS.labels(_result)
for _reason in ('timeout', 'evicted', 'refused'):
    HTTP_DROPPED.labels(_reason)


def _job_labels(job):
    return (job.get('handler', ''), job.get('action', ''),
            job.get('resource_type', ''))


# --- what the worker calls ---------------------------------------------

def job_claimed(job, attempts):
    """A job was claimed; *attempts* earlier claims of it expired."""
    JOBS_CLAIMED.labels(*_job_labels(job)).inc()
    if attempts:
        RECLAIMS.inc()


def job_finished(job, failed, started=None):
    """Count a job whose result was recorded.

    :param started: time.monotonic() when the job started to run.
    """
    labels = _job_labels(job)
    (JOBS_FAILED if failed else JOBS_COMPLETED).labels(*labels).inc()
    if started is not None:
        JOB_DURATION.labels(*labels[:2]).observe(time.monotonic() - started)
    created_at = job.get('created_at')
    if isinstance(created_at, (int, float)):
        JOB_LATENCY.labels(*labels[:2]).observe(
            max(0.0, time.time() - created_at))


def claim_lost():
    CLAIMS_LOST.inc()


def value_rejected():
    REJECTED.inc()


def watch_restarted(reason):
    WATCH_RESTARTS.labels(reason).inc()


def etcd_failover(*_args):
    """Count a move to another etcd endpoint (a callback for the client)."""
    ETCD_FAILOVERS.inc()


def lease_renewed(result, seconds):
    LEASE_RENEWALS.labels(result).inc()
    LEASE_RENEWAL_DURATION.observe(seconds)


def device_polled(result):
    """*result*: a {element: UP|DOWN} map, or None when the poll failed."""
    if result is None:
        MONITOR_POLLS.labels('error').inc()
    else:
        MONITOR_POLLS.labels('up' if all(
            v in states.HEALTHY for k, v in result.items()
            if k != 'version') else 'down').inc()


def device_state_changed():
    MONITOR_CHANGES.inc()


def http_connection_dropped(reason):
    """*reason*: timeout, evicted or refused (see HTTP_DROPPED)."""
    HTTP_DROPPED.labels(reason).inc()


# --- read at scrape time -----------------------------------------------

class BacklogCollector(object):
    """The backlog gauges.

    They come from one read of /jobs/ at most every *cache* seconds
    (Prometheus servers in HA pairs scrape twice as often).
    """

    def __init__(self, client, cache=5.0):
        self.client = client
        self.cache = cache
        self._lock = threading.Lock()
        self._read_at = None
        self._jobs = None

    def _read(self):
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at > self.cache:
                try:
                    self._jobs = overview.read_jobs(self.client)
                except exceptions.EtcdError:
                    self._jobs = None
                self._read_at = now
            return self._jobs

    @staticmethod
    def _families():
        gauge = core.GaugeMetricFamily
        return (
            gauge('esi_jobs_backlog', 'Jobs in /jobs/all not claimed by '
                  'any worker (cluster-wide), by handler.',
                  labels=['handler']),
            gauge('esi_jobs_backlog_oldest_age_seconds', 'Age of the oldest '
                  'unclaimed job (cluster-wide), by handler.',
                  labels=['handler']),
            gauge('esi_jobs_waiting_dependencies', 'Unclaimed jobs that wait '
                  'for a job of the same resource to finish (cluster-wide).',
                  labels=['handler']),
            gauge('esi_jobs_in_flight', 'Jobs claimed by a worker '
                  '(cluster-wide).', labels=[]),
            gauge('esi_jobs_rejected', 'Values in /jobs/rejected/ waiting '
                  'for an operator.', labels=[]))

    def describe(self):
        return self._families()

    def collect(self):
        jobs = self._read()
        if jobs is None:
            return []   # etcd unreachable: no value rather than a stale one
        size, oldest, blocked, running, rejected = self._families()
        for handler, (count, age, waiting) in sorted(
                overview.backlog(jobs).items()):
            size.add_metric([handler], count)
            oldest.add_metric([handler], age or 0.0)
            blocked.add_metric([handler], waiting)
        running.add_metric([], sum(1 for j in jobs
                                   if j.state == overview.RUNNING))
        rejected.add_metric([], sum(1 for j in jobs
                                    if j.state == overview.REJECTED))
        return [size, oldest, blocked, running, rejected]


def watch_backlog(client):
    """Report the cluster's backlog from now on (once per process)."""
    collector = BacklogCollector(client)
    REGISTRY.register(collector)
    return collector


def exposition():
    """(body, content type) of a scrape."""
    return (prometheus_client.generate_latest(REGISTRY),
            prometheus_client.CONTENT_TYPE_LATEST)

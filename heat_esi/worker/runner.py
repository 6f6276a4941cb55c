# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The runner: claims a job a slot took, runs its handler, records the result.

The running jobs (job id -> Claim) are the runner's, changed only under
its condition ``idle``, which drain() waits on until no job runs. The
runner is called by slot threads (process) and the deadline watcher
(forget, fail_overdue); etcd steps are retried by the policies of
retry.py.
"""

from importlib import metadata
import json
import threading
import time

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi.worker import claims
from heat_esi.worker import context
from heat_esi.worker import deadlines
from heat_esi.worker.handlers import base as handler_base
from heat_esi.worker import metrics
from heat_esi.worker import retry

LOG = logging.getLogger(__name__)

# The longest chain of jobs written in one transaction followed to learn
# whether a job of it waits for another (a plan has a few).
MAX_PLAN_HOPS = 8


class Runner(object):
    """Runs claimed jobs to a recorded result.

    :param lease: the worker's lease.LeaseKeeper (claims go under it).
    :param intake: the worker's intake.JobIntake (jobs parked on their
        dependencies, lost jobs offered again).
    :param watcher: the worker's deadlines.DeadlineWatcher.
    :param accept: see service.Worker.
    """

    def __init__(self, batcher, handlers, lease, intake, watcher, aborting,
                 max_attempts=3, job_timeout=300, accept=None):
        self.batcher = batcher
        self.client = batcher.client
        self.handlers = handlers
        self.lease = lease
        self.intake = intake
        self.watcher = watcher
        self.aborting = aborting
        self.max_attempts = max_attempts
        self.job_timeout = job_timeout
        self.accept = accept
        self.idle = threading.Condition()
        self._running = {}
        # Handlers that this host provides, enabled here or not: a job for
        # one of the others is another worker's; a job for a handler no
        # entry point provides waits for nobody and is refused.
        self.installed = installed_handlers() | set(handlers)

    # --- the running jobs ----------------------------------------------------

    def __len__(self):
        with self.idle:
            return len(self._running)

    def is_running(self, job_id):
        with self.idle:
            return job_id in self._running

    def forget(self, job_id):
        """Drop a job from the running ones; the claim, if it was there."""
        with self.idle:
            claim = self._running.pop(job_id, None)
            if not self._running:
                self.idle.notify_all()
        return claim

    def drain(self, grace):
        """Wait up to *grace* s for the running jobs; abort the rest.

        Returns [(job id, Claim)] of the jobs still running, which the
        caller releases.
        """
        with self.idle:
            self.idle.wait_for(lambda: not self._running, grace)
            self.aborting.set()
            return list(self._running.items())

    # --- one job -------------------------------------------------------------

    def process(self, job_id, kv):
        """Claim and run the job taken as (*job_id*, *kv* or None)."""
        if self.accept is not None and not self.accept(job_id):
            return
        if kv is None:
            # Read with the other slots' transactions: under a backlog,
            # many candidates have no value kept.
            _, (found,) = self.batcher.txn([], [etcd.get(keys.job(job_id))],
                                           key=keys.job(job_id))
            kv = found[0] if found else None
            if kv is None:
                return
        named = records.job_handler(kv.value)
        if named is not None and named not in self.handlers:
            if named not in self.installed:
                self._reject(kv, 'no job handler %s is installed (entry '
                             'points %s: %s)' % (
                                 exceptions.short(named),
                                 handler_base.NAMESPACE,
                                 ', '.join(sorted(self.installed))))
            return     # else another worker runs these, and judges them
        try:
            claim, handler = self._claim(job_id, kv)
        except exceptions.MalformedValue as exc:
            self._reject(kv, str(exc))
            return
        except exceptions.EtcdError:
            raise
        except Exception as exc:
            # Whatever it was, the job must not stay in /jobs/all forever.
            LOG.exception('job %s: unexpected error before its claim',
                          job_id)
            self._reject(kv, 'internal error while reading the job: %s'
                         % describe(exc))
            return
        if claim is None:
            return
        with self.idle:
            if job_id in self._running:
                # Adopted twice (a lost claim's answer, read back by two
                # slots): the one running it keeps it.
                return
            self._running[job_id] = claim
        metrics.job_claimed(claim.job, claim.attempts)
        try:
            self._run_until_recorded(claim, handler)
        except Exception as exc:
            LOG.exception('job %s: unexpected error', job_id)
            self._fail_claimed(claim, exc)
        finally:
            self.forget(job_id)

    def _claim(self, job_id, kv):
        """Return (Claim, handler) of a readable job.

        (None, None) when it is not ours to run now.
        """
        handler, job = records.parse_job(kv.key, kv.value)
        context.enter(job_id, job)
        if self._wait_for_dependencies(job_id, job, kv):
            return None, None
        lease_id = self.lease.lease_id
        if lease_id is None:
            return None, None
        # job_state too: what the job's result adds to, and the last
        # job's /state falls back on.
        prefetch = tuple(self.handlers[handler].prefetch(job)) + (
            keys.job_state(job['resource_type'], job['resource_id']),)
        claim = claims.claim(self.batcher, kv, handler, job, lease_id,
                             prefetch, handler_names=self.installed)
        return claim, handler   # claim is None: someone else has it

    def _wait_for_dependencies(self, job_id, job, kv):
        """True when the job waits for earlier jobs still in /jobs/all.

        Only a job written before this one counts: a job never waits for
        itself or a later job, so no values can make two jobs wait for
        each other forever. A job written in the same transaction (the
        jobs of one plan) counts unless its dependencies lead back to
        this one (see _leads_back).
        """
        deps = sorted(set(job['dependency']) - {job_id})
        if not deps:
            return False
        self.intake.park(job_id, deps, records.project_of(job))
        # Parked before checking, so a deletion in between is not missed.
        _, found = self.batcher.txn(
            [], [etcd.get(keys.job(dep)) for dep in deps],
            key=keys.job(job_id))
        remaining = [dep for dep, kvs in zip(deps, found)
                     if kvs and (kvs[0].create_revision < kv.create_revision
                                 or (kvs[0].create_revision ==
                                     kv.create_revision and
                                     not self._leads_back(job_id, kvs[0])))]
        self.intake.unpark(job_id, [d for d in deps if d not in remaining])
        if remaining:
            LOG.info('job %s waits for %s', job_id, ', '.join(remaining))
            return True
        return False

    def _leads_back(self, job_id, dep_kv):
        """True when *dep_kv*'s dependencies lead back to *job_id*.

        Only through jobs written in the same transaction as both (an
        older one never waits for them); a chain longer than
        MAX_PLAN_HOPS counts as leading back, so that waiting is never
        circular.
        """
        revision, seen, frontier = dep_kv.create_revision, set(), [dep_kv]
        for _ in range(MAX_PLAN_HOPS):
            ahead = []
            for found in frontier:
                seen.add(keys.under(keys.JOBS_ALL, found.key))
                for dep in _dependencies(found.value):
                    if dep == job_id:
                        return True
                    if dep not in seen and dep not in ahead:
                        ahead.append(dep)
            if not ahead:
                return False
            _, reads = self.batcher.txn(
                [], [etcd.get(keys.job(dep)) for dep in ahead],
                key=keys.job(job_id))
            frontier = [kvs[0] for kvs in reads
                        if kvs and kvs[0].create_revision == revision]
        return True

    def _reject(self, kv, reason):
        job_id = keys.under(keys.JOBS_ALL, kv.key)
        if claims.fail_unreadable(self.client, kv, reason):
            metrics.value_rejected()
            LOG.error('job %s rejected: %s', job_id, reason)

    def _run_until_recorded(self, claim, handler):
        """Run a claimed job until its result is recorded.

        When etcd fails meanwhile, the job runs again once etcd answers,
        for as long as the claim is still ours (stop() releases it
        otherwise).
        """
        def on_retry(delay, exc):
            LOG.warning('job %s: etcd failed while running it, retrying '
                        'in %.1f s: %s', claim.job_id, delay, exc)
        try:
            retry.until_stopped(self.aborting, on_retry)(
                self._run, claim, handler)
        except retry.Stopped:
            pass        # stop() releases it

    def _run(self, claim, handler):
        job = claim.job
        action = job['action']
        where = '%s %s' % (job['resource_type'], job['resource_id'])
        LOG.info('job %s claimed (earlier attempts: %d)', claim.job_id,
                 claim.attempts)
        result, error = handler_base.Result(), ''
        started = time.monotonic()
        try:
            if claim.attempts >= self.max_attempts:
                raise exceptions.JobFailed(
                    'job %s for %s was claimed %d times without finishing '
                    '(max_attempts %d)' % (claim.job_id, where,
                                           claim.attempts, self.max_attempts))
            clock = deadlines.JobClock(self.aborting, self.job_timeout)
            self.watcher.watch(claim.job_id, clock,
                               threading.current_thread())
            try:
                result = handler_base.result_of(
                    self.handlers[handler].run(claim, clock))
            finally:
                self.watcher.forget(claim.job_id)
            if self.watcher.is_retired(threading.current_thread()):
                LOG.warning('job %s: its handler returned after the job was '
                            'failed for its deadline; result discarded',
                            claim.job_id)
                return
            worker_state = states.completed(action)
        except claims.ClaimLost as exc:
            metrics.claim_lost()
            LOG.warning('job %s dropped: %s', claim.job_id, exc)
            self._recheck(claim)
            return
        except exceptions.JobInterrupted:
            LOG.info('job %s interrupted by the shutdown', claim.job_id)
            return
        except exceptions.JobFailed as exc:
            result = handler_base.failed_result(exc)
            if job['on_failure'] == 'ignore':
                LOG.warning('job %s failed, ignored (on_failure ignore): %s',
                            claim.job_id, exc)
                worker_state = states.completed(action)
            else:
                LOG.error('job %s failed: %s', claim.job_id, exc)
                worker_state, error = states.failed(action), str(exc)
        except exceptions.EtcdError:
            raise
        except Exception as exc:
            LOG.exception('job %s: handler %s crashed', claim.job_id,
                          handler)
            worker_state = states.failed(action)
            error = '%s: internal error in handler %s: %s' % (
                where, handler, describe(exc))
        error = with_request_id(job, error)
        try:
            failed = states.is_failed(worker_state)
            claim.finish(final_state(claim, worker_state, result, error),
                         result.deletes, failed=failed)
            metrics.job_finished(job, states.is_failed(worker_state),
                                 started)
            LOG.info('job %s finished: %s', claim.job_id, worker_state)
        except claims.ClaimLost as exc:
            metrics.claim_lost()
            LOG.warning('job %s dropped, its result discarded: %s',
                        claim.job_id, exc)
            self._recheck(claim)

    def _recheck(self, claim):
        """Look at a lost job again.

        When our lease expired, its claim went with it while the job was
        ours, so no event will offer it again.
        """
        self.intake.offer(claim.job_id, records.project_of(claim.job))

    # --- failures without a handler's result ---------------------------------

    def _fail_claimed(self, claim, exc):
        """Fail a claimed job after an unexpected error, or give it back.

        A held /jobs/working key would wedge the job and the resource's
        later jobs.
        """
        job = claim.job
        error = with_request_id(job, '%s %s: internal error in job %s: %s'
                                % (job['resource_type'], job['resource_id'],
                                   claim.job_id, describe(exc)))

        def fail():
            try:
                claim.finish(final_state(
                    claim, states.failed(job['action']),
                    handler_base.Result(), error), failed=True)
                metrics.job_finished(job, True)
                LOG.error('job %s failed: %s', claim.job_id, error)
            except exceptions.EtcdError:
                raise
            except claims.ClaimLost:
                metrics.claim_lost()
            except Exception:
                LOG.exception('job %s: cannot record its failure; '
                              'releasing it', claim.job_id)
                claim.release()

        def on_retry(delay, exc):
            LOG.warning('job %s: etcd failed while failing it, retrying '
                        'in %.1f s: %s', claim.job_id, delay, exc)
        try:
            retry.until_stopped(self.aborting, on_retry)(fail)
        except retry.Stopped:
            pass        # stop() releases it

    def fail_overdue(self, claim, clock):
        """Fail a job whose handler did not stop at its deadline."""
        job = claim.job
        error = ('%s %s: %s; its handler did not stop within %s s more, '
                 'so the job failed without it' % (
                     job['resource_type'], job['resource_id'],
                     clock.expired(), self.watcher.grace))
        ignored = job['on_failure'] == 'ignore'
        worker_state = (states.completed if ignored
                        else states.failed)(job['action'])
        try:
            claim.finish(final_state(claim, worker_state,
                                     handler_base.Result(),
                                     '' if ignored else error),
                         failed=not ignored)
        except claims.ClaimLost:
            return
        metrics.job_finished(job, not ignored, clock.started)
        LOG.error('job %s: %s', claim.job_id, error)


def _dependencies(value):
    """The job ids a raw /jobs/all value depends on ([] if unreadable)."""
    try:
        parsed = json.loads(value)
    except (ValueError, TypeError, RecursionError):
        return []
    body = parsed[1] if isinstance(parsed, list) and len(parsed) > 1 \
        else None
    deps = body.get('dependency') if isinstance(body, dict) else None
    if not isinstance(deps, list):
        return []
    return [dep for dep in deps if isinstance(dep, str)]


def installed_handlers():
    """The names of the job handlers that entry points provide here."""
    return {ep.name for ep in metadata.entry_points(
        group=handler_base.NAMESPACE)}


def final_state(claim, worker_state, result, error):
    """The /state value a job's finish writes, if it ends the workflow.

    What the Result leaves None (state_monitoring, heat_outputs) comes
    from what the resource's earlier jobs put in job_state. A job that
    does not end the workflow writes no /state: nothing is read for it.
    """
    job = claim.job
    found = {}
    if job.get('is_last', True) or states.is_failed(worker_state):
        if result.state_monitoring is None or result.heat_outputs is None:
            found = claim.job_state()
    monitoring = result.state_monitoring
    if monitoring is None:
        monitoring = found.get('state_monitoring')
    outputs = result.heat_outputs
    if outputs is None:
        outputs = found.get('heat_outputs')
    return records.state(worker_state, job['version'], monitoring, error,
                         outputs)


def describe(exc):
    """Show an unexpected exception in an error: class, bounded message."""
    text = str(exc)
    if len(text) > 300:
        text = text[:297] + '...'
    return '%s: %s' % (exc.__class__.__name__, text) if text else \
        exc.__class__.__name__


def with_request_id(job, error):
    """Return a job's error with the id of the Heat request of the job.

    That id is what an operator greps heat-api's and the worker's logs for.
    """
    if error and job.get('request_id'):
        return '%s (request %s)' % (error, job['request_id'])
    return error

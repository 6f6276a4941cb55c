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

"""esi-worker: takes jobs from etcd and runs them.

Threads:
- intake: reads /jobs/ once, then watches it from the next revision
  (intake.ListThenWatch); new jobs and released claims become candidates;
- job_slots slot threads: each takes the next candidate of the project
  whose turn it is (see candidates.py), claims it, runs its handler and
  records the result;
- the lease keeper: keeps the lease that binds this worker's claims alive.

_running (job id -> Claim) is changed only under _idle, the condition
stop() waits on; etcd steps are retried by the policies of retry.py.
"""

import os
import socket
import threading
import time

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi.worker import batch
from heat_esi.worker import candidates
from heat_esi.worker import claims
from heat_esi.worker import context
from heat_esi.worker.handlers import base as handler_base
from heat_esi.worker import intake
from heat_esi.worker import metrics
from heat_esi.worker import retry

LOG = logging.getLogger(__name__)

RECONNECT_DELAY = retry.RECONNECT_DELAY
# A handler gets this long past its job's deadline to stop by itself (an
# SNMP request in flight, say) before the job is failed without it.
DEADLINE_GRACE = 10.0
# Candidates keep the values of at most this many jobs; the others keep
# only their key, and a slot reads the job when it takes one: a backlog of
# 100,000 jobs (waiting on others, say) costs a few MB, not every value.
KEEP_VALUES = 1000
# Candidates found without their value are read this many in one request,
# to learn their projects before a slot chooses among them.
READ_BATCH = 32


class Worker(object):

    def __init__(self, client, handlers, job_slots=8, claim_ttl=60,
                 max_attempts=3, shutdown_grace=30, job_timeout=300,
                 deadline_grace=DEADLINE_GRACE, accept=None,
                 max_jobs_per_project=None):
        """Set up a worker; start() starts it.

        :param max_jobs_per_project: the most jobs of one project this
            worker runs at once; 0 for job_slots - 1 (at least 1), which
            leaves a slot for the other projects; None for no limit beyond
            the slots. Either way the slots go to the projects in turn.
        :param accept: callable(job id) -> bool; when given, the jobs it
            refuses are no business of this worker: never claimed, never
            judged (a worker that shares an etcd with others, such as the
            demo's).
        """
        self.client = client
        self.accept = accept
        # The claims, job_states and finishes of concurrent slots go to
        # etcd together (a lone one at once).
        self.batcher = batch.Batcher(client)
        self.handlers = handlers
        self.job_slots = job_slots
        if max_jobs_per_project == 0:
            max_jobs_per_project = max(job_slots - 1, 1)
        self.max_jobs_per_project = max_jobs_per_project
        self.claim_ttl = claim_ttl
        self.max_attempts = max_attempts
        self.shutdown_grace = shutdown_grace
        self.job_timeout = job_timeout
        self.deadline_grace = deadline_grace
        self.lease_id = None
        self.member_id = '%s-%d-%s' % (socket.gethostname(), os.getpid(),
                                       os.urandom(3).hex())
        self.since = time.time()
        self.stopping = threading.Event()     # no new claims
        self.aborting = threading.Event()     # grace over: drop running jobs
        self._cond = threading.Condition()
        self._candidates = candidates.Candidates(max_jobs_per_project)
        # dependency job id -> {job id: its project}
        self._waiting = {}
        self._taken = {}            # slot thread -> project of its job
        # job id -> Claim; changed only under _idle, which stop() waits on
        # until no job runs.
        self._running = {}
        self._idle = threading.Condition()
        self._clocks = {}           # job id -> (JobClock, slot thread)
        self._retired = set()       # slot threads whose job was failed
        self._overdue = {}          # job id -> (Claim, JobClock) to fail
        self._threads = []
        self._intake = intake.ListThenWatch(
            client, keys.JOBS, self._read_all, self._on_event, self.stopping,
            'job watch', on_restart=metrics.watch_restarted)
        self._lease_renewed = None  # time.monotonic() of the last renewal
        # (revision, {job ids deleted at that revision}), see _on_event.
        self._finished = (0, set())

    # --- life cycle --------------------------------------------------------

    def start(self):
        self.lease_id = self.client.grant_lease(self.claim_ttl)
        self._lease_renewed = time.monotonic()
        self._register()
        LOG.info('esi-worker started: %(n)s job slots (at most %(p)s per '
                 'project), lease %(l)x (%(t)s s), handlers %(h)s',
                 {'n': self.job_slots, 'l': self.lease_id,
                  'p': self.max_jobs_per_project or self.job_slots,
                  't': self.claim_ttl, 'h': ', '.join(sorted(self.handlers))})
        targets = [(self._keep_lease, 'lease'), (self._intake.run, 'intake'),
                   (self._watch_deadlines, 'deadlines')]
        targets += [(self._slot, 'slot-%d' % i)
                    for i in range(self.job_slots)]
        for target, name in targets:
            self._spawn(target, name)

    def _spawn(self, target, name):
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    @property
    def watch_live(self):
        """True while the job watch is open."""
        return self._intake.live

    def dead_threads(self):
        """Names of the threads that ended while the worker runs."""
        if self.stopping.is_set():
            return []
        return [t.name for t in self._threads if not t.is_alive()]

    def lease_problem(self):
        """Why the lease is not known to be held, or None."""
        if self.lease_id is None:
            return 'no lease yet'
        if time.monotonic() - self._lease_renewed > self.claim_ttl:
            return 'lease %x not renewed for %.0f s' % (
                self.lease_id, time.monotonic() - self._lease_renewed)
        return None

    def stop(self):
        """Stop claiming, let running jobs finish, release the rest."""
        LOG.info('esi-worker stopping: %d job(s) running',
                 len(self._running))
        self.stopping.set()
        with self._cond:
            self._cond.notify_all()
        with self._idle:
            self._idle.wait_for(lambda: not self._running,
                                self.shutdown_grace)
            self.aborting.set()
            unfinished = list(self._running.items())
        for job_id, claim in unfinished:
            try:
                if claim.release():
                    LOG.warning('released job %s unfinished after the %s s '
                                'grace period', job_id, self.shutdown_grace)
            except exceptions.EtcdError as exc:
                LOG.error('could not release job %s: %s', job_id, exc)
        try:
            self.client.revoke_lease(self.lease_id)
        except exceptions.EtcdError as exc:
            LOG.warning('could not revoke lease %x: %s', self.lease_id, exc)
        LOG.info('esi-worker stopped; its job transactions went to etcd in '
                 '%(r)d request(s) for %(t)d',
                 {'r': self.batcher.requests,
                  't': self.batcher.transactions})

    def member_value(self):
        """What this worker's member key says of it (heat-esi status)."""
        return {'id': self.member_id, 'host': socket.gethostname(),
                'pid': os.getpid(), 'slots': self.job_slots,
                'handlers': sorted(self.handlers), 'since': self.since}

    def _register(self):
        """Tell heat-engine, the monitors and operators that we are alive.

        The member key is under the lease: it goes when the worker does.
        """
        self.client.put(keys.MEMBERS + self.member_id, self.member_value(),
                        lease=self.lease_id)

    def _keep_lease(self):
        # Refreshed every third of the TTL, each member given at most that
        # long to answer: a failover to another member still fits in the
        # TTL; a failed refresh is retried sooner.
        interval = max(self.claim_ttl / 3.0, 0.5)
        timeout = min(self.client.timeout, interval)
        wait = interval
        while not self.aborting.wait(wait):
            wait = interval
            started, result = time.monotonic(), 'error'
            try:
                ttl = self.client.refresh_lease(self.lease_id,
                                                timeout=timeout)
                result = 'ok' if ttl > 0 else 'expired'
                if ttl <= 0:
                    # Our claims are void; their fenced writes will be
                    # refused. New claims need a live lease.
                    old = self.lease_id
                    self.lease_id = self.client.grant_lease(self.claim_ttl)
                    LOG.warning('lease %x expired; claims under it are '
                                'lost, new lease %x', old, self.lease_id)
                    self._register()
                self._lease_renewed = time.monotonic()
            except exceptions.EtcdError as exc:
                LOG.warning('cannot refresh lease %x: %s', self.lease_id, exc)
                wait = min(interval, 0.5)
            metrics.lease_renewed(result, time.monotonic() - started)

    # --- intake -------------------------------------------------------------

    def _read_all(self):
        # Keys only: a slot reads the value of the job it takes.
        kvs, revision = self.client.get_prefix(keys.JOBS, keys_only=True)
        working = {keys.under(keys.JOBS_WORKING, kv.key) for kv in kvs
                   if kv.key.startswith(keys.JOBS_WORKING)}
        with self._cond:
            # Their projects are learnt when slots read them (READ_BATCH).
            self._candidates.clear()
            for kv in kvs:
                if kv.key.startswith(keys.JOBS_ALL):
                    job_id = keys.under(keys.JOBS_ALL, kv.key)
                    if job_id not in working and job_id not in self._running:
                        self._candidates.add(job_id)
            found = len(self._candidates)
            self._cond.notify_all()
        LOG.info('found %d unclaimed job(s) at revision %s', found,
                 revision)
        return revision

    def _on_event(self, event):
        key = event.kv.key
        project = candidates.UNKNOWN
        if event.type != etcd.DELETE and event.kv.version == 1 and \
                key.startswith(keys.JOBS_ALL):
            # A new job: its project decides its queue. Parsed before the
            # slots' lock is taken.
            project = records.job_project(event.kv.value)
        with self._cond:
            if key.startswith(keys.JOBS_ALL):
                job_id = keys.under(keys.JOBS_ALL, key)
                if event.type == etcd.DELETE:
                    self._candidates.discard(job_id)
                    self._note_finished(event.kv.mod_revision, job_id)
                    waiters = self._waiting.pop(job_id, {})
                    for waiter, project in waiters.items():
                        self._candidates.add(waiter, None, project)
                    if len(waiters) > 1:
                        self._cond.notify_all()
                elif event.kv.version == 1:
                    self._candidates.add(
                        job_id,
                        event.kv if self._candidates.kept < KEEP_VALUES
                        else None, project)
                else:
                    # Rewritten by a claim: no longer a candidate.
                    self._candidates.discard(job_id)
            elif key.startswith(keys.JOBS_WORKING):
                job_id = keys.under(keys.JOBS_WORKING, key)
                if event.type == etcd.DELETE and job_id not in self._running \
                        and not self._finished_at(event.kv.mod_revision,
                                                  job_id):
                    # A claim expired or was released; if the job is still
                    # there, it is up for grabs (the claim re-reads it).
                    self._candidates.add(job_id)
            else:
                return
            self._cond.notify()

    def _note_finished(self, revision, job_id):
        # A finish deletes the job, then its claim, in one transaction: the
        # claim's deletion at the same revision frees no job.
        if revision != self._finished[0]:
            self._finished = (revision, set())
        self._finished[1].add(job_id)

    def _finished_at(self, revision, job_id):
        return revision == self._finished[0] and job_id in self._finished[1]

    # --- slots --------------------------------------------------------------

    def _take(self):
        """Return what the calling slot does next, or None when stopping.

        ('read', [job ids]): candidates whose projects are not known yet,
        to be read first; ('run', (job id, KV or None, project)): the job
        of the project whose turn it is (see candidates.py), which holds
        one of that project's shares until _release_slot().
        """
        with self._cond:
            while not self.stopping.is_set():
                ids = self._candidates.unread(READ_BATCH)
                if ids:
                    return 'read', ids
                taken = self._candidates.take()
                if taken is not None:
                    self._taken[threading.current_thread()] = taken[2]
                    return 'run', taken
                # Nothing, or only projects at max_jobs_per_project: a new
                # job or the end of one wakes us.
                self._cond.wait()
            return None

    def _release_slot(self, thread):
        """The job taken by *thread* no longer counts for its project."""
        with self._cond:
            if thread in self._taken:
                self._candidates.done(self._taken.pop(thread))
                self._cond.notify()

    def _read_candidates(self, ids):
        """Read candidates found without their value; file them by project.

        A job found gone is dropped. Those that could not be read are
        unread candidates again (etcd failed) or, after any other error,
        go to the queue of the jobs without a project, where a slot reads
        and judges each.
        """
        fallback = None
        try:
            _, found = self.batcher.txn(
                [], [etcd.get(keys.job(job_id)) for job_id in ids],
                key=keys.job(ids[0]))
            with self._cond:
                for job_id, kvs in zip(ids, found):
                    if not kvs:
                        self._candidates.discard(job_id)
                        continue
                    keep = self._candidates.kept < KEEP_VALUES
                    self._candidates.place(
                        job_id, records.job_project(kvs[0].value),
                        kvs[0] if keep else None)
        except exceptions.EtcdError:
            fallback = candidates.UNKNOWN
            raise
        finally:
            with self._cond:
                for job_id in ids:
                    self._candidates.place(job_id, fallback)
                self._cond.notify_all()

    def _slot(self):
        while not self.stopping.is_set():
            if threading.current_thread() in self._retired:
                # Its job was failed for it, and another thread took its
                # place (see _watch_deadlines).
                self._retired.discard(threading.current_thread())
                self._threads.remove(threading.current_thread())
                return
            task = self._take()
            if task is None:
                return
            what, taken = task
            job_id = project = None
            try:
                if what == 'read':
                    self._read_candidates(taken)
                    continue
                job_id, kv, project = taken
                self._process(job_id, kv)
            except exceptions.EtcdError as exc:
                if job_id is None:
                    LOG.warning('cannot read %d job(s) found at start or '
                                'freed, retrying: %s', len(taken), exc)
                else:
                    LOG.warning('job %s: etcd error, leaving it to be '
                                'retried: %s', job_id, exc)
                    with self._cond:
                        self._candidates.add(job_id, None, project)
                self.stopping.wait(RECONNECT_DELAY[0])
            except Exception:
                if job_id is None:
                    LOG.exception('unexpected error while reading %d job(s) '
                                  'found at start or freed', len(taken))
                else:
                    LOG.exception('job %s: unexpected error', job_id)
            finally:
                self._release_slot(threading.current_thread())
                context.leave()

    def _process(self, job_id, kv):
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
            return     # another worker runs these, and judges them
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
                         % _describe(exc))
            return
        if claim is None:
            return
        metrics.job_claimed(claim.job, claim.attempts)
        with self._idle:
            self._running[job_id] = claim
        try:
            self._run_until_recorded(claim, handler)
        except Exception as exc:
            LOG.exception('job %s: unexpected error', job_id)
            self._fail_claimed(claim, exc)
        finally:
            self._forget_running(job_id)

    def _forget_running(self, job_id):
        """Drop a job from the running ones; the claim, if it was there."""
        with self._idle:
            claim = self._running.pop(job_id, None)
            if not self._running:
                self._idle.notify_all()
        return claim

    def _claim(self, job_id, kv):
        """Return (Claim, handler) of a readable job.

        (None, None) when it is not ours to run now.
        """
        handler, job = records.parse_job(kv.key, kv.value)
        context.enter(job_id, job)
        if self._wait_for_dependencies(job_id, job, kv):
            return None, None
        if self.lease_id is None:
            return None, None
        claim = claims.claim(self.batcher, kv, handler, job, self.lease_id,
                             self.handlers[handler].prefetch(job))
        return claim, handler   # claim is None: someone else has it

    def _reject(self, kv, reason):
        job_id = keys.under(keys.JOBS_ALL, kv.key)
        if claims.fail_unreadable(self.client, kv, reason):
            metrics.value_rejected()
            LOG.error('job %s rejected: %s', job_id, reason)

    def _fail_claimed(self, claim, exc):
        """Fail a claimed job after an unexpected error, or give it back.

        A held /jobs/working key would wedge the job and the resource's
        later jobs.
        """
        job = claim.job
        error = _with_request_id(job, '%s %s: internal error in job %s: %s'
                                 % (job['resource_type'], job['resource_id'],
                                    claim.job_id, _describe(exc)))

        def fail():
            try:
                claim.finish(records.state(
                    states.failed(job['action']), job['version'],
                    error=error))
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

    def _watch_deadlines(self):
        """Fail the jobs whose handler ignores their deadline.

        A handler normally stops at its job's deadline (JobClock raises).
        One that does not, DEADLINE_GRACE later, has its job failed here,
        and its slot gets a new thread: the job is never held, and the
        worker keeps its job_slots.
        """
        interval = min(1.0, max(self.deadline_grace / 2, 0.05))
        while not self.stopping.wait(interval):
            now = time.monotonic()
            for job_id, (clock, thread) in list(self._clocks.items()):
                if now < clock.started + clock.timeout + self.deadline_grace:
                    continue
                if self._clocks.pop(job_id, None) is None:
                    continue        # it just ended
                claim = self._forget_running(job_id)
                self._retired.add(thread)
                # Its project's share goes to the new thread: a handler
                # that never returns must not hold it forever.
                self._release_slot(thread)
                self._spawn(self._slot, '%s+' % thread.name)
                if claim is not None:
                    self._overdue[job_id] = (claim, clock)
            for job_id, (claim, clock) in list(self._overdue.items()):
                try:
                    self._fail_overdue(claim, clock)
                except exceptions.EtcdError as exc:
                    LOG.warning('job %s: cannot fail it past its deadline '
                                'yet: %s', job_id, exc)
                    continue        # next round
                del self._overdue[job_id]

    def _fail_overdue(self, claim, clock):
        job = claim.job
        error = ('%s %s: %s; its handler did not stop within %s s more, '
                 'so the job failed without it' % (
                     job['resource_type'], job['resource_id'],
                     clock.expired(), self.deadline_grace))
        ignored = job['on_failure'] == 'ignore'
        worker_state = (states.completed if ignored
                        else states.failed)(job['action'])
        try:
            claim.finish(records.state(worker_state, job['version'],
                                       error='' if ignored else error))
        except claims.ClaimLost:
            return
        metrics.job_finished(job, not ignored, clock.started)
        LOG.error('job %s: %s', claim.job_id, error)

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

    def _wait_for_dependencies(self, job_id, job, kv):
        """True when the job waits for earlier jobs still in /jobs/all.

        Only a job written before this one counts: a job never waits for
        itself or a later job, so no values can make two jobs wait for
        each other forever.
        """
        deps = sorted(set(job['dependency']) - {job_id})
        if not deps:
            return False
        project = records.project_of(job)
        with self._cond:
            for dep in deps:
                self._waiting.setdefault(dep, {})[job_id] = project
        # Parked before checking, so a deletion in between is not missed.
        _, found = self.batcher.txn(
            [], [etcd.get(keys.job(dep)) for dep in deps],
            key=keys.job(job_id))
        remaining = [dep for dep, kvs in zip(deps, found)
                     if kvs and kvs[0].create_revision < kv.create_revision]
        with self._cond:
            for dep in deps:
                waiters = self._waiting.get(dep)
                if dep not in remaining and waiters is not None:
                    waiters.pop(job_id, None)
                    if not waiters:
                        # Else each job that named a finished job would
                        # leave an entry behind, for good.
                        del self._waiting[dep]
        if remaining:
            LOG.info('job %s waits for %s', job_id, ', '.join(remaining))
            return True
        return False

    def _run(self, claim, handler):
        job = claim.job
        action, version = job['action'], job['version']
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
            clock = JobClock(self.aborting, self.job_timeout)
            self._clocks[claim.job_id] = (clock,
                                          threading.current_thread())
            try:
                result = handler_base.result_of(
                    self.handlers[handler].run(claim, clock))
            finally:
                self._clocks.pop(claim.job_id, None)
            if threading.current_thread() in self._retired:
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
                where, handler, _describe(exc))
        error = _with_request_id(job, error)
        try:
            claim.finish(records.state(worker_state, version,
                                       result.state_monitoring, error,
                                       result.heat_outputs), result.deletes)
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
        with self._cond:
            self._candidates.add(claim.job_id, None,
                                 records.project_of(claim.job))
            self._cond.notify()


def _describe(exc):
    """Show an unexpected exception in an error: class, bounded message."""
    text = str(exc)
    if len(text) > 300:
        text = text[:297] + '...'
    return '%s: %s' % (exc.__class__.__name__, text) if text else \
        exc.__class__.__name__


class JobClock(object):
    """What a handler waits on: the worker's shutdown and the deadline.

    ``wait(seconds)`` is True when the worker is shutting down (the job is
    released); when the job's deadline comes first, it raises JobTimedOut,
    which fails the job. The deadline is ``[worker] job_timeout`` after the
    claim unless the handler sets another (a template element's
    ``job_timeout``).
    """

    def __init__(self, aborting, timeout):
        self.aborting = aborting
        self.started = time.monotonic()
        self.timeout = timeout
        self.source = '[worker] job_timeout'

    def set_timeout(self, timeout, source):
        self.timeout = timeout
        self.source = source

    def is_set(self):
        return self.aborting.is_set()

    def expired(self):
        """What the error of a job past its deadline says."""
        return ('job deadline passed: still running after %s s (%s)'
                % (self.timeout, self.source))

    def _timed_out(self):
        return exceptions.JobTimedOut(self.expired())

    def check(self):
        """Raise JobTimedOut when the deadline has passed."""
        if time.monotonic() >= self.started + self.timeout:
            raise self._timed_out()

    def wait(self, seconds):
        left = self.started + self.timeout - time.monotonic()
        if seconds < left:
            return self.aborting.wait(seconds)
        if self.aborting.wait(max(left, 0)):
            return True
        raise self._timed_out()


def _with_request_id(job, error):
    """Return a job's error with the id of the Heat request of the job.

    That id is what an operator greps heat-api's and the worker's logs for.
    """
    if error and job.get('request_id'):
        return '%s (request %s)' % (error, job['request_id'])
    return error

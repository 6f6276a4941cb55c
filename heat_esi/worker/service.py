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

The Worker is the composition of four parts, each owning its state under
its own lock:

- the lease keeper (lease.py): the lease that binds the claims, the
  member key under it, its refresh (thread ``lease``);
- the intake (intake.py): reads /jobs/ once, then watches it from the next
  revision (thread ``intake``); new jobs and released claims become
  candidates, which job_slots slot threads take in project turns (see
  candidates.py);
- the deadline watcher (deadlines.py): fails the jobs whose handler
  ignores its deadline, and gives their slot a new thread (thread
  ``deadlines``);
- the runner (runner.py): a slot thread claims the job it took, runs its
  handler and records the result.

start() grants the lease and registers the member before it starts any
thread, and returns once every long-lived thread runs; stop() stops the
claims, lets the running jobs finish for shutdown_grace, releases the
rest and revokes the lease.

The daemon's lifecycle (Signals, installed by cmd/worker.py): SIGTERM and
SIGINT stop it gracefully, SIGHUP re-reads its configuration files for
the mutable options (``debug``: oslo.log's mutate hook sets the log level;
conf.mutate_config_files). It is a plain signal handler on the standard
library, not oslo.service: a ServiceLauncher runs the service in a forked
child under a parent process (measured: 66 + 51 MB against 63 MB for one
process), for restarts and workers that systemd and [worker] job_slots
already provide; the handlers only set events, and the main thread acts on
them, outside any lock a signal could interrupt.
"""

import os
import signal
import socket
import threading
import time

from oslo_log import log as logging

from heat_esi import exceptions
from heat_esi import keys
from heat_esi.worker import batch
from heat_esi.worker import context
from heat_esi.worker import deadlines
from heat_esi.worker import intake
from heat_esi.worker import lease
from heat_esi.worker import metrics
from heat_esi.worker import retry
from heat_esi.worker import runner

LOG = logging.getLogger(__name__)

RECONNECT_DELAY = retry.RECONNECT_DELAY
DEADLINE_GRACE = deadlines.DEADLINE_GRACE
KEEP_VALUES = intake.KEEP_VALUES
# Candidates found without their value are read this many in one request,
# to learn their projects before a slot chooses among them.
READ_BATCH = 32
# Where JobClock lived before the split; handlers' tests still use it.
JobClock = deadlines.JobClock


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
        self.member_id = '%s-%d-%s' % (socket.gethostname(), os.getpid(),
                                       os.urandom(3).hex())
        self.since = time.time()
        self.stopping = threading.Event()     # no new claims
        self.aborting = threading.Event()     # grace over: drop running jobs
        # Changed by start() and by the deadline watcher (a new slot).
        self._threads_lock = threading.Lock()
        self._threads = []
        self.lease = lease.LeaseKeeper(client, claim_ttl, self.member_id,
                                       self.member_value, self.aborting)
        self.watcher = deadlines.DeadlineWatcher(
            deadline_grace, self.stopping, self._on_overdue,
            self._fail_overdue)
        self.intake = intake.JobIntake(
            client, lambda job_id: self.runner.is_running(job_id),
            max_jobs_per_project)
        self.runner = runner.Runner(
            self.batcher, handlers, self.lease, self.intake, self.watcher,
            self.aborting, max_attempts=max_attempts,
            job_timeout=job_timeout, accept=accept)
        self._watch = intake.ListThenWatch(
            client, keys.JOBS, self.intake.read_all,
            self.intake.on_event, self.stopping, 'job watch',
            on_restart=metrics.watch_restarted)

    # The intake's state, by the names the worker's tests know.
    _candidates = property(lambda self: self.intake.candidates)
    _waiting = property(lambda self: self.intake.waiting)
    _taken = property(lambda self: self.intake.taken)

    @property
    def lease_id(self):
        return self.lease.lease_id

    # --- life cycle --------------------------------------------------------

    def start(self):
        # The lease and the member key come first: a claim needs both.
        lease_id = self.lease.start()
        targets = [(self.lease.run, 'lease'), (self._watch.run, 'intake'),
                   (self.watcher.run, 'deadlines')]
        targets += [(self._slot, 'slot-%d' % i)
                    for i in range(self.job_slots)]
        for target, name in targets:
            self._spawn(target, name)
        # Logged once every thread runs: "started" means ready to work.
        LOG.info('esi-worker started: %(n)s job slots (at most %(p)s per '
                 'project), lease %(l)x (%(t)s s), handlers %(h)s',
                 {'n': self.job_slots, 'l': lease_id,
                  'p': self.max_jobs_per_project or self.job_slots,
                  't': self.claim_ttl, 'h': ', '.join(sorted(self.handlers))})

    def _spawn(self, target, name):
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._threads_lock:
            self._threads.append(thread)
        thread.start()

    @property
    def watch_live(self):
        """True while the job watch is open."""
        return self._watch.live

    def dead_threads(self):
        """Names of the threads that ended while the worker runs."""
        if self.stopping.is_set():
            return []
        with self._threads_lock:
            threads = list(self._threads)
        return [t.name for t in threads if not t.is_alive()]

    def lease_problem(self):
        """Why the lease is not known to be held, or None."""
        return self.lease.problem()

    def stop(self):
        """Stop claiming, let running jobs finish, release the rest."""
        LOG.info('esi-worker stopping: %d job(s) running', len(self.runner))
        self.stopping.set()
        self.intake.wake_all()
        unfinished = self.runner.drain(self.shutdown_grace)
        for job_id, claim in unfinished:
            try:
                if claim.release():
                    LOG.warning('released job %s unfinished after the %s s '
                                'grace period', job_id, self.shutdown_grace)
            except exceptions.EtcdError as exc:
                LOG.error('could not release job %s: %s', job_id, exc)
        self.lease.revoke()
        LOG.info('esi-worker stopped; its job transactions went to etcd in '
                 '%(r)d request(s) for %(t)d',
                 {'r': self.batcher.requests,
                  't': self.batcher.transactions})

    def member_value(self):
        """What this worker's member key says of it (heat-esi status)."""
        return {'id': self.member_id, 'host': socket.gethostname(),
                'pid': os.getpid(), 'slots': self.job_slots,
                'handlers': sorted(self.handlers), 'since': self.since}

    # --- slots --------------------------------------------------------------

    def _slot(self):
        me = threading.current_thread()
        while not self.stopping.is_set():
            if self.watcher.leave(me):
                # Its job was failed for it, and another thread took its
                # place (see _on_overdue).
                with self._threads_lock:
                    self._threads.remove(me)
                return
            task = self.intake.take(self.stopping, READ_BATCH)
            if task is None:
                return
            what, taken = task
            job_id = project = None
            try:
                if what == 'read':
                    self.intake.read(self.batcher, taken)
                    continue
                job_id, kv, project = taken
                self.runner.process(job_id, kv)
            except exceptions.EtcdError as exc:
                if job_id is None:
                    LOG.warning('cannot read %d job(s) found at start or '
                                'freed, retrying: %s', len(taken), exc)
                else:
                    LOG.warning('job %s: etcd error, leaving it to be '
                                'retried: %s', job_id, exc)
                    self.intake.offer(job_id, project)
                self.stopping.wait(RECONNECT_DELAY[0])
            except Exception:
                if job_id is None:
                    LOG.exception('unexpected error while reading %d job(s) '
                                  'found at start or freed', len(taken))
                else:
                    LOG.exception('job %s: unexpected error', job_id)
            finally:
                self.intake.release_slot(me)
                context.leave()

    # --- deadlines -----------------------------------------------------------

    def _on_overdue(self, job_id, thread):
        """A job's handler ignores its deadline: free its slot.

        Returns its claim, for the watcher to fail, or None if it ended.
        """
        claim = self.runner.forget(job_id)
        # Its project's share goes to the new thread: a handler that
        # never returns must not hold it forever.
        self.intake.release_slot(thread)
        self._spawn(self._slot, '%s+' % thread.name)
        return claim

    def _fail_overdue(self, claim, clock):
        self.runner.fail_overdue(claim, clock)


class Signals(object):
    """The daemon's signals: SIGTERM and SIGINT stop it, SIGHUP reloads.

    The handlers only set events; the main thread waits in wait(), which
    re-reads the configuration files on SIGHUP (see the module docstring).
    """

    def __init__(self, conf):
        self.conf = conf
        self.stop = threading.Event()
        self.reload = threading.Event()
        self._wake = threading.Event()

    def install(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        return self

    def _on_stop(self, signum, frame):
        self.stop.set()
        self._wake.set()

    def _on_hup(self, signum, frame):
        self.reload.set()
        self._wake.set()

    def wait(self, seconds):
        """Wait up to *seconds* for a signal; True once told to stop."""
        self._wake.wait(seconds)
        self._wake.clear()
        # A signal after the clear sets its flag before _wake: seen here,
        # or at the next wait, which returns at once.
        if self.reload.is_set():
            self.reload.clear()
            self.reload_config()
        return self.stop.is_set()

    def reload_config(self):
        """Re-read the configuration files; apply the mutable options."""
        LOG.info('SIGHUP: re-reading the configuration files')
        try:
            self.conf.mutate_config_files()
        except Exception as exc:
            # The running configuration stays; the daemon goes on. The
            # error's text may quote a line of the file (a password, say):
            # only where it is and what kind of error is said.
            where = getattr(exc, 'config_file', None)
            LOG.error('SIGHUP: configuration not reloaded, the running one '
                      'stays: %s%s', exc.__class__.__name__,
                      ' in %s' % where if where else '')
            return
        LOG.info('configuration reloaded: debug is %s',
                 'on' if self.conf.debug else 'off')
        LOG.debug('debug logging is on')

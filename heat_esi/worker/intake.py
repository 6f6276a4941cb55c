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

"""The worker's intake: the jobs it may run, and how it learns of them.

ListThenWatch is one list-then-watch reader of an etcd prefix (jobs, poll
requests); JobIntake is what the worker's reader of /jobs/ feeds: the
candidates, the jobs parked until their dependencies are gone, and the
project share each slot thread holds.

ListThenWatch:

A reader reads everything under its prefix once (*read_all*, which
returns the revision it read at), then follows a watch from the next
revision, giving each event to *on_event*. When the watch falls behind
etcd's compaction it reads everything again; when etcd fails it resumes
from the last revision seen, after a pause that doubles up to a cap and
starts over once events come again.

Threads: run() is the body of one thread, the reader's; it alone writes
``live`` (a bool, read by others without a lock: a stale read only
delays /healthz by one check) and its revision. *read_all* and
*on_event* run in that thread; the state they change is theirs to guard.
"""

import threading

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi.worker import candidates
from heat_esi.worker import claims
from heat_esi.worker import retry

LOG = logging.getLogger(__name__)

# Candidates keep the values of at most this many jobs; the others keep
# only their key, and a slot reads the job when it takes one: a backlog of
# 100,000 jobs (waiting on others, say) costs a few MB, not every value.
KEEP_VALUES = 1000


class ListThenWatch(object):
    """Everything under *prefix*, then every change to it, until *stop*."""

    def __init__(self, client, prefix, read_all, on_event, stop, name,
                 delay=retry.RECONNECT_DELAY, on_restart=None):
        self.client = client
        self.prefix = prefix
        self.read_all = read_all
        self.on_event = on_event
        self.stop = stop
        self.name = name            # "job watch": what the log calls it
        self.delay = delay
        self.on_restart = on_restart or (lambda why: None)
        self.live = False           # a watch is open (or being opened)

    def run(self):
        revision = None
        delay = self.delay[0]
        while not self.stop.is_set():
            try:
                if revision is None:
                    revision = self.read_all()
                self.live = True
                for event in self.client.watch(self.prefix, revision + 1):
                    revision = event.kv.mod_revision
                    self.on_event(event)
                    delay = self.delay[0]
                    if self.stop.is_set():
                        return
            except exceptions.WatchCompacted as exc:
                self.live = False
                self.on_restart('compacted')
                LOG.warning('%s fell behind compaction (%s); re-reading %s',
                            self.name, exc, self.prefix)
                revision = None
            except exceptions.EtcdError as exc:
                self.live = False
                self.on_restart('error')
                LOG.warning('%s interrupted, resuming from revision %s in '
                            '%.1f s: %s', self.name, revision, delay, exc)
                self.stop.wait(delay)
                delay = min(delay * 2, self.delay[1])
            except Exception:
                self.live = False
                LOG.exception('unexpected error in the %s', self.name)
                self.stop.wait(delay)


class JobIntake(object):
    """The jobs of /jobs/ that this worker may run, and who takes which.

    read_all() and on_event() are the job watch's callbacks; slot threads
    take() what to do next and release_slot() when done. The candidates,
    the parked jobs (dependency job id -> {job id: project}), the share
    each slot thread holds (thread -> project) and the last finishes are
    this object's, under ``cond``, which take() waits on.

    :param running: callable(job id) -> True while this worker runs it.
    :param max_jobs_per_project: see candidates.Candidates.
    """

    def __init__(self, client, running, max_jobs_per_project=None):
        self.client = client
        self.running = running
        self.cond = threading.Condition()
        self.candidates = candidates.Candidates(max_jobs_per_project)
        self.waiting = {}
        self.taken = {}
        # (revision, {job ids deleted at that revision}), see on_event.
        self._finished = (0, set())

    def wake_all(self):
        """Wake every slot waiting in take() (the worker stops)."""
        with self.cond:
            self.cond.notify_all()

    # --- the job watch -------------------------------------------------------

    def read_all(self):
        """Read every job key; return the revision read at."""
        # Keys only: a slot reads the value of the job it takes.
        kvs, revision = self.client.get_prefix(keys.JOBS, keys_only=True)
        working = {keys.under(keys.JOBS_WORKING, kv.key) for kv in kvs
                   if kv.key.startswith(keys.JOBS_WORKING)}
        with self.cond:
            # Their projects are learnt when slots read them (READ_BATCH).
            self.candidates.clear()
            for kv in kvs:
                if kv.key.startswith(keys.JOBS_ALL):
                    job_id = keys.under(keys.JOBS_ALL, kv.key)
                    # A claim held by us, unknown to us, is ours to adopt
                    # (see on_event).
                    free = job_id not in working or claims.unresolved(job_id)
                    if free and not self.running(job_id):
                        self.candidates.add(job_id)
            found = len(self.candidates)
            self.cond.notify_all()
        LOG.info('found %d unclaimed job(s) at revision %s', found,
                 revision)
        return revision

    def on_event(self, event):
        """File one change under /jobs/."""
        key = event.kv.key
        project = candidates.UNKNOWN
        if event.type != etcd.DELETE and event.kv.version == 1 and \
                key.startswith(keys.JOBS_ALL):
            # A new job: its project decides its queue. Parsed before the
            # slots' lock is taken.
            project = records.job_project(event.kv.value)
        with self.cond:
            # Slots are woken only for a job they may take: the events of
            # a claim and of a finish (four of a job's five) leave them
            # asleep.
            wake = False
            if key.startswith(keys.JOBS_ALL):
                job_id = keys.under(keys.JOBS_ALL, key)
                if event.type == etcd.DELETE:
                    self.candidates.discard(job_id)
                    self._note_finished(event.kv.mod_revision, job_id)
                    waiters = self.waiting.pop(job_id, {})
                    for waiter, project in waiters.items():
                        self.candidates.add(waiter, None, project)
                    if len(waiters) > 1:
                        self.cond.notify_all()
                    wake = len(waiters) == 1
                elif event.kv.version == 1:
                    self.candidates.add(
                        job_id,
                        event.kv if self.candidates.kept < KEEP_VALUES
                        else None, project)
                    wake = True
                elif claims.unresolved(job_id):
                    # Perhaps our own claim, landed after its read-back
                    # found nothing: a slot claims it again, finds our
                    # claim id, and adopts it (else the job would stay
                    # held under our lease, run by nobody).
                    self.candidates.add(job_id)
                    wake = True
                else:
                    # Written again by a claim: no longer a candidate.
                    self.candidates.discard(job_id)
            elif key.startswith(keys.JOBS_WORKING):
                job_id = keys.under(keys.JOBS_WORKING, key)
                if event.type == etcd.DELETE and not self.running(job_id) \
                        and not self._finished_at(event.kv.mod_revision,
                                                  job_id):
                    # A claim expired or was released; if the job is still
                    # there, it is up for grabs (the claim re-reads it).
                    self.candidates.add(job_id)
                    wake = True
            if wake:
                self.cond.notify()

    def _note_finished(self, revision, job_id):
        # A finish deletes the job, then its claim, in one transaction: the
        # claim's deletion at the same revision frees no job.
        if revision != self._finished[0]:
            self._finished = (revision, set())
        self._finished[1].add(job_id)

    def _finished_at(self, revision, job_id):
        return revision == self._finished[0] and job_id in self._finished[1]

    # --- the slots -----------------------------------------------------------

    def take(self, stopping, read_batch):
        """Return what the calling slot does next, or None when stopping.

        ('read', [job ids]): candidates whose projects are not known yet,
        to be read first (see read()); ('run', (job id, KV or None,
        project)): the job of the project whose turn it is (see
        candidates.py), which holds one of that project's shares until
        release_slot().
        """
        with self.cond:
            while not stopping.is_set():
                ids = self.candidates.unread(read_batch)
                if ids:
                    return 'read', ids
                taken = self.candidates.take()
                if taken is not None:
                    self.taken[threading.current_thread()] = taken[2]
                    return 'run', taken
                # Nothing, or only projects at max_jobs_per_project: a new
                # job or the end of one wakes us.
                self.cond.wait()
            return None

    def release_slot(self, thread):
        """The job taken by *thread* no longer counts for its project."""
        with self.cond:
            if thread in self.taken:
                self.candidates.done(self.taken.pop(thread))
                self.cond.notify()

    def read(self, batcher, ids):
        """Read candidates found without their value; file them by project.

        A job found gone is dropped. Those that could not be read are
        unread candidates again (etcd failed) or, after any other error,
        go to the queue of the jobs without a project, where a slot reads
        and judges each.
        """
        fallback = None
        try:
            _, found = batcher.txn(
                [], [etcd.get(keys.job(job_id)) for job_id in ids],
                key=keys.job(ids[0]))
            with self.cond:
                for job_id, kvs in zip(ids, found):
                    if not kvs:
                        self.candidates.discard(job_id)
                        continue
                    keep = self.candidates.kept < KEEP_VALUES
                    self.candidates.place(
                        job_id, records.job_project(kvs[0].value),
                        kvs[0] if keep else None)
        except exceptions.EtcdError:
            fallback = candidates.UNKNOWN
            raise
        finally:
            with self.cond:
                for job_id in ids:
                    self.candidates.place(job_id, fallback)
                self.cond.notify_all()

    def offer(self, job_id, project):
        """Make a job a candidate again (etcd failed, its claim was lost)."""
        with self.cond:
            self.candidates.add(job_id, None, project)
            self.cond.notify()

    # --- dependencies --------------------------------------------------------

    def park(self, job_id, deps, project):
        """Wake *job_id* again when any of *deps* is deleted."""
        with self.cond:
            for dep in deps:
                self.waiting.setdefault(dep, {})[job_id] = project

    def unpark(self, job_id, deps):
        """*job_id* no longer waits for *deps* (found gone)."""
        with self.cond:
            for dep in deps:
                waiters = self.waiting.get(dep)
                if waiters is not None:
                    waiters.pop(job_id, None)
                    if not waiters:
                        # Else each job that named a finished job would
                        # leave an entry behind, for good.
                        del self.waiting[dep]

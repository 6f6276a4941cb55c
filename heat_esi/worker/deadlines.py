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

"""Job deadlines: the clock a handler waits on, and the deadline watcher.

A handler normally stops at its job's deadline (its JobClock raises). One
that does not, a grace period later, has its job failed by the watcher,
and its slot thread is retired: another thread takes the slot, so the job
is never held and the worker keeps its job_slots.

The watcher's clocks (job id -> clock and slot thread), retired threads
and overdue jobs are its own, under its lock; run() is the body of its
thread.
"""

import threading
import time

from oslo_log import log as logging

from heat_esi import exceptions

LOG = logging.getLogger(__name__)

# A handler gets this long past its job's deadline to stop by itself (an
# SNMP request in flight, say) before the job is failed without it.
DEADLINE_GRACE = 10.0


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


class DeadlineWatcher(object):
    """Fails the jobs whose handler ignores their deadline.

    :param stop: the event that ends run().
    :param on_overdue: callable(job id, thread) -> the job's Claim or None,
        called once a job is past its deadline and grace: the worker
        drops the job from its running ones and gives the slot of
        *thread* to a new thread.
    :param fail: callable(claim, clock) that records the overdue job's
        failure; an EtcdError is tried again the next round.
    """

    def __init__(self, grace, stop, on_overdue, fail):
        self.grace = grace
        self.stop = stop
        self.on_overdue = on_overdue
        self.fail = fail
        self._lock = threading.Lock()
        self._clocks = {}           # job id -> (JobClock, slot thread)
        self._retired = set()       # slot threads whose job was failed
        self._overdue = {}          # job id -> (Claim, JobClock) to fail

    def watch(self, job_id, clock, thread):
        """Watch *clock* of the job *thread* runs, until forget()."""
        with self._lock:
            self._clocks[job_id] = (clock, thread)

    def forget(self, job_id):
        """The job's handler returned: nothing to watch."""
        with self._lock:
            self._clocks.pop(job_id, None)

    def is_retired(self, thread):
        """True when the job of *thread* was failed without it."""
        with self._lock:
            return thread in self._retired

    def leave(self, thread):
        """*thread* ends; True if it was retired (another took its slot)."""
        with self._lock:
            if thread in self._retired:
                self._retired.discard(thread)
                return True
            return False

    def _past_grace(self):
        """Take the jobs past their deadline and grace off the watch."""
        now = time.monotonic()
        late = []
        with self._lock:
            for job_id, (clock, thread) in list(self._clocks.items()):
                if now >= clock.started + clock.timeout + self.grace:
                    del self._clocks[job_id]
                    self._retired.add(thread)
                    late.append((job_id, clock, thread))
        return late

    def run(self):
        """Check the clocks until *stop*; the watcher thread's body."""
        interval = min(1.0, max(self.grace / 2, 0.05))
        while not self.stop.wait(interval):
            for job_id, clock, thread in self._past_grace():
                claim = self.on_overdue(job_id, thread)
                if claim is not None:
                    self._overdue[job_id] = (claim, clock)
            # _overdue is this thread's alone.
            for job_id, (claim, clock) in list(self._overdue.items()):
                try:
                    self.fail(claim, clock)
                except exceptions.EtcdError as exc:
                    LOG.warning('job %s: cannot fail it past its deadline '
                                'yet: %s', job_id, exc)
                    continue        # next round
                del self._overdue[job_id]

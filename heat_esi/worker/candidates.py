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

"""The jobs a worker may take, queued by project and taken in turn.

Many projects share a worker's job slots. A project whose jobs are slow (a
device that never answers holds a slot until check_timeout) must not make
another project's jobs wait behind its whole backlog, so each project has
its own queue, and a free slot goes to the project that has the fewest jobs
running here, the one served longest ago among equals. A project may also
hold at most ``max_per_project`` slots at once (``[worker]
max_jobs_per_project``), which leaves slots free for the other projects'
next jobs. Jobs that name no project share one queue (project None).

A candidate found without its value (the first read of /jobs/ after a
start, or a job whose claim expired) has no project known yet: the worker
reads such candidates in batches (``unread``) and files each under its
project (``place``) before it chooses among them.
"""

import collections
import itertools
import random
import sys


class _Marker(object):
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


# The project of a candidate whose value was not read yet.
UNKNOWN = _Marker('UNKNOWN')
# What _pick() finds when no queued job may be taken now (None is a
# project: that of the jobs that name none).
_NOTHING = _Marker('NOTHING')
# A random one of each queue's oldest few is taken: several workers seldom
# race for the same job, and a queue still drains in order.
TAKE_AMONG = 64


class Candidates(object):
    """The candidates of one worker; not thread-safe (the worker locks).

    :param max_per_project: the most jobs of one project taken at once
        (None: no limit beyond the slots).
    """

    def __init__(self, max_per_project=None):
        self.max_per_project = max_per_project
        self._queues = {}       # project -> OrderedDict(job id -> KV/None)
        self._project = {}      # job id -> project, of the queued ones
        self._unread = collections.OrderedDict()    # job id -> None
        self._reading = set()   # handed out by unread(), not placed yet
        self.running = collections.Counter()    # project -> jobs taken
        self._served = {}       # project -> turn of its last take
        self._turn = itertools.count(1)
        self.kept = 0           # queued candidates that keep their value

    def __len__(self):
        return len(self._project) + len(self._unread) + len(self._reading)

    def __contains__(self, job_id):
        return (job_id in self._project or job_id in self._unread
                or job_id in self._reading)

    def queued(self, project):
        """The ids of *project*'s queued candidates, oldest first."""
        return list(self._queues.get(project, ()))

    def add(self, job_id, kv=None, project=UNKNOWN):
        """Make a job a candidate (again); a known one keeps its place.

        :param kv: its value as read, kept to spare a read (or None).
        """
        if job_id in self._reading:
            return      # being read: place() files it
        if job_id in self._project:
            if kv is not None:
                queue = self._queues[self._project[job_id]]
                self.kept += queue[job_id] is None
                queue[job_id] = kv
            return
        if project is UNKNOWN:
            self._unread[job_id] = None
            return
        self._unread.pop(job_id, None)
        if isinstance(project, str):
            # One copy of each project's name, however many jobs it has.
            project = sys.intern(project)
        self._queues.setdefault(project, collections.OrderedDict())[
            job_id] = kv
        self._project[job_id] = project
        self.kept += kv is not None

    def discard(self, job_id):
        """The job is no candidate any more (claimed, finished, gone)."""
        self._unread.pop(job_id, None)
        self._reading.discard(job_id)
        project = self._project.pop(job_id, UNKNOWN)
        if project is UNKNOWN:
            return
        queue = self._queues[project]
        self.kept -= queue.pop(job_id) is not None
        if not queue:
            del self._queues[project]
            self._forget(project)

    def clear(self):
        """Drop every candidate; the jobs taken still count as running."""
        self._queues.clear()
        self._project.clear()
        self._unread.clear()
        self._reading.clear()
        self.kept = 0
        for project in list(self._served):
            self._forget(project)

    def unread(self, count):
        """Hand out up to *count* candidates whose project is unknown.

        The caller reads them and files each with place().
        """
        ids = list(itertools.islice(self._unread, count))
        for job_id in ids:
            del self._unread[job_id]
            self._reading.add(job_id)
        return ids

    def place(self, job_id, project, kv=None):
        """File a candidate handed out by unread() under its project.

        Nothing happens when it stopped being a candidate meanwhile (or
        was placed already); a job found gone is discard()ed instead.
        With *project* UNKNOWN (it could not be read), it is unread again.
        """
        if job_id not in self._reading:
            return
        self._reading.discard(job_id)
        self.add(job_id, kv, project)

    def ready(self):
        """Whether take() has a job to give."""
        return self._pick() is not _NOTHING

    def take(self):
        """Return (job id, KV or None, project) of the next job, or None.

        The job counts as running for its project until done(project).
        """
        project = self._pick()
        if project is _NOTHING:
            return None
        queue = self._queues[project]
        job_id = random.choice(list(itertools.islice(queue, TAKE_AMONG)))
        kv = queue.pop(job_id)
        self.kept -= kv is not None
        del self._project[job_id]
        if not queue:
            del self._queues[project]
        self.running[project] += 1
        self._served[project] = next(self._turn)
        return job_id, kv, project

    def done(self, project):
        """A job taken for *project* ended (ran, waits, or was not ours)."""
        self.running[project] -= 1
        if self.running[project] <= 0:
            del self.running[project]
        self._forget(project)

    def _pick(self):
        """The project whose turn it is, or _NOTHING (none, or all full).

        The fewest running first, then the one served longest ago: a
        project never served (or idle since) goes before one that was.
        The cost is one look at each project with queued jobs.
        """
        best, best_key = _NOTHING, None
        limit = self.max_per_project
        for project in self._queues:
            running = self.running.get(project, 0)
            if limit is not None and running >= limit:
                continue
            key = (running, self._served.get(project, 0))
            if best_key is None or key < best_key:
                best, best_key = project, key
        return best

    def _forget(self, project):
        # A project with nothing queued or running here needs no turn: its
        # next job is served as a newcomer's. That bounds the memory to
        # the projects at hand.
        if project not in self._queues and not self.running.get(project):
            self._served.pop(project, None)

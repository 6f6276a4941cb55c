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

"""What etcd says about the workers and their jobs, read for people.

One place reads the job and worker keys and sorts them out, for
``heat-esi status``, ``heat-esi jobs`` and the worker's backlog gauges:

- a job is *running* while /jobs/working/<id> holds a claim, *blocked* while
  one of its dependencies is still in /jobs/all, *waiting* otherwise;
- a *rejected* value is one a worker could not read (/jobs/rejected/<id>);
- a worker is alive while its lease-bound member key exists, and it holds
  the claims made under the same lease.
"""

import time

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import redact
from heat_esi import states

RUNNING, BLOCKED, WAITING, REJECTED = 'running', 'blocked', 'waiting', \
    'rejected'
JOB_STATES = (RUNNING, BLOCKED, WAITING, REJECTED)
# Keys read per transaction (etcd takes 128 operations by default).
READ_BATCH = 100


# The latest time shown (9999-12-31T23:59:59Z); past it, or not a finite
# number at all, a timestamp read from etcd is unknown.
LATEST = 253402300799.0
# A timestamp further ahead of this host's clock is the writer's clock
# running ahead: the age it gives is not believed.
CLOCK_TOLERANCE = 5.0
# Where an age comes from (Job.age_from).
BY_CLOCK = 'created_at'
BY_ORDER = 'etcd order'
BY_WATCH = 'seen by this command'


def timestamp(value):
    """*value* as a time in seconds since the epoch, or None if not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    # NaN fails both comparisons.
    if not 0 <= value <= LATEST:
        return None
    return float(value)


def _age(when, now):
    """(age, seconds ahead) of a timestamp, each None when unknown.

    A timestamp ahead of *now* by more than CLOCK_TOLERANCE is its
    writer's clock running ahead: its age is unknown, never negative or 0.
    """
    when = timestamp(when)
    if when is None:
        return None, None
    if when - now > CLOCK_TOLERANCE:
        return None, round(when - now, 1)
    # Clocks of heat-engine and this host may differ a little.
    return max(0.0, now - when), None


class Job(object):
    """One job as found in etcd, readable or not."""

    def __init__(self, job_id, kv, now):
        self.id = job_id
        self.kv = kv
        self.parts = keys.parse_job_id(job_id) or {}
        self.error = None
        self.handler = records.job_handler(kv.value) if kv else None
        self.body = {}
        # Earlier claims that ended unfinished (see sort_jobs).
        self.attempts = None
        try:
            self.handler, self.body = records.parse_job(kv.key, kv.value)
        except exceptions.MalformedValue as exc:
            self.error = str(exc)
        if self.error is None:
            self.created_at = timestamp(self.body.get('created_at'))
        else:
            # An unreadable value may still say when it was written.
            self.created_at = timestamp(records.created_at_of(kv.value))
        self.age, self.ahead = _age(self.created_at, now)
        self.age_from = None if self.age is None else BY_CLOCK
        self.state = WAITING
        self.claim = None         # the /jobs/working KV while running
        self.holder = None        # member id of the worker that holds it
        self.waiting_for = []     # dependencies still in /jobs/all

    def field(self, name):
        """A field of the job, from its value or else from its id."""
        if name in self.body:
            return self.body[name]
        return self.parts.get(name)

    def summary(self):
        return {
            'id': self.id,
            'state': self.state,
            'handler': self.handler,
            'action': self.field('action'),
            'resource_type': self.field('resource_type'),
            'resource_id': self.field('resource_id'),
            'version': self.field('version'),
            'age': None if self.age is None else round(self.age, 1),
            'age_from': self.age_from,
            'clock_ahead': self.ahead,
            'attempts': self.attempts,
            'holder': self.holder,
            'waiting_for': list(self.waiting_for),
            'request_id': self.body.get('request_id'),
            'error': self.error,
        }


class Member(object):
    """A live esi-worker, from /esi-worker/members/<id>."""

    def __init__(self, kv, now):
        self.id = keys.under(keys.MEMBERS, kv.key)
        self.lease = kv.lease
        try:
            value = etcd.loads(kv.key, kv.value)
        except exceptions.MalformedValue:
            value = None
        if not isinstance(value, dict):
            value = {}
        self.host = value.get('host') or self.id.rsplit('-', 2)[0]
        self.slots = value.get('slots')
        handlers = value.get('handlers')
        if not isinstance(handlers, list):
            handlers = [] if handlers is None else [handlers]
        self.handlers = handlers
        self.since = timestamp(value.get('since'))
        self.up_for, self.ahead = _age(self.since, now)

    def summary(self):
        return {'id': self.id, 'host': self.host, 'slots': self.slots,
                'handlers': list(self.handlers),
                'since': iso(self.since),
                'up_for': None if self.up_for is None else round(
                    self.up_for)}


def iso(when):
    """A timestamp as UTC ISO 8601 text, None when it is not one."""
    when = timestamp(when)
    if when is None:
        return None
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(when))


def _bound_ages(jobs, now, seen):
    """Give an age to the jobs whose own date is unknown or ahead.

    A job's age must not rest on its writer's clock alone. Two pieces of
    evidence do not: etcd's order of writes (a job written before another
    one in /jobs/all is at least as old as it), and, with *seen*, how long
    this command has itself seen the same key (heat-esi status --watch).
    """
    if seen is not None:
        present = {(job.kv.key, job.kv.create_revision) for job in jobs}
        for gone in set(seen) - present:
            del seen[gone]
        for job in jobs:
            first = seen.setdefault((job.kv.key, job.kv.create_revision),
                                    now)
            if job.age_from != BY_CLOCK and now - first > (job.age or 0):
                job.age, job.age_from = now - first, BY_WATCH
    dated = sorted((j.kv.create_revision, j.age) for j in jobs
                   if j.age_from == BY_CLOCK and j.state != REJECTED)
    undated = sorted((j for j in jobs if j.age_from != BY_CLOCK),
                     key=lambda j: j.kv.create_revision, reverse=True)
    oldest_after = None
    for job in undated:
        # The oldest dated job written after this one.
        while dated and dated[-1][0] > job.kv.create_revision:
            age = dated.pop()[1]
            oldest_after = age if oldest_after is None else max(
                oldest_after, age)
        if oldest_after is not None and oldest_after > (job.age or 0):
            job.age, job.age_from = oldest_after, BY_ORDER


def sort_jobs(kvs, members=(), now=None, seen=None):
    """[Job] of the KVs read under /jobs/, each with its state and age.

    :param seen: {(key, create revision): when this command first saw
        it}, kept between calls by a command that reads again and again.
    """
    now = time.time() if now is None else now
    by_lease = {m.lease: m.id for m in members if m.lease}
    claims, found = {}, []
    for kv in kvs:
        if kv.key.startswith(keys.JOBS_WORKING):
            claims[keys.under(keys.JOBS_WORKING, kv.key)] = kv
    present = {keys.under(keys.JOBS_ALL, kv.key) for kv in kvs
               if kv.key.startswith(keys.JOBS_ALL)}
    for kv in kvs:
        if kv.key.startswith(keys.JOBS_ALL):
            job = Job(keys.under(keys.JOBS_ALL, kv.key), kv, now)
            claim = claims.get(job.id)
            if job.error is None:
                job.attempts = records.earlier_claims(kv, claim is not None)
            if claim is not None:
                job.state, job.claim = RUNNING, claim
                job.holder = by_lease.get(claim.lease)
            else:
                deps = job.body.get('dependency')
                job.waiting_for = [d for d in deps or () if d in present]
                if job.waiting_for:
                    job.state = BLOCKED
            found.append(job)
        elif kv.key.startswith(keys.JOBS_REJECTED):
            job = Job(keys.under(keys.JOBS_REJECTED, kv.key), kv, now)
            job.state = REJECTED
            found.append(job)
    _bound_ages(found, now, seen)
    return found


def backlog(jobs):
    """{handler: (unclaimed jobs, age of the oldest or None, blocked)}."""
    result = {}
    for job in jobs:
        if job.state not in (WAITING, BLOCKED):
            continue
        count, oldest, blocked = result.get(job.handler or '?',
                                            (0, None, 0))
        if job.age is not None and (oldest is None or job.age > oldest):
            oldest = job.age
        result[job.handler or '?'] = (count + 1, oldest,
                                      blocked + (job.state == BLOCKED))
    return result


def read_jobs(client):
    """[Job] under /jobs/, with their holders, in one read."""
    _, (jobs, members) = client.txn(
        [], [etcd.get_prefix(keys.JOBS), etcd.get_prefix(keys.MEMBERS)],
        key=keys.JOBS)
    now = time.time()
    return sort_jobs(jobs, [Member(kv, now) for kv in members], now)


class Snapshot(object):
    """Jobs, workers, /state and /monitoring, from one etcd transaction."""

    def __init__(self, client, seen=None):
        _, (jobs, members, state_kvs, monitored) = client.txn([], [
            etcd.get_prefix(keys.JOBS), etcd.get_prefix(keys.MEMBERS),
            etcd.get_prefix(keys.STATE), etcd.get_prefix(keys.MONITORING)],
            key=keys.JOBS)
        self.now = time.time()
        self.members = [Member(kv, self.now) for kv in members]
        self.jobs = sort_jobs(jobs, self.members, self.now, seen)
        self.failed = []
        for kv in state_kvs:
            where = keys.resource_of(kv.key, keys.STATE)
            if where is None:
                continue
            try:
                state = records.parse_state(kv.key, kv.value)
            except exceptions.MalformedValue as exc:
                state = {'worker_state': 'UNREADABLE', 'version': None,
                         'error': str(exc)}
            if states.is_failed(state['worker_state']) or \
                    state['worker_state'] == 'UNREADABLE':
                self.failed.append({
                    'resource_type': where[0], 'resource_id': where[1],
                    'worker_state': state['worker_state'],
                    'version': state['version'], 'error': state['error']})
        self.secrets = self._secrets(client)
        self.down = []
        for kv in monitored:
            where = keys.resource_of(kv.key, keys.MONITORING)
            if where is None:
                continue
            try:
                value = etcd.loads(kv.key, kv.value)
            except exceptions.MalformedValue:
                value = None
            if not isinstance(value, dict):
                value = {'value': 'UNREADABLE'}
            parts = {k: v for k, v in value.items() if k != 'version'}
            bad = sorted(k for k, v in parts.items()
                         if v not in states.HEALTHY)
            if bad:
                self.down.append({
                    'resource_type': where[0], 'resource_id': where[1],
                    'down': bad, 'version': value.get('version')})

    def _secrets(self, client):
        """The secrets of the failed resources' /config.

        Their errors are shown, and an error written by another component
        may quote a secret as plain text: it is masked wherever it is.
        """
        found = set()
        wanted = [keys.config(f['resource_type'], f['resource_id'])
                  for f in self.failed]
        for start in range(0, len(wanted), READ_BATCH):
            _, answers = client.txn([], [
                etcd.get(key) for key in wanted[start:start + READ_BATCH]],
                key=keys.CONFIG)
            for kvs in answers:
                for kv in kvs:
                    try:
                        redact.secrets_in(etcd.loads(kv.key, kv.value), found)
                    except exceptions.MalformedValue:
                        pass
        return found

    def of_state(self, state):
        return [job for job in self.jobs if job.state == state]

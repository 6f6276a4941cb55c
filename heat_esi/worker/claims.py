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

"""A claimed job, and every etcd write made on its behalf.

A claim is /jobs/working/<job id> = <claim id>, bound to the worker's lease.
The lease only tells other workers that this one is alive; it does not
exclude them (a paused process can outlive its lease). So each write for a
claimed job is a transaction that succeeds only while the working key still
holds this claim id, and a refused write means the job belongs to someone
else now.

What counts the claims ([worker] max_attempts, the operator's attempts) is
the etcd version of /jobs/all/<id>: the claim's transaction writes that
key once more. The count must survive a worker killed before any other
write, and a lone worker restarted after its lease expired, so it is a
write that no lease takes away, made in the claim's own transaction; the
transaction's comparison (claim key absent, job as read) keeps a retried
or late request from counting twice. The write is etcd's ignore_value put
(etcd.touch): the request carries no value and ESI's value stays as it
is; only a value holding what records.job_value leaves out is rewritten.

Measured (benchmarks/bench_worker.py --claim-shapes, medians of five
rounds, load average 8-18, a put-unit of 1.62 ms): a claim's transaction
cost 2.31 ms rewriting the value, 2.18 ms touching the key, 2.35 ms with
a small count key instead (which a finish must delete as well), 1.94 ms
with no count at all; so the count now costs about 0.15 put-unit. What
was weighed and left:

- the count in job_state: job_state is written once per job, as the seed
  shows it; a claim-time write would be a second write with another
  value, and the handler's own write comes too late to count a worker
  killed before it;
- a count key only when a claim is taken over: a dead claim that no
  worker saw go (the only worker, restarted after its lease expired)
  leaves no trace, and a job that kills its worker would never reach
  max_attempts;
- /jobs/working/ watched with etcd's NOPUT filter: a filter holds for a
  whole watch, so it takes a second stream, which delivers a finish's
  claim deletion apart from its job deletion and sends every worker to
  read each finished job again; the touch's event already tells other
  workers that the job is taken.
"""

import json
import re
import uuid

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi.worker import retry

LOG = logging.getLogger(__name__)


class ClaimLost(exceptions.EsiError):
    """The job's claim expired or was taken over; its writes are refused."""


def claim(client, kv, handler, body, lease_id, prefetch=(),
          handler_names=()):
    """Try to claim the job read as *kv*; return a Claim, or None if taken.

    The claim writes the job's key once more, and that write is what
    counts the claims: the etcd version of /jobs/all/<id> goes up by one
    (records.earlier_claims). It keeps the value (etcd.touch) unless the
    value holds what records.job_value leaves out. The keys in
    *prefetch* are read in the same transaction (one round trip less).
    *handler_names*: the handlers whose later jobs a failure of this one
    may drop (Claim.finish).
    """
    job_id = keys.under(keys.JOBS_ALL, kv.key)
    claim_id = str(uuid.uuid4())
    earlier = records.earlier_claims(kv, held=False)
    working = keys.working(job_id)
    # The job's key is written once more, its version counting the claim:
    # as it is when its value is what job_value() writes (no value sent),
    # else rewritten by job_value() (secrets out, the seed's 0).
    if records.kept_by_claim(kv.value):
        count = etcd.touch(kv.key)
    else:
        count = etcd.put(kv.key, records.job_value(handler, body))
    try:
        ok, responses = client.txn(
            [etcd.absent(working),
             etcd.mod_revision_is(kv.key, kv.mod_revision)],
            [etcd.put(working, claim_id, lease=lease_id), count] +
            [etcd.get(key) for key in prefetch],
            [etcd.get(working)])
    except exceptions.EtcdOutcomeUnknown as exc:
        # Read back: the claim is ours if the working key holds its id.
        # If it did not land, the job is retried; should the lost request
        # still land later, _unresolved lets the retry adopt it.
        _unresolved[job_id] = claim_id
        LOG.warning('job %s: %s; reading back', job_id, exc)
        return _adopt(client, job_id, claim_id, body, prefetch,
                      handler_names)
    if not ok:
        held = responses[0][0].value if responses and responses[0] else None
        if held is not None and held == _unresolved.get(job_id):
            return _adopt(client, job_id, held, body, prefetch,
                          handler_names)
        if held is not None:
            # Claimed by someone else: a late copy of ours cannot land.
            _unresolved.pop(job_id, None)
        return None
    _unresolved.pop(job_id, None)
    read = {key: (kvs[0] if kvs else None)
            for key, kvs in zip(prefetch, responses[2:])}
    return Claim(client, job_id, claim_id, body, earlier, read,
                 kv.create_revision, handler_names)


# job id -> id of a claim whose write got no answer, until it is resolved.
_unresolved = {}


def unresolved(job_id):
    """True while a claim of ours on *job_id* got no answer.

    Such a claim can land after its read-back found nothing (a member
    that froze had passed it on): the job's rewrite is then ours to adopt.
    """
    return job_id in _unresolved


def _adopt(client, job_id, claim_id, body, prefetch, handler_names=()):
    """Return the Claim *claim_id* if the working key holds it.

    That is a write of ours that landed unanswered. Return None if another
    claim holds the job, and raise EtcdError if nobody does, so that it is
    tried again.
    """
    _, found = client.txn([], [etcd.get(keys.working(job_id)),
                               etcd.get(keys.job(job_id))] +
                          [etcd.get(key) for key in prefetch],
                          key=keys.working(job_id))
    held = found[0][0].value if found[0] else None
    if held is None and found[1]:
        raise exceptions.EtcdError(
            client.endpoint, keys.working(job_id),
            'the claim got no answer and did not land; the job will be '
            'tried again')
    if held != claim_id or not found[1]:
        _unresolved.pop(job_id, None)
        return None
    _unresolved.pop(job_id, None)
    # Read after our claim's write: the current claim is ours.
    earlier = records.earlier_claims(found[1][0], held=True)
    read = {key: (kvs[0] if kvs else None)
            for key, kvs in zip(prefetch, found[2:])}
    return Claim(client, job_id, claim_id, body, earlier, read,
                 found[1][0].create_revision, handler_names)


# Tries of a failed job's finish that drops the later jobs, when one of
# them changes between their read and the finish.
END_WORKFLOW_TRIES = 3


def _job_state_of(kv):
    """A job_state KV as a dict; {} when absent or not a JSON object."""
    if kv is None:
        return {}
    try:
        value = json.loads(kv.value)
    except (ValueError, TypeError, RecursionError):
        value = None
    if not isinstance(value, dict):
        LOG.warning('%s is not a JSON object; replaced', kv.key)
        return {}
    return value


class Claim(object):
    """A job this worker holds, and the fenced writes made for it.

    ``attempts`` is the number of earlier claims of the job that ended
    without finishing it, from the etcd version of its key
    (records.earlier_claims); [worker] max_attempts bounds it.
    """

    def __init__(self, client, job_id, claim_id, job, attempts,
                 prefetched=None, create_revision=None, handler_names=()):
        self.client = client
        self.job_id = job_id
        self.claim_id = claim_id
        self.job = job
        self.attempts = attempts
        # key -> KV (or None) read with the claim, as of the claim.
        self.prefetched = prefetched or {}
        self.create_revision = create_revision
        # The handlers whose jobs a failure may drop (see _later_jobs).
        self.handler_names = set(handler_names) | {job.get('handler')}
        self.handler_names.discard(None)
        self._fence = etcd.value_is(keys.working(job_id), claim_id)
        self._job_state = None      # dict once read or written
        if self.job_state_key in self.prefetched:
            self._job_state = _job_state_of(
                self.prefetched[self.job_state_key])

    @property
    def resource(self):
        return self.job['resource_type'], self.job['resource_id']

    def _fenced(self, ops, landed):
        """Run *ops* while the claim holds.

        When the answer is lost, ask *landed()* whether they were applied,
        and run them again if not (the fence keeps a late copy of the first
        try from applying after a finish).
        """
        def attempt():
            try:
                ok, _ = self.client.txn([self._fence], ops,
                                        key=keys.working(self.job_id))
                return ok
            except exceptions.EtcdOutcomeUnknown as exc:
                LOG.warning('job %s: %s; reading back', self.job_id, exc)
                if landed():
                    return True
                raise
        if not retry.read_back()(attempt):
            raise ClaimLost('claim %s on job %s is no longer held'
                            % (self.claim_id, self.job_id))

    @property
    def job_state_key(self):
        return keys.job_state(*self.resource)

    def job_state(self):
        """The resource's job_state as a dict ({} when there is none).

        It is read with the claim when the claim prefetched it, else once
        here, and then kept: only this claim writes it while it holds the
        job (the resource's jobs run one after the other).
        """
        if self._job_state is None:
            kv = self.client.get(self.job_state_key)
            self._job_state = _job_state_of(kv)
        return dict(self._job_state)

    def put_job_state(self, entries):
        """Merge the top-level *entries* into the resource's job_state.

        The jobs of a resource accumulate there what the last one writes
        to /state (the heat_worker's heat_outputs, the monitoring's
        state_monitoring).
        """
        if isinstance(entries, str):
            entries = etcd.loads(self.job_state_key, entries)
        if not isinstance(entries, dict):
            raise exceptions.EsiError(
                'job %s: job_state entries must be a mapping, not %s'
                % (self.job_id, exceptions.short(entries)))
        merged = self.job_state()
        merged.update(entries)
        self.put(self.job_state_key, merged)
        self._job_state = merged

    def put(self, key, value):
        """Put *value* at *key* while the claim holds (a fenced write).

        For what a handler records besides job_state (the heat_worker's
        stack record, say).

        :raises ClaimLost: the claim is no longer held.
        """
        text = value if isinstance(value, str) else etcd.dumps(value)

        def landed():
            kv = self.client.get(key)
            return kv is not None and kv.value == text
        self._fenced([etcd.put(key, text)], landed)

    def finish(self, state_value, extra_deletes=(), failed=False):
        """Record the result and remove the job, in one fenced transaction.

        The last job of a workflow writes /state and drops job_state. So
        does a job that *failed* (on_failure fail) before the last: that
        ends the workflow, and the later jobs of the resource's version
        that nobody claimed go in the same transaction (they never run).
        """
        ops = [etcd.delete(keys.job(self.job_id)),
               etcd.delete(keys.working(self.job_id))]
        ends = self.job.get('is_last', True) or failed
        if ends:
            ops += [etcd.put(keys.state(*self.resource), state_value),
                    etcd.delete(self.job_state_key)]
        ops += [etcd.delete(k) for k in extra_deletes]
        if ends and not self.job.get('is_last', True):
            self._end_workflow(ops)
            return
        # Only this claim's finish removes a claimed job.
        self._fenced(ops, lambda: self.client.get(
            keys.job(self.job_id)) is None)

    def _later_jobs(self):
        """[(job id, KV)] of the jobs after this one, and the claimed ids.

        Those are the jobs of the same resource and version written after
        this one, or with it (a plan's jobs are written in one
        transaction; those before this one have finished, as it waited
        for them), found by the job id prefixes of every action and of the
        handlers *handler_names* knows of.
        """
        job = self.job
        prefixes = [keys.job_prefix(action, handler, job['resource_type'],
                                    job['resource_id'], job['version'])
                    for action in records.ACTIONS
                    for handler in sorted(self.handler_names)]
        _, found = self.client.txn(
            [], [etcd.get_prefix(keys.JOBS_ALL + p) for p in prefixes] +
            [etcd.get_prefix(keys.JOBS_WORKING + p) for p in prefixes],
            key=keys.job(self.job_id))
        jobs = [kv for kvs in found[:len(prefixes)] for kv in kvs]
        claimed = {keys.under(keys.JOBS_WORKING, kv.key)
                   for kvs in found[len(prefixes):] for kv in kvs}
        later = [(keys.under(keys.JOBS_ALL, kv.key), kv) for kv in jobs
                 if kv.key != keys.job(self.job_id)
                 and (self.create_revision is None
                      or kv.create_revision >= self.create_revision)]
        return later, claimed

    def _end_workflow(self, ops):
        """Finish with *ops*, deleting the later jobs nobody claimed."""
        for _ in range(END_WORKFLOW_TRIES):
            later, claimed = self._later_jobs()
            dropped = [job_id for job_id, _ in later
                       if job_id not in claimed]
            # Each only while still unclaimed and as read.
            compare = [self._fence] + [
                etcd.absent(keys.working(job_id)) for job_id in dropped] + [
                etcd.mod_revision_is(kv.key, kv.mod_revision)
                for job_id, kv in later if job_id in dropped]
            try:
                ok, responses = self.client.txn(
                    compare, ops + [etcd.delete(keys.job(job_id))
                                    for job_id in dropped],
                    [etcd.get(keys.working(self.job_id))],
                    key=keys.working(self.job_id))
            except exceptions.EtcdOutcomeUnknown as exc:
                LOG.warning('job %s: %s; reading back', self.job_id, exc)
                if self.client.get(keys.job(self.job_id)) is None:
                    ok, responses = True, []
                else:
                    continue
            if ok:
                if dropped:
                    LOG.info('job %s failed: later job(s) %s dropped',
                             self.job_id, ', '.join(dropped))
                return
            held = responses[0][0].value if responses and responses[0] \
                else None
            if held != self.claim_id:
                raise ClaimLost('claim %s on job %s is no longer held'
                                % (self.claim_id, self.job_id))
            # A later job changed meanwhile: read them again.
        LOG.warning('job %s: later jobs kept changing; failing it without '
                    'dropping them', self.job_id)
        self._fenced(ops, lambda: self.client.get(
            keys.job(self.job_id)) is None)

    def release(self):
        """Give the job back so that another worker can take it at once."""
        ok, _ = self.client.txn([self._fence],
                                [etcd.delete(keys.working(self.job_id))],
                                key=keys.working(self.job_id))
        return ok


# What /jobs/rejected keeps of a value too large to copy whole.
REJECTED_HEAD = 64 * 1024

# A secret field in a value that is not JSON.
_SECRET_TEXT = re.compile(
    r'("(?:%s)"\s*:\s*)"(?:[^"\\]|\\.)*"?'
    % '|'.join(sorted(records.SECRET_FIELDS)))


def rejected_copy(value):
    """Return what /jobs/rejected keeps of a refused job value.

    That is the value without secrets, and only its head when it is too
    large to copy in the same transaction (etcd limits a request to
    1.5 MiB).
    """
    if isinstance(value, bytes):        # not UTF-8: scrubbed as text
        value = _SECRET_TEXT.sub(
            r'\1"(removed)"', value.decode('utf-8', 'surrogateescape')
        ).encode('utf-8', 'surrogateescape')
    else:
        try:
            value = etcd.dumps(records.without_secrets(json.loads(value)))
        except (ValueError, RecursionError):
            value = _SECRET_TEXT.sub(r'\1"(removed)"', value)
    if len(value) > records.MAX_JOB_BYTES:
        value = value[:REJECTED_HEAD]
    return value


def fail_unreadable(client, kv, reason):
    """End a job whose value cannot be parsed, without losing it.

    The value moves to /jobs/rejected/<id> (see rejected_copy) for an
    operator to read; when the job id still names a resource, its /state
    gets the error.
    """
    job_id = keys.under(keys.JOBS_ALL, kv.key)
    parts = keys.parse_job_id(job_id)
    ops = [etcd.put(keys.JOBS_REJECTED + job_id, rejected_copy(kv.value)),
           etcd.delete(kv.key)]
    if parts and parts['action'] in records.ACTIONS:
        ops.append(etcd.put(
            keys.state(parts['resource_type'], parts['resource_id']),
            records.state(states.failed(parts['action']), parts['version'],
                          error='job %s: %s' % (job_id, reason))))
    # Only while nobody has claimed it, and it is still what was read.
    ok, _ = client.txn([etcd.absent(keys.working(job_id)),
                        etcd.mod_revision_is(kv.key, kv.mod_revision)], ops,
                       key=kv.key)
    return ok

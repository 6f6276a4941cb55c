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

"""heat-esi jobs list|show|retry|purge: the jobs in etcd, for operators.

The commands that write ask for confirmation unless --yes, and write with
the transactions of the code they stand in for: a retried action is written
as Heat writes an update (heat_esi.actions), a fixed rejected value goes
back to /jobs/all only while nobody took or changed it, and a purge deletes
only the rejected values it showed.
"""

import sys
import time

from oslo_context import context

from heat_esi import actions
from heat_esi.cmd import output
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import overview
from heat_esi import records
from heat_esi import redact
from heat_esi import states

LIST_COLUMNS = ('id', 'state', 'handler', 'action', 'resource_type',
                'resource_id', 'version', 'age', 'attempts', 'holder')
# The action a FAILED worker_state retries, by its prefix.
_RETRIED = {'CREATE': records.CREATE, 'MODIFY': records.MODIFY,
            'DELETE': records.LOGICAL_DELETE}
WEEK = 7 * 24 * 3600.0
# Rejected values deleted per transaction (a compare and a delete each).
PURGE_BATCH = 64


def confirm(args, question):
    """True when --yes was given or the operator answers yes."""
    if args.yes:
        return True
    sys.stdout.write('%s [y/N] ' % redact.text(question))
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not answer:
        sys.stdout.write('\n')
    return answer.strip().lower() in ('y', 'yes')


def _json(key, kv):
    """A stored value as the object it encodes (its text if not JSON)."""
    if kv is None:
        return None
    try:
        return etcd.loads(key, kv.value)
    except exceptions.MalformedValue:
        return kv.value


# --- list --------------------------------------------------------------------

def list_jobs(args, client):
    jobs = overview.read_jobs(client)
    rows = []
    for job in jobs:
        row = job.summary()
        if args.state and job.state not in args.state:
            continue
        if args.resource_type and row['resource_type'] != \
                args.resource_type:
            continue
        if args.handler and job.handler != args.handler:
            continue
        if args.older_than is not None and (
                job.age is None or job.age < args.older_than):
            continue
        rows.append(row)
    output.emit_list(args, LIST_COLUMNS, rows)
    return 0


# --- show --------------------------------------------------------------------

def show(args, client):
    job_id = args.job_id
    parts = keys.parse_job_id(job_id)
    reads = [etcd.get(keys.job(job_id)), etcd.get(keys.working(job_id)),
             etcd.get(keys.JOBS_REJECTED + job_id),
             etcd.get_prefix(keys.MEMBERS)]
    if parts:
        where = (parts['resource_type'], parts['resource_id'])
        reads += [etcd.get(keys.config(*where)), etcd.get(keys.state(*where))]
    _, found = client.txn([], reads, key=keys.job(job_id))
    job_kv, claim, rejected = [r[0] if r else None for r in found[:3]]
    members = found[3]
    if job_kv is None and rejected is None:
        raise exceptions.EsiError('no job %s in %s or %s' % (
            job_id, keys.JOBS_ALL, keys.JOBS_REJECTED))
    now = time.time()
    # A value in /jobs/all is the job; a copy in /jobs/rejected too is
    # shown as "rejected_copy".
    kvs = [job_kv, claim] if job_kv is not None else [rejected]
    job, = [j for j in overview.sort_jobs(
        [kv for kv in kvs if kv is not None],
        [overview.Member(kv, now) for kv in members], now)]
    if job.age_from != overview.BY_CLOCK:
        # Its age can only come from the other jobs (etcd's order).
        for other in overview.read_jobs(client):
            if other.kv.key == job.kv.key:
                job.age, job.age_from = other.age, other.age_from
    deps = job.body.get('dependency') or []
    if deps:
        _, present = client.txn([], [etcd.get(keys.job(d)) for d in deps],
                                key=keys.job(job_id))
        job.waiting_for = [d for d, kvs in zip(deps, present) if kvs]
        if job.waiting_for and job.state == overview.WAITING:
            job.state = overview.BLOCKED
    item = job.summary()
    item.update(
        created_at=overview.iso(job.created_at),
        on_failure=job.body.get('on_failure'),
        dependency=deps,
        claim=claim.value if claim else None,
        key=(job_kv or rejected).key,
        value=_json((job_kv or rejected).key, job_kv or rejected))
    if job_kv is not None and rejected is not None:
        item['rejected_copy'] = _json(rejected.key, rejected)
    if parts:
        config_kv, state_kv = [r[0] if r else None for r in found[4:6]]
        item['config'] = _json(keys.config(*where), config_kv)
        item['resource_state'] = _json(keys.state(*where), state_kv)
    output.emit_one(args, item)
    return 0


# --- retry -------------------------------------------------------------------

def retry(args, client):
    if args.rejected:
        return _retry_rejected(args, client)
    if not args.resource_id:
        raise exceptions.EsiError('retry needs RESOURCE_TYPE RESOURCE_ID '
                                  '(a resource whose last action failed), '
                                  'or --rejected JOB_ID')
    return _retry_failed(args, client)


def _retry_failed(args, client):
    """Write a new job for the last action of a FAILED resource.

    The config goes to version + 1 with its job, as Heat writes an update.
    """
    esi_type, rid = args.target, args.resource_id
    config_key = keys.config(esi_type, rid)
    state_key = keys.state(esi_type, rid)
    _, (config_kvs, state_kvs) = client.txn(
        [], [etcd.get(config_key), etcd.get(state_key)], key=config_key)
    if not config_kvs:
        raise exceptions.EsiError('%s does not exist: no %s %s' % (
            config_key, esi_type, rid))
    config_kv = config_kvs[0]
    body, version, marked = records.parse_config(config_key,
                                                 config_kv.value)
    if not state_kvs:
        raise exceptions.EsiError('%s %s has no /state yet: its job has not '
                                  'run (heat-esi jobs list --resource-type '
                                  '%s)' % (esi_type, rid, esi_type))
    state = records.parse_state(state_key, state_kvs[0].value)
    worker_state = state['worker_state']
    if not states.is_failed(worker_state):
        raise exceptions.EsiError('%s %s is %s, not FAILED: nothing to '
                                  'retry' % (esi_type, rid, worker_state))
    if state['version'] != version:
        raise exceptions.EsiError(
            '%s %s: /state answers version %s but /config is at version %s; '
            'a newer action is under way' % (esi_type, rid, state['version'],
                                             version))
    action = _RETRIED.get(states.action_of(worker_state))
    if action is None:
        raise exceptions.EsiError(
            '%s %s: worker_state %s names no action to retry (CREATE, '
            'MODIFY or DELETE)' % (esi_type, rid, exceptions.short(
                worker_state)))
    if action == records.LOGICAL_DELETE and not marked:
        action = records.DELETE
    if not confirm(args, 'Retry the %s of %s %s (%s: %s) as version %d?' % (
            action, esi_type, rid, worker_state, state['error'] or '-',
            version + 1)):
        output.say('nothing written')
        return 1
    request_id = context.generate_request_id()
    job_ids = actions.write(
        client, actions.stored_template(client, esi_type, body), esi_type, rid,
        args.handler, action, body, version + 1,
        [etcd.mod_revision_is(config_key, config_kv.mod_revision)],
        marked=marked, request_id=request_id)
    if job_ids is None:
        raise exceptions.EsiError('%s changed meanwhile; nothing written, '
                                  'look again' % config_key)
    output.say('wrote %s version %d and job %s (request %s)' % (
        config_key, version + 1, ', '.join(job_ids), request_id))
    return 0


def _retry_rejected(args, client):
    """Put a fixed rejected value back in /jobs/all.

    This is the reverse of the worker's rejection, done only while nobody
    took or changed the value.
    """
    job_id = args.rejected
    key = keys.JOBS_REJECTED + job_id
    kv = client.get(key)
    if kv is None:
        raise exceptions.EsiError('no rejected value %s' % key)
    try:
        records.parse_job(key, kv.value)
    except exceptions.MalformedValue as exc:
        raise exceptions.EsiError('%s; fix the value at %s first' % (exc,
                                                                     key))
    if not confirm(args, 'Move %s back to %s?' % (key, keys.job(job_id))):
        output.say('nothing written')
        return 1
    ok, _ = client.txn(
        [etcd.mod_revision_is(key, kv.mod_revision),
         etcd.absent(keys.job(job_id)), etcd.absent(keys.working(job_id))],
        [etcd.put(keys.job(job_id), kv.value), etcd.delete(key)])
    if not ok:
        raise exceptions.EsiError('%s changed, or %s exists, meanwhile; '
                                  'nothing written' % (key, job_id))
    output.say('moved %s back to %s' % (key, keys.job(job_id)))
    return 0


# --- purge -------------------------------------------------------------------

def purge(args, client):
    """Delete rejected values older than --older-than (all with --all).

    A value's age is what can be known of it: its "created_at" even when
    another field made it unreadable, else etcd's order of writes (a value
    rejected before a job still in /jobs/all is at least as old as that
    job). Values of unknown age are kept, and counted.
    """
    rejected = [job for job in overview.read_jobs(client)
                if job.state == overview.REJECTED]
    doomed = [job for job in rejected if args.all or (
        job.age is not None and job.age >= args.older_than)]
    unknown = sum(1 for job in rejected if job.age is None)
    if unknown and not args.all:
        output.say('%d rejected value(s) of unknown age kept (--all deletes '
                   'them)' % unknown)
    if not doomed:
        output.say('no rejected value to purge')
        return 0
    for job in doomed:
        output.say('%s (%s)' % (job.kv.key, 'age unknown' if job.age is None
                                else 'age %.0f s, from %s' % (
                                    job.age, job.age_from)))
    if not confirm(args, 'Delete these %d rejected value(s)?' % len(doomed)):
        output.say('nothing deleted')
        return 1
    deleted = 0
    # etcd takes 128 operations per transaction by default.
    for start in range(0, len(doomed), PURGE_BATCH):
        batch = doomed[start:start + PURGE_BATCH]
        ok, _ = client.txn(
            [etcd.mod_revision_is(j.kv.key, j.kv.mod_revision)
             for j in batch],
            [etcd.delete(j.kv.key) for j in batch], key=keys.JOBS_REJECTED)
        if not ok:
            raise exceptions.EsiError(
                'a rejected value changed meanwhile; %d deleted, the rest '
                'kept: run again' % deleted)
        deleted += len(batch)
    output.say('deleted %d rejected value(s)' % deleted)
    return 0


def add_parser(sub):
    jobs = sub.add_parser('jobs', help='list, show, retry and purge jobs')
    jobs_sub = jobs.add_subparsers(dest='action', required=True)

    lst = jobs_sub.add_parser('list', help='jobs in /jobs/all and rejected '
                              'values')
    lst.add_argument('--state', action='append', choices=overview.JOB_STATES,
                     help='only jobs in this state (repeatable): running '
                          '(claimed), blocked (waiting on dependencies), '
                          'waiting (unclaimed), rejected')
    lst.add_argument('--resource-type', help='only jobs of this resource '
                     'type, such as ha_router')
    lst.add_argument('--handler', help='only jobs of this handler')
    lst.add_argument('--older-than', type=float, metavar='SECONDS',
                     help='only jobs written at least SECONDS ago')
    output.add_arguments(lst)
    lst.set_defaults(func=list_jobs, needs_client=True)

    shw = jobs_sub.add_parser('show', help='one job: claim, attempts, '
                              'dependencies, the resource\'s /config and '
                              '/state')
    shw.add_argument('job_id')
    output.add_arguments(shw)
    shw.set_defaults(func=show, needs_client=True)

    rty = jobs_sub.add_parser(
        'retry', help='retry the last action of a resource whose /state is '
        'FAILED (a new job at version + 1), or a rejected value once fixed')
    rty.add_argument('target', nargs='?', metavar='RESOURCE_TYPE')
    rty.add_argument('resource_id', nargs='?', metavar='RESOURCE_ID')
    rty.add_argument('--rejected', metavar='JOB_ID',
                     help='move /jobs/rejected/JOB_ID back to /jobs/all')
    rty.add_argument('--handler',
                     help='write one job, of this handler (default: the '
                          'jobs of the type\'s plan for the action, as '
                          'Heat writes them)')
    rty.add_argument('--yes', action='store_true', help='do not ask')
    rty.set_defaults(func=retry, needs_client=True)

    prg = jobs_sub.add_parser('purge', help='delete old rejected values')
    prg.add_argument('--older-than', type=float, default=WEEK,
                     metavar='SECONDS', help='rejected values written at '
                     'least SECONDS ago (default: a week), by their '
                     'created_at or else etcd\'s order of writes; values of '
                     'unknown age are kept')
    prg.add_argument('--all', action='store_true',
                     help='every rejected value, whatever its age')
    prg.add_argument('--yes', action='store_true', help='do not ask')
    prg.set_defaults(func=purge, needs_client=True)
    return jobs

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

"""The etcd steps of a resource's life, as heat-engine takes them.

Reading the worker's answer (watching /state), resuming a create whose job
was withdrawn, withdrawing a job Heat gave up on, forgetting a deleted
resource, the scan for resources that still use one, and whether any
esi-worker is alive. Each is a function of an etcd client and plain values:
no Heat here, so that each is tested on the fake etcd (tests/fakes.py) and
whatever else drives ESI's protocol may use them. heat_esi.esi_resource
calls them and turns their results into Heat's.
"""

import collections
import time

from oslo_log import log as logging

from heat_esi import actions
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import template_mappings
from heat_esi import templates

LOG = logging.getLogger(__name__)

# A check waits this long for the worker's answer before it gives the engine
# back its thread: long enough to see a prompt answer without waiting for
# Heat's next poll (about a second later), short enough not to stall the
# other resources of the stack.
CHECK_WAIT = 0.9

# What answered() says of a /state.
PENDING, DONE, FAILED, UNEXPECTED = 'pending', 'done', 'failed', 'unexpected'


def answered(state, version, action):
    """What the worker's /state says of the job of *action* at *version*.

    :param state: the parsed /state (records.parse_state), or None.
    :param action: None for a type without a plan, whose /state is
        READ_COMPLETE from its write on.
    :returns: PENDING while no answer for *version* is in, DONE, FAILED
        (the job failed: state['error'] or its worker_state says why) or
        UNEXPECTED (any other answer).
    """
    if state is None or state['version'] < version:
        return PENDING
    worker_state = state['worker_state']
    if states.is_failed(worker_state) or state['error']:
        return FAILED
    if worker_state == (states.READ_COMPLETE if action is None
                        else states.completed(action)):
        return DONE
    return UNEXPECTED


def parse_state(kv):
    """The parsed /state of *kv*, or None; MalformedValue names the key."""
    if kv is None:
        return None
    return records.parse_state(kv.key, kv.value)


def read_state(client, esi_type, resource_id, min_version=None,
               wait=CHECK_WAIT):
    """The parsed /state of a resource, or None when absent.

    With *min_version*, a missing or older answer is waited for (at most
    *wait* seconds) by watching the key, not by sleeping.
    """
    state_key = keys.state(esi_type, resource_id)
    if min_version is None:
        return parse_state(client.get(state_key))

    def enough(state):
        return state is not None and state['version'] >= min_version

    deadline = time.monotonic() + wait
    with client.watching(state_key, wait) as events:
        state = parse_state(client.get(state_key))
        if enough(state):
            return state
        for change in events:
            state = parse_state(change.kv if change.type == etcd.PUT
                                else None)
            if enough(state) or time.monotonic() > deadline:
                break
    return state


def workers_alive(client):
    """Whether any esi-worker is registered under /members."""
    return bool(client.get_prefix(keys.MEMBERS, keys_only=True)[0])


def users(client, esi_type, resource_id, owns):
    """Who still uses a resource: the resources whose relations name it.

    From templates.referrers, each referring type's configs read once in
    one transaction, whatever the number of its fields that may name it.

    :param owns: callable(body) -> whether the caller may see that
        resource; another project's is told by its type only.
    :returns: ['<type> <id> (<name>)' or 'a <type> of another project'],
        each said once; marked and unreadable configs are left out.
    """
    fields = collections.defaultdict(list)
    for esi_type_of_user, field in templates.referrers(esi_type, lists=True):
        fields[esi_type_of_user].append(field)
    if not fields:
        return []
    prefixes = [keys.config_prefix(user_type) for user_type in fields]
    _rev, found = client.txn([], [etcd.get_prefix(prefix)
                                  for prefix in prefixes], key=prefixes[0])
    found_users = []
    for (user_type, names), kvs in zip(fields.items(), found):
        for kv in kvs:
            try:
                body, _version, marked = records.parse_config(kv.key,
                                                              kv.value)
            except exceptions.MalformedValue:
                continue
            if marked or not any(
                    resource_id == value or (isinstance(value, list) and
                                             resource_id in value)
                    for value in (body.get(name) for name in names)):
                continue
            user = ('%s %s (%s)' % (user_type, body.get('id'),
                                    body.get('name'))
                    if owns(body) else
                    'a %s of another project' % user_type)
            if user not in found_users:
                found_users.append(user)
    return found_users


def forget(client, esi_type, resource_id):
    """Remove a resource's /config and /state once the worker is done."""
    config_key = keys.config(esi_type, resource_id)
    ops = [etcd.delete(config_key),
           etcd.delete(keys.state(esi_type, resource_id))]
    try:
        client.txn([], ops, key=config_key)
    except exceptions.EtcdOutcomeUnknown:
        # Deleting twice is harmless: try once more.
        client.txn([], ops, key=config_key)


def withdraw(client, handlers, esi_type, resource_id, cookie):
    """Withdraw the jobs of *cookie* that no worker has claimed yet.

    Heat gave up on the action (cancelled, or the stack timed out): every
    job of its plan, of whichever action and handler, is at the cookie's
    version. A claimed job runs to its end and its result is recorded.

    :param handlers: a handler or a sequence of them: the type's.
    :returns: [(job id, whether it was withdrawn)].
    """
    prefixes = [keys.job(keys.job_prefix(action, handler, esi_type,
                                         resource_id, cookie['version']))
                for handler in actions.handlers_of(handlers)
                for action in _job_actions(esi_type, cookie['action'])]
    if len(prefixes) == 1:
        found = client.get_prefix(prefixes[0])[0]
    else:       # read at once
        _, kvs = client.txn([], [etcd.get_prefix(prefix)
                                 for prefix in prefixes], key=prefixes[0])
        found = [kv for each in kvs for kv in each]
    done = []
    for kv in found:
        job_id = keys.under(keys.JOBS_ALL, kv.key)
        ok, _ = client.txn([etcd.absent(keys.working(job_id)),
                            etcd.mod_revision_is(kv.key, kv.mod_revision)],
                           [etcd.delete(kv.key)])
        done.append((job_id, ok))
    return done


def _job_actions(esi_type, action):
    """The actions of the jobs of *action*'s plan, that one first."""
    found = [action]
    try:
        for step in template_mappings.plan(esi_type, action):
            if step.action not in found:
                found.append(step.action)
    except exceptions.TemplateError:
        pass
    return found


def create_job_conditions(handlers, esi_type, resource_id, kv):
    """The conditions under which a create's jobs are written again.

    The config *kv* is unchanged, and neither its /state nor any job of
    the create's plan (version 1, of any of *handlers*) exists: the jobs
    were withdrawn (a cancel, a timeout) and nothing would ever answer.
    """
    return [etcd.mod_revision_is(kv.key, kv.mod_revision),
            etcd.absent(keys.state(esi_type, resource_id))] + [
        etcd.absent_prefix(keys.job(keys.job_prefix(
            records.CREATE, handler, esi_type, resource_id, 1)))
        for handler in actions.handlers_of(handlers)]


def newest_job_in_flight(client, handlers, esi_type, resource_id):
    """{'version', 'action'} of the newest plan of a resource still queued.

    Or None. heat-engine died while a worker had yet to answer it: it is
    waited for, so that it runs once. The action is that of the plan the
    job belongs to (template_mappings.plan_action).
    """
    jobs = [keys.parse_job_id(job_id)
            for job_id in actions.jobs_in_flight(
                client, handlers, esi_type, resource_id, records.MODIFY)]
    jobs = [job for job in jobs if job]
    if not jobs:
        return None
    job = max(jobs, key=lambda job: job['version'])
    try:
        action = template_mappings.plan_action(esi_type, job['action'])
    except exceptions.TemplateError:
        action = job['action']
    return {'version': job['version'], 'action': action}


def expected_action(esi_type, action):
    """The action whose completed state ends the plan of *action*.

    That of its last job, which writes /state (template_mappings.
    final_action); None for a type without a plan (see answered).
    """
    if not has_plan(esi_type):
        return None
    try:
        return template_mappings.final_action(esi_type, action)
    except exceptions.TemplateError:
        return action


def has_plan(esi_type):
    """Whether *esi_type*'s actions write jobs (a handler has a mapping).

    A type without one (vpn_service, qos_option: an operator's catalog
    entry that no device carries) is written by write_without_plan.
    """
    try:
        template_mappings.handlers(esi_type)
    except exceptions.TemplateError:
        return False
    return True


def write_without_plan(client, esi_type, resource_id, compare, body,
                       version):
    """Write /config and a READ_COMPLETE /state at *version*, at once.

    The action of a type without a plan: no job, no worker; the /state
    that ESI's resource reader wrote for such a resource is written with
    its /config, in one transaction, so that a reader never sees one
    without the other.

    :param compare: the caller's own conditions (on /config).
    :returns: () (no job), or None when *compare* failed (an earlier,
        retried call wrote it, or /config changed meanwhile).
    """
    config_key = keys.config(esi_type, resource_id)
    config = records.config(body, version)
    ops = [etcd.put(config_key, config),
           etcd.put(keys.state(esi_type, resource_id),
                    records.state(states.READ_COMPLETE, version))]
    try:
        ok, _ = client.txn(list(compare), ops, key=config_key)
    except exceptions.EtcdOutcomeUnknown as exc:
        # Landed if /config holds what it wrote (the comparison makes a
        # second write impossible); else once more.
        kv = client.get(config_key)
        if kv is not None and kv.value == etcd.dumps(config):
            return ()
        LOG.warning('%s did not land; writing it again', exc)
        ok, _ = client.txn(list(compare), ops, key=config_key)
    return () if ok else None


def missing_reference(read_config, esi_type, body, invalid_id):
    """The first relation of *body* that names a resource now gone.

    :param read_config: callable(esi_type, id) -> (KV or None, config).
    :param invalid_id: callable(id) -> why the id is not valid, or None;
        an invalid id is its constraint's to refuse.
    :returns: (field, target type, id) or None. An unreadable config is
        the job build's to report.
    """
    for field, target in templates.references(esi_type):
        rid = body.get(field)
        if rid is None or invalid_id(rid):
            continue
        try:
            kv, _config = read_config(target, rid)
        except exceptions.MalformedValue:
            continue
        if kv is None:
            return field, target, rid
    return None


def delete_under_way(version, state):
    """Whether an earlier delete (at *version*) is under way or done.

    Then it is waited for, not written again.
    """
    return state is None or state['version'] < version or (
        state['worker_state'] == states.completed(records.LOGICAL_DELETE))


def last_action_problem(state, version):
    """Why the last action on a resource did not complete, or None.

    Whichever it was, it must have completed for the *version* in /config.
    """
    if state is not None and state['version'] == version and \
            states.is_completed(state['worker_state']) and \
            not state['error']:
        return None
    return (state and (state['error'] or state['worker_state'])) or \
        'no state'


def shown(body, version, marked, state, secret_fields, monitoring):
    """What a resource's attributes show: /config without secrets, /state.

    ``heat_outputs`` are the outputs of the resource's stack ([] for a type
    without one), for the types that declare that attribute.

    :param state: the parsed /state, or None.
    :param monitoring: callable() -> {element or label: UP|DOWN} as
        monitored now, read only when the worker answered once.
    """
    state = dict(state or {})
    if state:
        state['state_monitoring'] = monitoring()
    found = {k: v for k, v in body.items() if k not in secret_fields}
    found.update(version=version, marked_for_deletion=marked,
                 worker_state=state.get('worker_state'),
                 state_monitoring=state.get('state_monitoring', {}),
                 heat_outputs=state.get('heat_outputs') or [],
                 error=state.get('error', ''))
    found['status'] = states.status(body, state,
                                    state.get('state_monitoring'))
    return found


def state_monitoring(client, esi_type, resource_id, dependencies=None):
    """{element: UP|DOWN} of a resource as monitored now.

    What a monitor saw last (/monitoring) wins over what the worker found
    when the action ran.

    :param dependencies: [(label, type, id)]: instead, {label: UP|DOWN}
        of each of these resources as a whole (an HA pair's members).
    """
    if dependencies is None:
        return states.shown(states.parts_of(client, esi_type, resource_id))
    return {label: states.UP if states.healthy(
                states.parts_of(client, dep_type, dep_id)) else states.DOWN
            for label, dep_type, dep_id in dependencies}

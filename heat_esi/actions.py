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

"""The write of an action: /config and its jobs, in one transaction.

Shared by the ESI:: resources in heat-engine and by `heat-esi jobs retry`,
so that a retried action is written exactly as Heat writes one. An action
is planned (plan: the jobs and puts of one resource) and committed
(commit: one etcd transaction for one or several plans, with the caller's
own comparisons and puts), so that a resource whose action changes others
(a VPN gateway that takes a VLAN from its HA interface, a VPN interface
that rewrites its gateway) writes everything at once or nothing.
"""

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates

LOG = logging.getLogger(__name__)

# How many times a commit is tried when a heat_template it used changed
# (each time from the templates read again) or its outcome was unknown.
ATTEMPTS = 3


def handlers_of(handlers):
    """A handler name, or a sequence of them, as a tuple."""
    return (handlers,) if isinstance(handlers, str) else tuple(handlers)


def job_actions(esi_type):
    """The actions of the jobs that a resource's plans write.

    Those a type without template mappings writes (create, modify and
    logical_delete) for a made-up type.
    """
    try:
        return template_mappings.plan_actions(esi_type)
    except exceptions.TemplateError:
        return (records.CREATE, records.MODIFY, records.LOGICAL_DELETE)


def jobs_in_flight(client, handlers, esi_type, resource_id, action):
    """Ids of the resource's jobs still in /jobs/all.

    A new plan's first job waits for them, so that an older job (a create
    that no worker took yet, say) never answers after a newer one.

    :param handlers: the handler, or handlers, whose jobs are meant: every
        handler of the type (template_mappings.handlers).
    """
    if action == records.CREATE:
        return []
    prefixes = [keys.job(keys.job_prefix(earlier, handler, esi_type,
                                         resource_id))
                for handler in handlers_of(handlers)
                for earlier in job_actions(esi_type)]
    _, found = client.txn([], [etcd.get_prefix(prefix)
                               for prefix in prefixes], key=keys.JOBS_ALL)
    return [keys.under(keys.JOBS_ALL, kv.key) for kvs in found for kv in kvs]


class Planned(object):
    """What one resource's action writes, ready for commit().

    :ivar job_ids: the ids of its jobs, in plan order.
    :ivar jobs: [(job id, /jobs/all value)], in plan order.
    :ivar config_key: its /config key.
    :ivar config: the /config value it writes, or None (jobs only).
    :ivar ops: its etcd puts: /config first (if any), then each job.
    :ivar used: [(heat_template key, mod_revision)] its jobs were built
        from; commit() compares each.
    """

    def __init__(self, config_key, config, made, used, again):
        self.config_key = config_key
        self.config = config
        self.jobs = list(made)
        self.job_ids = tuple(job_id for job_id, _ in made)
        self.used = list(used)
        self.ops = [etcd.put(keys.job(job_id), job) for job_id, job in made]
        if config is not None:
            self.ops.insert(0, etcd.put(config_key, config))
        self._again = again

    def again(self, renamed=None):
        """The same action planned anew, from heat_templates read again.

        :param renamed: {old job id: new job id} of the plans made anew
            before this one: its depends_on follows them.
        """
        return self._again(renamed or {})

    def landed(self, client):
        """Whether a commit whose answer was lost wrote this plan.

        /config holds what it wrote (the caller's comparison makes a second
        write of it impossible); for jobs alone, the first is there (job
        ids are never reused).
        """
        if self.config is not None:
            kv = client.get(self.config_key)
            return kv is not None and kv.value == etcd.dumps(self.config)
        return client.get(keys.job(self.job_ids[0])) is not None


def plan(client, template, esi_type, resource_id, action, body, version,
         marked=False, request_id=None, depends_on=(), handler=None,
         with_config=True, refresh=False):
    """Plan /config and the jobs of a resource's action, for commit().

    The jobs are those of the type's plan for *action*
    (template_mappings.plan), less those of a handler whose template
    mapping gives the *body* no heat_template; each job's params are built
    from its handler's heat_template. The first job waits for the
    resource's own jobs still in flight and for *depends_on*.

    :param template: callable(handler, refresh) returning (name, body,
        mod_revision) of the heat_template of that handler's jobs, or
        None when it has none for this resource; the commit compares
        every revision, so a cached copy is used only while it is current.
    :param depends_on: ids of jobs of OTHER resources that the first job
        also waits for (the worker waits for any job id listed that is
        still in /jobs/all).
    :param handler: None for the type's plan; a handler name for one job
        of that handler only (an operator's retry of it).
    :param with_config: False to plan only the jobs (the config is
        already there).
    :param refresh: read the templates afresh (a commit's next attempt).
    :returns: a Planned.
    :raises TemplateError: a template is invalid, or no handler has one
        for the resource.
    """
    steps = (template_mappings.plan(esi_type, action) if handler is None
             else records.single(action, handler))
    # The handlers of every plan of the type: a job of any of them in
    # flight is waited for.
    waited = (template_mappings.handlers(esi_type) if handler is None
              else (handler,))
    found = {}
    for step in steps:
        if step.handler not in found:
            found[step.handler] = template(step.handler, refresh)
    planned = [step for step in steps if found[step.handler]]
    if not planned:
        raise exceptions.TemplateError(
            '%s %s: the template mappings of %s give it no heat_template '
            'for any handler (%s); nothing would run its %s'
            % (esi_type, resource_id, esi_type, ', '.join(found), action))
    dependency = jobs_in_flight(client, waited, esi_type, resource_id,
                                action)
    dependency += [job_id for job_id in depends_on
                   if job_id not in dependency]
    made = records.job_plan(
        planned, esi_type, resource_id, version,
        _params(client, found, esi_type, body, version), body,
        dependency=dependency, request_id=request_id)
    used = [(keys.heat_template(name), revision)
            for name, _, revision in _distinct(found.values())]

    def again(renamed):
        return plan(client, template, esi_type, resource_id, action, body,
                    version, marked=marked, request_id=request_id,
                    depends_on=[renamed.get(job_id, job_id)
                                for job_id in depends_on],
                    handler=handler, with_config=with_config, refresh=True)
    return Planned(keys.config(esi_type, resource_id),
                   records.config(body, version, marked) if with_config
                   else None, made, used, again)


def commit(client, planned_list, compare=(), extra_puts=(), key=None):
    """Write several plans, and the caller's puts, in ONE transaction.

    Conditioned on *compare* and on every heat_template the plans used
    being unchanged; when one changed, every plan is made again from the
    templates read anew and the commit tried again.

    :param planned_list: Planned values (plan()), written in this order.
    :param compare: the caller's own conditions (on each /config, on an
        HA interface's VLAN pool...).
    :param extra_puts: further etcd puts of the transaction; none of them
        may write a key a plan writes.
    :param key: the key named in an error message (default: the first
        plan's /config).
    :returns: a tuple of the job-id tuples of each plan, in order, or None
        when *compare* failed (nothing was written).
    :raises TemplateError: a template kept changing.
    :raises EtcdOutcomeUnknown: the transaction's outcome stayed unknown.
    """
    planned_list = list(planned_list)
    if not planned_list:
        raise ValueError('commit() needs at least one plan')
    key = key or planned_list[0].config_key
    unknown = None
    for attempt in range(ATTEMPTS):
        if attempt:
            planned_list = _again(planned_list)
        used = _used(planned_list)
        writes = [op for planned in planned_list for op in planned.ops]
        writes += list(extra_puts)
        try:
            ok, read = client.txn(
                list(compare) + [etcd.mod_revision_is(name, revision)
                                 for name, revision in used],
                writes, [etcd.get(name) for name, _ in used], key=key)
        except exceptions.EtcdOutcomeUnknown as exc:
            # One transaction: the first plan landed if and only if all
            # did; else try again.
            if planned_list[0].landed(client):
                return tuple(planned.job_ids for planned in planned_list)
            LOG.warning('%s did not land; writing it again', exc)
            unknown = exc
            continue
        if ok:
            return tuple(planned.job_ids for planned in planned_list)
        if all(kvs and kvs[0].mod_revision == revision
               for kvs, (_, revision) in zip(read, used)):
            return None     # the caller's own comparison failed
    if unknown is not None:
        raise unknown
    raise exceptions.TemplateError(
        'heat_template %s keeps changing in etcd; retry the action'
        % ', '.join(name.rsplit('/', 1)[-1]
                    for name, _ in _used(planned_list)))


def write(client, template, esi_type, resource_id, handler, action,
          body, version, compare, marked=False, request_id=None,
          with_config=True):
    """Write /config and the jobs of its plan in one transaction.

    One resource's plan() and its commit().

    :param handler: None for the type's plan; a handler name for one job
        of that handler only (an operator's retry of it).
    :param compare: the caller's own conditions (on /config).
    :param with_config: False to write only the jobs (the config is
        already there).
    :returns: the job ids in plan order, or None when *compare* failed
        (the config was written by an earlier, retried call or changed
        meanwhile).
    :raises TemplateError: a template is invalid, or kept changing, or
        no handler has one for the resource.
    """
    planned = plan(client, template, esi_type, resource_id, action, body,
                   version, marked=marked, request_id=request_id,
                   handler=handler, with_config=with_config)
    done = commit(client, [planned], compare)
    return None if done is None else done[0]


def _again(planned_list):
    """Every plan made anew, in order, each naming the others' new jobs.

    A plan whose first job waits for an earlier plan's (depends_on) waits
    for that plan's new jobs, not for the ones never written.
    """
    renamed, made = {}, []
    for planned in planned_list:
        made.append(planned.again(renamed))
        renamed.update(zip(planned.job_ids, made[-1].job_ids))
    return made


def _used(planned_list):
    """The (template key, revision) the plans used, each pair once."""
    used = []
    for planned in planned_list:
        for pair in planned.used:
            if pair not in used:
                used.append(pair)
    return used


def _distinct(templates_found):
    """The (name, body, revision) found, each template once, by name."""
    seen = {}
    for found in templates_found:
        if found and found[0] not in seen:
            seen[found[0]] = found
    return list(seen.values())


def _params(client, found, esi_type, body, version):
    """params(step) for records.job_plan: built once per template and kind.

    A delete job needs no value of another resource (build_params'
    missing_ok).
    """
    built = {}
    lookup = templates.config_lookup(client)

    def params(step):
        missing_ok = step.action in (records.DELETE, records.LOGICAL_DELETE)
        key = (step.handler, missing_ok)
        if key not in built:
            built[key] = templates.build_params(
                found[step.handler][1], esi_type, body, version,
                lookup, missing_ok=missing_ok)
        return built[key]
    return params


def stored_template(client, esi_type, body=None):
    """A template callable for write() that reads etcd each time.

    Each handler's heat_template is the one its template mapping picks for
    the resource *body*; None when it picks none.
    """
    def read(handler, refresh):
        name = template_mappings.template_name(handler, esi_type,
                                               body or {})
        if name is None:
            return None
        kv = client.get(keys.heat_template(name))
        return name, templates.fetch(client, name, kv), kv.mod_revision
    return read

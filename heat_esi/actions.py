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

"""The write of an action: /config and its job, in one transaction.

Shared by the ESI:: resources in heat-engine and by `heat-esi jobs retry`,
so that a retried action is written exactly as Heat writes one.
"""

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates

LOG = logging.getLogger(__name__)


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


def write(client, template, esi_type, resource_id, handler, action,
          body, version, compare, marked=False, request_id=None,
          with_config=True):
    """Write /config and the jobs of its plan in one transaction.

    The jobs are those of the type's plan for *action*
    (template_mappings.plan), less those of a handler whose template
    mapping gives the *body* no heat_template; each job's params are built
    from its handler's heat_template.

    :param template: callable(handler, refresh) returning (name, body,
        mod_revision) of the heat_template of that handler's jobs, or
        None when it has none for this resource; the transaction compares
        every revision, so a cached copy is used only while it is current.
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
    config_key = keys.config(esi_type, resource_id)
    steps = (template_mappings.plan(esi_type, action) if handler is None
             else records.single(action, handler))
    # The handlers of every plan of the type: a job of any of them in
    # flight is waited for.
    waited = (template_mappings.handlers(esi_type) if handler is None
              else (handler,))
    unknown = None
    for attempt in range(3):
        found = {}
        for step in steps:
            if step.handler not in found:
                found[step.handler] = template(step.handler, attempt > 0)
        planned = [step for step in steps if found[step.handler]]
        if not planned:
            raise exceptions.TemplateError(
                '%s %s: the template mappings of %s give it no '
                'heat_template for any handler (%s); nothing would run '
                'its %s' % (esi_type, resource_id, esi_type,
                            ', '.join(found), action))
        made = records.job_plan(
            planned, esi_type, resource_id, version,
            _params(client, found, esi_type, body, version),
            body, dependency=jobs_in_flight(client, waited, esi_type,
                                            resource_id, action),
            request_id=request_id)
        job_ids = tuple(job_id for job_id, _ in made)
        config = records.config(body, version, marked)
        writes = [etcd.put(keys.job(job_id), job) for job_id, job in made]
        if with_config:
            writes.insert(0, etcd.put(config_key, config))
        used = [(keys.heat_template(name), revision)
                for name, _, revision in _distinct(found.values())]
        try:
            ok, read = client.txn(
                list(compare) + [etcd.mod_revision_is(key, revision)
                                 for key, revision in used],
                writes, [etcd.get(key) for key, _ in used], key=config_key)
        except exceptions.EtcdOutcomeUnknown as exc:
            # Landed if /config holds what it wrote (the comparison makes
            # a second write of it impossible), or, for jobs alone, if
            # the first is there; else try again.
            if with_config:
                kv = client.get(config_key)
                landed = kv is not None and kv.value == etcd.dumps(config)
            else:
                landed = client.get(keys.job(job_ids[0])) is not None
            if landed:
                return job_ids
            LOG.warning('%s did not land; writing it again', exc)
            unknown = exc
            continue
        if ok:
            return job_ids
        if all(kvs and kvs[0].mod_revision == revision
               for kvs, (_, revision) in zip(read, used)):
            return None     # the caller's own comparison failed
    if unknown is not None:
        raise unknown
    raise exceptions.TemplateError(
        'heat_template %s keeps changing in etcd; retry the action'
        % ', '.join(name for name, _, _ in _distinct(found.values())))


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

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


def jobs_in_flight(client, handler, resource_type, resource_id, action):
    """Ids of the resource's jobs still in /jobs/all.

    A new job waits for them, so that an older job (a create that no
    worker took yet, say) never answers after a newer one.
    """
    if action == records.CREATE:
        return []
    _, found = client.txn([], [
        etcd.get_prefix(keys.job(keys.job_prefix(
            earlier, handler, resource_type, resource_id)))
        for earlier in (records.CREATE, records.MODIFY,
                        records.LOGICAL_DELETE)],
        key=keys.JOBS_ALL)
    return [keys.under(keys.JOBS_ALL, kv.key) for kvs in found for kv in kvs]


def write(client, template, resource_type, resource_id, handler, action,
          body, version, compare, marked=False, request_id=None,
          with_config=True):
    """Write /config and the job for it in one transaction.

    :param template: callable(refresh) returning (name, body, mod_revision)
        of the resource type's heat_template; the transaction compares that
        revision, so a cached copy is used only while it is current.
    :param compare: the caller's own conditions (on /config).
    :param with_config: False to write only the job (the config is
        already there).
    :returns: the job id, or None when *compare* failed (the config was
        written by an earlier, retried call or changed meanwhile).
    :raises TemplateError: the template is invalid, or kept changing.
    """
    config_key = keys.config(resource_type, resource_id)
    unknown = None
    for attempt in range(3):
        name, tmpl, revision = template(attempt > 0)
        template_key = keys.heat_template(name)
        params = templates.build_params(
            tmpl, resource_type, body, version,
            templates.config_lookup(client),
            missing_ok=action in (records.DELETE, records.LOGICAL_DELETE))
        # Today's types write a plan of one job (records.single).
        (job_id, job), = records.job_plan(
            records.single(action, handler), resource_type, resource_id,
            version, lambda step: params, body,
            dependency=jobs_in_flight(client, handler, resource_type,
                                      resource_id, action),
            request_id=request_id)
        config = records.config(body, version, marked)
        writes = [etcd.put(keys.job(job_id), job)]
        if with_config:
            writes.insert(0, etcd.put(config_key, config))
        try:
            ok, read = client.txn(
                list(compare) + [etcd.mod_revision_is(template_key,
                                                      revision)],
                writes, [etcd.get(template_key)], key=config_key)
        except exceptions.EtcdOutcomeUnknown as exc:
            # Landed if /config holds what it wrote (the comparison makes
            # a second write of it impossible), or, for a job alone, if
            # the job is there; else try again.
            if with_config:
                kv = client.get(config_key)
                landed = kv is not None and kv.value == etcd.dumps(config)
            else:
                landed = client.get(keys.job(job_id)) is not None
            if landed:
                return job_id
            LOG.warning('%s did not land; writing it again', exc)
            unknown = exc
            continue
        if ok:
            return job_id
        if read[0] and read[0][0].mod_revision == revision:
            return None     # the caller's own comparison failed
    if unknown is not None:
        raise unknown
    raise exceptions.TemplateError('heat_template %s keeps changing in etcd; '
                                   'retry the action' % name)


def stored_template(client, resource_type, body=None,
                    handler=template_mappings.MONITORING_WORKER):
    """A template callable for write() that reads etcd each time.

    The heat_template is the one *handler*'s template mapping picks for
    the resource *body*.
    """
    def read(refresh):
        name = template_mappings.template_name(handler, resource_type,
                                               body or {})
        kv = client.get(keys.heat_template(name))
        return name, templates.fetch(client, name, kv), kv.mod_revision
    return read

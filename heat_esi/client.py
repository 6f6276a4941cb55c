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

"""heat-engine's client plugin for ESI's etcd (entry point heat.clients: esi).

Heat reaches every service through a client plugin: a resource calls
``self.client_plugin('esi')`` (``EsiResource.default_client_name``), a
custom constraint names the plugin and one of its getters
(``resource_client_name``, ``resource_getter_name``). Heat builds one
plugin per request context and keeps it in ``context.clients``, so what a
plugin holds lives as long as the request; the etcd client itself is
shared by every context (see etcd_client).

What a tenant may see of ESI is decided here too: whose resource an id
names, the words used for one that is not the tenant's, and the refusals
of a request (adopt, update, delete, check); the words for an etcd
failure are heat_esi.tenant_errors'.
"""

from oslo_config import cfg
from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine.clients import client_plugin

from heat_esi import actions
from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates
from heat_esi import tenant_errors
from heat_esi import validation

LOG = logging.getLogger(__name__)

CLIENT_NAME = 'esi'

conf.register_engine_opts(cfg.CONF)

# One etcd client per [esi_etcd] settings, shared by every request context.
# Heat builds a client plugin per request, but heat_esi.etcd.Etcd is made to
# be shared (a requests session per thread, the member in use and the token
# under locks), and it is what remembers a failed member and the token etcd
# gave: a client per request would open new connections, retry a dead member
# and log in to etcd again for every stack operation. Keyed by the settings,
# so that a changed heat.conf (tests, a reload) gets a client of its own.
_clients = {}
# (etcd endpoint, template name) -> (body, mod_revision). Shared like the
# client: every job written compares the template's revision, so a stale
# copy costs one more read, never a job built from an old template.
_templates = {}


def etcd_client():
    """The etcd client of heat-engine, built from [esi_etcd] of heat.conf."""
    group = cfg.CONF[conf.ETCD_GROUP]
    settings = tuple(str(getattr(group, opt.dest)) for opt in conf.etcd_opts)
    if settings not in _clients:
        _clients[settings] = etcd.Etcd.from_conf(cfg.CONF)
    return _clients[settings]


class NotFound(exceptions.EsiError):
    """A referenced ESI resource cannot be used.

    It is missing, another project's, or being deleted.
    """


class EsiClientPlugin(client_plugin.ClientPlugin):
    """ESI's etcd, as the resources and constraints of a request read it."""

    # ESI is not in Keystone's catalog: the resources are always available
    # (Resource.is_service_available looks no further).
    service_types = []

    def __init__(self, context):
        super(EsiClientPlugin, self).__init__(context)
        # {config key: KV or None} read for the constraints of this
        # request. Heat checks every property when it validates a stack and
        # again when it creates each resource, in the same request: what
        # the first check read answers the second, and a resource that
        # references several reads them in one etcd request (prefetch).
        # Never used by the resources' own reads, which must see etcd now.
        self._constraint_reads = {}

    def _create(self, version=None):
        return etcd_client()

    def is_client_exception(self, ex):
        return isinstance(ex, exceptions.EsiError)

    def is_not_found(self, ex):
        return isinstance(ex, NotFound)

    # --- tenants ------------------------------------------------------------

    def owns(self, body):
        """Whether the context may use the resource whose /config is *body*.

        A resource belongs to the project that created it (its tenant_id);
        an admin context may use any.
        """
        ctx = self.context
        return bool(ctx.is_admin or (
            body.get('tenant_id') is not None and
            body.get('tenant_id') == ctx.project_id))

    def not_found(self, esi_type, resource_id):
        """What the context's project is told about an id not its own.

        The same text whether the id is missing, belongs to another project
        or is being deleted there: no project learns what another one has.
        """
        return _('%(type)s %(id)s does not exist in ESI (no %(key)s of '
                 'project %(project)s)') % {
            'type': esi_type, 'id': resource_id,
            'key': keys.config(esi_type, resource_id),
            'project': self.context.project_id}

    # --- reads --------------------------------------------------------------

    def read_config(self, esi_type, resource_id):
        """(KV, (body, version, marked)) of a /config, or (None, None).

        Whoever it belongs to: the caller decides (see owns).

        :raises MalformedValue: naming the key.
        """
        key = keys.config(esi_type, resource_id)
        kv = self.client().get(key)
        if kv is None:
            return None, None
        return kv, records.parse_config(key, kv.value)

    def refuse_adopt(self, esi_type, resource_id):
        """Refuse to adopt an invalid id or a resource not the project's.

        Otherwise a stack could take over (and its delete remove) another
        project's resource by naming its id in the adopt data.
        """
        if resource_id is None:
            return
        problem = validation.invalid_id(resource_id)
        shown = validation.shorten(resource_id) if problem else resource_id
        if problem is None and not self.is_own(esi_type, resource_id):
            problem = self.not_found(esi_type, resource_id)
        if problem:
            raise exception.Error(_('cannot adopt %(id)s: %(why)s') % {
                'id': shown, 'why': problem})

    def refuse_check(self, esi_type, resource_id, version, state,
                     dependencies):
        """Refuse a stack check whose resource or devices cannot be polled.

        Its last action must have completed for the *version* in /config,
        and each of its *dependencies* [(label, type, id)] must be the
        project's: not a word about another project's resource, and no
        poll of its device.
        """
        problem = lifecycle.last_action_problem(state, version)
        if problem:
            raise exception.Error(
                _('the last action on %(type)s %(id)s (version %(v)s) did '
                  'not complete: %(state)s') % {
                    'type': esi_type, 'id': resource_id, 'v': version,
                    'state': problem})
        foreign = ['%s%s' % (self.not_found(dep_type, rid),
                             ' (%s)' % label if label else '')
                   for label, dep_type, rid in dependencies
                   if rid != resource_id and not self.is_own(dep_type, rid)]
        if foreign:
            raise exception.Error('; '.join(foreign))

    def read_own_config(self, esi_type, resource_id, who, foreign=None):
        """(KV, (body, version, marked)) of the project's /config, or Nones.

        :param who: the resource reading, for the log.
        :param foreign: a list to which the KV is added when the config
            exists but is another project's (then treated as absent).
        :raises heat Error: the config does not parse, naming its key.
        """
        try:
            kv, config = self.read_config(esi_type, resource_id)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))
        if kv is not None and not self.owns(config[0]):
            LOG.warning('%(res)s: %(key)s belongs to project %(owner)s, '
                        'not %(project)s; treated as absent',
                        {'res': who, 'key': kv.key,
                         'owner': config[0].get('tenant_id'),
                         'project': self.context.project_id})
            if foreign is not None:
                foreign.append(kv)
            return None, None
        return kv, config

    def config_lost(self, esi_type, resource_id, who):
        """Whether a failed resource's /config is not intact (replace it).

        A device that did not answer, a failed check or a heat-engine that
        died mid-action leave /config as written: the resource is kept
        under the same id and re-checked. A new one would get a new id in
        ESI, and the old one's keys to clean up.
        """
        try:
            kv, config = self.read_own_config(esi_type, resource_id, who)
        except exception.Error as exc:
            LOG.warning('%s: replacing it, its configuration is unreadable: '
                        '%s', who, exc)
            return True
        return kv is None or config[2]

    def read_state(self, esi_type, resource_id, min_version=None):
        """The parsed /state (waited for up to *min_version*), or None.

        See lifecycle.read_state; a malformed one is a heat Error.
        """
        try:
            return lifecycle.read_state(self.client(), esi_type, resource_id,
                                        min_version)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))

    def write(self, who, esi_type, resource_id, compare, body, version,
              action, marked=False, with_config=True):
        """Write /config (unless not *with_config*) and its jobs at once.

        The jobs of the type's plan for *action*: see actions.write. Each
        carries the id that follows this call from heat-api to the
        worker's log: the caller's global request id, else Heat's own.

        :param who: the resource writing, for the log.
        :returns: the job ids, or None when *compare* failed.
        """
        ctx = self.context
        if not lifecycle.has_plan(esi_type):
            written = lifecycle.write_without_plan(
                self.client(), esi_type, resource_id, compare, body,
                version)
            if written is not None:
                LOG.info('%(res)s: wrote %(key)s version %(v)s and its '
                         'state (no job: %(type)s has no plan)',
                         {'res': who, 'v': version, 'type': esi_type,
                          'key': keys.config(esi_type, resource_id)})
            return written
        try:
            job_ids = actions.write(
                self.client(),
                lambda handler, refresh: self.template(
                    esi_type, handler, body, refresh),
                esi_type, resource_id, None, action, body, version,
                compare, marked=marked, with_config=with_config,
                request_id=getattr(ctx, 'global_request_id', None) or
                getattr(ctx, 'request_id', None))
        except exceptions.TemplateError as exc:
            raise exception.Error(str(exc))
        if job_ids is not None:
            LOG.info('%(res)s: wrote %(key)s version %(v)s and job %(job)s',
                     {'res': who, 'v': version, 'job': ', '.join(job_ids),
                      'key': keys.config(esi_type, resource_id)})
        return job_ids

    def plan(self, esi_type, resource_id, action, body, version, **kwargs):
        """actions.plan of one resource's action, for commit().

        With the templates cached here and the request's id, as write().

        :param kwargs: actions.plan's (marked, depends_on, with_config).
        """
        ctx = self.context
        try:
            return actions.plan(
                self.client(),
                lambda handler, refresh: self.template(
                    esi_type, handler, body, refresh),
                esi_type, resource_id, action, body, version,
                request_id=getattr(ctx, 'global_request_id', None) or
                getattr(ctx, 'request_id', None), **kwargs)
        except exceptions.TemplateError as exc:
            raise exception.Error(str(exc))

    def commit(self, who, planned, compare=(), extra_puts=()):
        """Write several plans, and *extra_puts*, in one transaction.

        See actions.commit.

        :param who: the resource writing, for the log.
        :returns: the job ids of each plan, or None when *compare* failed.
        """
        try:
            done = actions.commit(self.client(), planned, compare,
                                  extra_puts)
        except exceptions.TemplateError as exc:
            raise exception.Error(str(exc))
        if done is not None:
            LOG.info('%(res)s: wrote %(keys)s and jobs %(jobs)s', {
                'res': who,
                'keys': ', '.join(p.config_key for p in planned
                                  if p.config is not None),
                'jobs': ', '.join(j for ids in done for j in ids)})
        return done

    def resume_create(self, who, esi_type, resource_id):
        """The create's config is there already: a retried create.

        Its jobs are normally there too, or the worker's /state; but jobs
        withdrawn by a cancel or a timeout leave neither, and nothing
        would ever answer. Then the create's plan is written again, in a
        transaction that checks that no job of it and no /state exists.
        """
        kv, config = self.read_own_config(esi_type, resource_id, who)
        if kv is None:
            raise exception.Error(self.not_found(esi_type, resource_id))
        if not lifecycle.has_plan(esi_type):
            return      # its /state was written with its /config
        body, version, marked = config
        if version != 1 or marked:
            LOG.info('%s: %s is at version %s, not creating it again',
                     who, kv.key, version)
            return
        job_ids = self.write(who, esi_type, resource_id,
                             lifecycle.create_job_conditions(
                                 self.handlers(esi_type), esi_type,
                                 resource_id, kv),
                             body, 1, records.CREATE, with_config=False)
        if job_ids is None:
            LOG.info('%s: %s already exists with its jobs or state, not '
                     'writing them again', who, kv.key)
        else:
            LOG.info('%s: %s had neither a job nor a state (its jobs were '
                     'withdrawn); wrote job %s again', who, kv.key,
                     ', '.join(job_ids))

    def withdraw(self, who, esi_type, resource_id, cookie):
        """Withdraw the unclaimed jobs of *cookie* (lifecycle.withdraw)."""
        if not lifecycle.has_plan(esi_type):
            return      # it has none
        for job_id, withdrawn in lifecycle.withdraw(
                self.client(), self.handlers(esi_type), esi_type,
                resource_id, cookie):
            LOG.info('%(res)s: job %(job)s %(what)s', {
                'res': who, 'job': job_id,
                'what': 'withdrawn' if withdrawn else
                'already claimed, left to finish'})

    @staticmethod
    def handlers(esi_type):
        """The handlers of *esi_type*'s jobs (template_mappings.handlers)."""
        try:
            return template_mappings.handlers(esi_type)
        except exceptions.TemplateError as exc:
            raise exception.Error(str(exc))

    def refuse_in_use(self, esi_type, resource_id):
        """Refuse to delete a resource that another one still uses.

        Another project's user is named by its type only (lifecycle.users).
        """
        users = lifecycle.users(self.client(), esi_type, resource_id,
                                self.owns)
        if users:
            raise exception.Error(
                _('%(type)s %(id)s cannot be deleted while other resources '
                  'use it: %(users)s. Delete them first.') % {
                    'type': esi_type, 'id': resource_id,
                    'users': ', '.join(users)})

    def refuse_missing_references(self, esi_type, resource_id, body):
        """Refuse an update of a resource that names a resource now gone.

        Its job could not be built; a delete still can. Only absence is
        said: whose the resource is stays unsaid.
        """
        missing = lifecycle.missing_reference(
            self.read_config, esi_type, body, validation.invalid_id)
        if missing:
            field, target, rid = missing
            raise exception.Error(
                _('%(field)s: %(target)s %(rid)s does not exist in ESI (no '
                  '%(key)s); %(type)s %(id)s can be deleted, but not updated '
                  'while it names it') % {
                    'field': field, 'target': target, 'rid': rid,
                    'key': keys.config(target, rid),
                    'type': esi_type, 'id': resource_id})

    def is_own(self, esi_type, resource_id):
        """Whether the resource exists and the context may use it.

        An unreadable config is no one's but an admin's to look into.
        """
        try:
            kv, config = self.read_config(esi_type, resource_id)
        except exceptions.MalformedValue:
            return False
        return kv is not None and self.owns(config[0])

    def template(self, esi_type,
                 handler=template_mappings.MONITORING_WORKER, body=None,
                 refresh=False):
        """(name, body, mod_revision) of the heat_template of a job.

        The one that ESI's template mapping of *esi_type* for *handler*
        picks for the resource's *body*; None when it picks none. Cached
        across requests: the transaction that writes a job compares the
        template's revision, so a stale copy is never used, only re-read
        (*refresh*).
        """
        client = self.client()
        name = template_mappings.template_name(handler, esi_type, body or {})
        if name is None:
            return None
        cache_key = (client.endpoint, name)
        if refresh or cache_key not in _templates:
            kv = client.get(keys.heat_template(name))
            body = templates.fetch(client, name, kv)
            _templates[cache_key] = (body, kv.mod_revision)
        return (name,) + _templates[cache_key]

    # --- the constraints' getters -------------------------------------------

    def prefetch(self, references):
        """Read the /config of each (esi_type, id) of *references* at once.

        For the constraints checked later in this request.
        """
        wanted = sorted({keys.config(esi_type, rid)
                         for esi_type, rid in references
                         if validation.invalid_id(rid) is None})
        if not wanted:
            return
        _, found = self.client().txn(
            [], [etcd.get(key) for key in wanted], key=wanted[0])
        self._constraint_reads.update(
            (key, kvs[0] if kvs else None) for key, kvs in zip(wanted, found))

    def prefetch_references(self, references):
        """prefetch() the [(esi_type, id)] that *references*() gives.

        At validation, for the constraints: any failure here is theirs to
        report, with what is wrong.
        """
        try:
            self.prefetch(references())
        except (exception.StackValidationFailed, ValueError, TypeError,
                exceptions.EsiError):
            pass

    def _constraint_read(self, key):
        if key not in self._constraint_reads:
            self._constraint_reads[key] = self.client().get(key)
        return self._constraint_reads[key]

    def get_usable(self, esi_type, resource_id):
        """The /config body of a resource that the context may reference.

        :raises NotFound: the id is not valid, the resource is missing,
            another project's or being deleted, or etcd failed (said
            without its endpoint).
        :raises MalformedValue: the config does not parse, to an admin
            only: a project is told that the resource does not exist.
        """
        problem = validation.invalid_id(resource_id)
        if problem:
            raise NotFound(_('%(type)s %(id)s: %(why)s') % {
                'type': esi_type, 'id': validation.shorten(resource_id),
                'why': problem})
        key = keys.config(esi_type, resource_id)
        try:
            kv = self._constraint_read(key)
        except exceptions.EtcdError as exc:
            raise NotFound(str(tenant_errors.etcd_failure(
                exc, 'constraint %s' % esi_type)))
        body = marked = None
        if kv is not None:
            try:
                body, _version, marked = records.parse_config(key, kv.value)
            except exceptions.MalformedValue:
                if not self.context.is_admin:
                    raise NotFound(self.not_found(esi_type, resource_id))
                raise
        if body is None or not self.owns(body):
            raise NotFound(self.not_found(esi_type, resource_id))
        if marked:
            raise NotFound(_('%(type)s %(id)s is being deleted') % {
                'type': esi_type, 'id': resource_id})
        return body


def _getter(esi_type):
    def get(self, resource_id):
        return self.get_usable(esi_type, resource_id)
    get.__name__ = get.__qualname__ = templates.getter_name(esi_type)
    get.__doc__ = ('The /config body of an ESI %s the context may '
                   'reference (see get_usable).' % esi_type)
    return get


# The constraints' getters, one per type a relation points to
# (templates.RELATIONS), as heat_esi.constraints names them.
for _esi_type in templates.referenced_types():
    setattr(EsiClientPlugin, templates.getter_name(_esi_type),
            _getter(_esi_type))
del _esi_type

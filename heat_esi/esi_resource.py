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

"""The Heat side of the ESI protocol, shared by every ESI:: resource type.

Every action (create, update, delete) runs the same two steps:

1. ``handle_<action>`` writes the resource's /config at its next version
   (marked for deletion by a delete) and a job for it in one etcd
   transaction (actions.write), on the condition that /config is still
   what was read. It returns the cookie ``{'version', 'action'}``.
2. ``check_<action>_complete`` reads /state until a worker answered for
   that version; outcome() turns the answer into Heat's: done, not yet,
   ResourceInError or ResourceUnknownStatus.

Each step may run again (Heat retries an action, heat-engine dies and a new
one resumes it): the resource id is stored before anything is written, a
write whose condition fails finds what the earlier attempt wrote, and a job
still in /jobs/all is waited for rather than written twice.

A resource type (heat_esi/resources) declares a schema, how its properties
become a /config body, and which resources a stack check polls. etcd is
reached through the client plugin (heat_esi.client), what a stack check
does to the devices is in heat_esi.stack_check, and what a value may be in
heat_esi.validation.

This module lives outside heat_esi/resources on purpose: heat-engine imports
every module of a plugin directory, and a base class there would be loaded a
second time under heat.engine.plugins.
"""

import collections
import functools
import time
import uuid

from oslo_config import cfg
from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import event
from heat.engine import function
from heat.engine import properties
from heat.engine import resource
from heat.objects import resource as resource_objects

from heat_esi import actions
from heat_esi import client
from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import stack_check
from heat_esi import states
from heat_esi import templates
from heat_esi import validation

LOG = logging.getLogger(__name__)

conf.register_engine_opts(cfg.CONF)

# A check waits this long for the worker's answer before it gives the engine
# back its thread: long enough to see a prompt answer without waiting for
# Heat's next poll (about a second later), short enough not to stall the
# other resources of the stack.
CHECK_WAIT = 0.9


def outcome(state, version, action, esi_type, resource_id):
    """What the worker's /state means for the action Heat waits on.

    The one place where a remote state becomes a Heat outcome, for every
    check_*_complete.

    :param state: the parsed /state (records.parse_state), or None.
    :param version: the /config version the action wrote.
    :param action: the action of its job (records.CREATE, MODIFY,
        LOGICAL_DELETE).
    :returns: True when the job completed, False while no answer for
        *version* is in.
    :raises ResourceInError: the job failed; the worker's error is the
        reason.
    :raises ResourceUnknownStatus: the worker answered with any other state.
    """
    if state is None or state['version'] < version:
        return False
    worker_state = state['worker_state']
    if states.is_failed(worker_state) or state['error']:
        raise exception.ResourceInError(
            resource_status=worker_state,
            status_reason=state['error'] or worker_state)
    if worker_state == states.completed(action):
        return True
    raise exception.ResourceUnknownStatus(
        resource_status=worker_state,
        result=_('%(type)s %(id)s answered for version %(v)s')
        % {'type': esi_type, 'id': resource_id, 'v': version})


def _hides_etcd_endpoint(method):
    """Decorate a resource action so that etcd's endpoint stays hidden.

    The tenant sees what failed, the operator the endpoint too, in
    heat-engine's log (see client.etcd_failure).
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except exceptions.EtcdError as exc:
            raise client.etcd_failure(exc, self.name)
    return wrapper


def text_property(description, min_length=None, **kwargs):
    """The schema of a free-text property: a name, a description...

    Printable and at most validation.MAX_TEXT_LENGTH characters, as ESI's
    API takes them: such text reaches operators' terminals and logs, and
    devices. Declared here once for every type.
    """
    return properties.Schema(
        properties.Schema.STRING, description,
        constraints=[
            # The length first: a huge value is refused without a scan.
            constraints.Length(min=min_length,
                               max=validation.MAX_TEXT_LENGTH),
            constraints.CustomConstraint('esi.printable_text')],
        **kwargs)


def naming_properties(what):
    """The name and description properties of every ESI resource."""
    return {
        'name': text_property(
            _('Name of the %(what)s: printable, at most %(max)d characters. '
              'Defaults to a name generated from the stack and resource '
              'names.') % {'what': what, 'max': validation.MAX_TEXT_LENGTH},
            update_allowed=True
        ),
        'description': text_property(
            _('Description of the %(what)s: printable, at most %(max)d '
              'characters.') % {'what': what,
                                'max': validation.MAX_TEXT_LENGTH},
            default='',
            update_allowed=True
        ),
    }


def reference_property(esi_type, field, description, **kwargs):
    """The schema of a property that names another ESI resource.

    Its type comes from the relation declared in templates.RELATIONS, the
    one place that says which resource uses which: the constraint checks
    that the id names a resource of that type, and a resource that a
    relation points to cannot be deleted (see _refuse_delete_in_use).
    """
    target = templates.RELATIONS[(esi_type, field)]
    return properties.Schema(
        properties.Schema.STRING, description,
        constraints=[constraints.CustomConstraint('esi.%s' % target)],
        **kwargs)


def state_attributes(what):
    """The status and worker_state attributes of every ESI resource.

    Like every attribute that reads etcd, they are not cached
    (CACHE_NONE): workers and monitors change them after the action, and
    Heat would otherwise show in outputs the value it saw first.
    """
    return {
        'status': attributes.Schema(
            _('Status of the %s: ACTIVE once the worker found it up, DOWN '
              'when its monitoring says so, ERROR when the worker failed, '
              'otherwise the PENDING_* status of its configuration.') % what,
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE
        ),
        'worker_state': attributes.Schema(
            _('Last state reported by the worker, such as '
              'CREATE_COMPLETED.'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE
        ),
    }


class EsiResource(resource.Resource):
    """Base class of the resources whose work an esi-worker does."""

    default_client_name = client.CLIENT_NAME

    # Overridden by each resource type.
    esi_type = None
    handler = 'monitoring_worker'
    # Properties that must not be shown back (passwords).
    secret_properties = ()
    # A failed check says nothing about /config: needs_replace_failed()
    # decides, for CHECK_FAILED as for CREATE/UPDATE_FAILED.
    always_replace_on_check_failed = False

    def __init__(self, name, definition, stack):
        super(EsiResource, self).__init__(name, definition, stack)
        # Set by _needs_update when a failed resource is kept.
        self._recheck = False

    # --- what each type declares ----------------------------------------

    def _create_body(self, resource_id):
        """The /config body of a new resource, in the seed's field order."""
        raise NotImplementedError()

    def _update_body(self, body, prop_diff):
        """The /config body after an in-place update of *prop_diff*."""
        body = dict(body)
        body.update(prop_diff)
        if 'name' in prop_diff and not prop_diff['name']:
            body['name'] = self._generated_name()
        return body

    def _dependencies(self):
        """The resources whose devices a stack check of this one polls.

        :returns: [(label, resource type, resource id)] (see stack_check).
        """
        return []

    def _name(self):
        return self.properties['name'] or self._generated_name()

    def _generated_name(self):
        """Heat's name for the resource, made printable.

        It holds the resource's name in the template, in which Heat takes
        any character but '/'.
        """
        return validation.printable(self.physical_resource_name())

    # --- validation -------------------------------------------------------

    def validate(self):
        # The resources it references, in one request: their constraints
        # read the result (and report what is wrong, should this read
        # fail).
        try:
            self.client_plugin().prefetch(
                [(rtype, rid) for _field, rtype, rid in
                 self._references(self.properties)])
        except (exception.StackValidationFailed, ValueError, TypeError,
                exceptions.EsiError):
            pass
        super(EsiResource, self).validate()
        # A value that comes from a resource not created yet is only known
        # at create, where it is checked before anything is written.
        data = self.properties.data
        self._check_values({
            name: self.properties[name] for name in self.properties_schema
            if not any(res.action == res.INIT for res in
                       function.dependencies(data.get(name)))})

    def _references(self, values):
        """[(field, type, id)] of the resources *values* reference.

        From the relations of templates.RELATIONS; a field without a value
        (yet) is left out.
        """
        return [(field, rtype, values.get(field))
                for field, rtype in templates.references(self.esi_type)
                if field in self.properties_schema and
                values.get(field) is not None]

    def _check_values(self, values=None):
        """Refuse property values that etcd or a worker cannot take.

        Runs at validation and again before anything is written, since a
        value that comes from another resource is only known then.

        :param values: the properties to check (default: all of them).
        """
        values = self.properties if values is None else values
        for name in self.properties_schema:
            problem = validation.invalid_value(values.get(name))
            if problem:
                raise self._property_error(name, problem)

    def _property_error(self, name, message):
        """A validation error that names the property, as Heat's own do."""
        return exception.StackValidationFailed(
            error=_('Property error'),
            path=[self.stack.t.RESOURCES, self.name,
                  self.stack.t.RES_PROPERTIES, name],
            message=message)

    # --- etcd ---------------------------------------------------------------

    def _not_found(self, resource_id=None, esi_type=None):
        return self.client_plugin().not_found(
            esi_type or self.esi_type, resource_id or self.resource_id)

    def _keys(self):
        rid = self.resource_id
        return (keys.config(self.esi_type, rid),
                keys.state(self.esi_type, rid))

    def _request_id(self):
        """The id that follows this call from heat-api to the worker's log.

        The caller's global request id, else Heat's own.
        """
        ctx = self.context
        return getattr(ctx, 'global_request_id', None) or getattr(
            ctx, 'request_id', None)

    def _write(self, compare, body, version, action, marked=False,
               with_config=True):
        """Write /config and the job for it in one transaction.

        :param with_config: False to write only the job (the config is
            already there).
        :returns: the job id, or None when *compare* failed (the config was
            written by an earlier, retried call or changed meanwhile).
        """
        try:
            job_id = actions.write(
                self.client(),
                functools.partial(self.client_plugin().template,
                                  self.esi_type),
                self.esi_type, self.resource_id, self.handler, action, body,
                version, compare, marked=marked, with_config=with_config,
                request_id=self._request_id())
        except exceptions.TemplateError as exc:
            raise exception.Error(str(exc))
        if job_id is not None:
            LOG.info('%(res)s: wrote %(key)s version %(v)s and job %(job)s',
                     {'res': self.name, 'v': version, 'job': job_id,
                      'key': keys.config(self.esi_type, self.resource_id)})
        return job_id

    def _read_config(self, foreign=None):
        """This resource's /config, unless it is absent or not the project's.

        :param foreign: a list to which the KV is added when the config
            exists but is another project's.
        :returns: (KV, (body, version, marked)), or (None, None).
        """
        plugin = self.client_plugin()
        try:
            kv, config = plugin.read_config(self.esi_type, self.resource_id)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))
        if kv is not None and not plugin.owns(config[0]):
            LOG.warning('%(res)s: %(key)s belongs to project %(owner)s, '
                        'not %(project)s; treated as absent',
                        {'res': self.name, 'key': kv.key,
                         'owner': config[0].get('tenant_id'),
                         'project': self.context.project_id})
            if foreign is not None:
                foreign.append(kv)
            return None, None
        return kv, config

    def _read_state(self, wait=False, min_version=None):
        """The parsed /state of this resource, or None when absent.

        With *wait*, a missing or older answer is waited for (at most
        CHECK_WAIT seconds) by watching the key, not by sleeping.
        """
        _, state_key = self._keys()
        etcd_client = self.client()
        if not wait:
            return self._parse_state(etcd_client.get(state_key))

        def answered(state):
            return state is not None and state['version'] >= min_version

        deadline = time.monotonic() + CHECK_WAIT
        with etcd_client.watching(state_key, CHECK_WAIT) as events:
            state = self._parse_state(etcd_client.get(state_key))
            if answered(state):
                return state
            for change in events:
                state = self._parse_state(
                    change.kv if change.type == etcd.PUT else None)
                if answered(state) or time.monotonic() > deadline:
                    break
        return state

    def _parse_state(self, kv):
        if kv is None:
            return None
        try:
            return records.parse_state(kv.key, kv.value)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))

    # --- create -----------------------------------------------------------

    @_hides_etcd_endpoint
    def handle_create(self):
        self._check_values()
        # The id is stored before anything is written, so that a create
        # retried after a crash finds the same keys instead of leaving an
        # orphan behind.
        if self.resource_id is None:
            self.resource_id_set(str(uuid.uuid4()))
        body = self._create_body(self.resource_id)
        config_key = keys.config(self.esi_type, self.resource_id)
        if self._write([etcd.absent(config_key)], body, 1,
                       records.CREATE) is None:
            self._resume_create()
        return {'version': 1, 'action': records.CREATE}

    def _resume_create(self):
        """The create's config is already there: a retried create.

        Its job is normally there too, or the worker's /state; but a job
        withdrawn by a cancel or a timeout leaves neither, and nothing would
        ever answer. Then the job is written again, in a transaction that
        checks that it is still missing.
        """
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(self._not_found())
        body, version, marked = config
        if version != 1 or marked:
            LOG.info('%s: %s is at version %s, not creating it again',
                     self.name, kv.key, version)
            return
        _, state_key = self._keys()
        jobs = keys.job(keys.job_prefix(records.CREATE, self.handler,
                                        self.esi_type, self.resource_id, 1))
        job_id = self._write(
            [etcd.mod_revision_is(kv.key, kv.mod_revision),
             etcd.absent(state_key), etcd.absent_prefix(jobs)],
            body, 1, records.CREATE, with_config=False)
        if job_id is None:
            LOG.info('%s: %s already exists with its job or state, not '
                     'writing it again', self.name, kv.key)
        else:
            LOG.info('%s: %s had neither a job nor a state (its job was '
                     'withdrawn); wrote job %s again', self.name, kv.key,
                     job_id)

    @_hides_etcd_endpoint
    def check_create_complete(self, cookie):
        return self._check_done(cookie)

    # --- update -----------------------------------------------------------

    def needs_replace_failed(self):
        """Replace a failed resource only when its /config is not intact.

        A device that did not answer, a failed check or a heat-engine that
        died mid-action leave /config as written: the resource is kept
        under the same id and re-checked (see _needs_update). A new one
        would get a new id in ESI, and the old one's keys to clean up.
        """
        if self.resource_id is None:
            return True
        try:
            kv, config = self._read_config()
        except exception.Error as exc:
            LOG.warning('%s: replacing it, its configuration is unreadable: '
                        '%s', self.name, exc)
            return True
        return kv is None or config[2]

    def _needs_update(self, after, before, after_props, before_props,
                      prev_resource, check_init_complete=True):
        needed = super(EsiResource, self)._needs_update(
            after, before, after_props, before_props, prev_resource,
            check_init_complete)
        if self.status == self.FAILED:
            # Kept by needs_replace_failed(): update it even when nothing
            # changed, so that handle_update re-checks it.
            self._recheck = True
            return True
        return needed

    def _resume_or_recheck(self):
        """Finish what a failed action left, or check the resource again.

        The newest job of the resource still in /jobs/all is waited for
        (heat-engine died while a worker had yet to answer it: the job
        runs once); otherwise a modify job of the same body makes a worker
        check the devices now.
        """
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(_('%s; the resource cannot be updated')
                                  % self._not_found())
        body, version, _marked = config
        jobs = [keys.parse_job_id(job_id)
                for job_id in actions.jobs_in_flight(
                    self.client(), self.handler, self.esi_type,
                    self.resource_id, records.MODIFY)]
        jobs = [job for job in jobs if job]
        if jobs:
            job = max(jobs, key=lambda job: job['version'])
            LOG.info('%s: resuming, waiting for its job at version %s',
                     self.name, job['version'])
            return {'version': job['version'], 'action': job['action']}
        LOG.info('%s: kept after a failure, checking it again', self.name)
        return self._write_update(kv, dict(body, status=states.PENDING_UPDATE),
                                  version + 1)

    def _refuse_missing_references(self, body):
        """Refuse an update of a resource that names a resource now gone.

        Its job could not be built; a delete still can (see
        templates.build_params). Only absence is said: the id is in this
        resource's own /config, and whose the resource is stays unsaid.
        """
        for field, rtype in templates.references(self.esi_type):
            rid = body.get(field)
            if rid is None or validation.invalid_id(rid):
                continue
            try:
                kv, _config = self.client_plugin().read_config(rtype, rid)
            except exceptions.MalformedValue:
                continue    # there, if unreadable: the job's build says so
            if kv is None:
                raise exception.Error(
                    _('%(field)s: %(rtype)s %(rid)s does not exist in ESI '
                      '(no %(key)s); %(type)s %(id)s can be deleted, but '
                      'not updated while it names it') % {
                        'field': field, 'rtype': rtype, 'rid': rid,
                        'key': keys.config(rtype, rid),
                        'type': self.esi_type, 'id': self.resource_id})

    def _write_update(self, kv, body, version):
        self._refuse_missing_references(body)
        if self._write([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                       body, version, records.MODIFY) is None:
            raise exception.Error(
                _('%s changed in etcd during the update; retry it')
                % kv.key)
        return {'version': version, 'action': records.MODIFY}

    @_hides_etcd_endpoint
    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff:
            return self._resume_or_recheck() if self._recheck else None
        self._check_values(prop_diff)
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(_('%s; the resource cannot be updated')
                                  % self._not_found())
        body, version, _marked = config
        new_body = self._update_body(body, prop_diff)
        new_body['status'] = states.PENDING_UPDATE
        if new_body == body:
            # The same update again (Heat retried it, or the engine
            # restarted): wait for the job already written.
            state = self._read_state()
            if state is None or not states.is_failed(
                    state['worker_state']):
                return {'version': version, 'action': records.MODIFY}
        return self._write_update(kv, new_body, version + 1)

    @_hides_etcd_endpoint
    def check_update_complete(self, cookie):
        if cookie is None:
            return True
        return self._check_done(cookie)

    # --- delete -----------------------------------------------------------

    @_hides_etcd_endpoint
    def handle_delete(self):
        if self.resource_id is None:
            return None
        self._refuse_delete_in_use()
        foreign = []
        kv, config = self._read_config(foreign)
        if foreign:
            # Another project's resource (adopted before adopt checked):
            # nothing of it is touched, the stack just lets go of it.
            return None
        if kv is None:
            self._forget()
            return None
        body, version, marked = config
        if marked:
            state = self._read_state()
            if state is None or state['version'] < version or (
                    state['worker_state'] == states.completed(
                        records.LOGICAL_DELETE)):
                # An earlier delete is under way or done: wait for it.
                return {'version': version,
                        'action': records.LOGICAL_DELETE}
        new_body = dict(body, status=states.PENDING_DELETE)
        version += 1
        if self._write([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                       new_body, version, records.LOGICAL_DELETE,
                       marked=True) is None:
            raise exception.Error(
                _('%s changed in etcd during the delete; retry it') % kv.key)
        return {'version': version, 'action': records.LOGICAL_DELETE}

    def _refuse_delete_in_use(self):
        """Refuse to delete a resource that another one still uses.

        Within a stack, Heat's dependency order deletes the user first; a
        user in another stack (or outside Heat) must be deleted before.
        Nothing is written when the delete is refused.
        """
        referrers = templates.referrers(self.esi_type)
        if not referrers:
            return
        # Each type's configs are read once, whatever the number of its
        # fields that may name this resource.
        fields = collections.defaultdict(list)
        for rtype, field in referrers:
            fields[rtype].append(field)
        prefixes = [keys.config_prefix(rtype) for rtype in fields]
        _rev, found = self.client().txn([], [etcd.get_prefix(prefix)
                                             for prefix in prefixes],
                                        key=prefixes[0])
        users = []
        for (rtype, names), kvs in zip(fields.items(), found):
            for kv in kvs:
                try:
                    body, _version, marked = records.parse_config(kv.key,
                                                                  kv.value)
                except exceptions.MalformedValue:
                    continue
                if marked or self.resource_id not in [body.get(name)
                                                      for name in names]:
                    continue
                # Not a word of another project's resource but its type,
                # said once however many of them there are.
                user = ('%s %s (%s)' % (rtype, body.get('id'),
                                        body.get('name'))
                        if self.client_plugin().owns(body) else
                        _('a %s of another project') % rtype)
                if user not in users:
                    users.append(user)
        if users:
            raise exception.Error(
                _('%(type)s %(id)s cannot be deleted while other resources '
                  'use it: %(users)s. Delete them first.') % {
                    'type': self.esi_type, 'id': self.resource_id,
                    'users': ', '.join(users)})

    @_hides_etcd_endpoint
    def check_delete_complete(self, cookie):
        if cookie is None:
            return True
        if not self._check_done(cookie):
            return False
        self._forget()
        return True

    def _forget(self):
        """Remove the resource's own keys once the worker is done with it."""
        config_key, state_key = self._keys()
        for attempt in range(2):
            try:
                self.client().txn([], [etcd.delete(config_key),
                                       etcd.delete(state_key)],
                                  key=config_key)
                return
            except exceptions.EtcdOutcomeUnknown:
                if attempt:
                    raise       # deleting twice is harmless: try again

    # --- cancel -----------------------------------------------------------

    def _cancel(self, cookie):
        """Withdraw the job of an action that Heat gave up on.

        Heat gives up when the action is cancelled or the stack times out.
        Only a job that no worker has claimed yet is withdrawn: a claimed
        job runs to its end and its result is recorded.
        """
        if not cookie or self.resource_id is None:
            return
        prefix = keys.job(keys.job_prefix(
            cookie['action'], self.handler, self.esi_type, self.resource_id,
            cookie['version']))
        for kv in self.client().get_prefix(prefix)[0]:
            job_id = keys.under(keys.JOBS_ALL, kv.key)
            ok, _ = self.client().txn(
                [etcd.absent(keys.working(job_id)),
                 etcd.mod_revision_is(kv.key, kv.mod_revision)],
                [etcd.delete(kv.key)])
            LOG.info('%(res)s: job %(job)s %(what)s', {
                'res': self.name, 'job': job_id,
                'what': 'withdrawn' if ok else 'already claimed, left to '
                                               'finish'})

    @_hides_etcd_endpoint
    def handle_create_cancel(self, cookie):
        self._cancel(cookie)

    @_hides_etcd_endpoint
    def handle_update_cancel(self, cookie):
        self._cancel(cookie)

    # --- adopt --------------------------------------------------------------

    @_hides_etcd_endpoint
    def handle_adopt(self, resource_data=None):
        """Adopt only a resource of the stack's own project.

        Otherwise a stack could take over (and its delete remove) another
        project's resource by naming its id in the adopt data.
        """
        rid = (resource_data or {}).get('resource_id')
        if rid is not None:
            problem = validation.invalid_id(rid)
            shown = validation.shorten(rid) if problem else rid
            if problem is None and not self.client_plugin().is_own(
                    self.esi_type, rid):
                problem = self._not_found(rid)
            if problem:
                raise exception.Error(_('cannot adopt %(id)s: %(why)s') % {
                    'id': shown, 'why': problem})
        return super(EsiResource, self).handle_adopt(resource_data)

    # --- check --------------------------------------------------------------

    @_hides_etcd_endpoint
    def handle_check(self):
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(self._not_found())
        body, version, _marked = config
        state = self._read_state()
        # Whichever the last action was, it must have completed for the
        # version in /config: a check writes nothing and waits for no job.
        if state is None or state['version'] != version or not \
                states.is_completed(state['worker_state']) or \
                state['error']:
            raise exception.Error(
                _('the last action on %(type)s %(id)s (version %(v)s) did '
                  'not complete: %(state)s') % {
                    'type': self.esi_type, 'id': self.resource_id,
                    'v': version,
                    'state': (state and (state['error'] or
                                         state['worker_state']))
                    or 'no state'})
        dependencies = self._dependencies()
        if not dependencies:
            return None
        plugin = self.client_plugin()
        foreign = ['%s%s' % (self._not_found(rid, rtype),
                             ' (%s)' % label if label else '')
                   for label, rtype, rid in dependencies
                   if rid != self.resource_id and
                   not plugin.is_own(rtype, rid)]
        if foreign:
            # Not a word about another project's resource, and no poll of
            # its device.
            raise exception.Error('; '.join(foreign))
        return stack_check.start(self.client(), dependencies)

    @_hides_etcd_endpoint
    def check_check_complete(self, cookie):
        if cookie is None:
            return True
        return stack_check.poll(self.client(), cookie)

    # --- the worker's answer ------------------------------------------------

    def _check_done(self, cookie):
        """Whether the job of *cookie* is done, as outcome() says."""
        version, action = cookie['version'], cookie['action']
        try:
            state = self._read_state(wait=True, min_version=version)
        except exceptions.EtcdError as exc:
            # A short etcd outage must not fail the stack; Heat's timeout
            # bounds the wait.
            LOG.warning('%s: cannot read its state yet: %s', self.name, exc)
            return False
        done = outcome(state, version, action, self.esi_type,
                       self.resource_id)
        if not done:
            self._wait_for_worker(cookie)
        return done

    def _wait_for_worker(self, cookie):
        """While no esi-worker is alive, say so; fail after a while.

        The action fails after [esi] worker_wait; a worker that starts
        meanwhile takes the job.
        """
        try:
            alive = self.client().get_prefix(keys.MEMBERS, keys_only=True)[0]
        except exceptions.EtcdError:
            return      # said by the next read of /state if it lasts
        since = cookie.get('no_worker_since')
        if alive:
            if since is not None:
                cookie['no_worker_since'] = None
                self._set_reason(_('an esi-worker is running again; '
                                   'waiting for its answer'))
            return
        wait = cfg.CONF.esi.worker_wait
        if since is None:
            cookie['no_worker_since'] = time.monotonic()
            self._set_reason(
                _('no esi-worker is running (none registered under %(p)s in '
                  'etcd); waiting up to %(w)s s ([esi] worker_wait) for one '
                  'to take the job') % {'p': keys.MEMBERS, 'w': wait})
        elif time.monotonic() - since > wait:
            raise exception.Error(
                _('no esi-worker is running: none registered under %(p)s in '
                  'etcd for %(w)s s ([esi] worker_wait). Start esi-worker; '
                  'its job stays in etcd, and the next stack update resumes '
                  'it.') % {'p': keys.MEMBERS, 'w': wait})

    def _set_reason(self, reason):
        """Show *reason* as the status reason of the action under way."""
        LOG.info('%s: %s', self.name, reason)
        self.status_reason = reason
        if self.id is not None:
            # Only the reason: store() would also rewrite the properties.
            resource_objects.Resource.update_by_id(
                self.context, self.id, {'status_reason': reason})
        self._add_event(self.action, self.status, reason)

    def _add_event(self, action, status, reason):
        """Store an event of this resource, without its properties.

        Heat (27) has no supported way to keep a property out of events:
        its Resource._add_event refers each event to the resource's stored
        properties (rsrc_prop_data_id), which `openstack stack event show`
        prints and event sinks receive. Heat's own method is used unless
        the type has secrets; otherwise the same event is stored with no
        properties. tests/unit/test_client_plugin.py fails when Heat's
        method or Event's signature changes.
        """
        if not self.secret_properties:
            return super(EsiResource, self)._add_event(action, status,
                                                       reason)
        ev = event.Event(
            self.context, self.stack, action, status, reason,
            physical_resource_id=(self.resource_id or
                                  self.physical_resource_name()),
            resource_prop_data_id=None, resource_properties=None,
            resource_name=self.name, resource_type=self.type())
        ev.store()
        self.stack.dispatch_event(ev)

    # --- attributes -------------------------------------------------------

    @_hides_etcd_endpoint
    def _show_resource(self):
        if self.resource_id is None:
            return {}
        kv, config = self._read_config()
        if kv is None:
            return {}
        body, version, marked = config
        state = self._read_state() or {}
        if state:
            state['state_monitoring'] = self._state_monitoring()
        shown = {k: v for k, v in body.items()
                 if k not in self.secret_properties}
        shown.update(version=version, marked_for_deletion=marked,
                     worker_state=state.get('worker_state'),
                     state_monitoring=state.get('state_monitoring', {}),
                     error=state.get('error', ''))
        shown['status'] = self._status(body, state)
        return shown

    def _state_monitoring(self):
        """{element: UP|DOWN} as monitored now.

        What a monitor saw last (/monitoring) wins over what the worker
        found when the action ran.
        """
        return states.shown(states.parts_of(self.client(), self.esi_type,
                                            self.resource_id))

    @staticmethod
    def _status(body, state):
        """The status attribute (see states.status)."""
        return states.status(body, state, state.get('state_monitoring'))

    @_hides_etcd_endpoint
    def _resolve_attribute(self, name):
        if self.resource_id is None:
            return None
        return self._show_resource().get(name)

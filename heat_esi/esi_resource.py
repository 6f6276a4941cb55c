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

Each action writes the resource's /config and a job in one etcd transaction,
then its check_*_complete reads /state until the worker answers for that
config version. The resource modules in heat_esi/resources only declare a
schema and how properties become a config body.

This module lives outside heat_esi/resources on purpose: heat-engine imports
every module of a plugin directory, and a base class there would be loaded a
second time under heat.engine.plugins.
"""

import functools
import time
import uuid

from oslo_config import cfg
from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import event
from heat.engine import function
from heat.engine import properties
from heat.engine import resource
from heat.objects import resource as resource_objects

from heat_esi import actions
from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import templates

LOG = logging.getLogger(__name__)

conf.register_engine_opts(cfg.CONF)

# A check waits this long for the worker's answer before it gives the engine
# back its thread: long enough to see a prompt answer without waiting for
# Heat's next poll (about a second later), short enough not to stall the
# other resources of the stack.
CHECK_WAIT = 0.9

# One property value, JSON-encoded, at most: a create writes each value in
# /config and again in the job, and etcd refuses a request above 1.5 MiB.
MAX_VALUE_BYTES = 64 * 1024
# Longer than any id ESI generates; keeps a key well inside etcd's limits.
MAX_ID_LENGTH = 255

_clients = {}
_templates = {}     # (etcd endpoint, template name) -> (body, mod_revision)


def client():
    """The etcd client of heat-engine, built from [esi_etcd] of heat.conf."""
    group = cfg.CONF.esi_etcd
    settings = tuple(str(getattr(group, opt.dest)) for opt in conf.etcd_opts)
    if settings not in _clients:
        _clients[settings] = etcd.Etcd.from_conf(cfg.CONF)
    return _clients[settings]


def read_config(esi_type, resource_id):
    """(KV, (body, version, marked)) of a /config, or (None, None).

    :raises MalformedValue: naming the key.
    """
    key = keys.config(esi_type, resource_id)
    kv = client().get(key)
    if kv is None:
        return None, None
    return kv, records.parse_config(key, kv.value)


def owned(body, context):
    """Whether *context* may use the resource whose /config body is *body*.

    A resource belongs to the project that created it (its tenant_id); an
    admin context may use any.
    """
    return bool(context.is_admin or (
        body.get('tenant_id') is not None and
        body.get('tenant_id') == context.project_id))


def not_found(esi_type, resource_id, context):
    """What a project is told about an id that is not its own.

    The same text whether the id is missing, belongs to another project or
    is being deleted there: no project learns what another one has.
    """
    return _('%(type)s %(id)s does not exist in ESI (no %(key)s of project '
             '%(project)s)') % {
        'type': esi_type, 'id': resource_id,
        'key': keys.config(esi_type, resource_id),
        'project': context.project_id}


def invalid_id(resource_id):
    """Why *resource_id* cannot name an ESI resource, or None when it can."""
    if not isinstance(resource_id, str) or not resource_id:
        return _('an ESI id must be a non-empty string')
    if len(resource_id) > MAX_ID_LENGTH:
        return _('an ESI id has at most %d characters') % MAX_ID_LENGTH
    try:
        resource_id.encode('utf-8')
    except UnicodeEncodeError as exc:
        return _('an ESI id must be valid Unicode text (a lone surrogate at '
                 'position %d)') % exc.start
    return None


def shorten(value, limit=40):
    """*value* quoted and escaped for a message, at most *limit* chars of
    it (an invalid id may be huge, or not even text)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


def etcd_failure(exc, who):
    """The error a tenant sees for an etcd failure: without its endpoint.

    The endpoint and the transport's own words go to heat-engine's log,
    for the operator.
    """
    LOG.error('%s: %s', who, exc)
    if isinstance(exc, exceptions.EtcdAuthFailed):
        text = _('the ESI store (etcd) refused heat-engine\'s credentials: '
                 'authentication failed for user %s') % exc.username
    elif isinstance(exc, exceptions.EtcdUnavailable):
        text = _('the ESI store (etcd) is unreachable (key %s)') % exc.key
    elif isinstance(exc, exceptions.EtcdOutcomeUnknown):
        text = _('the ESI store (etcd) did not say whether a write on key '
                 '%s was applied') % exc.key
    else:
        text = _('the ESI store (etcd) refused the request on key %s'
                 ) % exc.key
    return exception.Error(_('%s; the details are in heat-engine\'s log')
                           % text)


def _hides_etcd_endpoint(method):
    """Decorate a resource action so that etcd failures reach the tenant
    without the endpoint (see etcd_failure)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except exceptions.EtcdError as exc:
            raise etcd_failure(exc, self.name)
    return wrapper


def naming_properties(what):
    """The name and description properties of every ESI resource."""
    return {
        'name': properties.Schema(
            properties.Schema.STRING,
            _('Name of the %s. Defaults to a name generated from the stack '
              'and resource names.') % what,
            update_allowed=True
        ),
        'description': properties.Schema(
            properties.Schema.STRING,
            _('Description of the %s.') % what,
            default='',
            update_allowed=True
        ),
    }


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
            body['name'] = self.physical_resource_name()
        return body

    def _name(self):
        return self.properties['name'] or self.physical_resource_name()

    # --- validation -------------------------------------------------------

    def validate(self):
        super(EsiResource, self).validate()
        # A value that comes from a resource not created yet is only known
        # at create, where it is checked before anything is written.
        data = self.properties.data
        self._check_values({
            name: self.properties[name] for name in self.properties_schema
            if not any(res.action == res.INIT for res in
                       function.dependencies(data.get(name)))})

    def _check_values(self, values=None):
        """Refuse property values that etcd or a worker cannot take.

        Runs at validation and again before anything is written, since a
        value that comes from another resource is only known then.

        :param values: the properties to check (default: all of them).
        """
        values = self.properties if values is None else values
        for name in self.properties_schema:
            value = values.get(name)
            if not isinstance(value, str):
                continue
            try:
                value.encode('utf-8')
            except UnicodeEncodeError as exc:
                raise self._property_error(name, _(
                    'not valid Unicode text (a lone surrogate at position '
                    '%d)') % exc.start)
            size = len(etcd.dumps(value))
            if size > MAX_VALUE_BYTES:
                raise self._property_error(name, _(
                    'the value is %(size)d bytes long once encoded; ESI '
                    'takes at most %(max)d (etcd refuses a request over '
                    '1.5 MiB)') % {'size': size, 'max': MAX_VALUE_BYTES})

    def _property_error(self, name, message):
        """A validation error that names the property, as Heat's own do."""
        return exception.StackValidationFailed(
            error=_('Property error'),
            path=[self.stack.t.RESOURCES, self.name,
                  self.stack.t.RES_PROPERTIES, name],
            message=message)

    # --- tenants ----------------------------------------------------------

    def _owned(self, body):
        return owned(body, self.context)

    def _not_found(self, resource_id=None, esi_type=None):
        return not_found(esi_type or self.esi_type,
                         resource_id or self.resource_id, self.context)

    # --- keys and etcd ----------------------------------------------------

    def _keys(self):
        rid = self.resource_id
        return (keys.config(self.esi_type, rid),
                keys.state(self.esi_type, rid))

    def _template(self, refresh=False):
        """(name, body, mod_revision) of this type's heat_template.

        Cached: the transaction that writes a job compares the template's
        revision, so a stale copy is never used, only re-read.
        """
        name = templates.monitoring_template_name(self.esi_type)
        cache_key = (client().endpoint, name)
        if refresh or cache_key not in _templates:
            kv = client().get(keys.heat_template(name))
            body = templates.fetch(client(), name, kv)
            _templates[cache_key] = (body, kv.mod_revision)
        return (name,) + _templates[cache_key]

    def _request_id(self):
        """The id that follows this call from heat-api to the worker's log:
        the caller's global request id, else Heat's own."""
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
                client(), lambda refresh: self._template(refresh=refresh),
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
        """(KV, (body, version, marked)) of this resource's /config, or
        (None, None) when it is absent or another project's.

        :param foreign: a list to which the KV is added when the config
            exists but is another project's.
        """
        try:
            kv, config = read_config(self.esi_type, self.resource_id)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))
        if kv is not None and not self._owned(config[0]):
            LOG.warning('%(res)s: %(key)s belongs to project %(owner)s, '
                        'not %(project)s; treated as absent',
                        {'res': self.name, 'key': kv.key,
                         'owner': config[0].get('tenant_id'),
                         'project': self.context.project_id})
            if foreign is not None:
                foreign.append(kv)
            return None, None
        return kv, config

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
                    client(), self.handler, self.esi_type, self.resource_id,
                    records.MODIFY)]
        jobs = [job for job in jobs if job]
        if jobs:
            job = max(jobs, key=lambda job: job['version'])
            LOG.info('%s: resuming, waiting for its job at version %s',
                     self.name, job['version'])
            return {'version': job['version'], 'action': job['action']}
        LOG.info('%s: kept after a failure, checking it again', self.name)
        return self._write_update(kv, dict(body, status=states.PENDING_UPDATE),
                                  version + 1)

    def _write_update(self, kv, body, version):
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
                client().txn([], [etcd.delete(config_key),
                                  etcd.delete(state_key)], key=config_key)
                return
            except exceptions.EtcdOutcomeUnknown:
                if attempt:
                    raise       # deleting twice is harmless: try again

    # --- cancel -----------------------------------------------------------

    def _cancel(self, cookie):
        """Withdraw the job of an action that Heat gave up on (a cancel or a
        stack timeout), if no worker has claimed it yet; a claimed job runs
        to its end and its result is recorded."""
        if not cookie or self.resource_id is None:
            return
        prefix = keys.job(keys.job_prefix(
            cookie['action'], self.handler, self.esi_type, self.resource_id,
            cookie['version']))
        for kv in client().get_prefix(prefix)[0]:
            job_id = keys.under(keys.JOBS_ALL, kv.key)
            ok, _ = client().txn(
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
            problem = invalid_id(rid)
            shown = shorten(rid) if problem else rid
            if problem is None and not self._is_own(self.esi_type, rid):
                problem = self._not_found(rid)
            if problem:
                raise exception.Error(_('cannot adopt %(id)s: %(why)s') % {
                    'id': shown, 'why': problem})
        return super(EsiResource, self).handle_adopt(resource_data)

    # --- check --------------------------------------------------------------

    def _dependencies(self):
        """[(label, resource_type, resource_id)] whose monitoring state a
        stack check of this resource also reads."""
        return []

    @_hides_etcd_endpoint
    def handle_check(self):
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(self._not_found())
        body, version, _marked = config
        state = self._read_state()
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
        if not self._dependencies():
            return None
        foreign = ['%s%s' % (self._not_found(rid, rtype),
                             ' (%s)' % label if label else '')
                   for label, rtype, rid in self._dependencies()
                   if rid != self.resource_id and not self._is_own(rtype,
                                                                   rid)]
        if foreign:
            # Not a word about another project's resource, and no poll of
            # its device.
            raise exception.Error('; '.join(foreign))
        _rev, (members, monitors) = client().txn([], [
            etcd.get_prefix(keys.MEMBERS), etcd.get_prefix(keys.MONITORS)],
            key=keys.MEMBERS)
        if not members:
            raise exception.Error(
                _('no esi-worker is running (none registered under %s in '
                  'etcd): nobody can poll the devices') % keys.MEMBERS)
        if not monitors:
            # Every worker runs with [monitor] enabled = false: what was
            # recorded is all there is.
            self._report(dict((key, None) for key in self._requests()))
            return None
        # The worker that monitors a device polls it now and answers in the
        # request key; heat-engine has no SNMP community to ask itself.
        requests = self._requests()
        for key, request in requests.items():
            client().put(key, {'request': request['token']})
        return {'requests': requests,
                'deadline': time.monotonic() + cfg.CONF.esi.check_wait}

    def _requests(self):
        return {keys.poll_request(rtype, rid): {
            'label': label, 'type': rtype, 'id': rid,
            'token': uuid.uuid4().hex}
            for label, rtype, rid in self._dependencies()}

    @_hides_etcd_endpoint
    def check_check_complete(self, cookie):
        if cookie is None:
            return True
        requests = cookie['requests']
        _, found = client().txn([], [etcd.get(key) for key in requests],
                                key=keys.POLL_REQUESTS)
        answers = {}
        for key, kvs in zip(requests, found):
            value = etcd.loads(key, kvs[0].value) if kvs else {}
            if not isinstance(value, dict):
                value = {}
            if 'answer' in value and value.get('request') == \
                    requests[key]['token']:
                answers[key] = value['answer']
            elif 'answer' not in value and value.get('request'):
                # A newer check asked too; its answer serves both.
                requests[key]['token'] = value['request']
        if len(answers) < len(requests) and \
                time.monotonic() < cookie['deadline']:
            return False
        client().txn([], [etcd.delete(key) for key in requests],
                     key=keys.POLL_REQUESTS)
        self._report({key: answers.get(key, 'timeout')
                      for key in requests}, requests)
        return True

    def _report(self, answers, requests=None):
        """Raise an error naming each device that is not UP, with its
        address and why, from the monitors' answers (None: use the state
        last recorded)."""
        requests = requests or self._requests()
        problems = []
        for key, request in sorted(requests.items()):
            where = '%s %s%s' % (request['type'], request['id'],
                                 ' (%s)' % request['label']
                                 if request['label'] else '')
            answer = answers.get(key)
            if answer == 'timeout':
                problems.append(
                    _('%(w)s: no esi-worker polled it within %(t)s s ([esi] '
                      'check_wait)') % {'w': where,
                                        't': cfg.CONF.esi.check_wait})
                continue
            if answer is None or answer.get('error'):
                # Not polled (monitoring disabled, or a device heat-esi
                # does not poll): the state last recorded.
                try:
                    parts = states.parts_of(client(), request['type'],
                                            request['id']) or {}
                except exceptions.MalformedValue as exc:
                    parts = {'error': str(exc)}
                answer = {'state': parts, 'why': {}, 'address': ''}
                if not parts:
                    problems.append('%s: not monitored' % where)
                    continue
            down = ['%s %s%s' % (element, state,
                                 ' (%s)' % answer['why'][element]
                                 if answer['why'].get(element) else '')
                    for element, state in sorted(answer['state'].items())
                    if state not in states.HEALTHY]
            if down:
                problems.append('%s%s: %s' % (
                    where, ' at %s' % answer['address']
                    if answer['address'] else '', ', '.join(down)))
        if problems:
            raise exception.Error('; '.join(problems))

    def _is_own(self, rtype, rid):
        """Whether resource *rid* exists and is the stack's project's (an
        unreadable config is no one's but an admin's to look into)."""
        try:
            kv, config = read_config(rtype, rid)
        except exceptions.MalformedValue:
            return False
        return kv is not None and self._owned(config[0])

    # --- the worker's answer ------------------------------------------------

    def _read_state(self, wait=False, min_version=None):
        """The parsed /state of this resource, or None when absent.

        With *wait*, a missing or older answer is waited for (at most
        CHECK_WAIT seconds) by watching the key, not by sleeping.
        """
        _, state_key = self._keys()
        if not wait:
            return self._parse_state(client().get(state_key))

        def answered(state):
            return state is not None and state['version'] >= min_version

        deadline = time.monotonic() + CHECK_WAIT
        with client().watching(state_key, CHECK_WAIT) as events:
            state = self._parse_state(client().get(state_key))
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

    def _check_done(self, cookie):
        version, action = cookie['version'], cookie['action']
        try:
            state = self._read_state(wait=True, min_version=version)
        except exceptions.EtcdError as exc:
            # A short etcd outage must not fail the stack; Heat's timeout
            # bounds the wait.
            LOG.warning('%s: cannot read its state yet: %s', self.name, exc)
            return False
        if state is None or state['version'] < version:
            self._wait_for_worker(cookie)
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
            % {'type': self.esi_type, 'id': self.resource_id, 'v': version})

    def _wait_for_worker(self, cookie):
        """While no esi-worker is alive, say so, and fail after
        [esi] worker_wait; a worker that starts meanwhile takes the job."""
        try:
            alive = client().get_prefix(keys.MEMBERS, keys_only=True)[0]
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
        if not self.secret_properties:
            return super(EsiResource, self)._add_event(action, status,
                                                       reason)
        # Heat's events point at the resource's stored properties, which
        # `openstack stack event show` prints; store these events without.
        ev = event.Event(self.context, self.stack, action, status, reason,
                         self.resource_id or self.physical_resource_name(),
                         None, None, self.name, self.type())
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
        """{element: UP|DOWN} as monitored now: what a monitor saw last
        (/monitoring) wins over what the worker found when the action ran.
        """
        return states.shown(states.parts_of(client(), self.esi_type,
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

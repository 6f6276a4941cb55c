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

import time
import uuid

from oslo_config import cfg
from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import event
from heat.engine import properties
from heat.engine import resource
from heat.objects import resource as resource_objects

from heat_esi import actions
from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from heat_esi.worker.plugins import etcd_reader

LOG = logging.getLogger(__name__)

conf.register_engine_opts(cfg.CONF)

# A check waits this long for the worker's answer before it gives the engine
# back its thread: long enough to see a prompt answer without waiting for
# Heat's next poll (about a second later), short enough not to stall the
# other resources of the stack.
CHECK_WAIT = 0.9
# How a device's state reads in attributes and outputs, from create (the
# worker's ACTIVE in /state) to every later poll (the monitor's UP/DOWN).
VOCABULARY = {'ACTIVE': 'UP'}

_clients = {}
_templates = {}     # (etcd endpoint, template name) -> (body, mod_revision)


def client():
    """The etcd client of heat-engine, built from [esi_etcd] of heat.conf."""
    group = cfg.CONF.esi_etcd
    settings = tuple(str(getattr(group, opt.dest)) for opt in conf.etcd_opts)
    if settings not in _clients:
        _clients[settings] = etcd.Etcd.from_conf(cfg.CONF)
    return _clients[settings]


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

    def _write(self, compare, body, version, action, marked=False):
        """Write /config and the job for it in one transaction.

        :returns: the job id, or None when *compare* failed (the config was
            written by an earlier, retried call or changed meanwhile).
        """
        try:
            job_id = actions.write(
                client(), lambda refresh: self._template(refresh=refresh),
                self.esi_type, self.resource_id, self.handler, action, body,
                version, compare, marked=marked,
                request_id=self._request_id())
        except exceptions.TemplateError as exc:
            raise exception.Error(str(exc))
        if job_id is not None:
            LOG.info('%(res)s: wrote %(key)s version %(v)s and job %(job)s',
                     {'res': self.name, 'v': version, 'job': job_id,
                      'key': keys.config(self.esi_type, self.resource_id)})
        return job_id

    def _read_config(self):
        config_key = keys.config(self.esi_type, self.resource_id)
        kv = client().get(config_key)
        if kv is None:
            return None, None
        try:
            body, version, marked = records.parse_config(config_key,
                                                         kv.value)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))
        return kv, (body, version, marked)

    # --- create -----------------------------------------------------------

    def handle_create(self):
        # The id is stored before anything is written, so that a create
        # retried after a crash finds the same keys instead of leaving an
        # orphan behind.
        if self.resource_id is None:
            self.resource_id_set(str(uuid.uuid4()))
        body = self._create_body(self.resource_id)
        config_key = keys.config(self.esi_type, self.resource_id)
        if self._write([etcd.absent(config_key)], body, 1,
                       records.CREATE) is None:
            LOG.info('%s: %s already exists, not writing it again',
                     self.name, config_key)
        return {'version': 1, 'action': records.CREATE}

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
            raise exception.Error(
                _('%s is missing from etcd; the resource cannot be updated')
                % keys.config(self.esi_type, self.resource_id))
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
        return self._write_update(kv, dict(body, status='PENDING_UPDATE'),
                                  version + 1)

    def _write_update(self, kv, body, version):
        if self._write([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                       body, version, records.MODIFY) is None:
            raise exception.Error(
                _('%s changed in etcd during the update; retry it')
                % kv.key)
        return {'version': version, 'action': records.MODIFY}

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff:
            return self._resume_or_recheck() if self._recheck else None
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(
                _('%s is missing from etcd; the resource cannot be updated')
                % keys.config(self.esi_type, self.resource_id))
        body, version, _marked = config
        new_body = self._update_body(body, prop_diff)
        new_body['status'] = 'PENDING_UPDATE'
        if new_body == body:
            # The same update again (Heat retried it, or the engine
            # restarted): wait for the job already written.
            state = self._read_state()
            if state is None or not state['worker_state'].endswith(
                    '_FAILED'):
                return {'version': version, 'action': records.MODIFY}
        return self._write_update(kv, new_body, version + 1)

    def check_update_complete(self, cookie):
        if cookie is None:
            return True
        return self._check_done(cookie)

    # --- delete -----------------------------------------------------------

    def handle_delete(self):
        if self.resource_id is None:
            return None
        kv, config = self._read_config()
        if kv is None:
            self._forget()
            return None
        body, version, marked = config
        if marked:
            state = self._read_state()
            if state is None or state['version'] < version or (
                    state['worker_state'] == records.completed(
                        records.LOGICAL_DELETE)):
                # An earlier delete is under way or done: wait for it.
                return {'version': version,
                        'action': records.LOGICAL_DELETE}
        new_body = dict(body, status='PENDING_DELETE')
        version += 1
        if self._write([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                       new_body, version, records.LOGICAL_DELETE,
                       marked=True) is None:
            raise exception.Error(
                _('%s changed in etcd during the delete; retry it') % kv.key)
        return {'version': version, 'action': records.LOGICAL_DELETE}

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
            job_id = kv.key[len(keys.JOBS_ALL):]
            ok, _ = client().txn(
                [etcd.absent(keys.working(job_id)),
                 etcd.mod_revision_is(kv.key, kv.mod_revision)],
                [etcd.delete(kv.key)])
            LOG.info('%(res)s: job %(job)s %(what)s', {
                'res': self.name, 'job': job_id,
                'what': 'withdrawn' if ok else 'already claimed, left to '
                                               'finish'})

    def handle_create_cancel(self, cookie):
        self._cancel(cookie)

    def handle_update_cancel(self, cookie):
        self._cancel(cookie)

    # --- check --------------------------------------------------------------

    def _dependencies(self):
        """[(label, resource_type, resource_id)] whose monitoring state a
        stack check of this resource also reads."""
        return []

    def handle_check(self):
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(_('%s is missing from etcd')
                                  % keys.config(self.esi_type,
                                                self.resource_id))
        body, version, _marked = config
        state = self._read_state()
        if state is None or state['version'] != version or not \
                state['worker_state'].endswith('_COMPLETED') or \
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
        _rev, (members, monitors) = client().txn([], [
            etcd.get_prefix(keys.MEMBERS), etcd.get_prefix(keys.MONITORS)],
            key=keys.MEMBERS)
        if not members:
            raise exception.Error(
                _('no esi-worker is running (none registered under %(p)s in '
                  'etcd at %(e)s): nobody can poll the devices') % {
                    'p': keys.MEMBERS, 'e': client().endpoint})
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
                    parts = etcd_reader.parts_of(client(), request['type'],
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
                    if state not in etcd_reader.HEALTHY]
            if down:
                problems.append('%s%s: %s' % (
                    where, ' at %s' % answer['address']
                    if answer['address'] else '', ', '.join(down)))
        if problems:
            raise exception.Error('; '.join(problems))

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
        if worker_state.endswith('_FAILED') or state['error']:
            raise exception.ResourceInError(
                resource_status=worker_state,
                status_reason=state['error'] or worker_state)
        if worker_state == records.completed(action):
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
                  'etcd at %(e)s); waiting up to %(w)s s ([esi] worker_wait) '
                  'for one to take the job') % {
                    'p': keys.MEMBERS, 'e': client().endpoint, 'w': wait})
        elif time.monotonic() - since > wait:
            raise exception.Error(
                _('no esi-worker is running: none registered under %(p)s in '
                  'etcd at %(e)s for %(w)s s ([esi] worker_wait). Start '
                  'esi-worker; its job stays in etcd, and the next stack '
                  'update resumes it.') % {
                    'p': keys.MEMBERS, 'e': client().endpoint, 'w': wait})

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
        parts = etcd_reader.parts_of(client(), self.esi_type,
                                     self.resource_id) or {}
        return {k: VOCABULARY.get(v, v) for k, v in parts.items()}

    @staticmethod
    def _status(body, state):
        """ACTIVE once the worker completed and every part is up; ERROR when
        the worker failed; otherwise the PENDING_* status of /config."""
        worker_state = state.get('worker_state') or ''
        if worker_state.endswith('_FAILED') or state.get('error'):
            return 'ERROR'
        if worker_state.endswith('_COMPLETED'):
            parts = state.get('state_monitoring') or {}
            if all(v in ('ACTIVE', 'UP') for v in parts.values()):
                return 'ACTIVE'
            return 'DOWN'
        return body.get('status')

    def _resolve_attribute(self, name):
        if self.resource_id is None:
            return None
        return self._show_resource().get(name)

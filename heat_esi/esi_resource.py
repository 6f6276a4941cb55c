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

from heat_esi import actions
from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from heat_esi.worker.plugins import etcd_reader

LOG = logging.getLogger(__name__)

conf.register_etcd_opts(cfg.CONF)

# A check waits this long for the worker's answer before it gives the engine
# back its thread: long enough to see a prompt answer without waiting for
# Heat's next poll (about a second later), short enough not to stall the
# other resources of the stack.
CHECK_WAIT = 0.9

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
    """The status and worker_state attributes of every ESI resource."""
    return {
        'status': attributes.Schema(
            _('Status of the %s: ACTIVE once the worker found it up, DOWN '
              'when its monitoring says so, ERROR when the worker failed, '
              'otherwise the PENDING_* status of its configuration.') % what,
            type=attributes.Schema.STRING
        ),
        'worker_state': attributes.Schema(
            _('Last state reported by the worker, such as '
              'CREATE_COMPLETED.'),
            type=attributes.Schema.STRING
        ),
    }


class EsiResource(resource.Resource):
    """Base class of the resources whose work an esi-worker does."""

    # Overridden by each resource type.
    esi_type = None
    handler = 'monitoring_worker'
    # Properties that must not be shown back (passwords).
    secret_properties = ()

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

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff:
            return None
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
        version += 1
        if self._write([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                       new_body, version, records.MODIFY) is None:
            raise exception.Error(
                _('%s changed in etcd during the update; retry it')
                % kv.key)
        return {'version': version, 'action': records.MODIFY}

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
        down = []
        for label, rtype, rid in self._dependencies():
            try:
                parts = etcd_reader.parts_of(client(), rtype, rid)
            except exceptions.MalformedValue as exc:
                parts = {'error': str(exc)}
            if not parts or not all(v in etcd_reader.HEALTHY
                                    for v in parts.values()):
                down.append('%s %s%s is %s' % (
                    rtype, rid, ' (%s)' % label if label else '', ', '.join(
                        '%s %s' % p for p in sorted((parts or {}).items()))
                    or 'not monitored'))
        if down:
            raise exception.Error('; '.join(down))

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
            # What a monitor saw last (/monitoring) wins over the state the
            # worker found when the action ran.
            state['state_monitoring'] = etcd_reader.parts_of(
                client(), self.esi_type, self.resource_id) or {}
        shown = {k: v for k, v in body.items()
                 if k not in self.secret_properties}
        shown.update(version=version, marked_for_deletion=marked,
                     worker_state=state.get('worker_state'),
                     state_monitoring=state.get('state_monitoring', {}),
                     error=state.get('error', ''))
        shown['status'] = self._status(body, state)
        return shown

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

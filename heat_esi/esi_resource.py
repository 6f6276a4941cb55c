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

``handle_<action>`` writes /config at its next version and the jobs of its
type's plan (template_mappings.plan) in one etcd transaction, conditioned on
what was read, and returns the cookie ``{'version', 'action'}``;
``check_<action>_complete`` waits for the plan's last job to answer for that
version. Each step may run again (Heat retries, an engine dies): the id is
stored first, and an earlier attempt's write is waited for, not redone. Like
Heat's octavia_base, a template: the etcd steps are heat_esi.lifecycle's (no
Heat), a request's reads, writes and refusals the client plugin's, the errors
tenant_errors' (applied to every subclass by __init_subclass__), Heat's records
heat_events'. A type declares schema (resource_properties), relations
(templates.RELATIONS), handlers (template_mappings), ``monitored``, body. Not
in heat_esi/resources, where heat-engine would load it twice.
"""

import uuid

from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine import resource

from heat_esi import client
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import heat_events
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import resource_properties
from heat_esi import stack_check
from heat_esi import state_watch
from heat_esi import states
from heat_esi import templates
from heat_esi import tenant_errors
from heat_esi import validation

LOG = logging.getLogger(__name__)

# Writes a create tries while its _create_conditions keep failing (other
# resources written meanwhile), before it gives up.
CREATE_ATTEMPTS = 10


class EsiResource(resource.Resource):
    """Base class of the resources whose work an esi-worker does."""

    default_client_name = client.CLIENT_NAME

    esi_type = None         # each type's
    secret_properties = ()  # never shown back (passwords)
    # ((label, relation field)): the resources that a stack check polls
    # and state_monitoring shows, one per label; empty: the resource itself.
    monitored = ()
    # A failed check says nothing about /config: needs_replace_failed()
    # decides, for CHECK_FAILED as for CREATE/UPDATE_FAILED.
    always_replace_on_check_failed = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        tenant_errors.hide_etcd_endpoints(cls)

    _recheck = False    # set by _needs_update

    def _create_body(self, resource_id):
        """The /config body of a new resource, in the seed's field order."""
        raise NotImplementedError()

    def _update_body(self, body, prop_diff):
        """The /config body after an in-place update of *prop_diff*."""
        body = dict(body, **prop_diff)
        if 'name' in prop_diff and not prop_diff['name']:
            body['name'] = self._generated_name()
        return body

    def _dependencies(self):
        """[(label, type, id)] whose devices a stack check polls."""
        if not self.monitored:
            return [('', self.esi_type, self.resource_id)]
        return [(label, templates.RELATIONS[(self.esi_type, field)],
                 self.properties[field]) for label, field in self.monitored]

    def _name(self):
        return self.properties['name'] or self._generated_name()

    def _generated_name(self):
        """Heat's name for the resource (any character but '/'), printable."""
        return validation.printable(self.physical_resource_name())

    def validate(self):
        self.client_plugin().prefetch_references(
            lambda: [ref[1:] for ref in resource_properties.references(
                self.esi_type, self.properties_schema, self.properties)])
        super(EsiResource, self).validate()
        self._check_values(resource_properties.known_now(self))

    def _check_values(self, values=None):
        """Refuse values etcd or a worker cannot take (again at create)."""
        resource_properties.check_values(self, values)

    def _not_found(self):
        return self.client_plugin().not_found(self.esi_type, self.resource_id)

    def _write(self, compare, body, version, action, **kwargs):
        # Before the jobs: their answer then reaches the check by the
        # engine's /state watch, and the check reads nothing.
        state_key = keys.state(self.esi_type, self.resource_id)
        watch = state_watch.of(self.client())
        watch.expect(state_key)
        written = None
        try:
            written = self.client_plugin().write(
                self.name, self.esi_type, self.resource_id, compare, body,
                version, action, **kwargs)
        finally:
            if written is None:
                # No job written now: an answer may be in already (a
                # retried create), so the check reads /state.
                watch.done(state_key)
        return written

    def _read_config(self, foreign=None):
        return self.client_plugin().read_own_config(
            self.esi_type, self.resource_id, self.name, foreign)

    def _read_state(self, min_version=None):
        return self.client_plugin().read_state(
            self.esi_type, self.resource_id, min_version)

    def _create_conditions(self):
        """Compares a create's write needs besides its /config's absence.

        None by default. A type that counts what etcd holds (a gateway's
        static routes against its maximum) refuses here when it is full,
        and returns the compares that keep its count true until the write;
        when they fail, the count is made again.
        """
        return []

    def handle_create(self):
        self._check_values()
        # Stored first: a create retried after a crash finds the same keys.
        if self.resource_id is None:
            self.resource_id_set(str(uuid.uuid4()))
        config_key = keys.config(self.esi_type, self.resource_id)
        for _attempt in range(CREATE_ATTEMPTS):
            extra = self._create_conditions()
            if self._write([etcd.absent(config_key)] + extra,
                           self._create_body(self.resource_id), 1,
                           records.CREATE) is not None:
                break
            if not extra or self.client().get(config_key) is not None:
                self.client_plugin().resume_create(
                    self.name, self.esi_type, self.resource_id)
                break
        else:
            raise exception.Error(
                _('%s: what it is counted against kept changing in etcd; '
                  'retry the create') % self.esi_type)
        return {'version': 1, 'action': records.CREATE}

    def check_create_complete(self, cookie):
        return self._check_done(cookie)

    def needs_replace_failed(self):
        """Replace a failed resource only when its /config is not intact.

        Otherwise it keeps its id in ESI and is re-checked (_needs_update).
        """
        return self.resource_id is None or \
            self.client_plugin().config_lost(self.esi_type,
                                             self.resource_id, self.name)

    def _needs_update(self, after, before, after_props, before_props,
                      prev_resource, check_init_complete=True):
        needed = super(EsiResource, self)._needs_update(
            after, before, after_props, before_props, prev_resource,
            check_init_complete)
        # Kept by needs_replace_failed(): updated even with nothing
        # changed, so that handle_update re-checks it.
        self._recheck = self.status == self.FAILED
        return needed or self._recheck

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff and not self._recheck:
            return None
        self._check_values(prop_diff)
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(_('%s; the resource cannot be updated')
                                  % self._not_found())
        body, version, _marked = config
        new_body = self._update_body(body, prop_diff)
        if 'status' in body:     # a body without one (vpn_service) keeps so
            new_body['status'] = states.PENDING_UPDATE
        if not prop_diff and not lifecycle.has_plan(self.esi_type):
            return self._write_next(kv, new_body, version + 1,
                                    records.MODIFY)
        if not prop_diff:
            # Wait for the job a failed action left, else check again.
            return lifecycle.newest_job_in_flight(
                self.client(), self.client_plugin().handlers(self.esi_type),
                self.esi_type, self.resource_id) or self._write_next(
                    kv, new_body, version + 1, records.MODIFY)
        if new_body == body:
            # The same update again: wait for the job already written.
            state = self._read_state()
            if state is None or not states.is_failed(state['worker_state']):
                return {'version': version, 'action': records.MODIFY}
        return self._write_next(kv, new_body, version + 1, records.MODIFY)

    def _write_next(self, kv, body, version, action, marked=False):
        """Write *version*, unless /config changed since *kv* was read."""
        if not marked:
            self.client_plugin().refuse_missing_references(
                self.esi_type, self.resource_id, body)
        if self._write([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                       body, version, action, marked=marked) is None:
            raise exception.Error(
                _('%(key)s changed in etcd during the %(what)s; retry it') %
                {'key': kv.key, 'what': 'delete' if marked else 'update'})
        return {'version': version, 'action': action}

    def check_update_complete(self, cookie):
        return cookie is None or self._check_done(cookie)

    def handle_delete(self):
        if self.resource_id is None:
            return None
        # Within a stack, Heat deletes the user first; one in another
        # stack (or outside Heat) must be deleted before.
        self.client_plugin().refuse_in_use(self.esi_type, self.resource_id)
        foreign = []
        kv, config = self._read_config(foreign)
        if foreign:
            # Another project's resource (adopted before adopt checked):
            # nothing of it is touched, the stack just lets go of it.
            return None
        if kv is None:
            lifecycle.forget(self.client(), self.esi_type, self.resource_id)
            return None
        body, version, marked = config
        if not lifecycle.has_plan(self.esi_type):
            # No worker to tell: /config and /state go at once.
            lifecycle.forget(self.client(), self.esi_type, self.resource_id)
            return None
        if marked and lifecycle.delete_under_way(version,
                                                 self._read_state()):
            return {'version': version, 'action': records.LOGICAL_DELETE}
        return self._write_next(kv, dict(body, status=states.PENDING_DELETE),
                                version + 1, records.LOGICAL_DELETE,
                                marked=True)

    def check_delete_complete(self, cookie):
        done = cookie is None or self._check_done(cookie)
        if done and cookie is not None:
            lifecycle.forget(self.client(), self.esi_type, self.resource_id)
        return done

    def handle_create_cancel(self, cookie):
        """Withdraw the unclaimed jobs of an action that Heat gave up on."""
        if cookie and self.resource_id is not None:
            self.client_plugin().withdraw(self.name, self.esi_type,
                                          self.resource_id, cookie)

    handle_update_cancel = handle_create_cancel

    def handle_adopt(self, resource_data=None):
        self.client_plugin().refuse_adopt(
            self.esi_type, (resource_data or {}).get('resource_id'))
        return super(EsiResource, self).handle_adopt(resource_data)

    def handle_check(self):
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(self._not_found())
        # A check writes nothing and waits for no job.
        dependencies = self._dependencies()
        self.client_plugin().refuse_check(
            self.esi_type, self.resource_id, config[1], self._read_state(),
            dependencies)
        if not lifecycle.has_plan(self.esi_type):
            return None     # no device carries it: nothing to poll
        return stack_check.start(self.client(), dependencies)

    def check_check_complete(self, cookie):
        return cookie is None or stack_check.poll(self.client(), cookie)

    def _check_done(self, cookie):
        """Whether the job of *cookie* is done (tenant_errors.outcome)."""
        state_key = keys.state(self.esi_type, self.resource_id)
        watch = state_watch.of(self.client())
        try:
            state = watch.wait(state_key, lambda state: (
                state is not None and state['version'] >= cookie['version']),
                lifecycle.CHECK_WAIT)
        except exceptions.MalformedValue as exc:
            raise exception.Error(str(exc))
        except exceptions.EtcdError as exc:
            # A short etcd outage must not fail the stack: Heat's timeout
            # bounds the wait.
            LOG.warning('%s: cannot read its state yet: %s', self.name, exc)
            return False
        if state is not None and state['version'] >= cookie['version']:
            watch.done(state_key)
        done = tenant_errors.outcome(     # the plan's last job answers
            state, cookie['version'],
            lifecycle.expected_action(self.esi_type, cookie['action']),
            self.esi_type, self.resource_id)
        if not done:
            heat_events.explain_no_worker(self, cookie)
        return done

    def _add_event(self, action, status, reason):
        """Heat's event, without properties if the type has secrets."""
        if self.secret_properties:
            return heat_events.add_event_without_properties(
                self, action, status, reason)
        return super(EsiResource, self)._add_event(action, status, reason)

    def _show_resource(self):
        kv, config = (None, None) if self.resource_id is None \
            else self._read_config()
        if kv is None:
            return {}
        # state_monitoring: each element, or each resource ``monitored``.
        return lifecycle.shown(
            *config, state=self._read_state(),
            secret_fields=self.secret_properties,
            monitoring=lambda: lifecycle.state_monitoring(
                self.client(), self.esi_type, self.resource_id,
                self._dependencies() if self.monitored else None))

    def _resolve_attribute(self, name):
        if self.resource_id is None:
            return None
        return self._show_resource().get(name)


tenant_errors.hide_etcd_endpoints(EsiResource)

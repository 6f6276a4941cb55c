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

``handle_<action>`` writes /config at its next version and its job in one
etcd transaction, conditioned on what was read, and returns the cookie
``{'version', 'action'}``; ``check_<action>_complete`` reads /state until
a worker answered for that version (client.outcome). Each step may run
again (Heat retries, heat-engine dies): the id is stored before anything
is written, and what an earlier attempt wrote is waited for, not redone.

Like Heat's octavia_base, a template only: the etcd steps are in
heat_esi.lifecycle (no Heat there), a request's reads, writes and refusals
in the client plugin (heat_esi.client), Heat's records in heat_events. A
type (heat_esi/resources) declares its schema (resource_properties), its
relations (templates.RELATIONS), ``monitored`` and its /config body.
Every TENANT_FACING method (client) of the base and of each subclass hides
etcd's endpoint, applied once by __init_subclass__: none can miss it.
Outside heat_esi/resources: heat-engine would load a base there twice.
"""

import uuid

from oslo_config import cfg
from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine import resource

from heat_esi import client
from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import heat_events
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import resource_properties
from heat_esi import stack_check
from heat_esi import states
from heat_esi import templates
from heat_esi import validation

LOG = logging.getLogger(__name__)

conf.register_engine_opts(cfg.CONF)


class EsiResource(resource.Resource):
    """Base class of the resources whose work an esi-worker does."""

    default_client_name = client.CLIENT_NAME

    # Overridden by each resource type.
    esi_type = None
    handler = 'monitoring_worker'
    # Properties that must not be shown back (passwords).
    secret_properties = ()
    # ((label, relation field)): the resources that a stack check polls
    # and state_monitoring shows, one per label; empty: the resource itself.
    monitored = ()
    # A failed check says nothing about /config: needs_replace_failed()
    # decides, for CHECK_FAILED as for CREATE/UPDATE_FAILED.
    always_replace_on_check_failed = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        client.hide_etcd_endpoints(cls)

    def __init__(self, name, definition, stack):
        super(EsiResource, self).__init__(name, definition, stack)
        self._recheck = False       # set by _needs_update

    # --- what each type declares ----------------------------------------

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

    # --- validation -------------------------------------------------------

    def validate(self):
        self.client_plugin().prefetch_references(
            lambda: [ref[1:] for ref in self._references(self.properties)])
        super(EsiResource, self).validate()
        self._check_values(resource_properties.known_now(self))

    def _references(self, values):
        return resource_properties.references(
            self.esi_type, self.properties_schema, values)

    def _check_values(self, values=None):
        """Refuse values that etcd or a worker cannot take (again at create).

        :param values: the properties to check (default: all of them).
        """
        values = self.properties if values is None else values
        for name in self.properties_schema:
            problem = validation.invalid_value(values.get(name))
            if problem:
                raise self._property_error(name, problem)

    def _property_error(self, name, message):
        return resource_properties.property_error(self, name, message)

    # --- etcd, through the client plugin ---------------------------------

    def _not_found(self, resource_id=None):
        return self.client_plugin().not_found(
            self.esi_type, resource_id or self.resource_id)

    def _write(self, compare, body, version, action, **kwargs):
        return self.client_plugin().write(
            self.name, self.esi_type, self.resource_id, self.handler,
            compare, body, version, action, **kwargs)

    def _read_config(self, foreign=None):
        return self.client_plugin().read_own_config(
            self.esi_type, self.resource_id, self.name, foreign)

    def _read_state(self, min_version=None):
        return self.client_plugin().read_state(
            self.esi_type, self.resource_id, min_version)

    # --- create -----------------------------------------------------------

    def handle_create(self):
        self._check_values()
        # Stored first: a create retried after a crash finds the same keys.
        if self.resource_id is None:
            self.resource_id_set(str(uuid.uuid4()))
        config_key = keys.config(self.esi_type, self.resource_id)
        if self._write([etcd.absent(config_key)],
                       self._create_body(self.resource_id), 1,
                       records.CREATE) is None:
            self._resume_create()
        return {'version': 1, 'action': records.CREATE}

    def _resume_create(self):
        """The config is there already: write its job again if withdrawn."""
        kv, config = self._read_config()
        if kv is None:
            raise exception.Error(self._not_found())
        body, version, marked = config
        if version != 1 or marked:
            LOG.info('%s: %s is at version %s, not creating it again',
                     self.name, kv.key, version)
            return
        job_id = self._write(lifecycle.create_job_conditions(
            self.handler, self.esi_type, self.resource_id, kv),
            body, 1, records.CREATE, with_config=False)
        LOG.info('%s: %s', self.name, 'its job or state is there already'
                 if job_id is None else 'its job was withdrawn; wrote job %s '
                 'again' % job_id)

    def check_create_complete(self, cookie):
        return self._check_done(cookie)

    # --- update -----------------------------------------------------------

    def needs_replace_failed(self):
        """Replace a failed resource only when its /config is not intact.

        Otherwise it keeps its id in ESI and is re-checked (_needs_update).
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
        new_body = dict(self._update_body(body, prop_diff),
                        status=states.PENDING_UPDATE)
        if not prop_diff:
            # Wait for the job a failed action left, else check again.
            return lifecycle.newest_job_in_flight(
                self.client(), self.handler, self.esi_type,
                self.resource_id) or self._write_update(kv, new_body,
                                                        version + 1)
        if new_body == body:
            # The same update again: wait for the job already written.
            state = self._read_state()
            if state is None or not states.is_failed(state['worker_state']):
                return {'version': version, 'action': records.MODIFY}
        return self._write_update(kv, new_body, version + 1)

    def _write_update(self, kv, body, version):
        self.client_plugin().refuse_missing_references(
            self.esi_type, self.resource_id, body)
        if self._write([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                       body, version, records.MODIFY) is None:
            raise exception.Error(
                _('%s changed in etcd during the update; retry it') % kv.key)
        return {'version': version, 'action': records.MODIFY}

    def check_update_complete(self, cookie):
        return cookie is None or self._check_done(cookie)
    # --- delete -----------------------------------------------------------

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
        if marked and lifecycle.delete_under_way(version,
                                                 self._read_state()):
            return {'version': version, 'action': records.LOGICAL_DELETE}
        if self._write([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                       dict(body, status=states.PENDING_DELETE), version + 1,
                       records.LOGICAL_DELETE, marked=True) is None:
            raise exception.Error(
                _('%s changed in etcd during the delete; retry it') % kv.key)
        return {'version': version + 1, 'action': records.LOGICAL_DELETE}

    def check_delete_complete(self, cookie):
        if cookie is None:
            return True
        if not self._check_done(cookie):
            return False
        lifecycle.forget(self.client(), self.esi_type, self.resource_id)
        return True

    # --- cancel (Heat gave up: cancelled, or the stack timed out) -----------

    def _cancel(self, cookie):
        if not cookie or self.resource_id is None:
            return
        for job_id, withdrawn in lifecycle.withdraw(
                self.client(), self.handler, self.esi_type,
                self.resource_id, cookie):
            LOG.info('%(res)s: job %(job)s %(what)s', {
                'res': self.name, 'job': job_id,
                'what': 'withdrawn' if withdrawn else
                'already claimed, left to finish'})

    def handle_create_cancel(self, cookie):
        self._cancel(cookie)

    def handle_update_cancel(self, cookie):
        self._cancel(cookie)

    # --- adopt and check ---------------------------------------------------

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
        return stack_check.start(self.client(), dependencies)

    def check_check_complete(self, cookie):
        return cookie is None or stack_check.poll(self.client(), cookie)

    # --- the worker's answer ------------------------------------------------

    def _check_done(self, cookie):
        """Whether the job of *cookie* is done, as outcome() says."""
        version, action = cookie['version'], cookie['action']
        try:
            state = self._read_state(min_version=version)
        except exceptions.EtcdError as exc:
            # A short etcd outage must not fail the stack; Heat's timeout
            # bounds the wait.
            LOG.warning('%s: cannot read its state yet: %s', self.name, exc)
            return False
        done = client.outcome(state, version, action, self.esi_type,
                              self.resource_id)
        if not done:
            try:
                alive = lifecycle.workers_alive(self.client())
            except exceptions.EtcdError:
                return False    # said by the next read of /state if it lasts
            heat_events.explain_no_worker(self, cookie, alive)
        return done

    def _add_event(self, action, status, reason):
        """Heat's event, without properties if the type has secrets."""
        if self.secret_properties:
            return heat_events.add_event_without_properties(
                self, action, status, reason)
        return super(EsiResource, self)._add_event(action, status, reason)

    # --- attributes -------------------------------------------------------

    def _show_resource(self):
        kv, config = (None, None) if self.resource_id is None \
            else self._read_config()
        if kv is None:
            return {}
        return lifecycle.shown(*config, state=self._read_state(),
                               secret_fields=self.secret_properties,
                               monitoring=self._state_monitoring)

    def _state_monitoring(self):
        """{element or label: UP|DOWN} as monitored now.

        What a monitor saw last (/monitoring) wins over what the worker
        found when the action ran; a type with ``monitored`` relations
        shows each of their resources as a whole.
        """
        if not self.monitored:
            return states.shown(states.parts_of(
                self.client(), self.esi_type, self.resource_id))
        return {label: states.UP if states.healthy(
                    states.parts_of(self.client(), rtype, rid))
                else states.DOWN
                for label, rtype, rid in self._dependencies()}

    def _resolve_attribute(self, name):
        if self.resource_id is None:
            return None
        return self._show_resource().get(name)


client.hide_etcd_endpoints(EsiResource)

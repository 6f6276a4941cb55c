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

"""The element pipeline: a resource's heat_template run element by element.

A resource type's ``<type>_monitoring`` heat_template, rendered with a
resource's params, gives its elements; each element is handed to the
resource plugin its ``type`` names (entry points
``heat_esi.monitoring_plugins``, see plugins.base). Jobs check the elements
(the monitoring_worker handler) and the monitor polls them; both go
through Pipeline, so that both render alike and fail alike: an element's
error is an ElementError naming the heat_template, the element, its type
and the resource, and the states found so far stay recorded per element.

Rendering (rendering.py) hands the elements their values as data, never
as YAML text.
"""

import asyncio
import collections

from oslo_log import log as logging
import stevedore

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import states
from heat_esi import template_mappings
from heat_esi import templates
from heat_esi.worker import params as job_params
from heat_esi.worker import rendering

LOG = logging.getLogger(__name__)

PLUGIN_NAMESPACE = 'heat_esi.monitoring_plugins'
# Rendered jobs kept between a claim's prefetch and its run; more than this
# many means claims were lost to other workers, and the rest is dropped.
MAX_RENDERED = 1000


# --- plugins -----------------------------------------------------------------

def _plugin_failed(manager, entrypoint, exc):
    # A plugin left out would fail its jobs with "unknown plugin type";
    # a configuration error must stop the worker at start instead.
    raise exceptions.ConfigError('resource plugin %s: %s'
                                 % (entrypoint.name, exc))


def load_plugins(client, conf):
    """{type: plugin} of every installed resource plugin, built once.

    One worker loads them once, and its job handler and its monitor share
    them (cmd/worker.py).

    :raises ConfigError: a plugin cannot start with this configuration.
    """
    return {ext.name: ext.obj for ext in stevedore.ExtensionManager(
        PLUGIN_NAMESPACE, invoke_on_load=True, invoke_args=(client, conf),
        on_load_failure_callback=_plugin_failed)}


# Rendering lives in rendering.py; these names are the pipeline's API.
render = rendering.render
element_timeouts = rendering.element_timeouts


# --- what the pipeline hands back -------------------------------------------

class Elements(object):
    """A heat_template rendered for one resource: its elements, in order."""

    def __init__(self, template, resource_type, resource_id, elements):
        self.template = template            # the heat_template's name
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.items = elements               # {element: properties}

    @property
    def resource(self):
        return '%s %s' % (self.resource_type, self.resource_id)

    def where(self, element):
        """Name the heat_template, the element and its type."""
        return 'heat_template %s, element %s (%s)' % (
            self.template, element, self.items[element]['type'])


class ElementError(exceptions.JobFailed):
    """An element failed: the one error shape of jobs and polls alike.

    Its message names the heat_template, the element, its type and the
    resource: ``heat_template T, element E (TYPE), RTYPE RID: reason``.
    Its outcome holds the state_monitoring of the elements run before it
    and, when its plugin ran, this element's DOWN.
    """

    def __init__(self, elements, element, reason, results, logged=False):
        self.where = elements.where(element)
        self.element = element
        self.resource = elements.resource
        self.reason = reason
        # The plugin crashed and the traceback is in the log already.
        self.logged = logged
        super().__init__('%s, %s: %s' % (self.where, self.resource, reason),
                         {'state_monitoring': results})


# (state, why, address) of a poll: {element: UP|DOWN}, {element: why it is
# DOWN} and the addresses of the devices polled, for messages.
Polled = collections.namedtuple('Polled', 'state why address')


def _describe(exc):
    text = str(exc)
    if len(text) > 300:
        text = text[:297] + '...'
    return '%s: %s' % (type(exc).__name__, text) if text else \
        type(exc).__name__


# --- the pipeline ------------------------------------------------------------

class Pipeline(object):
    """A resource's heat_template: fetched, rendered, and run by plugins."""

    def __init__(self, client, plugins,
                 handler=template_mappings.MONITORING_WORKER):
        self.client = client
        # Whose template mappings choose the heat_template of a resource.
        self.handler = handler
        self.plugins = plugins          # {type: plugin}, see load_plugins
        # template name -> (mod_revision, checked body) of the last copy
        # read: parsed and checked once per revision, not once per job.
        self._templates = {}
        # job id -> (template mod_revision, params, Elements) rendered
        # when the job's claim was prepared, for its run to reuse.
        self._rendered = {}

    # --- templates and params ----------------------------------------------

    def _template(self, name, kv=False):
        """Return (mod_revision, checked body) of heat_template *name*.

        :param kv: its KV read by the caller (None: not there); False: read
            it now (the revision is then unknown, and nothing is cached).
        """
        cached = self._templates.get(name)
        if kv and cached is not None and cached[0] == kv.mod_revision:
            return cached
        template = templates.fetch(self.client, name, kv)
        if not kv:
            return None, template
        self._templates[name] = (kv.mod_revision, template)
        return kv.mod_revision, template

    def prefetch(self, job):
        """Return the keys to read with the claim of *job*.

        They are its heat_template and, when a copy of that is at hand,
        what its elements' plugins read first (Plugin.keys).
        """
        try:
            name = self._job_template(job)
        except exceptions.TemplateError:
            return ()       # its run fails it, with the reason
        if name is None:
            return ()
        found = [keys.heat_template(name)]
        cached = self._templates.get(name)
        if cached is None:
            return tuple(found)
        try:
            params = _job_params(job)
            elements = self._render(name, job['resource_type'],
                                    job['resource_id'], cached[1], params)
            for element, props in elements.items.items():
                plugin = self.plugins.get(props['type'])
                if plugin is not None:
                    found += [k for k in plugin.keys(props)
                              if k not in found]
        except Exception:
            # A job that does not render is failed by its run, with the
            # error; reading ahead for it is not worth a crash here.
            return tuple(found)
        if len(self._rendered) > MAX_RENDERED:
            self._rendered.clear()
        self._rendered[job['id']] = (cached[0], params, elements)
        return tuple(found)

    def for_job(self, job, read):
        """Return the Elements of a claimed job.

        :param read: {key: KV or None} read with the claim (prefetch).
        :raises JobFailed: naming the resource and what is wrong.
        """
        esi_type, rid = job['resource_type'], job['resource_id']
        rendered = self._rendered.pop(job['id'], None)
        params = _job_params(job)
        try:
            name = self._job_template(job)
            if name is None:
                return Elements(None, esi_type, rid, {})
            revision, template = self._template(
                name, read.get(keys.heat_template(name), False))
            if rendered is not None and rendered[:2] == (revision, params):
                return rendered[2]
            return self._render(name, esi_type, rid, template, params)
        except (exceptions.JobFailed, exceptions.TemplateError,
                exceptions.MalformedValue) as exc:
            raise exceptions.JobFailed('%s %s: %s' % (esi_type, rid, exc))

    def for_config(self, esi_type, rid, body, version, read=None):
        """Return the Elements of a resource as its /config describes it.

        The params are built from the body as heat-engine built its job's.

        :param read: {key: KV} of the heat_templates read by the caller
            (the monitor, once per cycle rather than once per device); a
            template not in it is read now.
        :raises JobFailed: naming the resource and what is wrong.
        """
        try:
            name = template_mappings.template_name(self.handler, esi_type,
                                                   body, version)
            if name is None:
                return Elements(None, esi_type, rid, {})
            _, template = self._template(
                name, (read or {}).get(keys.heat_template(name), False))
            params = templates.build_params(
                template, esi_type, body, version,
                templates.config_lookup(self.client))
            # Outputs of stacks (output_key params) are read as the
            # job's were: the monitor polls what the worker made.
            return self._render(name, esi_type, rid, template,
                                job_params.resolve(self.client,
                                                   {'params': params}))
        except (exceptions.JobFailed, exceptions.TemplateError,
                exceptions.MalformedValue) as exc:
            raise exceptions.JobFailed('%s %s: %s' % (esi_type, rid, exc))

    def _job_template(self, job):
        """The heat_template name of *job* by our mappings, or None.

        The mapping reads the resource's body: the job's resource_input.
        """
        return template_mappings.template_name(
            self.handler, job['resource_type'], job['resource_input'],
            job['version'])

    @staticmethod
    def _render(name, esi_type, rid, template, params):
        return Elements(name, esi_type, rid, render(template, params))

    def _plugin(self, elements, element, results):
        kind = elements.items[element]['type']
        plugin = self.plugins.get(kind)
        if plugin is None:
            raise ElementError(
                elements, element, 'unknown plugin type %s (known: %s)'
                % (kind, ', '.join(sorted(self.plugins))), results)
        return plugin

    def _crashed(self, doing, elements, element, exc, results):
        """Log a plugin's unexpected error, and make it the element's."""
        LOG.error('cannot %s %s: element %s (%s) failed (heat_template %s)',
                  doing, elements.resource, element,
                  elements.items[element]['type'], elements.template,
                  exc_info=exc)
        return ElementError(elements, element, 'internal error in plugin '
                            '%s: %s' % (elements.items[element]['type'],
                                        _describe(exc)), results,
                            logged=True)

    # --- running the elements ----------------------------------------------

    def check(self, elements, clock, read=None):
        """Check every element for a job; return {element: state}.

        The job's deadline becomes the largest job_timeout of its elements
        when they set one.

        :param clock: the job's JobClock.
        :param read: {key: KV or None} read with the claim.
        :raises ElementError: an element is not healthy or cannot be
            checked (the first one; the rest are not checked).
        :raises JobFailed: an element's job_timeout is not valid.
        """
        try:
            timeouts = element_timeouts(elements.template, elements.items)
        except exceptions.JobFailed as exc:
            raise exceptions.JobFailed('%s: %s' % (elements.resource, exc))
        if timeouts:
            clock.set_timeout(max(timeouts), 'job_timeout of heat_template '
                              '%s' % elements.template)
        results = {}
        for element, props in elements.items.items():
            try:
                clock.check()
            except exceptions.JobFailed as exc:
                raise ElementError(elements, element, str(exc), results)
            plugin = self._plugin(elements, element, results)
            try:
                results[element] = plugin.check(props, clock, read)
            except (exceptions.JobFailed, exceptions.MalformedValue) as exc:
                results[element] = states.DOWN
                raise ElementError(elements, element, str(exc), results)
            except (exceptions.JobInterrupted, exceptions.EtcdError):
                raise
            except Exception as exc:
                results[element] = states.DOWN
                raise self._crashed('check', elements, element, exc,
                                    results)
        return results

    def poll(self, elements, abort, deadline=None):
        """poll_async in a loop of its own; see there."""
        return asyncio.run(self.poll_async(elements, abort, deadline))

    async def poll_async(self, elements, abort, deadline=None,
                         run_sync=None):
        """Poll every element once for the monitor; return a Polled.

        Every element's plugin must be pollable (Plugin.pollable); a
        template with one that is not cannot be monitored.

        :param abort: an Event set when the monitor stops.
        :param deadline: the Deadline of the whole poll; an element still
            polled then is DOWN, with that reason, and so is every element
            after it.
        :param run_sync: awaitable = run_sync(function, *args): how to run
            the poll() of a plugin without poll_async (default: a thread
            of asyncio's).
        :raises ElementError: an element cannot be polled (its type, a
            property, a plugin's error); its device is not monitored.
        :raises JobInterrupted: the monitor stops.
        """
        plugins = {}
        for element, props in elements.items.items():
            plugins[element] = self._plugin(elements, element, {})
            if not plugins[element].pollable:
                raise ElementError(elements, element, 'type %s cannot be '
                                   'polled' % props['type'], {})
        found, why, where = {}, {}, set()
        for element, props in elements.items.items():
            plugin = plugins[element]
            try:
                if plugin.poll_async is not None:
                    call = plugin.poll_async(props, abort)
                else:
                    call = (run_sync or asyncio.to_thread)(plugin.poll,
                                                           props, abort)
                try:
                    found[element], reason = await asyncio.wait_for(
                        call, deadline and deadline.left())
                except asyncio.TimeoutError:
                    found[element] = states.DOWN
                    reason = deadline.missed('the poll of element %s'
                                             % element)
                address = plugin.address(props)
            except (exceptions.JobFailed, exceptions.MalformedValue) as exc:
                raise ElementError(elements, element, str(exc), found)
            except (exceptions.JobInterrupted, exceptions.EtcdError):
                raise
            except Exception as exc:
                raise self._crashed('monitor', elements, element, exc, found)
            if reason:
                why[element] = reason
            if address:
                where.add(address)
        return Polled(found, why, ', '.join(sorted(where)))


def _job_params(job):
    return {p['param']: p['value'] for p in job['params']}

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

"""monitoring_worker: checks a resource through its heat_template.

The resource type's ``<type>_monitoring`` heat_template is rendered with the
job's params into elements; each element is checked by the resource plugin
its ``type`` names (namespace heat_esi.monitoring_plugins). The result is
the element -> state map that the seed calls state_monitoring.

Values reach the elements as data, never as YAML text: each ``{{ ... }}``
renders as a placeholder, the YAML is parsed, and then the placeholders are
replaced by the values themselves. An IPv6 address, an id such as ``010``
or ``null``, or a value with a newline stays the string it was.
"""

import functools
import json
import math
import re
import secrets
import threading

import jinja2
from jinja2 import sandbox
from oslo_log import log as logging
import stevedore
import yaml

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import templates

LOG = logging.getLogger(__name__)

PLUGIN_NAMESPACE = 'heat_esi.monitoring_plugins'
# Keys of a rendered template that are not elements.
NOT_ELEMENTS = ('db_mappings',)

# libyaml's safe loader where PyYAML was built with it: ten times faster.
_Loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)

# The values of the render under way in this thread, by placeholder.
_rendering = threading.local()


def _placeholder(value):
    """Jinja's finalize: what ``{{ value }}`` writes into the YAML text."""
    if isinstance(value, jinja2.Undefined):
        str(value)          # StrictUndefined: raises, naming the variable
    values = _rendering.values
    token = '%s-%d' % (_rendering.nonce, len(values))
    values[token] = value
    return token


_jinja = sandbox.ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False,
    finalize=_placeholder)


@functools.lru_cache(maxsize=128)
def _compile(source):
    # Compiling costs more than rendering; templates change seldom.
    return _jinja.from_string(source)


def render(template, params):
    """The elements of *template* rendered with *params* ({param: value})."""
    name = template['id']
    # Random per render, so that no template text can forge a placeholder.
    _rendering.nonce = nonce = 'esi-value-%s' % secrets.token_hex(8)
    _rendering.values = values = {}
    try:
        text = _compile(template['template_file']).render(params)
    except jinja2.TemplateSyntaxError as exc:
        raise exceptions.JobFailed(
            'heat_template %s: template_file line %s: %s'
            % (name, exc.lineno, exc.message))
    except jinja2.TemplateError as exc:
        raise exceptions.JobFailed(
            'heat_template %s: template_file does not render: %s'
            % (name, exc))
    finally:
        _rendering.values = None
    try:
        elements = _Substitution(nonce, values).apply(
            yaml.load(text, Loader=_Loader)) or {}
    except yaml.YAMLError as exc:
        raise exceptions.JobFailed(
            'heat_template %s: rendered template_file is not YAML: %s'
            % (name, exc))
    if not isinstance(elements, dict):
        raise exceptions.JobFailed(
            'heat_template %s: rendered template_file is not a map of '
            'elements' % name)
    found = {}
    for element, props in elements.items():
        if element in NOT_ELEMENTS:
            continue
        if not isinstance(props, dict) or not isinstance(props.get('type'),
                                                         str):
            raise exceptions.JobFailed(
                'heat_template %s: element %s has no "type"'
                % (name, element))
        found[str(element)] = props
    return found


class _Substitution(object):
    """Puts the values of a render back where their placeholders are."""

    def __init__(self, nonce, values):
        self.values = values
        self.pattern = re.compile(re.escape(nonce) + r'-\d+')
        self.done = {}      # id -> result: YAML aliases are walked once

    def apply(self, obj):
        if isinstance(obj, str):
            if obj in self.values:
                return _data(self.values[obj])
            return self.pattern.sub(
                lambda m: _text(self.values.get(m.group(0), m.group(0))),
                obj)
        if not isinstance(obj, (dict, list)):
            return obj
        if id(obj) in self.done:
            return self.done[id(obj)]
        if isinstance(obj, list):
            result = self.done[id(obj)] = []
            result.extend(self.apply(item) for item in obj)
        else:
            result = self.done[id(obj)] = {}
            for key, value in obj.items():
                key = self.apply(key)
                if isinstance(key, (dict, list)):
                    key = _text(key)
                result[key] = self.apply(value)
        return result


def _data(value):
    """A rendered value as plain data (what JSON can hold)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dict, list)):
        return value
    return str(value)


def _text(value):
    """A value written inside a longer string."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(_data(value))
    except (TypeError, ValueError):
        return str(value)


def _element_timeouts(name, elements):
    """The job_timeout of the elements that set one."""
    found = []
    for element, props in elements.items():
        if 'job_timeout' not in props:
            continue
        value = props['job_timeout']
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not math.isfinite(value) or value <= 0):
            raise exceptions.JobFailed(
                'heat_template %s: element %s: job_timeout must be a '
                'positive number of seconds' % (name, element))
        found.append(value)
    return found


def _plugin_failed(manager, entrypoint, exc):
    # A plugin left out would fail its jobs with "unknown plugin type";
    # a configuration error must stop the worker at start instead.
    raise exceptions.ConfigError('resource plugin %s: %s'
                                 % (entrypoint.name, exc))


class MonitoringHandler(object):

    def __init__(self, client, conf):
        self.client = client
        self.plugins = {
            ext.name: ext.obj for ext in stevedore.ExtensionManager(
                PLUGIN_NAMESPACE, invoke_on_load=True,
                invoke_args=(client, conf),
                on_load_failure_callback=_plugin_failed)}
        # template name -> (mod_revision, checked body) of the last copy
        # read: parsed and checked once per revision, not once per job.
        self._templates = {}
        # job id -> (template mod_revision, params, elements) rendered by
        # prefetch, for run() to use when the claim read the same revision.
        self._rendered = {}

    def prefetch(self, job):
        """Keys to read along with the claim: the job's template and, when
        a copy of it is at hand, what its elements read first."""
        if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
            return ()
        name = templates.monitoring_template_name(job['resource_type'])
        found = [keys.heat_template(name)]
        cached = self._templates.get(name)
        if cached is not None:
            try:
                params = {p['param']: p['value'] for p in job['params']}
                elements = render(cached[1], params)
                for props in elements.values():
                    plugin = self.plugins.get(props['type'])
                    if hasattr(plugin, 'keys'):
                        found += [k for k in plugin.keys(props)
                                  if k not in found]
            except Exception:
                # A job that does not render is failed by run(), with the
                # error; reading ahead for it is not worth a crash here.
                return tuple(found)
            if len(self._rendered) > 1000:
                self._rendered.clear()      # claims lost to other workers
            self._rendered[job['id']] = (cached[0], params, elements)
        return tuple(found)

    def _template(self, name, kv):
        """(mod_revision, checked body) of heat_template *name* read as *kv*
        (False: not read yet)."""
        cached = self._templates.get(name)
        if kv and cached is not None and cached[0] == kv.mod_revision:
            return cached
        template = templates.fetch(self.client, name, kv)
        if not kv:
            return None, template
        self._templates[name] = (kv.mod_revision, template)
        return kv.mod_revision, template

    def run(self, claim, abort):
        """(outcome, extra keys to delete) of the claimed job."""
        job = claim.job
        rtype, rid = job['resource_type'], job['resource_id']
        if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
            # Nothing to check on a resource that goes away; its monitoring
            # record goes with the job.
            return {}, (keys.monitoring(rtype, rid),)
        name = templates.monitoring_template_name(rtype)
        rendered = self._rendered.pop(job['id'], None)
        try:
            revision, template = self._template(
                name, claim.prefetched.get(keys.heat_template(name), False))
        except (exceptions.TemplateError,
                exceptions.MalformedValue) as exc:
            raise exceptions.JobFailed('%s %s: %s' % (rtype, rid, exc))
        params = {p['param']: p['value'] for p in job['params']}
        try:
            if rendered is not None and rendered[:2] == (revision, params):
                elements = rendered[2]
            else:
                elements = render(template, params)
            timeouts = _element_timeouts(name, elements)
        except exceptions.JobFailed as exc:
            raise exceptions.JobFailed('%s %s: %s' % (rtype, rid, exc))
        if timeouts:
            abort.set_timeout(max(timeouts),
                              'job_timeout of heat_template %s' % name)
        results = {}
        for element, props in elements.items():
            where = ('heat_template %s, element %s (%s), %s %s'
                     % (name, element, props['type'], rtype, rid))
            try:
                abort.check()
            except exceptions.JobFailed as exc:
                raise exceptions.JobFailed('%s: %s' % (where, exc),
                                           {'state_monitoring': results})
            plugin = self.plugins.get(props['type'])
            if plugin is None:
                raise exceptions.JobFailed(
                    '%s: unknown plugin type %s (known: %s)'
                    % (where, props['type'], ', '.join(sorted(self.plugins))),
                    {'state_monitoring': results})
            try:
                if hasattr(plugin, 'keys'):
                    results[element] = plugin.check(props, abort,
                                                    claim.prefetched)
                else:
                    results[element] = plugin.check(props, abort)
            except (exceptions.JobFailed, exceptions.MalformedValue) as exc:
                results[element] = 'DOWN'
                raise exceptions.JobFailed('%s: %s' % (where, exc),
                                           {'state_monitoring': results})
        outcome = {'state_monitoring': results}
        claim.put_job_state(records.job_state(results))
        # This check is newer than the monitor's last poll: readers fall
        # back to /state until the monitor writes /monitoring again.
        return outcome, (keys.monitoring(rtype, rid),)

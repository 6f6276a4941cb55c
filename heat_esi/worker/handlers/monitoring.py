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
"""

import functools

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

_jinja = sandbox.ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=128)
def _compile(source):
    # Compiling costs more than rendering; templates change seldom.
    return _jinja.from_string(source)


def render(template, params):
    """The elements of *template* rendered with *params* ({param: value})."""
    name = template['id']
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
    try:
        elements = yaml.load(text, Loader=_Loader) or {}
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
        if not isinstance(props, dict) or 'type' not in props:
            raise exceptions.JobFailed(
                'heat_template %s: element %s has no "type"'
                % (name, element))
        found[str(element)] = props
    return found


class MonitoringHandler(object):

    def __init__(self, client, conf):
        self.client = client
        self.plugins = {
            ext.name: ext.obj for ext in stevedore.ExtensionManager(
                PLUGIN_NAMESPACE, invoke_on_load=True,
                invoke_args=(client, conf))}

    def prefetch(self, job):
        """Keys to read along with the claim: the job's template."""
        if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
            return ()
        return (keys.heat_template(
            templates.monitoring_template_name(job['resource_type'])),)

    def run(self, claim, abort):
        """(outcome, extra keys to delete) of the claimed job."""
        job = claim.job
        rtype, rid = job['resource_type'], job['resource_id']
        if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
            # Nothing to check on a resource that goes away; its monitoring
            # record goes with the job.
            return {}, (keys.monitoring(rtype, rid),)
        name = templates.monitoring_template_name(rtype)
        try:
            template = templates.fetch(
                self.client, name,
                claim.prefetched.get(keys.heat_template(name), False))
        except (exceptions.TemplateError,
                exceptions.MalformedValue) as exc:
            raise exceptions.JobFailed('%s %s: %s' % (rtype, rid, exc))
        params = {p['param']: p['value'] for p in job['params']}
        try:
            elements = render(template, params)
        except exceptions.JobFailed as exc:
            raise exceptions.JobFailed('%s %s: %s' % (rtype, rid, exc))
        results = {}
        for element, props in elements.items():
            where = ('heat_template %s, element %s (%s), %s %s'
                     % (name, element, props['type'], rtype, rid))
            plugin = self.plugins.get(props['type'])
            if plugin is None:
                raise exceptions.JobFailed(
                    '%s: unknown plugin type %s (known: %s)'
                    % (where, props['type'], ', '.join(sorted(self.plugins))),
                    {'state_monitoring': results})
            try:
                results[element] = plugin.check(props, abort)
            except (exceptions.JobFailed, exceptions.MalformedValue) as exc:
                results[element] = 'DOWN'
                raise exceptions.JobFailed('%s: %s' % (where, exc),
                                           {'state_monitoring': results})
        outcome = {'state_monitoring': results}
        claim.put_job_state(records.job_state(results))
        return outcome, ()

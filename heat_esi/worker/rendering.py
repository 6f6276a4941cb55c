# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""A heat_template's template_file rendered into elements.

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
import yaml

from heat_esi import exceptions

# Keys of a rendered template that are not elements.
NOT_ELEMENTS = ('db_mappings',)

# libyaml's safe loader where PyYAML was built with it: ten times faster.
_Loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)

# The values of the render under way in this thread, by placeholder.
_rendering = threading.local()


def _placeholder(value):
    """Return what ``{{ value }}`` writes into the YAML text (finalize)."""
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
    """Render the elements of *template* with *params* ({param: value}).

    :returns: {element: properties}, each with a string ``type``.
    :raises JobFailed: naming the heat_template and what is wrong.
    """
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
    """Return a rendered value as plain data (what JSON can hold)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dict, list)):
        return value
    return str(value)


def _text(value):
    """Return a value as it reads inside a longer string."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(_data(value))
    except (TypeError, ValueError):
        return str(value)


def element_timeouts(name, elements):
    """Return the job_timeout of the elements that set one.

    :raises JobFailed: a job_timeout is not a positive number.
    """
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

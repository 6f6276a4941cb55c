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

"""The ``esi-resources`` directive: every ESI:: type, from the plugins.

Like Heat's own template guide, each type's properties and attributes come
from its ``properties_schema`` and ``attributes_schema``, so the reference
cannot fall behind the code. The plugins are found as heat-engine finds
them: every module of ``heat_esi.resources`` with a ``resource_mapping()``.
"""

import importlib
import inspect
import logging
import pkgutil

import esi_rst


def _mappings():
    """{type name: class} of every plugin module, sorted by name."""
    # Heat's import of its own plugins logs a line per hidden type.
    logging.getLogger('heat').setLevel(logging.ERROR)
    from heat_esi import resources
    found = {}
    for info in pkgutil.iter_modules(resources.__path__):
        module = importlib.import_module('heat_esi.resources.' + info.name)
        mapping = getattr(module, 'resource_mapping', None)
        if mapping is not None:
            found.update(mapping())
    return dict(sorted(found.items()))


def _anchor(type_name):
    return 'resource-' + type_name.replace('::', '-').lower()


def _text(value):
    # Heat's descriptions are translatable strings; docutils wants str.
    return ' '.join(str(value).split())


def _property_lines(name, schema):
    lines = ['``%s``' % name]
    body = [_text(schema.description or '')]
    facts = [schema.type]
    facts.append('required' if schema.required else 'optional')
    if schema.default is not None:
        shown = schema.default if schema.default != '' else "''"
        facts.append('default ``%s``' % (shown,))
    facts.append('updates in place' if schema.update_allowed
                 else 'a change replaces the resource')
    body.append('*%s.*' % ', '.join(facts))
    for constraint in schema.constraints:
        body.append(_text(constraint))
    lines += ['   ' + line for line in body if line] + ['']
    return lines


def _attribute_lines(name, schema):
    lines = ['``%s``' % name]
    body = [_text(schema.description or '')]
    if getattr(schema, 'type', None):
        body.append('*%s.*' % schema.type)
    lines += ['   ' + line for line in body if line] + ['']
    return lines


def _type_lines(type_name, cls):
    from heat.engine import resource
    lines = ['.. _%s:' % _anchor(type_name), '',
             type_name, '-' * len(type_name), '']
    lines += inspect.cleandoc(cls.__doc__ or '').splitlines() + ['']
    lines += ['Properties', '~' * 10, '']
    for name, schema in sorted(cls.properties_schema.items()):
        if getattr(schema, 'implemented', True):
            lines += _property_lines(name, schema)
    lines += ['Attributes', '~' * 10, '']
    attrs = dict(resource.Resource.base_attributes_schema)
    attrs.update(cls.attributes_schema)
    for name, schema in sorted(attrs.items()):
        lines += _attribute_lines(name, schema)
    return lines


class EsiResources(esi_rst.GeneratedDirective):
    """A section per ESI:: type, with its properties and attributes."""

    def lines(self):
        lines = []
        for type_name, cls in _mappings().items():
            lines += _type_lines(type_name, cls)
        return lines


def setup(app):
    app.add_directive('esi-resources', EsiResources)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}

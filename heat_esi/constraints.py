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

"""Custom constraints for Heat (entry point namespace heat.constraints).

Each names the client plugin and the getter that validates an id, as
Heat's own constraints do (heat/engine/clients/os/nova.py ServerConstraint):
Heat calls ``context.clients.client_plugin('esi').<getter>(value)``, and
the getter's NotFound is the constraint's error message. What the getter
read is kept in the plugin for the rest of the request. The constraints
on references are generated from templates.RELATIONS.
"""

from heat.engine import constraints

from heat_esi import client
from heat_esi import exceptions
from heat_esi import templates
from heat_esi import validation


class EsiConstraint(constraints.BaseCustomConstraint):
    """A constraint whose error shows the value escaped and cut short.

    Heat's own error() quotes the whole value, raw: a tenant's 60 KB of
    terminal escape sequences would reach the error, its event and
    heat-engine's log as they are.
    """

    def error(self, value):
        return '%s: %s' % (validation.shorten(value), self._error_message)


class EsiResourceConstraint(EsiConstraint):
    """The value names an ESI resource of the stack's project.

    Another project's resource is refused with the very words used for a
    missing one (an admin context may use any); see
    client.EsiClientPlugin.get_usable.
    """

    resource_client_name = client.CLIENT_NAME
    expected_exceptions = (exceptions.EsiError,)


def class_name(esi_type):
    """The name of the constraint class of *esi_type*: EdgeRouterConstraint.

    setup.cfg's heat.constraints entry points name these classes; a unit
    test checks that they match templates.referenced_types().
    """
    return ''.join(part.capitalize() for part in esi_type.split('_')) + \
        'Constraint'


# One constraint per type that a relation points to, generated from
# templates.RELATIONS: a new relation gets its constraint (and the client
# plugin its getter) without a line here.
for _esi_type in templates.referenced_types():
    globals()[class_name(_esi_type)] = type(
        class_name(_esi_type), (EsiResourceConstraint,), {
            '__doc__': 'The value names an ESI %s of the stack\'s '
                       'project.' % _esi_type,
            'resource_getter_name': templates.getter_name(_esi_type)})
del _esi_type


class PrintableTextConstraint(EsiConstraint):
    """The value is printable text: no control or format character.

    The constraint of every free-text property (names, descriptions), see
    resource_properties.text_property and validation.invalid_text. Its
    error says which character, not the value.
    """

    def validate(self, value, context, template=None):
        return validation.invalid_text(value) is None

    def error(self, value):
        return validation.invalid_text(value)

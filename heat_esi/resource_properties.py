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

"""The properties of ESI resources: the schemas every type shares, checks.

A resource module declares its schema from these: free text, the name and
description, references to other ESI resources (typed by
templates.RELATIONS) and the status attributes. The checks are those of
EsiResource's validation, on values that Heat's schema let through.
"""

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import function
from heat.engine import properties

from heat_esi import templates
from heat_esi import validation


def text_property(description, min_length=None, **kwargs):
    """The schema of a free-text property: a name, a description...

    Printable and at most validation.MAX_TEXT_LENGTH characters, as ESI's
    API takes them: such text reaches operators' terminals and logs, and
    devices. Declared here once for every type.
    """
    return properties.Schema(
        properties.Schema.STRING, description,
        constraints=[
            # The length first: a huge value is refused without a scan.
            constraints.Length(min=min_length,
                               max=validation.MAX_TEXT_LENGTH),
            constraints.CustomConstraint('esi.printable_text')],
        **kwargs)


def naming_properties(what):
    """The name and description properties of every ESI resource."""
    return {
        'name': text_property(
            _('Name of the %(what)s: printable, at most %(max)d characters. '
              'Defaults to a name generated from the stack and resource '
              'names.') % {'what': what, 'max': validation.MAX_TEXT_LENGTH},
            update_allowed=True
        ),
        'description': text_property(
            _('Description of the %(what)s: printable, at most %(max)d '
              'characters.') % {'what': what,
                                'max': validation.MAX_TEXT_LENGTH},
            default='',
            update_allowed=True
        ),
    }


def tags_property(what):
    """The tags property of an ESI resource: a map that ESI keeps as it is.

    No constraint on its keys or values: ESI's API takes any map.
    """
    return properties.Schema(
        properties.Schema.MAP,
        _('Tags of the %s, a map kept as it is.') % what,
        default={},
        update_allowed=True
    )


def reference_property(esi_type, field, description, **kwargs):
    """The schema of a property that names another ESI resource.

    Its type comes from the relation declared in templates.RELATIONS, the
    one place that says which resource uses which: the constraint checks
    that the id names a resource of that type, and a resource that a
    relation points to cannot be deleted (see lifecycle.users).
    """
    target = templates.RELATIONS[(esi_type, field)]
    return properties.Schema(
        properties.Schema.STRING, description,
        constraints=[constraints.CustomConstraint(
            templates.constraint_name(target))],
        **kwargs)


def live_attribute(description, schema_type):
    """An attribute that reads etcd: not cached (CACHE_NONE).

    Workers and monitors change what it reads after the action, and Heat
    would otherwise show in outputs the value it saw first. Every such
    attribute is declared with this, so that none is cached by mistake.
    """
    return attributes.Schema(description, type=schema_type,
                             cache_mode=attributes.Schema.CACHE_NONE)


def state_attributes(what):
    """The status and worker_state attributes of every ESI resource.

    Like every attribute that reads etcd, they are live attributes (see
    live_attribute).
    """
    return {
        'status': live_attribute(
            _('Status of the %s: ACTIVE once the worker found it up, DOWN '
              'when its monitoring says so, ERROR when the worker failed, '
              'otherwise the PENDING_* status of its configuration.') % what,
            attributes.Schema.STRING
        ),
        'worker_state': live_attribute(
            _('Last state reported by the worker, such as '
              'CREATE_COMPLETED.'),
            attributes.Schema.STRING
        ),
    }


def references(esi_type, schema, values):
    """[(field, type, id)] of the resources that *values* reference.

    From the relations of templates.RELATIONS; a field without a value
    (yet) is left out.
    """
    return [(field, target, values.get(field))
            for field, target in templates.references(esi_type)
            if field in schema and values.get(field) is not None]


def check_values(res, values=None):
    """Refuse values of *res* that etcd or a worker cannot take.

    Runs at validation and again before anything is written, since a
    value that comes from another resource is only known then.

    :param values: the properties to check (default: all of them).
    """
    values = res.properties if values is None else values
    for name in res.properties_schema:
        problem = validation.invalid_value(values.get(name))
        if problem:
            raise property_error(res, name, problem)


def property_error(res, name, message):
    """A validation error that names the property, as Heat's own do."""
    return exception.StackValidationFailed(
        error=_('Property error'),
        path=[res.stack.t.RESOURCES, res.name,
              res.stack.t.RES_PROPERTIES, name],
        message=message)


def known_now(res):
    """The properties of *res* whose value is known at validation.

    A value that comes from a resource not created yet is only known at
    create, where it is checked before anything is written.
    """
    data = res.properties.data
    return {name: res.properties[name] for name in res.properties_schema
            if not any(dep.action == dep.INIT for dep in
                       function.dependencies(data.get(name)))}

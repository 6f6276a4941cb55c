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

"""ESI's template mappings: which heat_template a resource's job uses.

ESI does not hard-wire a template name per type: for each handler, each
type has a mapping that is evaluated against the resource body, and its
value is the heat_template's name (None: the resource has no template for
that handler, and its job ends with an empty status). ESI picks
``gw_interface_vpn`` for a gw_interface whose ``service_type`` is vpn with
``ACgw_interface_&Pservice_type``, and gave the monitoring_worker
``C<type>_monitoring`` for every type it monitored.

A mapping is either ESI's string DSL, whose first character is its kind:

- ``C<text>``: the constant string *text*;
- ``P<field>``: the field *field* of the resource body;
- ``O<field>:<field>...``: a nested field of the body;
- ``V<anything>``: the config version;
- ``A<m1>&<m2>...``: the concatenation of the ``&``-separated mappings;

or one of its structured forms: ``{"constant": c}``, ``{"field": f}``,
``{"nested": [a, b, ...]}``, ``{"concatenate": [m1, m2, ...]}`` and
``{"if_mapping": {"equal" | "regexp": [m1, m2]}, "then_mapping": m,
"else_mapping": m}``. The forms that follow relations to other resources
(``F``, ``M``, ``path``, ``output_key``) choose parameters, not templates:
they are refused here with a TemplateError.

The handlers that have a mapping of a type make its job plan (plan()):
what jobs an action on one of its resources writes, in which order.
"""

import re

from heat_esi import exceptions
from heat_esi import records

MONITORING_WORKER = 'monitoring_worker'
HEAT_WORKER = 'heat_worker'

# The order of a type's handlers in its create: the stack is made before
# its outputs are monitored.
HANDLER_ORDER = (HEAT_WORKER, MONITORING_WORKER)

# handler -> {esi_type: mapping}: ESI's template_mappings. Adding a type
# to a handler is one line here (and its heat_template).
TEMPLATE_MAPPINGS = {
    MONITORING_WORKER: {
        'ha_router': 'Cha_router_monitoring',
        'edge_router': 'Cedge_router_monitoring',
        'er_physical_interface': 'Cer_physical_interface_monitoring',
        'ha_interface': 'Cha_interface_monitoring',
        'ese_device': 'Cese_device_monitoring',
        'ese_physical_port': 'Cese_physical_port_monitoring',
        'network': 'Cnetwork_monitoring',
        'vpn_gateway': 'Cvpn_gateway_monitoring',
        'vpn_interface': 'Cvpn_interface_monitoring',
        'gw_interface': 'Cgw_interface_monitoring',
        'port': 'Cport_monitoring',
        'ese_logical_port': 'Cese_logical_port_monitoring',
    },
    # ESI's own mappings of the types whose stack heat_worker runs
    # (memo/template_mappings.md of the ESI run).
    'heat_worker': {
        'ese_device': 'ACese_device_&Pexisting',
        'ese_physical_port': 'ACese_physical_port_&Pexisting',
        'network': 'Cnetwork',
        'subnet': 'Csubnet',
        'vpn_gateway': 'Cvpn_gateway',
        'vpn_interface': 'Cvpn_interface',
        'static_route': 'ACstatic_route_&Pservice_type',
        'gw_interface': 'ACgw_interface_&Pservice_type',
        # ESI's: no stack for a DHCP port, nor for an empty one.
        'port': {'if_mapping': {'regexp': ['Pdevice_owner',
                                           'Cnetwork:(dhcp|empty)$']},
                 'then_mapping': {'constant': None},
                 'else_mapping': 'Cport'},
        'ese_logical_port': 'Cese_logical_port',
    },
}

# A mapping nested deeper than this is refused rather than walked.
MAX_DEPTH = 16


def _text(value):
    """A value as the part of a name: JSON's spelling for true/false/null."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _field(body, names, where):
    value = body
    for name in names:
        if not isinstance(value, dict):
            raise exceptions.TemplateError(
                '%s: field %s is not inside an object' % (where, name))
        value = value.get(name)
    return value


def _dsl(mapping, body, version, where, depth):
    kind, rest = mapping[:1], mapping[1:]
    if kind == 'C':
        return rest
    if kind == 'P':
        return _field(body, [rest], where)
    if kind == 'O':
        return _field(body, rest.split(':'), where)
    if kind == 'V':
        return version
    if kind == 'A':
        return ''.join(_text(evaluate(part, body, version, where, depth + 1))
                       for part in rest.split('&'))
    raise exceptions.TemplateError(
        '%s: mapping %s: kind %s is not one that chooses a template '
        '(C, P, O, V, A)' % (where, exceptions.short(mapping),
                             exceptions.short(kind)))


def _condition(cond, body, version, where, depth):
    if not isinstance(cond, dict) or len(cond) != 1:
        raise exceptions.TemplateError(
            '%s: if_mapping must be {"equal" or "regexp": [m1, m2]}' % where)
    (test, pair), = cond.items()
    if test not in ('equal', 'regexp') or not (
            isinstance(pair, list) and len(pair) == 2):
        raise exceptions.TemplateError(
            '%s: if_mapping must be {"equal" or "regexp": [m1, m2]}' % where)
    left, right = (evaluate(m, body, version, where, depth + 1)
                   for m in pair)
    if test == 'equal':
        return left == right
    try:
        return re.match(_text(right), _text(left)) is not None
    except re.error as exc:
        raise exceptions.TemplateError(
            '%s: if_mapping regexp %s: %s'
            % (where, exceptions.short(right), exc))


def evaluate(mapping, body, version=None, where='template mapping', depth=0):
    """Return the value of *mapping* for the resource *body*.

    :param version: the config version (``V`` mappings).
    :param where: names the mapping in errors.
    :raises TemplateError: the mapping is not one of the forms above.
    """
    if depth > MAX_DEPTH:
        raise exceptions.TemplateError(
            '%s: mapping nested deeper than %d levels' % (where, MAX_DEPTH))
    if isinstance(mapping, str) and mapping:
        return _dsl(mapping, body, version, where, depth)
    if isinstance(mapping, dict):
        if set(mapping) == {'constant'}:
            return mapping['constant']
        if set(mapping) == {'field'} and isinstance(mapping['field'], str):
            return _field(body, [mapping['field']], where)
        if set(mapping) == {'nested'} and isinstance(mapping['nested'],
                                                     list):
            return _field(body, mapping['nested'], where)
        if set(mapping) == {'concatenate'} and isinstance(
                mapping['concatenate'], list):
            return ''.join(_text(evaluate(m, body, version, where,
                                          depth + 1))
                           for m in mapping['concatenate'])
        if 'if_mapping' in mapping and set(mapping) <= {
                'if_mapping', 'then_mapping', 'else_mapping'}:
            chosen = ('then_mapping' if _condition(
                mapping['if_mapping'], body, version, where, depth)
                else 'else_mapping')
            if chosen not in mapping:
                return None
            return evaluate(mapping[chosen], body, version, where,
                            depth + 1)
    raise exceptions.TemplateError(
        '%s: %s is not a template mapping (a C/P/O/V/A string, or a '
        'constant, field, nested, concatenate or if_mapping object)'
        % (where, exceptions.short(mapping)))


def template_name(handler, esi_type, body, version=None, mappings=None):
    """Return the heat_template name of an *esi_type* resource's job.

    None when its mapping yields none (ESI: no job, an empty status).

    :param mappings: {handler: {esi_type: mapping}}; TEMPLATE_MAPPINGS by
        default.
    :raises TemplateError: the handler has no mapping for *esi_type*, or
        the mapping does not yield a name.
    """
    table = TEMPLATE_MAPPINGS if mappings is None else mappings
    mapping = table.get(handler, {}).get(esi_type)
    where = 'template mapping of %s for handler %s' % (esi_type, handler)
    if mapping is None:
        raise exceptions.TemplateError(
            'no template mapping of %s for handler %s (known types: %s)'
            % (esi_type, handler, ', '.join(sorted(table.get(handler, {})))
               or 'none'))
    name = evaluate(mapping, body if isinstance(body, dict) else {}, version,
                    where)
    if name is None or name == '':
        return None
    if not isinstance(name, str):
        raise exceptions.TemplateError(
            '%s: yields %s, not a heat_template name'
            % (where, exceptions.short(name)))
    return name


def handlers(esi_type, mappings=None):
    """The handlers that have a template mapping of *esi_type*, in order.

    HANDLER_ORDER first, then any other handler by name.

    :raises TemplateError: no handler has one.
    """
    table = TEMPLATE_MAPPINGS if mappings is None else mappings
    found = [h for h in HANDLER_ORDER if esi_type in table.get(h, {})]
    found += sorted(h for h in table
                    if h not in HANDLER_ORDER and esi_type in table[h])
    if not found:
        raise exceptions.TemplateError(
            'no handler has a template mapping of %s' % esi_type)
    return tuple(found)


def plan(esi_type, action, mappings=None):
    """The steps (records.Step) of the jobs that *action* writes, in order.

    A type of one handler writes one job, first and last. A type of a
    heat_worker and a monitoring_worker writes ESI's sequences: a create
    makes the stack, then monitors it; a modify stops monitoring (a failure
    there is ignored), modifies the stack and monitors it again; a delete
    stops monitoring (failure ignored), then deletes the stack.
    """
    found = handlers(esi_type, mappings)
    if found != HANDLER_ORDER:
        if len(found) > 1:
            raise exceptions.TemplateError(
                '%s has template mappings for handlers %s: no job plan '
                'is known for them (one handler, or %s)'
                % (esi_type, ', '.join(found), ' and '.join(HANDLER_ORDER)))
        return records.single(action, found[0])
    if action == records.CREATE:
        return (records.Step(records.CREATE, HEAT_WORKER),
                records.Step(records.CREATE, MONITORING_WORKER))
    if action == records.MODIFY:
        return records.modify_sequence(MONITORING_WORKER, HEAT_WORKER)
    return (records.Step(action, MONITORING_WORKER, 'ignore'),
            records.Step(action, HEAT_WORKER))


def plan_actions(esi_type, mappings=None):
    """The job actions of every plan of *esi_type*, in records.ACTIONS order.

    Those are what a resource's jobs in flight may be.
    """
    found = {step.action for action in (records.CREATE, records.MODIFY,
                                        records.LOGICAL_DELETE)
             for step in plan(esi_type, action, mappings)}
    return tuple(a for a in records.ACTIONS if a in found)


def plan_action(esi_type, job_action, mappings=None):
    """The action of the plan that wrote a job of *job_action*.

    A delete job of a type whose modify starts with one is taken for that
    modify's (Heat writes those; only an operator's retry writes a delete).
    Any other job is of its own action's plan, or, a create job of a
    modify, of a plan that ends as the create's does (final_action).
    """
    if job_action == records.DELETE and job_action in [
            step.action for step in plan(esi_type, records.MODIFY,
                                         mappings)]:
        return records.MODIFY
    return job_action


def final_action(esi_type, action, mappings=None):
    """The action of the last job of *action*'s plan.

    Its completed state is what /state says once the whole plan is done
    (ESI's modify of a monitored stack ends CREATE_COMPLETED).
    """
    return plan(esi_type, action, mappings)[-1].action

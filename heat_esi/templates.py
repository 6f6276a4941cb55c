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

"""ESI's heat_templates: job templates, not HOT templates.

A heat_template names the handler that runs a resource type's jobs, maps
resource fields to template parameters (``parameter_mappings``) and holds a
Jinja2 ``template_file`` that the handler renders into elements. The files
live in templates/heat_templates/; ``heat-esi templates load`` stores them at
/config/v2.0/heat_templates/<name>.

The module is past 500 lines because each mapping kind's validation and
its build into a param belong together: a kind is read in one place.
"""

import glob
import os
import sys

import yaml

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records

FIELDS = ('handler', 'id', 'parameter_mappings', 'template_file', 'watch')

# Relation fields: (esi_type, field) -> the esi_type it points to.
# The one declaration of which resource uses which: job params follow it,
# the Heat resources derive their reference properties' constraints from it
# and refuse to delete a resource that a relation still points to (see
# references and referrers).
RELATIONS = {
    ('ha_router', 'primary_router_id'): 'edge_router',
    ('ha_router', 'secondary_router_id'): 'edge_router',
    ('er_physical_interface', 'device_id'): 'edge_router',
    ('ha_interface', 'ha_router_id'): 'ha_router',
    ('ha_interface', 'primary_interface_id'): 'er_physical_interface',
    ('ha_interface', 'secondary_interface_id'): 'er_physical_interface',
    ('ese_physical_port', 'ese_device_id'): 'ese_device',
    ('subnet', 'network_id'): 'network',
    ('vpn_gateway', 'vpn_service_id'): 'vpn_service',
    ('vpn_gateway', 'qos_option_id'): 'qos_option',
    ('vpn_gateway', 'uplink_interface_id'): 'ha_interface',
    ('vpn_gateway', 'downlink_interface_id'): 'ha_interface',
    ('vpn_interface', 'vpn_gw_id'): 'vpn_gateway',
    ('qos_option', 'vpn_service_id'): 'vpn_service',
    ('qos_option', 'ha_router_id'): 'ha_router',
    ('static_route', 'vpn_gw_id'): 'vpn_gateway',
    # A gw_interface, and the ports and ESE logical ports it brings.
    ('gw_interface', 'vpn_gw_id'): 'vpn_gateway',
    ('gw_interface', 'network_id'): 'network',
    # A port's device_id names its gw_interface too, but it is not a
    # relation: ESI's params list no resource for it (a port's
    # virtual_machine, CreateGwInterface_02).
    ('port', 'network_id'): 'network',
    ('ese_logical_port', 'gw_interface_id'): 'gw_interface',
    ('ese_logical_port', 'ese_physical_port_id'): 'ese_physical_port',
    ('ese_logical_port', 'network_id'): 'network',
}

# Relation fields that hold a list of ids: (esi_type, field) -> the type
# of each. Only the in-use refusal follows them (lifecycle.users); the
# property's items have the target's constraint.
LIST_RELATIONS = {
    ('vpn_service', 'uplink_interfaces'): 'ha_interface',
    ('vpn_service', 'downlink_interfaces'): 'ha_interface',
}

# How a parameter gets its value (see build_params). ``field`` follows
# relations to a value of /config; ``nested`` reads a field inside one of
# the resource's own (ESI's {"nested": [a, b]}); ``concatenate`` joins the
# text of constant, field and nested parts (ESI's "AC...&F..."); ``output_key``
# and ``list`` name outputs of resources' Heat stacks, which the worker
# reads when it runs the job; ``secret`` names a field of a /config that the
# heat_worker reads when it runs the job, so that the value itself never
# enters the job.
MAPPING_KINDS = ('field', 'constant', 'version', 'output_key', 'list',
                 'nested', 'concatenate', 'secret')
# The kinds a part of ``concatenate`` may be.
PART_KINDS = ('field', 'constant', 'nested')
# The handlers that resolve a ``secret`` param: they pass it to Heat as a
# hidden stack parameter and mask it in whatever they log.
SECRET_HANDLERS = ('heat_worker',)


def referenced_types():
    """The types that a relation points to, sorted.

    Each has its Heat constraint (constraint_name), its getter in the
    client plugin (getter_name) and its entry point in setup.cfg (a unit
    test checks that they match), and cannot be deleted while in use.
    """
    return sorted(set(RELATIONS.values()) | set(LIST_RELATIONS.values()))


def constraint_name(esi_type):
    """The name of the Heat constraint on an id of *esi_type*."""
    return 'esi.%s' % esi_type


def getter_name(esi_type):
    """The client plugin's getter that the constraint of *esi_type* calls."""
    return 'get_%s' % esi_type


def references(esi_type):
    """[(field, target type)] of the relation fields of *esi_type*.

    In the order of RELATIONS.
    """
    return [(field, target) for (source, field), target in RELATIONS.items()
            if source == esi_type]


def referrers(esi_type, lists=False):
    """[(esi type, field)] of the relations that point to *esi_type*.

    Sorted: whoever reads them does so in a stable order.

    :param lists: the LIST_RELATIONS too.
    """
    found = [key for key, target in RELATIONS.items() if target == esi_type]
    if lists:
        found += [key for key, target in LIST_RELATIONS.items()
                  if target == esi_type]
    return sorted(found)


def monitoring_template_name(esi_type):
    return '%s_monitoring' % esi_type


def default_dir():
    """Find the heat_templates directory to load.

    That is templates/heat_templates of a source checkout, else the
    installed copy.
    """
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(here, 'templates', 'heat_templates'),
                      os.path.join(sys.prefix, 'share', 'heat-esi',
                                   'heat_templates')):
        if os.path.isdir(candidate):
            return candidate
    raise exceptions.TemplateError(
        'no heat_templates directory found beside the package or under %s'
        % os.path.join(sys.prefix, 'share', 'heat-esi'))


def validate(name, body):
    """Check a heat_template body; TemplateError names what is wrong."""
    if not isinstance(body, dict):
        raise exceptions.TemplateError('heat_template %s is not a map' % name)
    missing = [f for f in FIELDS if f not in body]
    if missing:
        raise exceptions.TemplateError('heat_template %s lacks %s'
                                       % (name, ', '.join(missing)))
    if body['id'] != name:
        raise exceptions.TemplateError(
            'heat_template %s declares id %r; the id must match the name'
            % (name, body['id']))
    mappings = body['parameter_mappings']
    if not isinstance(mappings, dict):
        raise exceptions.TemplateError(
            'heat_template %s: parameter_mappings must be a map' % name)
    for param, mapping in mappings.items():
        if not isinstance(param, str):
            raise exceptions.TemplateError(
                'heat_template %s: parameter name %s is not a string'
                % (name, exceptions.short(param)))
        kind = _kind(name, param, mapping)
        if kind == 'field':
            _validate_field(name, param, mapping)
        elif kind == 'output_key':
            _validate_output_key(name, param, mapping)
        elif kind == 'list':
            _validate_list(name, param, mapping)
        elif kind == 'nested':
            _validate_nested(name, param, mapping)
        elif kind == 'concatenate':
            _validate_concatenate(name, param, mapping)
        elif kind == 'secret':
            _validate_secret(name, param, mapping, body['handler'])
    if not isinstance(body['template_file'], str):
        raise exceptions.TemplateError(
            'heat_template %s: template_file must be a string' % name)
    return body


def _validate_field(name, param, mapping):
    where = 'heat_template %s: parameter %s' % (name, param)
    if not isinstance(mapping['field'], str):
        raise exceptions.TemplateError('%s: "field" must be a string'
                                       % where)
    if mapping['field'] in records.SECRET_FIELDS:
        raise exceptions.TemplateError(
            '%s maps the secret field %s: secrets stay in /config and '
            'never enter a job' % (where, mapping['field']))
    _validate_path(where, mapping.get('path'))


def _validate_nested(name, param, mapping,
                     where=None):
    where = where or 'heat_template %s: parameter %s' % (name, param)
    names = mapping['nested']
    if not isinstance(names, list) or not names or not all(
            isinstance(n, str) for n in names):
        raise exceptions.TemplateError(
            '%s: "nested" must be a list of field names, outermost first'
            % where)
    if set(names) & records.SECRET_FIELDS:
        raise exceptions.TemplateError(
            '%s maps a secret field: secrets stay in /config and never '
            'enter a job' % where)


def _validate_concatenate(name, param, mapping):
    where = 'heat_template %s: parameter %s: concatenate' % (name, param)
    parts = mapping['concatenate']
    if not isinstance(parts, list) or not parts:
        raise exceptions.TemplateError('%s must be a list of parts' % where)
    for index, part in enumerate(parts):
        kind = _kind(name, '%s part %d' % (param, index), part)
        there = '%s part %d' % (where, index)
        if kind not in PART_KINDS:
            raise exceptions.TemplateError(
                '%s is %s; a part is one of %s'
                % (there, kind, ', '.join(PART_KINDS)))
        if kind == 'field':
            _validate_field(name, param, part)
        elif kind == 'nested':
            _validate_nested(name, param, part, there)


def _validate_secret(name, param, mapping, handler):
    where = 'heat_template %s: parameter %s' % (name, param)
    if not isinstance(mapping['secret'], str) or not mapping['secret']:
        raise exceptions.TemplateError(
            '%s: "secret" must be the name of a /config field' % where)
    if handler not in SECRET_HANDLERS:
        # Any other handler would render the value into elements, which
        # its errors and the monitor's log quote.
        raise exceptions.TemplateError(
            '%s maps a secret, which only the %s resolves (this '
            'template\'s handler is %s)'
            % (where, ', '.join(SECRET_HANDLERS), exceptions.short(handler)))
    _validate_path(where, mapping.get('path'))


def _validate_path(where, path):
    if path is None:
        return
    if not isinstance(path, list) or not all(
            isinstance(hop, str) or (isinstance(hop, dict) and all(
                isinstance(hop.get(k), str) for k in ('type', 'id')))
            for hop in path):
        raise exceptions.TemplateError(
            '%s: "path" must be a list of relation fields or '
            '{type, id} maps' % where)


def _validate_output_key(name, param, mapping, where=None):
    where = where or 'heat_template %s: parameter %s' % (name, param)
    if not isinstance(mapping['output_key'], str) or \
            not mapping['output_key']:
        raise exceptions.TemplateError(
            '%s: "output_key" must be the name of a stack output' % where)
    _validate_path(where, mapping.get('path'))


def _validate_list(name, param, mapping):
    where = 'heat_template %s: parameter %s: list' % (name, param)
    inner = mapping['list']
    if not isinstance(inner, dict) or 'output_key' not in inner or \
            not inner.get('path'):
        raise exceptions.TemplateError(
            '%s must be {output_key: k, path: [list field, ...]} (each '
            'id of the list field names a resource whose output k is '
            'meant)' % where)
    _validate_output_key(name, param, inner, where)
    if not isinstance(inner.get('item', ''), str):
        raise exceptions.TemplateError(
            '%s: "item" must be the field of each element that holds the '
            'id' % where)


def _kind(name, param, mapping):
    if isinstance(mapping, dict):
        found = [kind for kind in MAPPING_KINDS if kind in mapping]
        if len(found) > 1:
            raise exceptions.TemplateError(
                'heat_template %s: parameter %s has mapping kinds %s: it '
                'must have one' % (name, param, ' and '.join(found)))
        if found:
            return found[0]
    raise exceptions.TemplateError(
        'heat_template %s: parameter %s has an unknown mapping kind %s '
        '(known: %s)' % (name, param, exceptions.short(mapping),
                         ', '.join(MAPPING_KINDS)))


def load_dir(path=None):
    """{name: body} of every *.yaml file in *path*, each validated."""
    path = path or default_dir()
    found = {}
    for filename in sorted(glob.glob(os.path.join(path, '*.yaml'))):
        name = os.path.splitext(os.path.basename(filename))[0]
        with open(filename) as f:
            try:
                body = yaml.safe_load(f)
            except yaml.YAMLError as exc:
                raise exceptions.TemplateError(
                    'heat_template file %s is not valid YAML: %s'
                    % (filename, exc))
        found[name] = validate(name, body)
    if not found:
        raise exceptions.TemplateError('no heat_template (*.yaml) in %s'
                                       % path)
    return found


def store(client, templates, keep_existing=False):
    """Store heat_templates in etcd; a changed one gets version + 1.

    :param keep_existing: only store the templates that are not in etcd
        yet; an existing one, changed or not, is left as it is.
    :returns: {name: 'created' | 'updated' | 'unchanged' | 'kept'}
    """
    outcome = {}
    for name, body in sorted(templates.items()):
        key = keys.heat_template(name)
        kv = client.get(key)
        if kv is None:
            ok, _ = client.txn([etcd.absent(key)],
                               [etcd.put(key, records.config(body, 1))])
            outcome[name] = 'created'
        elif keep_existing:
            outcome[name] = 'kept'
            continue
        else:
            old_body, version, _ = records.parse_config(key, kv.value)
            if old_body == body:
                outcome[name] = 'unchanged'
                continue
            ok, _ = client.txn(
                [etcd.mod_revision_is(key, kv.mod_revision)],
                [etcd.put(key, records.config(body, version + 1))])
            outcome[name] = 'updated'
        if not ok:
            raise exceptions.TemplateError(
                'heat_template %s changed in etcd while it was being '
                'stored; run the load again' % name)
    return outcome


def fetch(client, name, kv=False):
    """The body of heat_template *name* stored in etcd.

    :param kv: the template's KV when the caller already read it (None
        when it found nothing); by default it is read here.
    """
    key = keys.heat_template(name)
    if kv is False:
        kv = client.get(key)
    if kv is None:
        raise exceptions.TemplateError(
            'heat_template %s is not in etcd (%s); load it with '
            '"heat-esi templates load"' % (name, key))
    body, _, _ = records.parse_config(key, kv.value)
    return validate(name, body)


def config_lookup(client):
    """A ``lookup`` for build_params that reads configs from etcd."""
    def lookup(esi_type, resource_id):
        key = keys.config(esi_type, resource_id)
        kv = client.get(key)
        return records.parse_config(key, kv.value)[0] if kv else None
    return lookup


def build_params(template, esi_type, body, version, lookup,
                 missing_ok=False):
    """The job params of *body* from the template's parameter_mappings.

    ``field`` gives a ``value`` param; ``output_key`` an ``output_key``
    param naming an output of the resource's own stack, or, with a
    ``path``, of the resource at its end; ``list`` a ``list`` param of
    such output_key params, one per id of a list field (ESI's shapes, see
    CreateSubnet_01 and CreateGwInterface_03); ``secret`` a ``secret``
    param ``{resource_type, resource_id, field}`` naming the /config field
    that holds it (the resource's own, or with a ``path`` the one at its
    end), never the value: the heat_worker reads it when it runs the job.
    Each param's ``resources`` are the resources crossed to reach it.

    :param lookup: callable(esi_type, resource_id) -> config body or
        None, used to follow ``path`` relations.
    :param missing_ok: a relation to a resource that is gone gives the
        value None, as ``ignore_missing`` does, instead of an error. A
        delete job needs no value of another resource, and must not be
        held up by one that went away first.
    """
    name = template['id']
    params = []
    for param, mapping in template['parameter_mappings'].items():
        kind = _kind(name, param, mapping)
        resources = []
        where = 'heat_template %s: parameter %s' % (name, param)
        ptype = 'value'
        if kind == 'constant':
            value = mapping['constant']
        elif kind == 'version':
            value = version
        elif kind == 'output_key':
            value = _output_key(where, mapping, esi_type, body, lookup,
                                resources, missing_ok)
            # A path cut short (missing_ok) leaves no output to name.
            ptype = 'value' if value is None else kind
        elif kind == 'list':
            value = _output_list(where, param, mapping['list'], esi_type,
                                 body, lookup, resources, missing_ok)
            ptype = kind
        elif kind == 'nested':
            value = _nested(where, mapping, esi_type, body)
        elif kind == 'concatenate':
            value = _concatenate(where, mapping, esi_type, body, version,
                                 lookup, resources, missing_ok)
        elif kind == 'secret':
            value = _secret(where, mapping, esi_type, body, lookup,
                            resources, missing_ok)
            ptype = 'value' if value is None else kind
        else:
            value = _follow(where, mapping, esi_type, body,
                            lookup, resources, missing_ok)
        params.append({'resources': resources, 'type': ptype,
                       'value': value, 'param': param})
    return params


def _hop(where, cur_type, hop):
    """(target type, relation field) of one hop of a path."""
    if isinstance(hop, dict):
        target_type, rel = hop.get('type'), hop.get('id')
    else:
        rel = hop
        target_type = RELATIONS.get((cur_type, rel))
    if not target_type or not rel:
        raise exceptions.TemplateError(
            '%s: %s has no relation %r' % (where, cur_type, hop))
    return target_type, rel


def _walk(where, path, esi_type, body, lookup, resources, ignore_missing,
          read_last=True):
    """Follow *path* from *body*: (type, id, body) of the resource at its end.

    Each resource crossed is added to *resources*. None when one is gone
    and *ignore_missing*. The body of the last is read only if
    *read_last* (a stack output needs its id, not its /config).
    """
    cur_type, cur_id, cur_body = esi_type, body.get('id'), body
    for index, hop in enumerate(path):
        target_type, rel = _hop(where, cur_type, hop)
        if cur_body is None:
            if ignore_missing:
                return None
            raise exceptions.TemplateError(
                '%s: %s %s does not exist' % (where, cur_type, cur_id))
        target_id = cur_body.get(rel)
        if target_id is None:
            raise exceptions.TemplateError(
                '%s: %s has no field %s' % (where, cur_type, rel))
        resources.append({'resource_type': target_type,
                          'resource_id': target_id})
        cur_type, cur_id = target_type, target_id
        cur_body = (lookup(target_type, target_id)
                    if read_last or index < len(path) - 1 else {})
    if cur_body is None:
        if ignore_missing:
            return None
        raise exceptions.TemplateError(
            '%s: %s %s does not exist' % (where, cur_type, cur_id))
    return cur_type, cur_id, cur_body


def _walk_mapping(where, mapping, esi_type, body, lookup, resources,
                  missing_ok, read_last=True):
    """_walk along a mapping's path (none: the resource itself).

    A resource that is gone is ignored when the caller says so
    (*missing_ok*) or the mapping does (ignore_missing).
    """
    return _walk(where, mapping.get('path') or [], esi_type, body, lookup,
                 resources, missing_ok or mapping.get('ignore_missing'),
                 read_last=read_last)


def _follow(where, mapping, esi_type, body, lookup, resources,
            missing_ok=False):
    found = _walk_mapping(where, mapping, esi_type, body, lookup, resources,
                          missing_ok)
    if found is None:
        return None
    cur_type, _cur_id, cur_body = found
    field = mapping['field']
    if field not in cur_body:
        raise exceptions.TemplateError(
            '%s: %s has no field %s' % (where, cur_type, field))
    target_type = RELATIONS.get((cur_type, field))
    if target_type:
        resources.append({'resource_type': target_type,
                          'resource_id': cur_body[field]})
    return cur_body[field]


def _nested(where, mapping, esi_type, body):
    """The field inside fields of *body* that ``nested`` names."""
    value = body
    for index, name in enumerate(mapping['nested']):
        if not isinstance(value, dict) or name not in value:
            raise exceptions.TemplateError(
                '%s: %s has no field %s' % (
                    where, esi_type,
                    ':'.join(mapping['nested'][:index + 1])))
        value = value[name]
    return value


def _concatenate(where, mapping, esi_type, body, version, lookup,
                 resources, missing_ok):
    """The text of each part, joined; None if a part's resource is gone.

    As ESI's A mapping: None is the empty text, booleans JSON's spelling.
    """
    texts = []
    for part in mapping['concatenate']:
        if 'constant' in part:
            value = part['constant']
        elif 'nested' in part:
            value = _nested(where, part, esi_type, body)
        else:
            value = _follow(where, part, esi_type, body, lookup, resources,
                            missing_ok)
            if value is None and missing_ok:
                return None
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        texts.append('' if value is None else str(value))
    return ''.join(texts)


def _secret(where, mapping, esi_type, body, lookup, resources, missing_ok):
    """{resource_type, resource_id, field} of the secret meant.

    The field must be in that resource's /config now, so that a mistake
    is refused at once, not when the worker runs the job.
    """
    found = _walk_mapping(where, mapping, esi_type, body, lookup, resources,
                          missing_ok)
    if found is None:
        return None
    cur_type, cur_id, cur_body = found
    field = mapping['secret']
    if cur_id is None:
        raise exceptions.TemplateError('%s: %s has no field id'
                                       % (where, cur_type))
    if field not in cur_body and not missing_ok:
        raise exceptions.TemplateError(
            '%s: %s %s has no field %s' % (where, cur_type, cur_id, field))
    return {'resource_type': cur_type, 'resource_id': cur_id,
            'field': field}


def _output(output_key, resource_type, resource_id):
    return {'output_key': output_key, 'resource_type': resource_type,
            'resource_id': resource_id}


def _output_key(where, mapping, esi_type, body, lookup, resources,
                missing_ok):
    """{output_key, resource_type, resource_id} of the stack output meant.

    The resource at the end of the path exists (unless *missing_ok*): a
    job must not name the stack of a resource that is gone.
    """
    found = _walk_mapping(where, mapping, esi_type, body, lookup, resources,
                          missing_ok, read_last=not missing_ok)
    if found is None:
        return None
    if found[1] is None:
        raise exceptions.TemplateError('%s: %s has no field id'
                                       % (where, found[0]))
    return _output(mapping['output_key'], found[0], found[1])


def _output_list(where, param, mapping, esi_type, body, lookup, resources,
                 missing_ok):
    """The output_key params of the ids that a list field holds.

    The first hop of the path is the list field: each of its elements is an
    id (or, with ``item``, a map whose field *item* is the id) of the
    hop's target type; the rest of the path is followed from each.
    """
    first, rest = mapping['path'][0], mapping['path'][1:]
    target_type, rel = _hop(where, esi_type, first)
    ids = body.get(rel)
    if not isinstance(ids, list):
        raise exceptions.TemplateError(
            '%s: %s field %s is not a list' % (where, esi_type, rel))
    item = mapping.get('item')
    made = []
    for element in ids:
        if item:
            element = (element.get(item) if isinstance(element, dict)
                       else None)
        if not isinstance(element, str):
            raise exceptions.TemplateError(
                '%s: %s field %s holds %s, not an id%s'
                % (where, esi_type, rel, exceptions.short(element),
                   ' (in "%s")' % item if item else ''))
        resources.append({'resource_type': target_type,
                          'resource_id': element})
        sub = {'output_key': mapping['output_key'], 'path': rest}
        start = {'id': element}
        if rest or not missing_ok:
            start = lookup(target_type, element)
            if start is None:
                if missing_ok or mapping.get('ignore_missing'):
                    continue
                raise exceptions.TemplateError(
                    '%s: %s %s does not exist'
                    % (where, target_type, element))
            start = dict(start, id=element)
        value = _output_key(where, sub, target_type, start, lookup,
                            resources, missing_ok)
        if value is not None:
            made.append({'param': param, 'type': 'output_key',
                         'value': value, 'resources': []})
    return made

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
}

MAPPING_KINDS = ('field', 'constant', 'version')


def referenced_types():
    """The types that a relation points to, sorted.

    Each has its Heat constraint (constraint_name), its getter in the
    client plugin (getter_name) and its entry point in setup.cfg (a unit
    test checks that they match), and cannot be deleted while in use.
    """
    return sorted(set(RELATIONS.values()))


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


def referrers(esi_type):
    """[(esi type, field)] of the relations that point to *esi_type*.

    Sorted: whoever reads them does so in a stable order.
    """
    return sorted(key for key, target in RELATIONS.items()
                  if target == esi_type)


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
    path = mapping.get('path') or []
    if not isinstance(path, list) or not all(
            isinstance(hop, str) or (isinstance(hop, dict) and all(
                isinstance(hop.get(k), str) for k in ('type', 'id')))
            for hop in path):
        raise exceptions.TemplateError(
            '%s: "path" must be a list of relation fields or '
            '{type, id} maps' % where)


def _kind(name, param, mapping):
    if isinstance(mapping, dict):
        for kind in MAPPING_KINDS:
            if kind in mapping:
                return kind
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
        if kind == 'constant':
            value = mapping['constant']
        elif kind == 'version':
            value = version
        else:
            value = _follow(name, param, mapping, esi_type, body,
                            lookup, resources, missing_ok)
        params.append({'resources': resources, 'type': 'value',
                       'value': value, 'param': param})
    return params


def _follow(name, param, mapping, esi_type, body, lookup, resources,
            missing_ok=False):
    where = 'heat_template %s: parameter %s' % (name, param)
    cur_type, cur_body = esi_type, body
    for hop in mapping.get('path') or []:
        if isinstance(hop, dict):
            target_type, rel = hop.get('type'), hop.get('id')
        else:
            rel = hop
            target_type = RELATIONS.get((cur_type, rel))
        if not target_type or not rel:
            raise exceptions.TemplateError(
                '%s: %s has no relation %r' % (where, cur_type, hop))
        target_id = cur_body.get(rel)
        if target_id is None:
            raise exceptions.TemplateError(
                '%s: %s has no field %s' % (where, cur_type, rel))
        resources.append({'resource_type': target_type,
                          'resource_id': target_id})
        cur_type, cur_body = target_type, lookup(target_type, target_id)
        if cur_body is None:
            if missing_ok or mapping.get('ignore_missing'):
                return None
            raise exceptions.TemplateError(
                '%s: %s %s does not exist' % (where, target_type, target_id))
    field = mapping['field']
    if field not in cur_body:
        raise exceptions.TemplateError(
            '%s: %s has no field %s' % (where, cur_type, field))
    target_type = RELATIONS.get((cur_type, field))
    if target_type:
        resources.append({'resource_type': target_type,
                          'resource_id': cur_body[field]})
    return cur_body[field]

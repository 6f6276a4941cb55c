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

"""A job's params turned into values, as ESI's workers resolve them.

heat-engine writes each param with a ``type`` (see the seed documents'
point 2):

- ``value``: the value itself;
- ``output_key``: ``{output_key, resource_type, resource_id}``, an output
  of that resource's Heat stack, which the heat_worker recorded at
  /esi-worker/heat_stacks/v2.0/<plural>/<id> when it created the stack
  (its own stack, or a referenced resource's);
- ``list``: a list of such params, resolved each;
- ``secret``: ``{resource_type, resource_id, field}``, a field of that
  resource's /config that holds a secret (a BGP MD5 key): it resolves to
  the reference ``<resource_type>/<resource_id>/<field>@<version>``, never
  the value, which ESI::Netconf::NamedConfigs (its ``secrets``) reads from
  /config when it sends the configuration to the router.

Both handlers resolve them the same way: the heat_worker before it renders
a stack, the monitoring_worker before it renders its elements. Only the
heat_worker resolves a secret (it passes the reference to Heat as a stack
parameter, which the template still declares hidden); the
monitoring_worker and the monitor refuse a secret param.
"""

import json

import yaml

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records

VALUE, OUTPUT_KEY, LIST, SECRET = 'value', 'output_key', 'list', 'secret'
KINDS = (VALUE, OUTPUT_KEY, LIST, SECRET)
# A list nested deeper than this is refused rather than walked.
MAX_DEPTH = 8


def _where(param):
    return 'param %s' % exceptions.short(param.get('param'))


def _target(param):
    """(output_key, resource_type, resource_id) of an output_key param."""
    value = param.get('value')
    if not isinstance(value, dict) or not all(
            isinstance(value.get(f), str) and value.get(f)
            for f in ('output_key', 'resource_type', 'resource_id')):
        raise exceptions.JobFailed(
            '%s: an output_key param must be {output_key, resource_type, '
            'resource_id}, not %s' % (_where(param),
                                      exceptions.short(value)))
    return value['output_key'], value['resource_type'], value['resource_id']


def _walk(params, depth=0):
    """Yield every output_key param in *params*, lists included."""
    for param in params:
        if not isinstance(param, dict):
            continue
        kind = param.get('type', VALUE)
        if kind == OUTPUT_KEY:
            yield param
        elif kind == LIST and isinstance(param.get('value'), list) \
                and depth < MAX_DEPTH:
            for found in _walk(param['value'], depth + 1):
                yield found


def prefetch_keys(job):
    """The heat_stacks keys that *job*'s params read, in order, once each.

    A handler reads them with its claim (Handler.prefetch), so that
    resolve() needs no round trip of its own.
    """
    found = []
    for param in _walk(job.get('params') or []):
        try:
            _, esi_type, rid = _target(param)
        except exceptions.JobFailed:
            continue        # resolve() fails the job with the reason
        key = keys.heat_stack(esi_type, rid)
        if key not in found:
            found.append(key)
    return tuple(found)


class _Stacks(object):
    """The heat_stacks records a job reads, each read at most once."""

    def __init__(self, client, prefetched):
        self.client = client
        self.read = dict(prefetched or {})
        self.parsed = {}

    def outputs(self, esi_type, rid):
        """{output_key: output} of the stack of (esi_type, rid), or None."""
        key = keys.heat_stack(esi_type, rid)
        if key in self.parsed:
            return self.parsed[key]
        kv = self.read[key] if key in self.read else self.client.get(key)
        outputs = None
        if kv is not None:
            try:
                record = json.loads(kv.value)
                listed = record['output']
                outputs = {o['output_key']: o for o in listed}
            except (ValueError, TypeError, KeyError) as exc:
                raise exceptions.MalformedValue(
                    key, 'not a heat_stacks record with an output list '
                    '(%s)' % exceptions.short(str(exc)))
        self.parsed[key] = outputs
        return outputs


def _secret_ref(param):
    """(resource_type, resource_id, field) of a secret param."""
    value = param.get('value')
    if not isinstance(value, dict) or not all(
            isinstance(value.get(f), str) and value.get(f)
            for f in ('resource_type', 'resource_id', 'field')):
        # Never quote it: it might be the secret itself, misplaced.
        raise exceptions.JobFailed(
            '%s: a secret param must be {resource_type, resource_id, '
            'field}' % _where(param))
    return value['resource_type'], value['resource_id'], value['field']


def _read_secret(param, client, secrets):
    """The reference of a secret param: ``<resource_type>/<id>/<field>``.

    ``@<version>`` of the resource's /config follows when it has one.

    The value stays in /config: the stack gets this reference, which the
    resource that needs the value (ESI::Netconf::NamedConfigs ``secrets``)
    reads when it sends the configuration, so that the value is in none of
    Heat's parameters, properties or events. *secrets* is kept for values
    a caller must mask (none are read here).
    """
    if secrets is None:
        raise exceptions.JobFailed(
            '%s is a secret, which only the heat_worker resolves: a '
            'monitoring template must not map one' % _where(param))
    esi_type, rid, field = _secret_ref(param)
    reference = '%s/%s/%s' % (esi_type, rid, field)
    # With the /config's version: a new value (an update of the bgp_md5)
    # changes the stack parameter, so that Heat updates the resource that
    # reads it; the same reference would look unchanged to Heat.
    kv = client.get(keys.config(esi_type, rid))
    if kv is not None:
        try:
            _body, version, _marked = records.parse_config(kv.key, kv.value)
        except exceptions.MalformedValue:
            version = None
        if isinstance(version, int) and not isinstance(version, bool):
            reference += '@%d' % version
    return reference


def _resolve(param, stacks, depth, secrets=None):
    kind = param.get('type', VALUE)
    if kind == VALUE:
        return param.get('value')
    if kind == SECRET:
        return _read_secret(param, stacks.client, secrets)
    if kind == OUTPUT_KEY:
        output_key, esi_type, rid = _target(param)
        outputs = stacks.outputs(esi_type, rid)
        if outputs is None:
            raise exceptions.JobFailed(
                '%s: %s %s has no Heat stack recorded (%s): its heat_worker '
                'job has not created it'
                % (_where(param), esi_type, rid,
                   keys.heat_stack(esi_type, rid)))
        if output_key not in outputs:
            raise exceptions.JobFailed(
                '%s: the stack of %s %s has no output %s (outputs: %s)'
                % (_where(param), esi_type, rid, exceptions.short(output_key),
                   ', '.join(sorted(outputs)) or 'none'))
        # ESI hands on an output that Heat could not resolve as null.
        return outputs[output_key].get('output_value')
    if kind == LIST:
        items = param.get('value')
        if not isinstance(items, list) or depth >= MAX_DEPTH:
            raise exceptions.JobFailed(
                '%s: a list param must hold a list of params, nested at '
                'most %d deep' % (_where(param), MAX_DEPTH))
        return [_resolve(_item(item, param), stacks, depth + 1, secrets)
                for item in items]
    raise exceptions.JobFailed(
        '%s: unknown param type %s (known: %s)'
        % (_where(param), exceptions.short(kind), ', '.join(KINDS)))


def _item(item, parent):
    """A list param's item, which is a param itself."""
    if not isinstance(item, dict):
        raise exceptions.JobFailed('%s: list item %s is not a param'
                                   % (_where(parent), exceptions.short(item)))
    return item


def resolve(client, job, prefetched=None, secrets=None):
    """Return {param: value} of *job*'s params, in the job's order.

    :param client: the etcd client that reads heat_stacks records not in
        *prefetched*, and the /config of secret params.
    :param prefetched: {key: KV or None} read with the claim.
    :param secrets: a set, to resolve secret params: the values read are
        added to it, for the caller to mask. None refuses a secret param.
    :raises JobFailed: a param names a stack or an output that is not
        there, naming the param, the resource and the output; or a secret
        that is not there (or is refused), naming the param, the resource
        and the field.
    :raises MalformedValue: a heat_stacks record or a /config is not one.
    """
    stacks = _Stacks(client, prefetched)
    values = {}
    for param in job.get('params') or []:
        if not isinstance(param, dict) or not isinstance(
                param.get('param'), str):
            raise exceptions.JobFailed('job param %s has no name'
                                       % exceptions.short(param))
        values[param['param']] = _resolve(param, stacks, 0, secrets)
    return values


def secret_params(job):
    """The names of *job*'s top-level secret params, in order."""
    return [param['param'] for param in job.get('params') or []
            if isinstance(param, dict) and param.get('type') == SECRET
            and isinstance(param.get('param'), str)]


def resolved_job(client, job, prefetched=None):
    """A copy of *job* whose params are all of type value, resolved.

    For the code that reads a job's params as values (the monitoring
    handler's element pipeline).
    """
    values = resolve(client, job, prefetched)
    params = [{'resources': [], 'type': VALUE, 'value': value,
               'param': name} for name, value in values.items()]
    return dict(job, params=params)


def check_hidden(template_id, text, secret_params, parameters):
    """Refuse a secret param that the stack would not keep hidden.

    Each must be one of the stack's *parameters* (a secret for the Jinja
    context or the timeout would be written into the template or its
    options) that the rendered template *text* declares ``hidden: true``
    (Heat then shows it as ``******``).

    An output that shows the parameter (``get_param``) is refused too:
    Heat hides a parameter, not an output made of it.

    :raises JobFailed: naming the heat_template and the param.
    """
    if not secret_params:
        return
    try:
        hot = yaml.safe_load(text) or {}
        declared = hot.get('parameters') or {}
        outputs = hot.get('outputs') or {}
    except (yaml.YAMLError, AttributeError):
        declared, outputs = {}, {}
    for name in secret_params:
        spec = declared.get(name) if isinstance(declared, dict) else None
        if name not in parameters or not isinstance(spec, dict) or \
                spec.get('hidden') is not True:
            raise exceptions.JobFailed(
                'heat_template %s: param %s is a secret, and its '
                'template_file must declare it a stack parameter with '
                '"hidden: true"' % (template_id, name))
        if _gets_param(outputs, name):
            raise exceptions.JobFailed(
                'heat_template %s: param %s is a secret, and an output of '
                'its template_file shows it' % (template_id, name))


def _gets_param(tree, name, depth=0):
    """Whether *tree* (part of a HOT template) has a get_param of *name*."""
    if depth > 32:
        return False
    if isinstance(tree, dict):
        ref = tree.get('get_param')
        if ref == name or (isinstance(ref, list) and ref[:1] == [name]):
            return True
        return any(_gets_param(v, name, depth + 1) for v in tree.values())
    if isinstance(tree, list):
        return any(_gets_param(v, name, depth + 1) for v in tree)
    return False

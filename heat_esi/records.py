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

"""The shapes of the values ESI keeps in etcd, exactly as in the seed.

Builders return plain JSON-able objects; parsers take the raw text read at a
key and raise MalformedValue naming that key and what is wrong.
"""

import json
import re
import time

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys

# Job actions (states.completed() names the worker_state each ends in).
CREATE, MODIFY, DELETE, LOGICAL_DELETE = (
    'create', 'modify', 'delete', 'logical_delete')
ACTIONS = (CREATE, MODIFY, DELETE, LOGICAL_DELETE)
ON_FAILURE = ('fail', 'ignore')


# /config --------------------------------------------------------------------

def config(body, version, marked_for_deletion=False):
    return {'body': body, 'version': version,
            'marked_for_deletion': marked_for_deletion}


def parse_config(key, text):
    """(body, version, marked_for_deletion) of a /config value."""
    value = etcd.loads(key, text)
    if not isinstance(value, dict):
        raise exceptions.MalformedValue(key, 'expected a JSON object')
    body = value.get('body')
    if isinstance(body, str):
        # gohan stored the body as a JSON string; accept both forms.
        body = etcd.loads(key, body)
    if not isinstance(body, dict):
        raise exceptions.MalformedValue(key, '"body" is not an object')
    version = value.get('version')
    if not isinstance(version, int) or isinstance(version, bool):
        raise exceptions.MalformedValue(key, '"version" is not an integer')
    return body, version, bool(value.get('marked_for_deletion', False))


# /jobs/all ------------------------------------------------------------------

JOB_FIELDS = ('is_first', 'resource_id', 'handler', 'job_name', 'dependency',
              'version', 'params', 'resource_type', 'action', 'is_last',
              'on_failure', 'id', 'resource_input')
# Fields heat-esi adds for operators; not in the seed, ignored by readers.
OPERATOR_FIELDS = ('created_at', 'request_id')

# Fields of a /config body that hold a secret. ESI's readers find them in
# /config; nothing else (a job, a rejected job, a log) ever holds them.
SECRET_FIELDS = frozenset(['password', 'bgp_md5'])

# Past these, a job value is refused: a claim rewrites the value (etcd
# limits a request to 1.5 MiB), and the handler walks it.
MAX_JOB_BYTES = 512 * 1024
MAX_DEPTH = 32


def without_secrets(obj):
    """*obj* with every SECRET_FIELDS entry of its maps removed."""
    if isinstance(obj, dict):
        return {k: without_secrets(v) for k, v in obj.items()
                if k not in SECRET_FIELDS}
    if isinstance(obj, list):
        return [without_secrets(v) for v in obj]
    return obj


def job(action, handler, esi_type, resource_id, version, params,
        resource_input, on_failure='fail', dependency=(), is_first=True,
        is_last=True, request_id=None):
    """Return (job id, /jobs/all value) of a new job, with the seed's fields.

    The value is shaped by job_value(). Two fields that the seed lacks, and
    ESI's readers ignore, are for operators: the id of the Heat request
    that wrote the job, which the worker logs with every line about it,
    and its creation time, from which the backlog's age and the job's
    latency are measured. Secrets of *resource_input*
    stay out of the job: they are in /config only.
    """
    job_id = keys.new_job_id(action, handler, esi_type, resource_id,
                             version)
    body = {
        'is_first': is_first,
        'resource_id': resource_id,
        'handler': handler,
        'job_name': keys.job_name(esi_type, resource_id, version),
        'dependency': list(dependency),
        'version': version,
        'params': params,
        'resource_type': esi_type,
        'action': action,
        'is_last': is_last,
        'on_failure': on_failure,
        'id': job_id,
        'resource_input': without_secrets(resource_input),
        'created_at': round(time.time(), 3),
    }
    if request_id:
        body['request_id'] = request_id
    return job_id, job_value(handler, body)


# --- job plans ------------------------------------------------------------

class Step(object):
    """One job of a plan: its action, handler and on_failure."""

    def __init__(self, action, handler, on_failure='fail'):
        if action not in ACTIONS or on_failure not in ON_FAILURE:
            raise exceptions.TemplateError(
                'a plan step is (one of %s, handler, one of %s)'
                % (', '.join(ACTIONS), ', '.join(ON_FAILURE)))
        self.action, self.handler, self.on_failure = (action, handler,
                                                      on_failure)

    def __repr__(self):
        return 'Step(%s, %s, %s)' % (self.action, self.handler,
                                     self.on_failure)


def single(action, handler):
    """The plan of today's types: one job, first and last."""
    return (Step(action, handler),)


def modify_sequence(monitoring_handler, handler):
    """ESI's modify: unmonitor (failure ignored), modify, monitor again."""
    return (Step(DELETE, monitoring_handler, 'ignore'),
            Step(MODIFY, handler),
            Step(CREATE, monitoring_handler))


def job_plan(steps, esi_type, resource_id, version, params, resource_input,
             dependency=(), request_id=None):
    """Return [(job id, /jobs/all value)] of the jobs of a plan, in order.

    The first job is_first and waits for *dependency* (the resource's jobs
    still in flight); each next one waits for the one before it; the last
    is_last. A step whose on_failure is ``ignore`` completes even when it
    fails, so the jobs after it run.

    :param params: callable(step) returning the step's job params.
    """
    if not steps:
        raise exceptions.TemplateError('a job plan has at least one step')
    made, before = [], list(dependency)
    for index, step in enumerate(steps):
        made.append(job(step.action, step.handler, esi_type, resource_id,
                        version, params(step), resource_input,
                        on_failure=step.on_failure, dependency=before,
                        is_first=index == 0,
                        is_last=index == len(steps) - 1,
                        request_id=request_id))
        before = [made[-1][0]]
    return made


def job_value(handler, body):
    """Return the /jobs/all value of a job: ``[handler, job, 0]``.

    The third element is the seed's 0, written at creation and again by
    a claim that rewrites the value (see kept_by_claim); it counts
    nothing. What counts a job's claims is the etcd version of its key
    (see earlier_claims).
    """
    return [handler, body, 0]


# The end of a job value whose third element is the seed's 0.
_SEED_ZERO = re.compile(r',\s*0\s*\]\s*$')


def kept_by_claim(text):
    """True when a claim may keep the job value *text* as it is.

    That is a value with nothing for job_value() to change: no secret
    field (nor a \\u escape that could spell one) and the seed's 0 as its
    third element. The claim then bumps the key's version without sending
    the value again (etcd.touch); any other value is rewritten by
    job_value(), as before.
    """
    if not isinstance(text, str) or '\\u' in text:
        return False
    if any('"%s"' % field in text for field in SECRET_FIELDS):
        return False
    return _SEED_ZERO.search(text) is not None


def earlier_claims(kv, held):
    """Return how many claims of the job read as *kv* ended unfinished.

    The etcd version of /jobs/all/<id> is the count: heat-esi writes a job
    once (version 1) and each claim writes it once more (etcd.touch, or a
    rewrite), whoever held it and however the claim ended (a finish
    deletes the key).

    :param held: whether the job is claimed now (/jobs/working/<id>
        exists); its current claim is not an earlier one.
    """
    return kv.version - (2 if held else 1)


def created_at_of(text):
    """The "created_at" a job value holds, even when it does not parse.

    A value refused for one wrong field still says when it was written;
    None when it cannot be read that far.
    """
    if isinstance(text, bytes) or len(text) > MAX_JOB_BYTES:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and len(value) > 1 and isinstance(value[1],
                                                                 dict):
        return value[1].get('created_at')
    return None


def job_handler(text):
    """The handler a job value names, or None when it is unreadable.

    A worker only judges the jobs of its own handlers, and a job whose value
    cannot even name one is every worker's to reject.
    """
    value = _raw_job(text)
    if value and isinstance(value[0], str):
        return value[0]
    return None


# A project id longer than this is no Keystone id (those are 32 hex digits,
# 64 characters at most): such a job goes to the shared queue of the jobs
# without a project rather than to a queue of its own.
MAX_PROJECT_CHARS = 255


def project_of(body):
    """The project a job body belongs to, or None when it names none.

    That is the tenant_id of its resource_input, which Heat copies from the
    stack's project (the seed's jobs carry it too).
    """
    source = body.get('resource_input') if isinstance(body, dict) else None
    project = source.get('tenant_id') if isinstance(source, dict) else None
    if isinstance(project, str) and 0 < len(project) <= MAX_PROJECT_CHARS:
        return project
    return None


def job_project(text):
    """The project of a raw /jobs/all value; None when it names none.

    Unreadable values have none: they are everyone's to reject.
    """
    value = _raw_job(text)
    if len(value) > 1:
        return project_of(value[1])
    return None


def _raw_job(text):
    """The list a raw /jobs/all value holds; [] when it holds none."""
    if isinstance(text, bytes):         # not UTF-8 (see etcd.KV)
        return []
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return []
    return value if isinstance(value, list) else []


def _shown(value):
    """Show a wrong value in an error.

    Scalars as they are, containers by kind only (they may hold anything,
    a secret too).
    """
    if isinstance(value, dict):
        return 'an object'
    if isinstance(value, list):
        return 'a list'
    return exceptions.short(value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _depth(obj):
    """How deeply *obj* nests lists and maps (without recursion)."""
    deepest, todo = 0, [(obj, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            todo += [(v, level + 1) for v in item]
    return deepest


# (field, check, what it must be) for every field the worker reads.
_JOB_CHECKS = (
    ('id', lambda v: isinstance(v, str), 'a string'),
    ('action', lambda v: isinstance(v, str) and v in ACTIONS,
     'one of %s' % ', '.join(ACTIONS)),
    ('handler', lambda v: isinstance(v, str), 'a string'),
    ('resource_type', lambda v: isinstance(v, str) and
     keys.RESOURCE_TYPE_RE.match(v), 'a resource type (a-z and _)'),
    ('resource_id', lambda v: isinstance(v, str) and
     keys.RESOURCE_ID_RE.match(v), 'a resource id (no "/" or ":")'),
    ('version', lambda v: _is_int(v) and v >= 0, 'an integer >= 0'),
    ('job_name', lambda v: isinstance(v, str), 'a string'),
    ('is_first', lambda v: isinstance(v, bool), 'true or false'),
    ('is_last', lambda v: isinstance(v, bool), 'true or false'),
    ('on_failure', lambda v: isinstance(v, str) and v in ON_FAILURE,
     'one of %s' % ', '.join(ON_FAILURE)),
    ('dependency', lambda v: isinstance(v, list) and all(
        isinstance(d, str) for d in v), 'a list of job ids'),
    ('params', lambda v: isinstance(v, list) and all(
        isinstance(p, dict) and isinstance(p.get('param'), str)
        and 'value' in p for p in v),
     'a list of {"param": name, "value": ...} objects'),
    ('resource_input', lambda v: isinstance(v, dict), 'an object'),
)

# The operator fields, when present.
_OPERATOR_CHECKS = (
    ('created_at', lambda v: isinstance(v, (int, float)) and
     not isinstance(v, bool), 'a number'),
    ('request_id', lambda v: isinstance(v, str), 'a string'),
)


def parse_job(key, text):
    """Return (handler, job) of a /jobs/all value, checked field by field.

    Every field the worker uses is type-checked, and the job must be the
    one its key names (its id, action, handler, resource and version), so
    that a value can neither crash a worker nor write another resource's
    /state. The job returned has no secrets in its resource_input.

    :raises MalformedValue: naming *key* and what is wrong.
    """
    job_id = key
    for prefix in (keys.JOBS_ALL, keys.JOBS_REJECTED):
        if key.startswith(prefix):
            job_id = key[len(prefix):]
    parts = keys.parse_job_id(job_id)
    if parts is None:
        raise exceptions.MalformedValue(
            key, 'the key is not a job id (<action>:<handler>:<type>:<id>:'
            '<version>:<5 characters a-z0-9>)')
    size = len(text if isinstance(text, bytes) else
               text.encode('utf-8', 'surrogateescape'))
    if size > MAX_JOB_BYTES:
        raise exceptions.MalformedValue(
            key, 'a job value of %d bytes is over the limit of %d'
            % (size, MAX_JOB_BYTES))
    value = etcd.loads(key, text)
    if (not isinstance(value, list) or len(value) != 3
            or not isinstance(value[0], str) or not isinstance(value[1], dict)
            or not _is_int(value[2]) or value[2] < 0):
        raise exceptions.MalformedValue(
            key, 'expected [handler, {job}, integer >= 0]')
    if _depth(value) > MAX_DEPTH:
        raise exceptions.MalformedValue(
            key, 'nested deeper than %d levels' % MAX_DEPTH)
    # The third element is not read: the seed writes 0 there, and workers
    # before this one wrote their count of earlier claims.
    handler, body, _ = value
    missing = [f for f in JOB_FIELDS if f not in body]
    if missing:
        raise exceptions.MalformedValue(
            key, 'job lacks field(s) %s' % ', '.join(missing))
    for field, check, expected in _JOB_CHECKS:
        if not check(body[field]):
            raise exceptions.MalformedValue(
                key, '"%s" must be %s, not %s'
                % (field, expected, _shown(body[field])))
    for field, check, expected in _OPERATOR_CHECKS:
        if field in body and not check(body[field]):
            raise exceptions.MalformedValue(
                key, '"%s" must be %s, not %s'
                % (field, expected, _shown(body[field])))
    if body['handler'] != handler:
        raise exceptions.MalformedValue(
            key, '"handler" %s differs from the value\'s handler %s'
            % (exceptions.short(body['handler']), exceptions.short(handler)))
    parts['id'] = job_id
    for field in ('id', 'action', 'handler', 'resource_type', 'resource_id',
                  'version'):
        if body[field] != parts[field]:
            raise exceptions.MalformedValue(
                key, '"%s" %s is not the %s of the job id in the key'
                % (field, exceptions.short(body[field]), field))
    body = dict(body, resource_input=without_secrets(body['resource_input']))
    return handler, body


# /esi-worker/job_state and /state -------------------------------------------

def job_state(state_monitoring):
    return {'state_monitoring': state_monitoring}


def state(worker_state, version, state_monitoring=None, error='',
          heat_outputs=None):
    """Return a /state value, as the original esi-worker wrote it.

    Every entry of "state" is a JSON-encoded string, except worker_state.
    heat_outputs is what a handler that runs Heat stacks hands back.
    """
    inner = {}
    if state_monitoring is not None:
        inner['state_monitoring'] = json.dumps(state_monitoring)
    if heat_outputs is not None:
        inner['heat_outputs'] = json.dumps(heat_outputs)
    inner['worker_state'] = worker_state
    return {'state': inner, 'version': version, 'error': error}


def parse_state(key, text):
    """A /state value as a dict of its entries, the JSON strings decoded.

    state_monitoring is decoded into a dict ({} when absent); heat_outputs
    (ESI's list of the outputs of the resource's stack) is decoded, and in
    the dict only when in /state: read it with .get('heat_outputs', []).
    """
    value = etcd.loads(key, text)
    if not isinstance(value, dict) or not isinstance(value.get('state'),
                                                     dict):
        raise exceptions.MalformedValue(key, 'expected {"state": {...}, '
                                        '"version": N, "error": "..."}')
    inner = value['state']
    worker_state = inner.get('worker_state')
    if not isinstance(worker_state, str):
        raise exceptions.MalformedValue(key, '"worker_state" is missing')
    version = value.get('version')
    if not isinstance(version, int) or isinstance(version, bool):
        raise exceptions.MalformedValue(key, '"version" is not an integer')
    error = value.get('error', '')
    if not isinstance(error, str):
        raise exceptions.MalformedValue(key, '"error" is not a string')
    monitoring = inner.get('state_monitoring', '{}')
    if isinstance(monitoring, str):
        try:
            monitoring = json.loads(monitoring)
        except ValueError:
            raise exceptions.MalformedValue(
                key, '"state_monitoring" is not a JSON string')
    if not isinstance(monitoring, dict):
        raise exceptions.MalformedValue(key,
                                        '"state_monitoring" is not a map')
    found = {'worker_state': worker_state, 'version': version,
             'error': error, 'state_monitoring': monitoring}
    if 'heat_outputs' in inner:
        found['heat_outputs'] = _decoded(key, 'heat_outputs',
                                         inner['heat_outputs'])
    return found


def _decoded(key, name, value):
    """An entry of /state that is a JSON string, decoded."""
    if not isinstance(value, str):
        raise exceptions.MalformedValue(key, '"%s" is not a JSON string'
                                        % name)
    try:
        return json.loads(value)
    except ValueError:
        raise exceptions.MalformedValue(key, '"%s" is not a JSON string'
                                        % name)

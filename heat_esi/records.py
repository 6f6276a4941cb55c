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
import time

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys

# Job actions and the worker_state they end in.
CREATE, MODIFY, DELETE, LOGICAL_DELETE = (
    'create', 'modify', 'delete', 'logical_delete')
ACTIONS = (CREATE, MODIFY, DELETE, LOGICAL_DELETE)
_STATE_PREFIX = {CREATE: 'CREATE', MODIFY: 'MODIFY', DELETE: 'DELETE',
                 LOGICAL_DELETE: 'DELETE'}
ON_FAILURE = ('fail', 'ignore')


def completed(action):
    return _STATE_PREFIX[action] + '_COMPLETED'


def failed(action):
    return _STATE_PREFIX[action] + '_FAILED'


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


def job(action, handler, resource_type, resource_id, version, params,
        resource_input, on_failure='fail', dependency=(), is_first=True,
        is_last=True, request_id=None):
    """(job id, /jobs/all value) of a new job, with every field of the seed.

    The third element of the value counts earlier claims of the job that
    expired before it finished (see heat_esi.worker.service). Two fields
    that the seed lacks, and ESI's readers ignore, are for operators: the
    id of the Heat request that wrote the job, which the worker logs with
    every line about it, and its creation time, from which the backlog's
    age and the job's latency are measured.
    """
    job_id = keys.new_job_id(action, handler, resource_type, resource_id,
                             version)
    body = {
        'is_first': is_first,
        'resource_id': resource_id,
        'handler': handler,
        'job_name': keys.job_name(resource_type, resource_id, version),
        'dependency': list(dependency),
        'version': version,
        'params': params,
        'resource_type': resource_type,
        'action': action,
        'is_last': is_last,
        'on_failure': on_failure,
        'id': job_id,
        'resource_input': resource_input,
        'created_at': round(time.time(), 3),
    }
    if request_id:
        body['request_id'] = request_id
    return job_id, [handler, body, 0]


def job_handler(text):
    """The handler a job value names, or None when it is unreadable.

    A worker only judges the jobs of its own handlers, and a job whose value
    cannot even name one is every worker's to reject.
    """
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def parse_job(key, text):
    """(handler, job, attempts) of a /jobs/all value, checked field by field.
    """
    value = etcd.loads(key, text)
    if (not isinstance(value, list) or len(value) != 3
            or not isinstance(value[0], str) or not isinstance(value[1], dict)
            or not isinstance(value[2], int)):
        raise exceptions.MalformedValue(
            key, 'expected [handler, {job}, attempts]')
    handler, body, attempts = value
    missing = [f for f in JOB_FIELDS if f not in body]
    if missing:
        raise exceptions.MalformedValue(
            key, 'job lacks field(s) %s' % ', '.join(missing))
    if body['action'] not in _STATE_PREFIX:
        raise exceptions.MalformedValue(
            key, 'unknown action %r' % body['action'])
    if body['on_failure'] not in ON_FAILURE:
        raise exceptions.MalformedValue(
            key, 'on_failure must be one of %s' % ', '.join(ON_FAILURE))
    if not isinstance(body['params'], list) or not all(
            isinstance(p, dict) and 'param' in p and 'value' in p
            for p in body['params']):
        raise exceptions.MalformedValue(
            key, '"params" must be a list of {param, value, ...} objects')
    if not isinstance(body['dependency'], list):
        raise exceptions.MalformedValue(key, '"dependency" must be a list')
    if not isinstance(body['version'], int):
        raise exceptions.MalformedValue(key, '"version" is not an integer')
    return handler, body, attempts


# /esi-worker/job_state and /state -------------------------------------------

def job_state(state_monitoring):
    return {'state_monitoring': state_monitoring}


def state(worker_state, version, state_monitoring=None, error=''):
    """A /state value: every entry of "state" is a JSON-encoded string,
    except worker_state, as the original esi-worker wrote it."""
    inner = {}
    if state_monitoring is not None:
        inner['state_monitoring'] = json.dumps(state_monitoring)
    inner['worker_state'] = worker_state
    return {'state': inner, 'version': version, 'error': error}


def parse_state(key, text):
    """A /state value as {worker_state, version, error, state_monitoring}.

    state_monitoring is decoded into a dict ({} when absent).
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
    return {'worker_state': worker_state, 'version': version,
            'error': error, 'state_monitoring': monitoring}

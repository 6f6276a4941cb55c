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

"""What a resource's states mean, for heat-engine and for the workers alike.

Three records describe a resource in etcd: the ``status`` of its /config
body (PENDING_* while an action is under way), the ``worker_state`` of its
/state (the last job's outcome, with the element states the worker found)
and its /monitoring (what a monitor saw last). This module holds their
vocabularies, the predicates on them, and the one rule by which /state and
/monitoring combine into what a resource looks like now.
"""

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records

# The status of a /config body while its action is under way.
PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE = (
    'PENDING_CREATE', 'PENDING_UPDATE', 'PENDING_DELETE')

# Element states. A worker answers a job with ACTIVE (the seed's point (3)),
# a monitor writes UP or DOWN (point (5)).
ACTIVE, UP, DOWN = 'ACTIVE', 'UP', 'DOWN'
# The healthy states of sessions, as ESI's NETCONF plugins answer them: a
# BGP session ESTABLISHED (job and monitor alike), a VRRP group master or
# backup as wanted (a job's state_monitoring in lower case, /monitoring in
# upper case, as the seeds show).
ESTABLISHED = 'ESTABLISHED'
MASTER, BACKUP = 'MASTER', 'BACKUP'
HEALTHY = (UP, ACTIVE, ESTABLISHED, MASTER, BACKUP, 'master', 'backup')
# How an element state reads in Heat's attributes and outputs: one
# vocabulary from create to every later poll.
VOCABULARY = {ACTIVE: UP}

# What a resource's status attribute shows besides ACTIVE, DOWN and PENDING_*.
ERROR = 'ERROR'

# The worker_state of a resource whose type has no job plan (an operator's
# catalog entry: vpn_service, qos_option). heat-engine writes it with the
# resource's /config, as ESI's resource reader did for a "non workable
# resource": no worker ever answers for it.
READ_COMPLETE = 'READ_COMPLETE'

_STATE_PREFIX = {records.CREATE: 'CREATE', records.MODIFY: 'MODIFY',
                 records.DELETE: 'DELETE', records.LOGICAL_DELETE: 'DELETE'}
_COMPLETED, _FAILED = '_COMPLETED', '_FAILED'


def completed(action):
    """The worker_state of a job of *action* that succeeded."""
    return _STATE_PREFIX[action] + _COMPLETED


def failed(action):
    """The worker_state of a job of *action* that failed."""
    return _STATE_PREFIX[action] + _FAILED


def is_completed(worker_state):
    """Whether *worker_state* is the end of a job that succeeded.

    Or the state of a resource without jobs (READ_COMPLETE).
    """
    return bool(worker_state) and (worker_state.endswith(_COMPLETED) or
                                   worker_state == READ_COMPLETE)


def is_failed(worker_state):
    """Whether *worker_state* is the end of a job that failed."""
    return bool(worker_state) and worker_state.endswith(_FAILED)


def action_of(worker_state):
    """The prefix of *worker_state* (CREATE, MODIFY, DELETE), or None."""
    for suffix in (_COMPLETED, _FAILED):
        if worker_state and worker_state.endswith(suffix):
            return worker_state[:-len(suffix)]
    return None


# Monitors poll only the devices of resources whose last job created or
# modified them: a failed or deleted resource has nothing to watch.
MONITORED = (completed(records.CREATE), completed(records.MODIFY))


def healthy(parts):
    """Whether every element of *parts* ({element: state}) is healthy.

    An empty or missing map is not: nothing has reported on the resource.
    """
    return bool(parts) and all(v in HEALTHY for v in parts.values())


def shown(parts):
    """*parts* in the vocabulary of Heat's attributes (ACTIVE reads UP)."""
    return {k: VOCABULARY.get(v, v) for k, v in (parts or {}).items()}


def combine(state, monitoring, monitoring_key=''):
    """{element: state} of a resource now, from its /state and /monitoring.

    The monitor's /monitoring wins over the state_monitoring of the last
    job's /state, unless it is older than that job: a monitor stops polling
    a resource whose job failed, and its last UP must not outlive that. A
    failed job counts as an element that is not healthy.

    :param state: the parsed /state (records.parse_state), or None.
    :param monitoring: the decoded /monitoring value, or None.
    :returns: the map, or None when nothing reports on the resource.
    :raises MalformedValue: *monitoring* is not an object.
    """
    if state and is_failed(state['worker_state']):
        return dict(state['state_monitoring'],
                    worker_state=state['worker_state'])
    if monitoring is not None:
        if not isinstance(monitoring, dict):
            raise exceptions.MalformedValue(monitoring_key,
                                            'expected an object')
        version = monitoring.get('version')
        if isinstance(monitoring.get('status'), dict):    # the nested form
            monitoring = monitoring['status']
        if not (state and isinstance(version, int)
                and version < state['version']):
            return {k: v for k, v in monitoring.items() if k != 'version'}
    if state:
        return state['state_monitoring'] or None
    return None


def keys_of(esi_type, resource_id):
    """The keys parts_of reads: /monitoring, then /state."""
    return (keys.monitoring(esi_type, resource_id),
            keys.state(esi_type, resource_id))


def parts_of(client, esi_type, resource_id, read=None):
    """{element: state} of a resource as it is now (see combine), or None.

    :param read: {key: KV or None} already read (with a claim); the keys
        are read from etcd when they are not in it.
    :raises MalformedValue: naming the key of a value that does not parse.
    """
    mon_key, state_key = keys_of(esi_type, resource_id)
    if read is not None and mon_key in read and state_key in read:
        mon, state = read[mon_key], read[state_key]
    else:
        _, (mons, states) = client.txn(
            [], [etcd.get(mon_key), etcd.get(state_key)], key=mon_key)
        mon, state = (mons or [None])[0], (states or [None])[0]
    parsed = state and records.parse_state(state_key, state.value)
    return combine(parsed, mon and etcd.loads(mon_key, mon.value), mon_key)


def status(body, state, parts):
    """The status attribute of a resource: what Heat shows as its status.

    ACTIVE once the worker completed and every element is healthy, DOWN
    when one is not, ERROR when the worker failed; otherwise the PENDING_*
    status of /config.

    :param state: the parsed /state, or None.
    :param parts: {element: state} as it is now (parts_of).
    """
    worker_state = (state or {}).get('worker_state')
    if is_failed(worker_state) or (state or {}).get('error'):
        return ERROR
    if is_completed(worker_state):
        # No parts at all is not DOWN: nothing says that it is.
        return ACTIVE if all(v in HEALTHY for v in (parts or {}).values()) \
            else DOWN
    return body.get('status')

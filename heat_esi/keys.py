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

"""The etcd key layout of ESI (see the seed document CreateHaRouter_01)."""

import re
import secrets
import string

API = 'v2.0'

# esi_type -> plural used in keys. ESI's types are all regular plurals.
PLURALS = {
    'ha_router': 'ha_routers',
    'edge_router': 'edge_routers',
    'er_physical_interface': 'er_physical_interfaces',
    'ha_interface': 'ha_interfaces',
    'heat_template': 'heat_templates',
}

JOBS_ALL = '/jobs/all/'
JOBS_WORKING = '/jobs/working/'
JOBS_REJECTED = '/jobs/rejected/'
JOBS = '/jobs/'
CONFIG = '/config/'
STATE = '/state/'
MONITORING = '/monitoring/'
# Each live esi-worker: /esi-worker/members/<member id>, under its lease.
MEMBERS = '/esi-worker/members/'
# Each live device monitor (a worker with [monitor] enabled), under its
# worker's lease: the members among which devices are shared.
MONITORS = '/esi-worker/monitors/'
# The heat_worker's stacks: name, status and outputs per resource.
HEAT_STACKS = '/esi-worker/heat_stacks/'
# Requests that the monitor poll a device now (stack check).
POLL_REQUESTS = '/esi-worker/poll/'


_SINGULAR = {p: esi_type for esi_type, p in PLURALS.items()}


def plural(esi_type):
    return PLURALS.get(esi_type, esi_type + 's')


def singular(plural_name):
    """The resource type of a key's plural (the reverse of plural)."""
    if plural_name in _SINGULAR:
        return _SINGULAR[plural_name]
    return plural_name[:-1] if plural_name.endswith('s') else plural_name


def resource_of(key, prefix):
    """(esi_type, resource_id) of <prefix>v2.0/<plural>/<id>.

    None for a key of any other shape, so that a stray key written by hand
    is passed over rather than parsed into nonsense.
    """
    parts = key[len(prefix):].split('/')
    if not key.startswith(prefix) or len(parts) != 3 or parts[0] != API \
            or not parts[2]:
        return None
    return singular(parts[1]), parts[2]


def under(prefix, key):
    """The rest of *key* after *prefix*: a job id, a member id.

    :raises ValueError: *key* is not under *prefix*.
    """
    if not key.startswith(prefix):
        raise ValueError('%s is not under %s' % (key, prefix))
    return key[len(prefix):]


def config(esi_type, resource_id):
    return '%s%s/%s/%s' % (CONFIG, API, plural(esi_type), resource_id)


def config_prefix(esi_type):
    return '%s%s/%s/' % (CONFIG, API, plural(esi_type))


def heat_template(name):
    return config('heat_template', name)


def job_state(esi_type, resource_id):
    return '/esi-worker/job_state/%s/%s/%s' % (
        API, plural(esi_type), resource_id)


def heat_stack(esi_type, resource_id):
    """The heat_worker's record of a resource's Heat stack (ESI's point 3)."""
    return '%s%s/%s/%s' % (HEAT_STACKS, API, plural(esi_type),
                           resource_id)


def state(esi_type, resource_id):
    return '%s%s/%s/%s' % (STATE, API, plural(esi_type), resource_id)


def state_prefix(esi_type):
    return '%s%s/%s/' % (STATE, API, plural(esi_type))


def monitoring_prefix(esi_type):
    return '%s%s/%s/' % (MONITORING, API, plural(esi_type))


def monitoring(esi_type, resource_id):
    return '%s%s/%s/%s' % (MONITORING, API, plural(esi_type),
                           resource_id)


def poll_request(esi_type, resource_id):
    return '%s%s/%s/%s' % (POLL_REQUESTS, API, plural(esi_type),
                           resource_id)


def job(job_id):
    return JOBS_ALL + job_id


def working(job_id):
    return JOBS_WORKING + job_id


_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def new_job_id(action, handler, esi_type, resource_id, version):
    """``<action>:<handler>:<type>:<id>:<version>:<5 chars of a-z0-9>``."""
    suffix = ''.join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
    return job_prefix(action, handler, esi_type, resource_id,
                      version) + suffix


def job_prefix(action, handler, esi_type, resource_id, version=None):
    """Return what the ids of such jobs start with.

    That is all but the suffix, or, without *version*, what the resource's
    jobs of that action and handler start with.
    """
    prefix = '%s:%s:%s:%s:' % (action, handler, esi_type, resource_id)
    return prefix if version is None else '%s%s:' % (prefix, version)


def job_name(esi_type, resource_id, version):
    return '%s:%s:%s' % (esi_type, resource_id, version)


RESOURCE_TYPE_RE = re.compile(r'^[a-z_]+\Z')
# A resource id is one key segment: no "/" (nor ":", the job id separator),
# and text that can be written as a key (no lone surrogate, which a value
# may carry as JSON's "\ud800" and which UTF-8 cannot encode).
_ID = r'[^:/\ud800-\udfff]+'
RESOURCE_ID_RE = re.compile(r'^%s\Z' % _ID)

JOB_ID_RE = re.compile(
    r'^(?P<action>[a-z_]+):(?P<handler>[a-z_]+):(?P<resource_type>[a-z_]+):'
    r'(?P<resource_id>%s):(?P<version>[0-9]+):(?P<suffix>[a-z0-9]{5})\Z'
    % _ID)


def parse_job_id(job_id):
    """The parts of a job id as a dict, or None when it is not one."""
    match = JOB_ID_RE.match(job_id)
    if not match:
        return None
    parts = match.groupdict()
    parts['version'] = int(parts['version'])
    return parts

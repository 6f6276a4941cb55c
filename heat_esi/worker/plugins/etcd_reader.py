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

"""etcd_reader: a resource is ACTIVE when another resource it relies on is.

It reads the referenced resource's monitoring state: /monitoring/v2.0/...
where a monitor wrote one, otherwise the state_monitoring in its /state.
"""

import time

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi.worker import plugins

LOG = logging.getLogger(__name__)

HEALTHY = ('UP', 'ACTIVE')
MIN_INTERVAL = 0.01


def keys_of(etcd_type, etcd_id):
    """The keys parts_of reads: /monitoring, then /state."""
    return (keys.monitoring(etcd_type, etcd_id),
            keys.state(etcd_type, etcd_id))


def parts_of(client, etcd_type, etcd_id, read=None):
    """{part: state} of a resource, or None when nothing reports on it.

    The monitor's /monitoring wins over the state_monitoring of the last
    job's /state, unless it is older than that job: a monitor stops polling
    a resource whose job failed, and its last UP must not outlive that.
    A failed job counts as a part that is not healthy.

    :param read: {key: KV or None} already read (with a claim); the keys
        are read from etcd when they are not in it.
    """
    mon_key, state_key = keys_of(etcd_type, etcd_id)
    if read is not None and mon_key in read and state_key in read:
        mon, state = ([read[k]] if read[k] else []
                      for k in (mon_key, state_key))
    else:
        _, (mon, state) = client.txn([], [etcd.get(mon_key),
                                          etcd.get(state_key)], key=mon_key)
    parsed = state and records.parse_state(state_key, state[0].value)
    if parsed and parsed['worker_state'].endswith('_FAILED'):
        return dict(parsed['state_monitoring'],
                    worker_state=parsed['worker_state'])
    if mon:
        value = etcd.loads(mon_key, mon[0].value)
        if not isinstance(value, dict):
            raise exceptions.MalformedValue(mon_key, 'expected an object')
        version = value.get('version')
        if isinstance(value.get('status'), dict):   # the nested form
            value = value['status']
        if not (parsed and isinstance(version, int)
                and version < parsed['version']):
            return {k: v for k, v in value.items() if k != 'version'}
    if parsed:
        return parsed['state_monitoring'] or None
    return None


class EtcdReader(object):

    def __init__(self, client, conf):
        self.client = client
        self.timeout = conf.worker.etcd_reader_timeout
        self.interval = conf.worker.etcd_reader_retry_interval

    def keys(self, props):
        """What check() reads first, for the worker to read along with the
        claim of the job (one round trip less per element)."""
        etcd_type, etcd_id = props.get('etcd_type'), props.get('etcd_id')
        if not (isinstance(etcd_type, str) and isinstance(etcd_id, str)
                and keys.RESOURCE_TYPE_RE.match(etcd_type)
                and keys.RESOURCE_ID_RE.match(etcd_id)):
            return ()       # check() names what is wrong
        return keys_of(etcd_type, etcd_id)

    def check(self, props, abort, read=None):
        """'ACTIVE', or JobFailed when it is not before the timeout.

        :param read: {key: KV or None} read with the claim; the first look
            uses it, any retry reads etcd.
        """
        try:
            etcd_type, etcd_id = props['etcd_type'], props['etcd_id']
        except KeyError as exc:
            raise exceptions.JobFailed('missing property %s' % exc)
        if not (isinstance(etcd_type, str)
                and keys.RESOURCE_TYPE_RE.match(etcd_type)):
            raise exceptions.JobFailed('"etcd_type" must be a resource type, '
                                       'not %s' % exceptions.short(etcd_type))
        if not (isinstance(etcd_id, str)
                and keys.RESOURCE_ID_RE.match(etcd_id)):
            raise exceptions.JobFailed('"etcd_id" must be a resource id, '
                                       'not %s' % exceptions.short(etcd_id))
        timeout = plugins.seconds(props, 'timeout', self.timeout)
        # Never a busy loop on etcd.
        interval = max(plugins.seconds(props, 'time_between_retries',
                                       self.interval), MIN_INTERVAL)
        deadline = time.monotonic() + timeout
        while True:
            parts = parts_of(self.client, etcd_type, etcd_id, read)
            read = None
            if parts and all(v in HEALTHY for v in parts.values()):
                return 'ACTIVE'
            if time.monotonic() + interval > deadline:
                break
            if abort.wait(interval):
                raise exceptions.JobInterrupted()
        seen = ('no monitoring state' if not parts else ', '.join(
            '%s %s' % kv for kv in sorted(parts.items())))
        raise exceptions.JobFailed('%s %s is not ACTIVE after %s s (%s)'
                                   % (etcd_type, etcd_id, timeout, seen))

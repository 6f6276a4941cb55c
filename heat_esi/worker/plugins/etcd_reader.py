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

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import states
from heat_esi.worker import plugins
from heat_esi.worker.plugins import base

LOG = logging.getLogger(__name__)

MIN_INTERVAL = 0.01


def _referenced(props):
    """Return (etcd_type, etcd_id) of the resource an element relies on.

    :raises JobFailed: naming the property that is missing or wrong.
    """
    try:
        etcd_type, etcd_id = props['etcd_type'], props['etcd_id']
    except KeyError as exc:
        raise exceptions.JobFailed('missing property %s' % exc)
    if not (isinstance(etcd_type, str)
            and keys.RESOURCE_TYPE_RE.match(etcd_type)):
        raise exceptions.JobFailed('"etcd_type" must be a resource type, '
                                   'not %s' % exceptions.short(etcd_type))
    if not (isinstance(etcd_id, str) and keys.RESOURCE_ID_RE.match(etcd_id)):
        raise exceptions.JobFailed('"etcd_id" must be a resource id, not %s'
                                   % exceptions.short(etcd_id))
    return etcd_type, etcd_id


def _seen(parts):
    """Say what the referenced resource's parts are, for messages."""
    return ('no monitoring state' if not parts else ', '.join(
        '%s %s' % kv for kv in sorted(parts.items())))


class EtcdReader(base.Plugin):
    """ACTIVE (UP) when every element of the referenced resource is."""

    def __init__(self, client, conf):
        self.client = client
        self.timeout = conf.worker.etcd_reader_timeout
        self.interval = conf.worker.etcd_reader_retry_interval

    def keys(self, props):
        """Return what check() reads first: the referenced resource's keys.

        The worker reads them along with the claim of the job (one round
        trip less per element).
        """
        try:
            return states.keys_of(*_referenced(props))
        except exceptions.JobFailed:
            return ()       # check() names what is wrong

    def check(self, props, clock, read=None):
        """Return 'ACTIVE', or raise JobFailed when it is not by the timeout.

        :param read: {key: KV or None} read with the claim; the first look
            uses it, any retry reads etcd.
        """
        etcd_type, etcd_id = _referenced(props)
        timeout = plugins.seconds(props, 'timeout', self.timeout)
        # Never a busy loop on etcd.
        interval = max(plugins.seconds(props, 'time_between_retries',
                                       self.interval), MIN_INTERVAL)
        deadline = time.monotonic() + timeout
        while True:
            parts = states.parts_of(self.client, etcd_type, etcd_id, read)
            read = None
            if states.healthy(parts):
                return states.ACTIVE
            if time.monotonic() + interval > deadline:
                break
            if clock.wait(interval):
                raise exceptions.JobInterrupted()
        raise exceptions.JobFailed('%s %s is not ACTIVE after %s s (%s)'
                                   % (etcd_type, etcd_id, timeout,
                                      _seen(parts)))

    def poll(self, props, abort):
        """Return (UP, '') when the referenced resource is healthy now.

        Otherwise (DOWN, what its elements are); one read, no retry.
        """
        etcd_type, etcd_id = _referenced(props)
        parts = states.parts_of(self.client, etcd_type, etcd_id)
        if states.healthy(parts):
            return states.UP, ''
        return states.DOWN, '%s %s is not ACTIVE (%s)' % (
            etcd_type, etcd_id, _seen(parts))

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

LOG = logging.getLogger(__name__)

MIN_INTERVAL = 0.01


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
        return states.keys_of(etcd_type, etcd_id)

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
            parts = states.parts_of(self.client, etcd_type, etcd_id, read)
            read = None
            if states.healthy(parts):
                return states.ACTIVE
            if time.monotonic() + interval > deadline:
                break
            if abort.wait(interval):
                raise exceptions.JobInterrupted()
        seen = ('no monitoring state' if not parts else ', '.join(
            '%s %s' % kv for kv in sorted(parts.items())))
        raise exceptions.JobFailed('%s %s is not ACTIVE after %s s (%s)'
                                   % (etcd_type, etcd_id, timeout, seen))

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

"""virtual_network: a network is ACTIVE when its stack made its network.

In ESI this element asked Contrail's API for the virtual network by uuid.
heat-esi talks to no Contrail: it reads what the network's own stack
reported, the record heat_worker keeps at
/esi-worker/heat_stacks/v2.0/networks/<id>. The network is ACTIVE (and
UP) when that stack is CREATE_COMPLETE or UPDATE_COMPLETE and its ``id``
output is the element's ``uuid`` (and its ``fq_name`` output the element's
``fq_name``, when both say one). Its timeout and interval are the
etcd_reader's ([worker] etcd_reader_timeout, etcd_reader_retry_interval):
like it, it waits on a record that another job writes.
"""

import time

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import states
from heat_esi.worker import plugins
from heat_esi.worker.plugins import base

MIN_INTERVAL = 0.01
COMPLETE = ('CREATE_COMPLETE', 'UPDATE_COMPLETE')


def stack_key(network_id, esi_type='network'):
    """The heat_stacks record of network *network_id*.

    Or of the *esi_type* resource of that id (the vmi plugin's ports).
    """
    return keys.heat_stack(esi_type, network_id)


def _uuid(props, what='network'):
    """The element's network id; JobFailed naming what is wrong."""
    uuid = props.get('uuid')
    if not (isinstance(uuid, str) and keys.RESOURCE_ID_RE.match(uuid)):
        raise exceptions.JobFailed('"uuid" must be a %s id, not %s'
                                   % (what, exceptions.short(uuid)))
    return uuid


def _record(key, text):
    """The stack record at *key*; JobFailed naming the key if it is not."""
    try:
        record = etcd.loads(key, text)
    except exceptions.MalformedValue as exc:
        raise exceptions.JobFailed(str(exc))
    if not isinstance(record, dict):
        raise exceptions.JobFailed('malformed value at %s: expected a map'
                                   % key)
    return record


class VirtualNetwork(base.Plugin):
    """ACTIVE (UP) when the network's stack is complete and made it."""

    # The ESI type whose stack made the object, and what to call it.
    esi_type = 'network'
    what = 'network'
    made = 'the virtual network'

    def __init__(self, client, conf):
        self.client = client
        self.timeout = conf.worker.etcd_reader_timeout
        self.interval = conf.worker.etcd_reader_retry_interval

    def keys(self, props):
        """Return what check() reads first: the network's stack record."""
        try:
            return (stack_key(_uuid(props, self.what), self.esi_type),)
        except exceptions.JobFailed:
            return ()       # check() names what is wrong

    def _why_not(self, props, read=None):
        """Why the network is not up ('' when it is), from one read."""
        what = self.what
        uuid = _uuid(props, what)
        key = stack_key(uuid, self.esi_type)
        kv = read[key] if read and key in read else self.client.get(key)
        if kv is None:
            return '%s %s has no stack record (%s)' % (what, uuid, key)
        record = _record(key, kv.value)
        status = record.get('stack_status')
        if status not in COMPLETE:
            return 'the stack of %s %s is %s: %s' % (
                what, uuid, exceptions.short(status),
                exceptions.short(record.get('status_reason')))
        outputs = {out.get('output_key'): out.get('output_value')
                   for out in record.get('output') or []
                   if isinstance(out, dict)}
        if outputs.get('id') != uuid:
            return 'the stack of %s %s made %s %s' % (
                what, uuid, self.made, exceptions.short(outputs.get('id')))
        fq_name = props.get('fq_name')
        if fq_name and outputs.get('fq_name') not in (None, fq_name):
            return 'the stack of %s %s has fq_name %s, not %s' % (
                what, uuid, exceptions.short(outputs.get('fq_name')),
                exceptions.short(fq_name))
        return ''

    def check(self, props, clock, read=None):
        """Return 'ACTIVE', or raise JobFailed when it is not by the timeout.

        :param read: {key: KV or None} read with the claim; the first look
            uses it, any retry reads etcd.
        """
        timeout = plugins.seconds(props, 'timeout', self.timeout)
        # Never a busy loop on etcd.
        interval = max(plugins.seconds(props, 'time_between_retries',
                                       self.interval), MIN_INTERVAL)
        deadline = time.monotonic() + timeout
        while True:
            why = self._why_not(props, read)
            read = None
            if not why:
                return states.ACTIVE
            if time.monotonic() + interval > deadline:
                break
            if clock.wait(interval):
                raise exceptions.JobInterrupted()
        raise exceptions.JobFailed('%s after %s s' % (why, timeout))

    def poll(self, props, abort):
        """Return (UP, '') when the network's stack made it, else DOWN."""
        why = self._why_not(props)
        return (states.DOWN, why) if why else (states.UP, '')

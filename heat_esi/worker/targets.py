# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""What the monitor polls, and which member polls it.

completed() reads the resources of an ESI type whose last action completed
(their /config, /state and /monitoring in one transaction); owner() is
the rendezvous hashing that gives each device to one live member;
watch_departures() tells a monitor when a member leaves, so that the
others take its devices at once.
"""

import hashlib

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi.worker import intake

LOG = logging.getLogger(__name__)


def by_id(kvs, prefix):
    """{resource id: KV} of the keys <prefix>v2.0/<plural>/<id> in *kvs*.

    A key of any other shape (a stray one written by hand) is left out.
    """
    found = {}
    for kv in kvs:
        where = keys.resource_of(kv.key, prefix)
        if where is not None:
            found[where[1]] = kv
    return found


def owner(resource_id, members):
    """The member that polls *resource_id*: highest rendezvous score."""
    return max(members, key=lambda m: hashlib.sha256(
        ('%s/%s' % (m, resource_id)).encode('utf-8', 'surrogateescape'))
        .digest())


def watch_departures(client, stop, on_departure):
    """Call on_departure() when a monitor's member key goes, until *stop*.

    The key goes when its worker's lease expires (a worker killed) or is
    revoked: its devices are the others' from then on, and they would
    otherwise find out only at their next cycle, up to an interval later.
    A list that reopens the watch calls it too: a member may have left
    while the watch was down (the first list need not: the first cycle
    reads the members anyway).
    """
    listed = []

    def read_all():
        revision = client.get_prefix(keys.MONITORS, keys_only=True)[1]
        if listed:
            on_departure()
        listed.append(revision)
        return revision

    def on_event(event):
        if event.type == etcd.DELETE:
            on_departure()

    intake.ListThenWatch(client, keys.MONITORS, read_all, on_event, stop,
                         'monitor member watch', delay=(1.0, 1.0)).run()


def completed(client, esi_type, rid=None):
    """Yield the resources of *esi_type* whose last action completed.

    With *rid*, only that one (when its last action completed). Each is
    {esi_type, rid, body, version, config_revision, current}: *current* is
    the /monitoring value as read.
    """
    if rid is None:
        reads = [etcd.get_prefix(keys.config_prefix(esi_type)),
                 etcd.get_prefix(keys.state_prefix(esi_type)),
                 etcd.get_prefix(keys.monitoring_prefix(esi_type))]
    else:
        reads = [etcd.get(keys.config(esi_type, rid)),
                 etcd.get(keys.state(esi_type, rid)),
                 etcd.get(keys.monitoring(esi_type, rid))]
    _, (configs, state_kvs, monitored) = client.txn(
        [], reads, key=keys.config_prefix(esi_type))
    state_kvs = by_id(state_kvs, keys.STATE)
    monitored = by_id(monitored, keys.MONITORING)
    for rid, kv in by_id(configs, keys.CONFIG).items():
        try:
            body, version, marked = records.parse_config(kv.key,
                                                         kv.value)
            state = state_kvs.get(rid)
            worker_state = state and records.parse_state(
                state.key, state.value)['worker_state']
        except exceptions.MalformedValue as exc:
            LOG.warning('not monitoring %s %s: %s', esi_type, rid, exc)
            continue
        if marked or worker_state not in states.MONITORED:
            continue
        current = monitored.get(rid)
        yield {'esi_type': esi_type, 'rid': rid, 'body': body,
               'version': version, 'config_revision': kv.mod_revision,
               'current': current.value if current else None}

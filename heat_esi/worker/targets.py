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
(each one's /config, /state and /monitoring in one transaction); owner() is
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

# Keys of one read of a type's ids. One read of every /config, /state and
# /monitoring of 100,000 edge routers took etcd more than [esi_etcd]
# timeout (5 s), and a member reads them all to find its own: it now reads
# the ids a page at a time (keys only), then the resources it owns.
PAGE = 1000
# Resources read per transaction: three reads each, within etcd's 128
# operations per transaction.
PER_TXN = 40
# A page of which a member owns one id in SPAN_SHARE or more is read whole
# (three ranges) rather than key by key.
SPAN_SHARE = 4


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


class Owned(object):
    """Which devices one member polls, remembered while the members stay.

    With 100,000 devices and 10 members, hashing each one again every
    cycle cost about a tenth of the cycle.
    """

    def __init__(self, member_id):
        self.member_id = member_id
        self._members = None
        self._known = {}

    def of(self, members):
        """callable(rid) -> whether *rid* is this member's among *members*.

        Only the ids asked since the last call are remembered: a deleted
        resource's is forgotten a cycle later.
        """
        members = sorted(members)
        known = self._known if members == self._members else {}
        self._members, self._known = members, {}

        def owns(rid):
            mine = known.get(rid)
            if mine is None:
                mine = owner(rid, members) == self.member_id
            self._known[rid] = mine
            return mine
        return owns


def _pages(client, esi_type):
    """Yield the ids of the resources of *esi_type*, a page (PAGE keys) each.

    Keys only: a member reads the values of the resources it owns alone.
    Pages are read one after another, not at one revision: a resource
    created or deleted meanwhile is seen, or not, by the next cycle.
    """
    prefix = keys.config_prefix(esi_type)
    start = prefix
    while True:
        _, (kvs,) = client.txn(
            [], [etcd.get_page(prefix, start, PAGE, keys_only=True)],
            key=prefix)
        yield list(by_id(kvs, keys.CONFIG))
        if len(kvs) < PAGE:
            return
        start = kvs[-1].key + '\0'


def _read_span(client, esi_type, first, last, rids):
    """_read of *rids*, all between *first* and *last*: three range reads.

    For a member that polls most of a page, three ranges in one
    transaction cost etcd less than a read per key.
    """
    spans = [(base(esi_type, first), base(esi_type, last) + '\0')
             for base in (keys.config, keys.state, keys.monitoring)]
    _, found = client.txn([], [
        etcd.get_range(start, end) for start, end in spans], key=spans[0][0])
    configs, state_kvs, monitored = (
        by_id(kvs, prefix) for kvs, prefix in zip(
            found, (keys.CONFIG, keys.STATE, keys.MONITORING)))
    return [(configs[rid], state_kvs.get(rid), monitored.get(rid))
            for rid in rids if rid in configs]


def _read(client, esi_type, rids):
    """[(config KV, state KV, monitoring KV)] of *rids*, each as one read.

    Each resource's three keys are read in one transaction, so that its
    /state is the one of its /config.
    """
    found = []
    for at in range(0, len(rids), PER_TXN):
        part = rids[at:at + PER_TXN]
        _, kvs = client.txn([], [
            etcd.get(key) for rid in part
            for key in (keys.config(esi_type, rid),
                        keys.state(esi_type, rid),
                        keys.monitoring(esi_type, rid))],
            key=keys.config_prefix(esi_type))
        for n in range(len(part)):
            config, state, monitoring = kvs[3 * n:3 * n + 3]
            if config:
                found.append((config[0], state[0] if state else None,
                              monitoring[0] if monitoring else None))
    return found


def completed(client, esi_type, rid=None, owns=None):
    """Yield the resources of *esi_type* whose last action completed.

    With *rid*, only that one (when its last action completed); with
    *owns* (callable(rid) -> bool), only those it accepts: the ids are
    read first, then the values of those (or of their whole page, when
    they are most of it). Each is {esi_type, rid, body, version,
    config_revision, current}: *current* is the /monitoring value as read.
    """
    if rid is not None:
        rows = _read(client, esi_type, [rid])
    else:
        rows = []
        for page in _pages(client, esi_type):
            wanted = [found for found in page if owns is None or owns(found)]
            if len(wanted) > PER_TXN and len(wanted) * SPAN_SHARE >= len(
                    page):
                rows += _read_span(client, esi_type, page[0], page[-1],
                                   wanted)
            else:
                rows += _read(client, esi_type, wanted)
    for kv, state, current in rows:
        rid = keys.resource_of(kv.key, keys.CONFIG)[1]
        try:
            body, version, marked = records.parse_config(kv.key,
                                                         kv.value)
            worker_state = state and records.parse_state(
                state.key, state.value)['worker_state']
        except exceptions.MalformedValue as exc:
            LOG.warning('not monitoring %s %s: %s', esi_type, rid, exc)
            continue
        if marked or worker_state not in states.MONITORED:
            continue
        yield {'esi_type': esi_type, 'rid': rid, 'body': body,
               'version': version, 'config_revision': kv.mod_revision,
               'current': current.value if current else None}

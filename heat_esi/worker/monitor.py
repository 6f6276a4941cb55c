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

"""Continuous monitoring: the role of the original collector-agents.

Every interval, the devices of created resources (by default edge routers)
are polled through the elements of their ``<type>_monitoring`` template,
and /monitoring/v2.0/<plural>/<id> = {<element>: UP|DOWN, "version": N} is
written on the first result and whenever it changes, never on every poll.

Workers share the devices through etcd: each registers
/esi-worker/monitors/<id> under its lease, and a device belongs to the live
member that ranks first for it (rendezvous hashing), so one worker polls it
per interval, and a dead worker's devices move to the others as soon as its
lease expires.

A stack check asks for a poll now: it writes
/esi-worker/poll/v2.0/<plural>/<id> = {"request": token}; the owner of the
device polls it at once and writes {"request": token, "answer": {...}}
there, with the state of each element, why an element is DOWN and the
device's address.
"""

from concurrent import futures
import functools
import hashlib
import os
import socket
import threading

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi.worker import elements
from heat_esi.worker import metrics

LOG = logging.getLogger(__name__)


def _by_id(kvs, prefix):
    """{resource id: KV} of the keys <prefix>v2.0/<plural>/<id> in *kvs*.

    A key of any other shape (a stray one written by hand) is left out.
    """
    found = {}
    for kv in kvs:
        where = keys.resource_of(kv.key, prefix)
        if where is not None:
            found[where[1]] = kv
    return found


def _outcome(doing, rtype, rid, future):
    """Read the outcome of a poll's future, so that no error is dropped.

    The errors of the elements are logged by _poll; what reaches here is
    etcd failing, or a bug.
    """
    try:
        future.result()
    except futures.CancelledError:
        pass            # stop() cancels the polls not started
    except exceptions.EtcdError as exc:
        LOG.warning('cannot %s %s %s: %s', doing, rtype, rid, exc)
    except Exception:
        LOG.exception('cannot %s %s %s: unexpected error', doing, rtype,
                      rid)


def owner(resource_id, members):
    """The member that polls *resource_id*: highest rendezvous score."""
    return max(members, key=lambda m: hashlib.sha256(
        ('%s/%s' % (m, resource_id)).encode()).digest())


class Monitor(object):

    def __init__(self, client, plugins, lease, interval=60.0,
                 resource_types=('edge_router',), member_id=None,
                 member_value=None):
        self.client = client
        # The worker's resource plugins, run as its jobs run them.
        self.pipeline = elements.Pipeline(client, plugins)
        self.lease = lease              # callable: the worker's lease id
        self.interval = interval
        self.resource_types = list(resource_types)
        self.member_id = member_id or '%s-%d-%s' % (
            socket.gethostname(), os.getpid(), os.urandom(3).hex())
        # The value of the member key: the worker's own when shared.
        self.member_value = member_value or (lambda: self.member_id)
        self._registered = None       # the lease the member key is under
        self._pool = futures.ThreadPoolExecutor(16, 'monitor')
        self._stop = threading.Event()

    def start(self):
        thread = threading.Thread(target=self._run, name='monitor',
                                  daemon=True)
        thread.start()
        threading.Thread(target=self._answer_requests, name='poll-requests',
                         daemon=True).start()
        return thread

    def stop(self):
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.cycle()
            except exceptions.EtcdError as exc:
                LOG.warning('monitoring cycle skipped: %s', exc)
            except Exception:
                LOG.exception('monitoring cycle failed')
            self._stop.wait(self.interval)

    def _answer_requests(self):
        """Watch for poll requests and answer those of owned devices."""
        revision = None
        while not self._stop.is_set():
            try:
                if revision is None:
                    kvs, revision = self.client.get_prefix(
                        keys.POLL_REQUESTS)
                    for kv in kvs:
                        self._on_request(kv)
                for event in self.client.watch(keys.POLL_REQUESTS,
                                               revision + 1):
                    revision = event.kv.mod_revision
                    if event.type == etcd.PUT:
                        self._on_request(event.kv)
                    if self._stop.is_set():
                        return
            except exceptions.WatchCompacted:
                revision = None
            except exceptions.EtcdError as exc:
                LOG.warning('poll request watch interrupted: %s', exc)
                self._stop.wait(1.0)
            except Exception:
                LOG.exception('poll request watch failed')
                self._stop.wait(1.0)

    def _on_request(self, kv):
        try:
            value = etcd.loads(kv.key, kv.value)
        except exceptions.MalformedValue:
            return
        if not isinstance(value, dict) or 'answer' in value:
            return
        where = keys.resource_of(kv.key, keys.POLL_REQUESTS)
        if where is None or where[0] not in self.resource_types:
            return
        rtype, rid = where
        members = [keys.under(keys.MONITORS, m.key) for m in
                   self.client.get_prefix(keys.MONITORS,
                                          keys_only=True)[0]]
        if self.member_id not in members or \
                owner(rid, members) != self.member_id:
            return
        future = self._pool.submit(self._answer, kv, rtype, rid,
                                   value.get('request'))
        future.add_done_callback(functools.partial(
            _outcome, 'answer the poll request for', rtype, rid))

    def _answer(self, kv, rtype, rid, token):
        targets = list(self._targets(rtype, rid))
        if targets:
            answer = self._poll(**targets[0])
        else:
            answer = None
        if answer is None:
            answer = {'error': 'not monitored: its last action did not '
                               'complete, or its template cannot be polled'}
        # Only the request as read: a newer one gets its own poll.
        self.client.txn([etcd.mod_revision_is(kv.key, kv.mod_revision)],
                        [etcd.put(kv.key, {'request': token,
                                           'answer': answer})])
        LOG.info('%s %s polled on request: %s', rtype, rid, answer)

    def cycle(self):
        """Poll the devices this member owns, once."""
        lease = self.lease()
        if lease != self._registered:
            # Once per lease: the key lives as long as the lease does, and
            # a write every cycle would move etcd's revision for nothing.
            self.client.put(keys.MONITORS + self.member_id,
                            self.member_value(), lease=lease)
            self._registered = lease
        members = [keys.under(keys.MONITORS, kv.key)
                   for kv in self.client.get_prefix(keys.MONITORS)[0]]
        polls = {}
        for rtype in self.resource_types:
            for target in self._targets(rtype):
                if owner(target['rid'], members) == self.member_id:
                    polls[self._pool.submit(self._poll, **target)] = target
        for future in futures.as_completed(polls):
            _outcome('monitor', polls[future]['rtype'],
                     polls[future]['rid'], future)

    def _targets(self, rtype, rid=None):
        """Yield the resources of *rtype* whose last action completed.

        With *rid*, only that one (when its last action completed).
        """
        if rid is None:
            reads = [etcd.get_prefix(keys.config_prefix(rtype)),
                     etcd.get_prefix(keys.state_prefix(rtype)),
                     etcd.get_prefix(keys.monitoring_prefix(rtype))]
        else:
            reads = [etcd.get(keys.config(rtype, rid)),
                     etcd.get(keys.state(rtype, rid)),
                     etcd.get(keys.monitoring(rtype, rid))]
        _, (configs, state_kvs, monitored) = self.client.txn(
            [], reads, key=keys.config_prefix(rtype))
        state_kvs = _by_id(state_kvs, keys.STATE)
        monitored = _by_id(monitored, keys.MONITORING)
        for rid, kv in _by_id(configs, keys.CONFIG).items():
            try:
                body, version, marked = records.parse_config(kv.key,
                                                             kv.value)
                state = state_kvs.get(rid)
                worker_state = state and records.parse_state(
                    state.key, state.value)['worker_state']
            except exceptions.MalformedValue as exc:
                LOG.warning('not monitoring %s %s: %s', rtype, rid, exc)
                continue
            if marked or worker_state not in states.MONITORED:
                continue
            current = monitored.get(rid)
            yield {'rtype': rtype, 'rid': rid, 'body': body,
                   'version': version, 'config_revision': kv.mod_revision,
                   'current': current.value if current else None}

    def _poll(self, rtype, rid, body, version, config_revision, current):
        """Poll one resource's devices; write /monitoring if it changed.

        :returns: {"state": {element: UP|DOWN}, "why": {element: reason},
            "address": ...}, or None when it cannot be polled.
        """
        try:
            found = self.pipeline.for_config(rtype, rid, body, version)
            polled = self.pipeline.poll(found, self._stop)
        except elements.ElementError as exc:
            metrics.device_polled(None)
            if not exc.logged:
                LOG.warning('cannot monitor %s: %s (%s)', exc.resource,
                            exc.reason, exc.where)
            return None
        except exceptions.JobFailed as exc:
            metrics.device_polled(None)
            LOG.warning('cannot monitor %s', exc)
            return None
        except exceptions.JobInterrupted:
            return None
        metrics.device_polled(polled.state)
        answer = {'state': dict(polled.state), 'why': polled.why,
                  'address': polled.address}
        result = dict(polled.state, version=version)
        key = keys.monitoring(rtype, rid)
        try:
            if current is not None and etcd.loads(key, current) == result:
                return answer
        except exceptions.MalformedValue:
            pass        # overwritten with a well-formed value
        # Only while the resource is as read: a delete (or an update)
        # meanwhile makes this result stale.
        ok, _ = self.client.txn(
            [etcd.mod_revision_is(keys.config(rtype, rid), config_revision)],
            [etcd.put(key, result)])
        if ok:
            metrics.device_state_changed()
            LOG.info('%s %s monitoring: %s', rtype, rid, ', '.join(
                '%s %s' % kv for kv in sorted(result.items())
                if kv[0] != 'version'))
        return answer

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
/esi-worker/members/<id> under its lease, and a device belongs to the live
member that ranks first for it (rendezvous hashing), so one worker polls it
per interval, and a dead worker's devices move to the others as soon as its
lease expires.
"""

from concurrent import futures
import hashlib
import os
import socket
import threading

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from heat_esi.worker.handlers import monitoring
from heat_esi.worker import metrics

LOG = logging.getLogger(__name__)

MEMBERS = keys.MEMBERS


def _by_id(kvs):
    return {kv.key.rsplit('/', 1)[1]: kv for kv in kvs}


def owner(resource_id, members):
    """The member that polls *resource_id*: highest rendezvous score."""
    return max(members, key=lambda m: hashlib.sha256(
        ('%s/%s' % (m, resource_id)).encode()).digest())


class Monitor(object):

    def __init__(self, client, plugins, lease, interval=60.0,
                 resource_types=('edge_router',), member_id=None,
                 member_value=None):
        self.client = client
        self.plugins = plugins
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

    def cycle(self):
        """Poll the devices this member owns, once."""
        lease = self.lease()
        if lease != self._registered:
            # Once per lease: the key lives as long as the lease does, and
            # a write every cycle would move etcd's revision for nothing.
            self.client.put(MEMBERS + self.member_id, self.member_value(),
                            lease=lease)
            self._registered = lease
        members = [kv.key[len(MEMBERS):]
                   for kv in self.client.get_prefix(MEMBERS)[0]]
        polls = {}
        for rtype in self.resource_types:
            for target in self._targets(rtype):
                if owner(target['rid'], members) == self.member_id:
                    polls[self._pool.submit(self._poll, **target)] = target
        for future in futures.as_completed(polls):
            # Every poll's outcome is read: an error is logged, never
            # dropped with its future.
            target = polls[future]
            try:
                future.result()
            except futures.CancelledError:
                pass            # stop() cancels the polls not started
            except exceptions.EtcdError as exc:
                LOG.warning('cannot monitor %s %s: %s', target['rtype'],
                            target['rid'], exc)
            except Exception:
                LOG.exception('monitoring %s %s failed', target['rtype'],
                              target['rid'])

    def _targets(self, rtype):
        """Resources of *rtype* whose last action completed."""
        plural = keys.plural(rtype)
        _, (configs, states, monitored) = self.client.txn([], [
            etcd.get_prefix(keys.config_prefix(rtype)),
            etcd.get_prefix('/state/%s/%s/' % (keys.API, plural)),
            etcd.get_prefix('/monitoring/%s/%s/' % (keys.API, plural))],
            key=keys.config_prefix(rtype))
        states, monitored = _by_id(states), _by_id(monitored)
        for rid, kv in _by_id(configs).items():
            try:
                body, version, marked = records.parse_config(kv.key,
                                                             kv.value)
                state = states.get(rid)
                worker_state = state and records.parse_state(
                    state.key, state.value)['worker_state']
            except exceptions.MalformedValue as exc:
                LOG.warning('not monitoring %s %s: %s', rtype, rid, exc)
                continue
            if marked or worker_state not in ('CREATE_COMPLETED',
                                              'MODIFY_COMPLETED'):
                continue
            current = monitored.get(rid)
            yield {'rtype': rtype, 'rid': rid, 'body': body,
                   'version': version, 'config_revision': kv.mod_revision,
                   'current': current.value if current else None}

    def _poll(self, rtype, rid, body, version, config_revision, current):
        try:
            template = templates.fetch(
                self.client, templates.monitoring_template_name(rtype))
            params = templates.build_params(
                template, rtype, body, version,
                templates.config_lookup(self.client))
            elements = monitoring.render(
                template, {p['param']: p['value'] for p in params})
            result = {}
            for name, props in elements.items():
                plugin = self.plugins.get(props['type'])
                if plugin is None or not hasattr(plugin, 'poll'):
                    raise exceptions.JobFailed('element %s: type %s cannot '
                                               'be polled' % (name,
                                                              props['type']))
                try:
                    result[name] = plugin.poll(props, self._stop)
                except (exceptions.JobFailed, exceptions.MalformedValue,
                        exceptions.JobInterrupted, exceptions.EtcdError):
                    raise
                except Exception:
                    metrics.device_polled(None)
                    LOG.exception('cannot monitor %s %s: element %s (%s) '
                                  'failed', rtype, rid, name, props['type'])
                    return
        except (exceptions.JobFailed, exceptions.TemplateError,
                exceptions.MalformedValue) as exc:
            metrics.device_polled(None)
            LOG.warning('cannot monitor %s %s: %s', rtype, rid, exc)
            return
        except exceptions.JobInterrupted:
            return
        metrics.device_polled(result)
        result['version'] = version
        key = keys.monitoring(rtype, rid)
        try:
            if current is not None and etcd.loads(key, current) == result:
                return
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

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
lease expires: its member key's deletion wakes the others, which poll the
devices new to them at once (targets.watch_departures).

A stack check asks for a poll now: it writes
/esi-worker/poll/v2.0/<plural>/<id> = {"request": token}; the owner of the
device polls it at once and writes {"request": token, "answer": {...}}
there, with the state of each element, why an element is DOWN and the
device's address.

Each device is polled on its own, as an asyncio task on the monitor's one
event loop (the SNMP plugins poll asynchronously: a poll in flight costs no
thread), and within ``[monitor] poll_timeout``: a device still polled then
is DOWN, with that reason. A cycle starts the polls of the devices it owns
and never waits for one, so one device's poll cannot delay another's. A
device has one poll at a time: a hostile or broken device holds one task
(and at most one of the monitor's threads, for a plugin that needs one)
however many cycles and stack checks ask for it, and a poll request is
answered by the first poll that starts after it.

The module is over 500 lines because cycles, poll requests and single polls
share each device's lock and the one event loop; what needs neither (the
targets, their owner, the member watch) is in targets.py.
"""

import asyncio
from concurrent import futures
import functools
import os
import socket
import threading
import time

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import states
from heat_esi.worker import elements
from heat_esi.worker import intake
from heat_esi.worker import metrics
from heat_esi.worker.plugins import base
from heat_esi.worker import targets

LOG = logging.getLogger(__name__)

# Seconds past its interval after which the monitor, without a cycle
# completed, is stuck (its event loop blocked, say): /healthz then fails.
# A cycle only reads etcd and starts polls, each read bounded by the etcd
# client's timeout; etcd being down fails /readyz, not this.
STALL_GRACE = 60.0


def _outcome(doing, esi_type, rid, future):
    """Read the outcome of a poll's future, so that no error is dropped.

    The errors of the elements are logged by _poll; what reaches here is
    etcd failing, or a bug.
    """
    try:
        future.result()
    except (futures.CancelledError, asyncio.CancelledError):
        pass            # stop() cancels the polls under way
    except exceptions.EtcdError as exc:
        LOG.warning('cannot %s %s %s: %s', doing, esi_type, rid, exc)
    except Exception:
        LOG.exception('cannot %s %s %s: unexpected error', doing, esi_type,
                      rid)


# Where it lived first; tests and operators still call it.
owner = targets.owner


def printable(key):
    """*key* for a log line: its bytes, escaped unless printable ASCII."""
    text = repr(key.encode('utf-8', 'surrogateescape'))[2:-1]
    return text if len(text) <= 200 else text[:197] + '...'


class _Device(object):
    """The polls of one device: one at a time."""

    def __init__(self):
        self.lock = asyncio.Lock()
        self.started = 0        # how many polls started
        self.last = None        # (number, answer) of the last one that ended
        self.threads = set()    # its plugin threads still running
        self.queued = False     # a cycle's poll of it waits for a slot

    def busy(self):
        return self.queued or self.lock.locked() or bool(self.threads)


class Monitor(object):

    def __init__(self, client, plugins, lease, interval=60.0,
                 resource_types=('edge_router',), member_id=None,
                 member_value=None, poll_timeout=10.0, threads=4,
                 max_polls=200, stall_after=None):
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
        self.poll_timeout = poll_timeout
        self.max_polls = max_polls
        self._slots = (None, None)      # (loop, Semaphore of max_polls)
        self._ours = targets.Owned(self.member_id)
        self.stall_after = (interval + STALL_GRACE if stall_after is None
                            else stall_after)
        self._registered = None       # the lease the member key is under
        # etcd reads and writes, and renders, which read etcd too: those
        # of the cycles, and apart, those of poll requests, which then
        # never queue behind a cycle's.
        self._etcd_pool = futures.ThreadPoolExecutor(threads, 'monitor')
        self._request_pool = futures.ThreadPoolExecutor(threads,
                                                        'monitor-request')
        # The polls of plugins without poll_async: one per device at most.
        self._plugin_pool = futures.ThreadPoolExecutor(threads,
                                                       'monitor-poll')
        self._devices = {}              # (esi_type, rid) -> _Device
        self._tasks = set()             # polls and answers under way
        self._loop = None
        self._wake = None
        self._stop = threading.Event()
        self._cycled = None     # time.monotonic() of the last cycle's end

    # --- life cycle --------------------------------------------------------

    def start(self):
        self._cycled = time.monotonic()
        # Registered before the poll requests are read: a request found
        # at start-up is answered only by a registered member, and would
        # otherwise wait for no event if the first cycle came later.
        try:
            self._register()
        except exceptions.EtcdError as exc:
            LOG.warning('monitor not registered yet (the first cycle '
                        'retries): %s', exc)
        ready = threading.Event()
        thread = threading.Thread(target=self._run, args=(ready,),
                                  name='monitor', daemon=True)
        thread.start()
        ready.wait(10)
        threading.Thread(target=self._answer_requests, name='poll-requests',
                         daemon=True).start()
        threading.Thread(target=targets.watch_departures,
                         args=(self.client, self._stop, self._wake_up),
                         name='monitor-members', daemon=True).start()
        return thread

    def _wake_up(self):
        """End the wait for the next cycle now (from any thread)."""
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:
                pass            # the loop has ended already

    def stop(self):
        self._stop.set()
        self._wake_up()
        self._etcd_pool.shutdown(wait=False, cancel_futures=True)
        self._request_pool.shutdown(wait=False, cancel_futures=True)
        self._plugin_pool.shutdown(wait=False, cancel_futures=True)

    def stalled(self):
        """Why the monitor's cycles stopped completing, or None."""
        if self._cycled is None or self._stop.is_set():
            return None
        idle = time.monotonic() - self._cycled
        if idle <= self.stall_after:
            return None
        return ('monitor stuck: no cycle completed for %.0f s ([monitor] '
                'interval %s s)' % (idle, self.interval))

    def _run(self, ready):
        try:
            asyncio.run(self._main(ready))
        except Exception:
            LOG.exception('the monitor stopped')

    async def _main(self, ready):
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        ready.set()
        loop = self._loop
        due = 0.0               # loop.time() when the next cycle is due
        while not self._stop.is_set():
            # Woken before then (a member left), only the devices new to
            # this member are polled: the others keep their interval.
            only_new = loop.time() < due
            self._wake.clear()
            try:
                await self._cycle(only_new=only_new)
            except exceptions.EtcdError as exc:
                LOG.warning('monitoring cycle skipped: %s', exc)
            except Exception:
                LOG.exception('monitoring cycle failed')
            self._cycled = time.monotonic()
            if not only_new:
                due = loop.time() + self.interval
            try:
                await asyncio.wait_for(self._wake.wait(),
                                       max(due - loop.time(), 0))
            except asyncio.TimeoutError:
                pass
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)

    def _spawn(self, coroutine, doing, esi_type, rid):
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(functools.partial(_outcome, doing, esi_type,
                                                 rid))
        return task

    async def _in_thread(self, function, *args, pool=None):
        """Run *function* (an etcd read or write) in the etcd threads."""
        return await asyncio.get_running_loop().run_in_executor(
            pool or self._etcd_pool, functools.partial(function, *args))

    def _device(self, esi_type, rid):
        device = self._devices.get((esi_type, rid))
        if device is None:
            device = self._devices[esi_type, rid] = _Device()
        return device

    # --- poll requests -----------------------------------------------------

    def _answer_requests(self):
        """Watch for poll requests and answer those of owned devices."""
        intake.ListThenWatch(
            self.client, keys.POLL_REQUESTS, self._take_all, self._on_poll,
            self._stop, 'poll request watch', delay=(1.0, 1.0)).run()

    def _take_all(self):
        kvs, revision = self.client.get_prefix(keys.POLL_REQUESTS)
        for kv in kvs:
            self._take(kv)
        return revision

    def _on_poll(self, event):
        if event.type == etcd.PUT:
            self._take(event.kv)

    def _take(self, kv):
        """_on_request, where one bad request cannot stop the others."""
        try:
            self._on_request(kv)
        except exceptions.EtcdError:
            raise           # the watch starts again, with a new scan
        except Exception:
            LOG.exception('cannot take the poll request at %s',
                          printable(kv.key))

    def _on_request(self, kv):
        try:
            kv.key.encode('utf-8')
        except UnicodeEncodeError:
            LOG.warning('poll request skipped: its key is not UTF-8: %s',
                        printable(kv.key))
            return
        try:
            value = etcd.loads(kv.key, kv.value)
        except exceptions.MalformedValue:
            return
        if not isinstance(value, dict) or 'answer' in value:
            return
        where = keys.resource_of(kv.key, keys.POLL_REQUESTS)
        if where is None or where[0] not in self.resource_types:
            return
        esi_type, rid = where
        members = [keys.under(keys.MONITORS, m.key) for m in
                   self.client.get_prefix(keys.MONITORS,
                                          keys_only=True)[0]]
        if self.member_id not in members or \
                targets.owner(rid, members) != self.member_id:
            return
        future = asyncio.run_coroutine_threadsafe(
            self._answer(kv, esi_type, rid, value.get('request')), self._loop)
        future.add_done_callback(functools.partial(
            _outcome, 'answer the poll request for', esi_type, rid))

    async def _answer(self, kv, esi_type, rid, token):
        device = self._device(esi_type, rid)
        since = device.started
        targets = await self._in_thread(
            lambda: list(self._targets(esi_type, rid)),
            pool=self._request_pool)
        answer = None
        if targets:
            # The first poll of the device that starts from now answers,
            # whoever asked for it: the requests of a device wait for its
            # poll under way, never start polls of their own beside it.
            answer = await self._poll_device(device, targets[0], since,
                                             self._request_pool)
        if answer is None:
            answer = {'error': 'not monitored: its last action did not '
                               'complete, or its template cannot be polled'}
        # Only the request as read: a newer one gets its own poll.
        await self._in_thread(
            self.client.txn,
            [etcd.mod_revision_is(kv.key, kv.mod_revision)],
            [etcd.put(kv.key, {'request': token, 'answer': answer})],
            pool=self._request_pool)
        LOG.info('%s %s polled on request: %s', esi_type, rid, answer)

    # --- cycles ------------------------------------------------------------

    def cycle(self):
        """Poll the devices this member owns, once; wait for the polls.

        Each poll ends within poll_timeout. (The monitor's own loop waits
        for none of them: see _cycle.)
        """
        if self._loop is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._cycle(wait=True),
                                             self._loop).result()
            return
        try:
            asyncio.run(self._cycle(wait=True))
        finally:
            for device in self._devices.values():
                device.lock = asyncio.Lock()    # that loop's is gone

    async def _cycle(self, wait=False, only_new=False):
        """Start a poll of each owned device that has none under way.

        :param only_new: only of those this member did not own before.
        """
        owned = await self._in_thread(self._owned)
        started = []
        for target in owned:
            if only_new and (target['esi_type'],
                             target['rid']) in self._devices:
                continue
            device = self._device(target['esi_type'], target['rid'])
            if device.busy():
                continue        # the poll under way stands for this one
            started.append(self._spawn(
                self._periodic(device, target), 'monitor',
                target['esi_type'], target['rid']))
        keep = {(target['esi_type'], target['rid']) for target in owned}
        for key, device in list(self._devices.items()):
            if key not in keep and not device.busy():
                del self._devices[key]
        if wait and started:
            await asyncio.wait(started)

    def _owned(self):
        """The targets (see _targets) of the devices this member polls.

        Each carries the heat_templates as read once for the cycle (its
        "read"): one read per cycle, not one per device polled.
        """
        self._register()
        members = sorted(keys.under(keys.MONITORS, kv.key)
                         for kv in self.client.get_prefix(keys.MONITORS)[0])
        read = {kv.key: kv for kv in self.client.get_prefix(
            keys.heat_template(''))[0]}
        ours = self._ours.of(members)
        return [dict(target, read=read)
                for esi_type in self.resource_types
                for target in self._targets(esi_type, owns=ours)]

    def _register(self):
        """Put this member's key under the current lease, once per lease."""
        lease = self.lease()
        if lease != self._registered:
            # Once per lease: the key lives as long as the lease does, and
            # a write every cycle would move etcd's revision for nothing.
            self.client.put(keys.MONITORS + self.member_id,
                            self.member_value(), lease=lease)
            self._registered = lease

    def _targets(self, esi_type, rid=None, owns=None):
        """The resources of *esi_type* to poll (see targets.completed)."""
        return targets.completed(self.client, esi_type, rid, owns)

    # --- one poll ----------------------------------------------------------

    async def _periodic(self, device, target):
        """A cycle's poll of a device: one of max_polls in flight.

        Poll requests take no slot: a cycle's backlog never delays them.
        """
        loop = asyncio.get_running_loop()
        if self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.max_polls))
        device.queued = True
        try:
            async with self._slots[1]:
                device.queued = False
                return await self._poll_device(device, target)
        finally:
            device.queued = False

    async def _poll_device(self, device, target, since=None, pool=None):
        """Poll a device once its poll under way (if any) has ended.

        :param since: for a request, how many polls of the device had
            started when it came: a poll started after that answers it.
        :param pool: the threads of its etcd reads and writes.
        """
        async with device.lock:
            if since is not None and device.last is not None and \
                    device.last[0] > since:
                return device.last[1]
            device.started += 1
            number = device.started
            answer = await self._poll(device, pool, **target)
            device.last = (number, answer)
            return answer

    def _run_plugin(self, device, function, *args):
        """Run a plugin's poll() in a thread: one per device at most."""
        loop = asyncio.get_running_loop()
        if device.threads:
            # Its last poll's thread overran poll_timeout and still runs.
            done = loop.create_future()
            done.set_result((states.DOWN, 'its previous poll still runs, '
                             'past [monitor] poll_timeout'))
            return done
        future = self._plugin_pool.submit(function, *args)
        device.threads.add(future)
        future.add_done_callback(device.threads.discard)
        return asyncio.wrap_future(future, loop=loop)

    async def _poll(self, device, pool, esi_type, rid, body, version,
                    config_revision, current, read=None):
        """Poll one resource's devices; write /monitoring if it changed.

        :returns: {"state": {element: UP|DOWN}, "why": {element: reason},
            "address": ...}, or None when it cannot be polled.
        """
        deadline = base.Deadline(self.poll_timeout, '[monitor] poll_timeout')
        try:
            found = await self._in_thread(self.pipeline.for_config, esi_type,
                                          rid, body, version, read,
                                          pool=pool)
            polled = await self.pipeline.poll_async(
                found, self._stop, deadline,
                functools.partial(self._run_plugin, device))
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
        return await self._in_thread(self._record, esi_type, rid, version,
                                     config_revision, current, polled,
                                     pool=pool)

    def _record(self, esi_type, rid, version, config_revision, current,
                polled):
        """Write /monitoring when *polled* changed it; return the answer."""
        answer = {'state': dict(polled.state), 'why': polled.why,
                  'address': polled.address}
        result = dict(polled.state, version=version)
        key = keys.monitoring(esi_type, rid)
        try:
            if current is not None and etcd.loads(key, current) == result:
                return answer
        except exceptions.MalformedValue:
            pass        # overwritten with a well-formed value
        # Only while the resource is as read: a delete (or an update)
        # meanwhile makes this result stale.
        ok, _ = self.client.txn(
            [etcd.mod_revision_is(keys.config(esi_type, rid),
                                  config_revision)],
            [etcd.put(key, result)])
        if ok:
            metrics.device_state_changed()
            LOG.info('%s %s monitoring: %s', esi_type, rid, ', '.join(
                '%s %s%s' % (element, state, ' (%s)' % polled.why[element]
                             if element in polled.why else '')
                for element, state in sorted(polled.state.items())))
        return answer

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

"""One watch of /state per heat-engine, shared by every resource that waits.

A resource's check waits for the worker's answer in /state. A watch stream
per check costs an HTTP request and an etcd watcher each time, and a read
of the key besides; here one stream, opened once per process and etcd
client, carries every /state change to the resources that wait.

A resource says what it waits for (expect) *before* it writes its jobs:
the answer, written after the jobs, then reaches it by the stream, and
its checks need no read at all. A check with nothing expected (another
engine wrote the jobs, or the stream was lost meanwhile) registers, then
reads the key once: nothing written after that read is missed.
"""

import threading
import time
import weakref

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records

LOG = logging.getLogger(__name__)

# Seconds a registration is kept without a check asking for it: a
# resource whose action Heat gave up on, or that another engine checks.
MAX_AGE = 3600.0

_WATCHES = weakref.WeakKeyDictionary()
_WATCHES_LOCK = threading.Lock()


def of(client):
    """The StateWatch of *client* (an etcd client), started on first use."""
    with _WATCHES_LOCK:
        found = _WATCHES.get(client)
        if found is None:
            found = _WATCHES[client] = StateWatch(client)
    return found


class _Waiter(object):

    def __init__(self):
        self.kv = None          # the newest KV of the key seen, or None
        self.read = False       # whether kv is known to be current
        self.touched = time.monotonic()


class StateWatch(object):
    """The /state stream of one etcd client, and who waits on it."""

    def __init__(self, client):
        self.client = weakref.proxy(client)
        self._cond = threading.Condition()
        self._waiters = {}          # state key -> _Waiter
        self._thread = None
        self.waiting = 0            # checks waiting now (for tests)

    # --- the stream ----------------------------------------------------

    def _ensure(self):
        """Start the stream, from the current revision, unless running.

        Called with the lock held, before any registration it serves: a
        write after this call has a revision the stream delivers.
        """
        if self._thread is not None:
            return
        start = self.client.revision() + 1
        self._thread = threading.Thread(
            target=self._run, args=(start,), name='esi-state-watch',
            daemon=True)
        self._thread.start()

    def _run(self, start):
        try:
            for event in self.client.watch(keys.STATE, start):
                self._dispatch(event)
        except ReferenceError:
            return              # the client is gone: so are its checks
        except exceptions.EtcdError as exc:
            LOG.warning('the /state watch of heat-engine stopped (%s): '
                        'the checks under way read /state again', exc)
        except Exception:
            LOG.exception('the /state watch of heat-engine stopped')
        with self._cond:
            # What waits was registered on this stream: it reads again,
            # and the next registration opens a new stream.
            for waiter in self._waiters.values():
                waiter.read = False
            self._waiters.clear()
            self._thread = None
            self._cond.notify_all()

    def _dispatch(self, event):
        with self._cond:
            waiter = self._waiters.get(event.kv.key)
            if waiter is None:
                return
            waiter.kv = event.kv if event.type == etcd.PUT else None
            waiter.read = True
            self._cond.notify_all()

    # --- waiting -----------------------------------------------------------

    def expect(self, state_key):
        """Register *state_key* before the jobs it answers are written.

        Every change of the key from now on reaches wait(). When etcd
        cannot be reached, nothing is registered: the write that follows
        fails, or the check reads the key.
        """
        try:
            with self._cond:
                self._ensure()
        except exceptions.EtcdError as exc:
            LOG.info('/state watch not opened: %s', exc)
            return
        with self._cond:
            self._sweep()
            waiter = self._waiters.get(state_key)
            if waiter is None:
                waiter = self._waiters[state_key] = _Waiter()
                waiter.read = True      # nothing newer can be missed
            waiter.touched = time.monotonic()

    def wait(self, state_key, enough, timeout):
        """The /state of *state_key*, waited for until enough(state).

        :param enough: callable(parsed state or None) -> bool.
        :returns: the parsed state (None: absent), enough or as it is
            after *timeout* seconds.
        :raises MalformedValue: the value is not a state.
        :raises EtcdError: the read it needed failed.
        """
        with self._cond:
            self._ensure()
            waiter = self._waiters.get(state_key)
            if waiter is None:
                waiter = self._waiters[state_key] = _Waiter()
            waiter.touched = time.monotonic()
        if not waiter.read:
            # Registered first: the read sees all that came before, the
            # stream all that comes after.
            kv = self.client.get(state_key)
            with self._cond:
                if not waiter.read:
                    waiter.kv, waiter.read = kv, True
        deadline = time.monotonic() + timeout
        with self._cond:
            self.waiting += 1
            try:
                while True:
                    state = _parse(waiter.kv)
                    left = deadline - time.monotonic()
                    if enough(state) or left <= 0 or not waiter.read or \
                            self._waiters.get(state_key) is not waiter:
                        break
                    self._cond.wait(left)
            finally:
                self.waiting -= 1
        return state

    def done(self, state_key):
        """Forget *state_key*: its resource waits no more."""
        with self._cond:
            self._waiters.pop(state_key, None)

    def _sweep(self):
        if len(self._waiters) < 1000:
            return
        old = time.monotonic() - MAX_AGE
        for key, waiter in list(self._waiters.items()):
            if waiter.touched < old:
                del self._waiters[key]


def _parse(kv):
    return records.parse_state(kv.key, kv.value) if kv is not None else None

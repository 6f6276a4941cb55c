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
of the key besides; here one stream, opened once per process, carries
every /state change to the resources that wait.

A resource says what it waits for (expect) *before* it writes its jobs:
the answer, written after the jobs, then reaches it by the stream, and
its checks need no read at all. A check with nothing expected (another
engine wrote the jobs, or the stream was lost meanwhile) registers, then
reads the key once: nothing written after that read is missed.

The stream saves requests; no check depends on it:

- it is opened again, and every resource waiting on it reads its /state
  once, when it ends or fails (etcd restarted, its members lost, its
  token refused), when heat-engine's etcd client got a new token since it
  was opened, and when that client is replaced (another [esi_etcd]);
- a check whose stream has said nothing (no event, no progress
  notification) for lifecycle.CHECK_WAIT since its resource registered or
  last read reads /state itself: a stale stream costs latency, never a
  hang;
- while it cannot be opened, the checks read /state.
"""

import threading
import time

from oslo_log import log as logging

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records

LOG = logging.getLogger(__name__)

# Seconds a registration is kept without a check asking for it: a
# resource whose action Heat gave up on, or that another engine checks.
# Forgetting one costs its next check a read.
MAX_AGE = 600.0

_CURRENT = None
_CURRENT_LOCK = threading.Lock()


def of(client):
    """The StateWatch of heat-engine's etcd *client*.

    One per process: when the client is replaced (a changed [esi_etcd]),
    the watch of the old one stops, and the resources that waited on it
    read their /state again through the new one.
    """
    global _CURRENT
    with _CURRENT_LOCK:
        current = _CURRENT
        if current is None or current.client is not client:
            if current is not None:
                current.stop()
            current = _CURRENT = StateWatch(client)
    return current


def _authentications(client):
    # How many tokens the client got (a fake client may not count them).
    return getattr(client, 'authentications', 0)


class _Waiter(object):
    """What the checks of one state key know of it."""

    def __init__(self, now):
        self.kv = None          # the newest KV of the key seen, or None
        self.read = False       # whether kv is current, the stream after it
        self.since = now        # registered or last read (monotonic)
        self.touched = now      # last registered or waited for
        self.events = 0         # events dispatched to it


class _Stream(object):
    """One watch stream of /state, read by a thread of its own."""

    # Why a stream that did not fail is replaced.
    REAUTHENTICATED = ('heat-engine authenticated to etcd again since it '
                       'was opened')

    def __init__(self, client):
        self.client = client
        self.authentications = _authentications(client)
        # Through /state: heat-engine's etcd role may read nothing else
        # that holds no secret.
        self.start = client.revision(keys.STATE) + 1

    def outdated(self):
        """Whether the client got a token after this stream was opened.

        etcd checked the token the stream was opened with, not the new
        one.
        """
        return self.authentications != _authentications(self.client)


class StateWatch(object):
    """The /state stream of heat-engine's etcd client, and who waits on it."""

    def __init__(self, client):
        self.client = client
        self._cond = threading.Condition()      # re-entrant
        self._open_lock = threading.Lock()
        self._waiters = {}          # state key -> _Waiter
        self._stream = None         # the current _Stream, or None
        self._heard = 0.0           # its last message (monotonic)
        self._failures = 0          # streams lost in a row, unheard
        self._retry_at = 0.0        # no stream opened before (monotonic)
        self._stopped = False
        self._swept = time.monotonic()
        self.waiting = 0            # checks waiting now (for tests)
        self.opened = 0             # streams opened (for tests)

    # --- the stream ----------------------------------------------------

    def _current(self):
        """The stream that serves, opened (again) if it is due; or None.

        A stream opened before the client's last authentication is
        replaced: etcd checked the token it was opened with, not the new
        one. A stream is not opened again sooner than a back-off after
        streams that failed unheard (the checks read meanwhile).
        """
        with self._cond:
            stream = self._stream
            if stream is not None and stream.outdated():
                self._lost(stream, stream.REAUTHENTICATED, False)
                stream = None
            if stream is not None or self._stopped or \
                    time.monotonic() < self._retry_at:
                return stream
        try:
            return self._open()
        except exceptions.EtcdError as exc:
            with self._cond:
                self._failures += 1
                self._retry_at = time.monotonic() + _backoff(self._failures)
            LOG.info('/state watch not opened (%s): the checks read /state',
                     exc)
            return None

    def _open(self):
        """Open a stream from the current revision, unless one serves.

        A write after this call is delivered by it.
        """
        with self._open_lock:
            with self._cond:
                if self._stream is not None or self._stopped:
                    return self._stream
            stream = _Stream(self.client)
            with self._cond:
                if self._stopped:
                    return None
                self._stream = stream
                self._heard = 0.0
                self.opened += 1
            threading.Thread(target=self._run, args=(stream,),
                             name='esi-state-watch', daemon=True).start()
        return stream

    def _run(self, stream):
        reason, events, failed = 'etcd ended it', None, True
        try:
            events = self.client.watch(keys.STATE, stream.start,
                                       progress=True)
            for event in events:
                with self._cond:
                    if stream is not self._stream:
                        return      # replaced: its successor serves
                    if stream.outdated():
                        reason, failed = stream.REAUTHENTICATED, False
                        break
                    self._heard = time.monotonic()
                    self._failures = 0
                    if event.type != etcd.PROGRESS:
                        self._dispatch(event)
                    self._cond.notify_all()
        except exceptions.EtcdError as exc:
            reason = str(exc)
        except Exception as exc:
            # Never a check left on a dead stream: it is opened again.
            LOG.exception('the /state watch of heat-engine failed')
            reason = type(exc).__name__
        finally:
            if events is not None:
                events.close()
        self._lost(stream, reason, failed)

    def _dispatch(self, event):
        """Give *event* to the waiter of its key (lock held)."""
        waiter = self._waiters.get(event.kv.key)
        if waiter is None:
            return
        waiter.kv = event.kv if event.type == etcd.PUT else None
        waiter.read = True      # the stream is current from here on
        waiter.events += 1

    def _lost(self, stream, reason, failed=True):
        """*stream* serves no more: each waiter reads /state once again.

        :param failed: whether it failed (a new token replaces a stream
            that did not): the next is opened after a back-off if it
            failed before saying anything.
        """
        with self._cond:
            if stream is not self._stream:
                return
            self._stream = None
            if failed and not self._heard:
                self._failures += 1
            self._retry_at = time.monotonic() + (
                _backoff(self._failures) if failed else 0.0)
            for waiter in self._waiters.values():
                waiter.read = False
            self._cond.notify_all()
            if self._stopped:
                return
        LOG.warning('the /state watch of heat-engine is opened again (%s): '
                    'the checks under way read /state once', reason)

    def stop(self):
        """Stop serving: the stream ends at its next message."""
        with self._cond:
            self._stopped = True
            self._stream = None
            self._waiters.clear()
            self._cond.notify_all()

    # --- waiting -----------------------------------------------------------

    def expect(self, state_key):
        """Register *state_key* before the jobs it answers are written.

        Every change of the key from now on reaches wait(). Without a
        stream, nothing is registered: the check reads the key.
        """
        stream = self._current()
        with self._cond:
            if stream is None or self._stream is not stream:
                return
            self._sweep()
            now = time.monotonic()
            waiter = self._waiters.get(state_key)
            if waiter is None:
                waiter = self._waiters[state_key] = _Waiter(now)
                waiter.read = True  # nothing written from now on is missed
            waiter.since = waiter.touched = now

    def wait(self, state_key, enough, timeout):
        """The /state of *state_key*, waited for until enough(state).

        :param enough: callable(parsed state or None) -> bool.
        :returns: the parsed state (None: absent), enough or as it is
            after *timeout* seconds.
        :raises MalformedValue: the value is not a state.
        :raises EtcdError: the read it needed failed.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self.waiting += 1
        try:
            return self._wait(state_key, enough, deadline)
        finally:
            with self._cond:
                self.waiting -= 1

    def _wait(self, state_key, enough, deadline):
        did_read = False
        while True:
            stream = self._current()
            with self._cond:
                if self._stopped:
                    break           # the client was replaced: a read
                now = time.monotonic()
                waiter = self._waiters.get(state_key)
                if waiter is None:
                    waiter = self._waiters[state_key] = _Waiter(now)
                waiter.touched = now
                trusted = waiter.read and stream is not None and \
                    self._stream is stream
                state = _parse(waiter.kv) if trusted or did_read else None
                if (trusted or did_read) and enough(state):
                    return state
                if trusted:
                    # The stream must prove alive within CHECK_WAIT of the
                    # registration or the last read, or the key is read.
                    read_at = max(waiter.since, self._heard) + \
                        lifecycle.CHECK_WAIT
                elif did_read:
                    read_at = waiter.since + lifecycle.CHECK_WAIT
                else:
                    read_at = now
                if now >= deadline and did_read:
                    return state
                if now < read_at:
                    if now >= deadline:
                        return state
                    wake_at = min(deadline, read_at)
                    if self._stream is None and not self._stopped:
                        wake_at = min(wake_at, max(self._retry_at, now))
                    self._cond.wait(max(wake_at - now, 0.001))
                    continue
                seen = waiter.events
            kv = self.client.get(state_key)
            did_read = True
            with self._cond:
                # An event that came during the read may be newer.
                if waiter.events == seen or _newer(kv, waiter.kv):
                    waiter.kv = kv
                waiter.read = stream is not None and self._stream is stream
                waiter.since = time.monotonic()
        return _parse(self.client.get(state_key))

    def done(self, state_key):
        """Forget *state_key*: its resource waits no more."""
        with self._cond:
            self._waiters.pop(state_key, None)

    def _sweep(self):
        """Forget the registrations no check asked for in MAX_AGE."""
        now = time.monotonic()
        if now - self._swept < MAX_AGE / 10:
            return
        self._swept = now
        for key, waiter in list(self._waiters.items()):
            if waiter.touched < now - MAX_AGE:
                del self._waiters[key]


def _backoff(failures):
    """Seconds before a stream is opened again after *failures* in a row."""
    return 0.0 if not failures else min(0.25 * 2 ** (failures - 1), 5.0)


def _newer(kv, than):
    return kv is not None and (than is None or
                               kv.mod_revision > than.mod_revision)


def _parse(kv):
    return records.parse_state(kv.key, kv.value) if kv is not None else None

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

"""In-memory stand-ins for the unit tier.

:class:`FakeEtcd` answers the public interface of :class:`heat_esi.etcd.Etcd`
with etcd's own semantics, on the points heat-esi relies on:

- the transactions built from heat_esi.etcd's helpers (``absent``,
  ``absent_prefix``, ``mod_revision_is``, ``value_is``; ``put``,
  ``delete``, ``get``, ``get_prefix``), including nested transactions
  (``txn_each``) and etcd's refusal of a request that writes a key twice;
- one global revision, bumped once per request that changes something;
  create revision, mod revision and version per key;
- leases: the keys put under one go when it is revoked or, in a test, when
  :meth:`FakeEtcd.expire` says it expired;
- watches from a start revision, through the history of events (until it
  is compacted), then live;
- failures on demand (:meth:`FakeEtcd.fail`): unreachable, or a write whose
  answer is lost, applied or not, or applied later.

:class:`Gateway` is the other fake: the HTTP transport under the real
client (requests.Session.post), answering from a script per member, for
the tests of heat_esi.etcd itself.

Keys and values go through the real codec (base64 requests, KVs built by
heat_esi.etcd itself), so that what the code under test reads has exactly
the shape the real client returns.
"""

import base64
import collections
import contextlib
import copy
import json
import threading
import time

import requests
import urllib3

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import states
from heat_esi.worker.plugins import base as plugin_base

# What fail() can inject.
UNAVAILABLE = 'unavailable'
OUTCOME_UNKNOWN = 'outcome unknown'
# When a write whose answer is lost lands (fail(landed=...)).
LATER = 'later'

ENDPOINT = 'http://fake-etcd:2379'
# Request names that change the store (a txn only when it writes).
_WRITES = ('put', 'delete', 'delete_prefix', 'txn', 'txn_each', 'compact')


def _raw(b64):
    return base64.b64decode(b64)


def _text(raw):
    return raw.decode('utf-8', 'surrogateescape')


def _in_range(key, start, end):
    """Whether raw *key* is in etcd's range [start, end) (no end: start)."""
    if end is None:
        return key == start
    if end == b'\0':
        return key >= start
    return start <= key < end


class _Record(object):
    """One live key, as etcd's MVCC store keeps it."""

    __slots__ = ('value', 'create_revision', 'mod_revision', 'version',
                 'lease')

    def __init__(self, value, create_revision, mod_revision, version, lease):
        self.value = value
        self.create_revision = create_revision
        self.mod_revision = mod_revision
        self.version = version
        self.lease = lease


class _Failure(object):
    """A failure that fail() queued for the next matching requests."""

    def __init__(self, error, count, landed, only):
        self.error = error
        self.count = count
        self.landed = landed
        self.only = only


class FakeEtcd(object):
    """An etcd in memory behind the interface of heat_esi.etcd.Etcd.

    Safe to share between threads, like the real client. Watches without a
    timeout run until :meth:`close`, after which every call fails as if
    etcd were gone.
    """

    def __init__(self, endpoints=(ENDPOINT,), timeout=5.0, username=None,
                 max_watch_wait=None):
        """A fake etcd with nothing in it, at revision 1.

        :param max_watch_wait: seconds after which a watch given a timeout
            (``watching``) ends anyway: a unit test need not wait the
            production timeout for a quiet key.
        """
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self.username = username
        self.max_watch_wait = max_watch_wait
        self.requests = []          # (name, key) of every call, in order
        self._cond = threading.Condition(threading.RLock())
        self._data = {}             # raw key -> _Record
        self._revision = 1          # etcd starts at 1, with nothing in it
        self._compacted = 0
        self._history = []          # [(revision, Event, raw key)]
        self._leases = {}           # lease id -> (ttl, set of raw keys)
        self._next_lease = 0x7a3b0000
        self._failures = []
        self._late = []             # writes whose answer was lost
        self._closed = False
        self.authentications = 0    # tokens got (a test may count one)

    @property
    def endpoint(self):
        return self.endpoints[0]

    # --- what a test controls ----------------------------------------------

    def fail(self, error=UNAVAILABLE, count=1, landed=False, only=None):
        """Make the next *count* requests fail.

        :param error: UNAVAILABLE (every member down: EtcdUnavailable),
            OUTCOME_UNKNOWN (the answer to a write is lost:
            EtcdOutcomeUnknown; requests that only read are not affected,
            as the real client retries them), or an exception to raise.
        :param landed: for OUTCOME_UNKNOWN, whether the write was applied
            before the answer was lost: True, False, or LATER (held back
            until :meth:`deliver_late`, then applied as etcd would apply a
            request that arrives late).
        :param only: names of the methods concerned (default: all).
        """
        with self._cond:
            self._failures.append(_Failure(error, count, landed,
                                           set(only) if only else None))

    def deliver_late(self):
        """Apply the writes held back by ``fail(landed=LATER)``.

        :returns: their results, as txn() would have returned them.
        """
        with self._cond:
            late, self._late = self._late, []
            return [apply() for apply in late]

    def expire(self, lease_id):
        """The lease ran out: its keys are deleted, as etcd does."""
        with self._cond:
            self._end_lease(lease_id)

    def leases(self):
        """Ids of the live leases."""
        with self._cond:
            return set(self._leases)

    def wait_for_request(self, predicate, timeout=5.0):
        """Wait until a request (name, key) satisfies *predicate*.

        :returns: whether one did within *timeout* seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(predicate(*r) for r in self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self):
        """End every watch; later requests fail with EtcdUnavailable."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def dump(self, prefix=''):
        """{key: value} of every live key under *prefix* (for asserts)."""
        with self._cond:
            return {kv.key: kv.value for kv in self._range(
                prefix.encode('utf-8'),
                self._prefix_end(prefix.encode('utf-8')) if prefix
                else b'\0')}

    # --- failures ------------------------------------------------------------

    def _failure(self, name, key, writes):
        """The failure injected for this request, or None."""
        self.requests.append((name, key))
        self._cond.notify_all()
        if self._closed:
            raise exceptions.EtcdUnavailable(
                ', '.join(self.endpoints), key, 'connection refused')
        for failure in self._failures:
            if failure.only is not None and name not in failure.only:
                continue
            if failure.error == OUTCOME_UNKNOWN and not writes:
                continue
            failure.count -= 1
            if failure.count <= 0:
                self._failures.remove(failure)
            return failure
        return None

    def _request(self, name, key, writes, apply):
        """Run *apply()* under the lock, unless a failure is injected."""
        with self._cond:
            failure = self._failure(name, key, writes)
            if failure is None:
                return apply()
            if failure.error == UNAVAILABLE:
                raise exceptions.EtcdUnavailable(
                    ', '.join(self.endpoints), key,
                    '%s: connection refused' % self.endpoint)
            if failure.error != OUTCOME_UNKNOWN:
                raise failure.error
            if failure.landed is True:
                apply()
            elif failure.landed == LATER:
                self._late.append(apply)
            raise exceptions.EtcdOutcomeUnknown(
                self.endpoint, key, 'no answer within %s s; the write may '
                'or may not have been applied' % self.timeout)

    # --- reads ---------------------------------------------------------------

    def _kv(self, raw_key, record, keys_only=False):
        """The KV heat_esi.etcd makes of this record's gateway answer."""
        raw = {'key': base64.b64encode(raw_key).decode('ascii'),
               'create_revision': str(record.create_revision),
               'mod_revision': str(record.mod_revision),
               'version': str(record.version)}
        if record.lease:
            raw['lease'] = str(record.lease)
        if record.value and not keys_only:
            raw['value'] = base64.b64encode(record.value).decode('ascii')
        return etcd._kv(raw)

    @staticmethod
    def _prefix_end(raw_prefix):
        return _raw(etcd._range_end(_text(raw_prefix)))

    def _range(self, start, end, keys_only=False):
        return [self._kv(k, self._data[k], keys_only)
                for k in sorted(self._data) if _in_range(k, start, end)]

    def get(self, key, revision=None):
        """The KV at *key*, or None (*revision*: only the current one)."""
        def apply():
            if revision and revision != self._revision:
                raise NotImplementedError('FakeEtcd keeps no old values')
            record = self._data.get(key.encode('utf-8', 'surrogateescape'))
            if record is None:
                return None
            return self._kv(key.encode('utf-8', 'surrogateescape'), record)
        return self._request('get', key, False, apply)

    def get_prefix(self, prefix, keys_only=False):
        """([KV...] under *prefix*, the store's revision at that read)."""
        def apply():
            raw = prefix.encode('utf-8')
            return (self._range(raw, self._prefix_end(raw), keys_only),
                    self._revision)
        return self._request('get_prefix', prefix, False, apply)

    def revision(self, key='\0'):
        return self._request('revision', '(revision)' if key == '\0'
                             else key, False, lambda: self._revision)

    # --- writes --------------------------------------------------------------

    def put(self, key, value, lease=None):
        op = etcd.put(key, value, lease)
        self._request('put', key, True, lambda: self._apply([], [op], []))

    def delete(self, key):
        """Delete *key*; True when something was deleted."""
        def apply():
            _, (resp,) = self._apply([], [etcd.delete(key)], [])
            return int(resp['response_delete_range']['deleted']) > 0
        return self._request('delete', key, True, apply)

    def delete_prefix(self, prefix):
        raw = base64.b64encode(prefix.encode('utf-8')).decode('ascii')
        op = {'request_delete_range': {'key': raw,
                                       'range_end': etcd._range_end(prefix)}}

        def apply():
            _, (resp,) = self._apply([], [op], [])
            return int(resp['response_delete_range']['deleted'])
        return self._request('delete_prefix', prefix, True, apply)

    def txn(self, compare, success, failure=(), key=None):
        """(succeeded, [responses]), a range response being its [KV]."""
        compare, success, failure = (list(compare), list(success),
                                     list(failure))
        if key is None:
            first = (compare + success)[0]
            raw = first.get('key') or list(first.values())[0]['key']
            key = _text(_raw(raw))
        writes = not all('request_range' in op for op in success + failure)
        return self._request('txn', key, writes, lambda: self._apply(
            compare, success, failure, key))

    def txn_each(self, txns, key):
        """[(succeeded, [responses])] of nested transactions, one request."""
        nested = [{'request_txn': {'compare': list(c), 'success': list(s),
                                   'failure': list(f)}} for c, s, f in txns]
        writes = not all('request_range' in op for _, s, f in txns
                         for op in list(s) + list(f))

        def apply():
            _, responses = self._apply([], nested, [], key)
            return [(bool(r['response_txn'].get('succeeded')),
                     self._decoded(r['response_txn']['responses']))
                    for r in responses]
        return self._request('txn_each', key, writes, apply)

    def compact(self, revision):
        def apply():
            self._compacted = max(self._compacted, revision)
            self._history = [h for h in self._history if h[0] >= revision]
        self._request('compact', '(compaction)', True, apply)

    # --- leases --------------------------------------------------------------

    def grant_lease(self, ttl):
        def apply():
            self._next_lease += 1
            self._leases[self._next_lease] = (int(ttl), set())
            return self._next_lease
        return self._request('grant_lease', '(lease)', False, apply)

    def refresh_lease(self, lease_id, timeout=None):
        """The lease's TTL, or -1 once it expired or was revoked."""
        def apply():
            lease = self._leases.get(lease_id)
            return lease[0] if lease else -1
        return self._request('refresh_lease', '(lease)', False, apply)

    def revoke_lease(self, lease_id):
        def apply():
            if lease_id not in self._leases:
                raise exceptions.EtcdError(
                    self.endpoint, '(lease)',
                    'etcdserver: requested lease not found')
            self._end_lease(lease_id)
        self._request('revoke_lease', '(lease)', False, apply)

    def _end_lease(self, lease_id):
        _, owned = self._leases.pop(lease_id, (None, set()))
        ops = [{'request_delete_range': {
            'key': base64.b64encode(k).decode('ascii')}}
            for k in sorted(owned)]
        if ops:
            self._apply([], ops, [], '(lease)')

    # --- watches -------------------------------------------------------------

    def watch(self, prefix, start_revision, prev_kv=False, timeout=None,
              progress=False):
        """Yield the Events under *prefix* from *start_revision* on.

        Without *timeout*, until :meth:`close` (then EtcdUnavailable, as a
        real watch whose members are all gone); with it, until that many
        seconds pass without an event. etcd's progress notifications are
        not faked: *progress* changes nothing.

        :raises WatchCompacted: *start_revision* is no longer in history.
        """
        raw = prefix.encode('utf-8')
        return self._events('watch', raw, self._prefix_end(raw),
                            start_revision, prev_kv, timeout, prefix)

    def watching(self, key, timeout):
        """Watch *key* from now on, as a context manager.

        It yields an iterator of the key's Events that ends after *timeout*
        seconds without one.
        """
        return contextlib.closing(self._events(
            'watching', key.encode('utf-8', 'surrogateescape'), None, 0,
            False, timeout, key))

    def _events(self, name, start, end, start_revision, prev_kv, timeout,
                key):
        """Open a watch (registered at once, as etcd's is)."""
        with self._cond:
            failure = self._failure(name, key, False)
            if failure is not None:
                if failure.error not in (UNAVAILABLE, OUTCOME_UNKNOWN):
                    raise failure.error
                raise exceptions.EtcdUnavailable(
                    ', '.join(self.endpoints), key,
                    '%s: connection refused' % self.endpoint)
            if start_revision and start_revision < self._compacted:
                raise exceptions.WatchCompacted(self.endpoint, key,
                                                self._compacted)
            if not start_revision:
                start_revision = self._revision + 1
        if timeout is not None and self.max_watch_wait is not None:
            timeout = min(timeout, self.max_watch_wait)
        return self._follow(start, end, start_revision, prev_kv, timeout,
                            key)

    def _follow(self, start, end, next_revision, prev_kv, timeout, key):
        while True:
            with self._cond:
                deadline = (time.monotonic() + timeout
                            if timeout is not None else None)
                while True:
                    found = [(rev, ev) for rev, ev, raw in self._history
                             if rev >= next_revision
                             if _in_range(raw, start, end)]
                    if found or self._closed:
                        break
                    if deadline is not None:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return
                        self._cond.wait(left)
                    else:
                        self._cond.wait()
                if not found:
                    if timeout is not None:
                        return
                    raise exceptions.EtcdUnavailable(
                        ', '.join(self.endpoints), key, 'watch ended: '
                        'the fake etcd was closed')
            for rev, event in found:
                next_revision = rev + 1
                yield event if prev_kv else event._replace(prev_kv=None)

    # --- the store --------------------------------------------------------

    def _decoded(self, responses):
        """Responses as heat_esi.etcd returns them: a range as its [KV]."""
        return [resp['response_range'] if 'response_range' in resp
                else resp for resp in responses]

    def _apply(self, compare, success, failure, key=None):
        """One etcd request: compare, then one branch, at one revision."""
        ok = all(self._compare(c) for c in compare)
        ops = success if ok else failure
        problem = _duplicate_writes(ops)
        if problem is None:
            problem = _duplicate_writes(failure if ok else success)
        if problem is not None:
            raise exceptions.EtcdError(
                self.endpoint, key or problem,
                'etcdserver: duplicate key given in txn request')
        for req in _puts(ops):
            if req.get('ignore_value') and _raw(req['key']) not in self._data:
                raise exceptions.EtcdError(
                    self.endpoint, key or _text(_raw(req['key'])),
                    'etcdserver: key not found')
            if req.get('lease') and int(req['lease']) not in self._leases:
                raise exceptions.EtcdError(
                    self.endpoint, key or _text(_raw(req['key'])),
                    'etcdserver: requested lease not found')
        changes = []
        responses = self._run(ops, self._revision + 1, changes)
        if changes:
            self._revision += 1
            self._history.extend(changes)
            self._cond.notify_all()
        return ok, self._decoded(responses)

    def _run(self, ops, revision, changes):
        responses = []
        for op in ops:
            if 'request_range' in op:
                req = op['request_range']
                end = _raw(req['range_end']) if 'range_end' in req else None
                responses.append({'response_range': self._range(
                    _raw(req['key']), end, req.get('keys_only', False))})
            elif 'request_put' in op:
                req = op['request_put']
                value = _raw(req.get('value', ''))
                if req.get('ignore_value'):
                    # etcd keeps the value; a caller compares that the
                    # key exists (etcd refuses the put otherwise).
                    value = self._data[_raw(req['key'])].value
                self._put(_raw(req['key']), value,
                          int(req.get('lease', 0)), revision, changes)
                responses.append({'response_put': {}})
            elif 'request_delete_range' in op:
                req = op['request_delete_range']
                end = _raw(req['range_end']) if 'range_end' in req else None
                doomed = [k for k in sorted(self._data)
                          if _in_range(k, _raw(req['key']), end)]
                for raw_key in doomed:
                    self._delete(raw_key, revision, changes)
                responses.append({'response_delete_range': {
                    'deleted': str(len(doomed))}})
            elif 'request_txn' in op:
                req = op['request_txn']
                ok = all(self._compare(c) for c in req['compare'])
                inner = self._run(req['success'] if ok else req['failure'],
                                  revision, changes)
                responses.append({'response_txn': dict(
                    {'responses': inner}, **({'succeeded': True} if ok
                                             else {}))})
            else:
                raise NotImplementedError('FakeEtcd: operation %r' % op)
        return responses

    def _put(self, raw_key, value, lease, revision, changes):
        old = self._data.get(raw_key)
        if old is not None and old.lease in self._leases:
            self._leases[old.lease][1].discard(raw_key)
        record = _Record(value, old.create_revision if old else revision,
                         revision, old.version + 1 if old else 1, lease)
        self._data[raw_key] = record
        if lease:
            self._leases[lease][1].add(raw_key)
        prev = self._kv(raw_key, old) if old else None
        changes.append((revision, etcd.Event(
            etcd.PUT, self._kv(raw_key, record), prev), raw_key))

    def _delete(self, raw_key, revision, changes):
        old = self._data.pop(raw_key)
        if old.lease in self._leases:
            self._leases[old.lease][1].discard(raw_key)
        # etcd's DELETE event: the key, at the deletion's revision.
        gone = etcd.KV(key=_text(raw_key), value='', create_revision=0,
                       mod_revision=revision, version=0, lease=0)
        changes.append((revision, etcd.Event(
            etcd.DELETE, gone, self._kv(raw_key, old)), raw_key))

    def _compare(self, cmp):
        start = _raw(cmp['key'])
        end = _raw(cmp['range_end']) if 'range_end' in cmp else None
        records = [self._data[k] for k in sorted(self._data)
                   if _in_range(k, start, end)]
        target = cmp.get('target', 'VERSION')
        if not records:
            if target == 'VALUE':
                return False        # etcd: a missing value never compares
            records = [_Record(b'', 0, 0, 0, 0)]
        result = cmp.get('result', 'EQUAL')
        for record in records:
            mine, theirs = {
                'CREATE': (record.create_revision,
                           int(cmp.get('create_revision', 0))),
                'MOD': (record.mod_revision, int(cmp.get('mod_revision', 0))),
                'VERSION': (record.version, int(cmp.get('version', 0))),
                'VALUE': (record.value, _raw(cmp.get('value', ''))),
                'LEASE': (record.lease, int(cmp.get('lease', 0))),
            }[target]
            if not {'EQUAL': mine == theirs, 'NOT_EQUAL': mine != theirs,
                    'GREATER': mine > theirs, 'LESS': mine < theirs}[result]:
                return False
        return True


def _puts(ops):
    """Every put request of *ops*, nested transactions included."""
    for op in ops:
        if 'request_put' in op:
            yield op['request_put']
        elif 'request_txn' in op:
            yield from _puts(op['request_txn']['success'])
            yield from _puts(op['request_txn'].get('failure', []))


def _duplicate_writes(ops):
    """The first key that *ops* (one branch) write twice, or None.

    etcd's rule (checkIntervals): a key is put at most once, and not put
    where a delete of the same level or above covers it; the two branches
    of a nested transaction exclude each other.
    """
    try:
        _check_intervals(ops)
    except _Duplicate as dup:
        return dup.key
    return None


class _Duplicate(Exception):
    def __init__(self, key):
        super().__init__(key)
        self.key = key


def _deleted(dels, raw_key):
    return any(_in_range(raw_key, start, end) for start, end in dels)


def _check_intervals(ops):
    """(puts, dels) of *ops*; raise _Duplicate as etcd's checkIntervals."""
    dels = []
    for op in ops:
        if 'request_delete_range' in op:
            req = op['request_delete_range']
            dels.append((_raw(req['key']), _raw(req['range_end'])
                         if 'range_end' in req else None))
    puts = set()
    for op in ops:
        if 'request_txn' not in op:
            continue
        then_puts, then_dels = _check_intervals(op['request_txn']['success'])
        else_puts, else_dels = _check_intervals(
            op['request_txn'].get('failure', []))
        for raw_key in then_puts:
            if raw_key in puts or _deleted(dels, raw_key):
                raise _Duplicate(_text(raw_key))
            puts.add(raw_key)
        for raw_key in else_puts:
            if (raw_key in puts and raw_key not in then_puts) or \
                    _deleted(dels, raw_key):
                raise _Duplicate(_text(raw_key))
            puts.add(raw_key)
        dels += then_dels + else_dels
    for op in ops:
        if 'request_put' in op:
            raw_key = _raw(op['request_put']['key'])
            if raw_key in puts or _deleted(dels, raw_key):
                raise _Duplicate(_text(raw_key))
            puts.add(raw_key)
    return puts, dels


# --- the transport under heat_esi.etcd.Etcd ----------------------------------

Call = collections.namedtuple('Call', 'endpoint path body headers timeout')


def response(status=200, body=None, text=None):
    """An etcd gateway answer: *body* as JSON, or raw *text*."""
    resp = requests.Response()
    resp.status_code = status
    resp.reason = {200: 'OK', 500: 'Internal Server Error',
                   503: 'Service Unavailable'}.get(status, '')
    if text is None:
        text = json.dumps(body if body is not None else {
            'header': {'revision': '5'}})
    resp._content = text.encode('utf-8')
    resp._content_consumed = True
    return resp


def error(status, code, message):
    """A gateway error answer, with gRPC *code* and *message*."""
    return response(status, {'error': message, 'code': code,
                             'message': message})


def stream(*chunks, then=None):
    """A watch stream: the JSON *chunks*, then *then* raised.

    *then* defaults to a read timeout (silence), where a real stream would
    block.
    """
    resp = response(200, text='')

    def lines(chunk_size=None):
        for chunk in chunks:
            yield json.dumps(chunk).encode('utf-8')
        raise then if then is not None else \
            requests.exceptions.ReadTimeout('Read timed out.')
    resp.iter_lines = lines
    return resp


def refused():
    """What requests raises when a member refuses the connection."""
    reason = urllib3.exceptions.NewConnectionError(
        None, 'Failed to establish a new connection: [Errno 111] '
              'Connection refused')
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, '/', reason))


def read_timeout():
    """A request sent, and no answer in time."""
    return requests.exceptions.ReadTimeout('Read timed out.')


class Gateway(object):
    """requests.Session.post for etcd members, answering from a script.

    Each member (endpoint URL) answers its calls in order from what
    :meth:`on` queued for it: a requests.Response, or an exception to
    raise. A call that nothing was queued for fails the test.
    """

    def __init__(self, monkeypatch):
        self.answers = collections.defaultdict(list)
        self.calls = []
        gateway = self

        def post(session, url, json=None, headers=None, timeout=None,
                 **kwargs):
            endpoint, _, path = url.partition(etcd.API_PATH)
            # A copy: the client reuses and changes its request bodies.
            gateway.calls.append(Call(endpoint, path, copy.deepcopy(json),
                                      dict(headers or {}), timeout))
            queued = gateway.answers[endpoint]
            assert queued, 'unexpected request %s %s' % (url, json)
            answer = queued.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        monkeypatch.setattr(requests.Session, 'post', post)

    def on(self, endpoint, *answers):
        self.answers[endpoint].extend(answers)
        return self

    def paths(self):
        """(endpoint, path) of every call, in order."""
        return [(call.endpoint, call.path) for call in self.calls]


class FixedPlugin(plugin_base.Plugin):
    """A plugin that answers what it is told, and records its calls."""

    def __init__(self, state=states.ACTIVE, polled=(states.UP, ''),
                 error=None, address=None, prefetch=()):
        self.state, self.polled, self.error = state, polled, error
        self._address, self._prefetch = address, prefetch
        self.calls = []

    def check(self, props, abort, read=None):
        self.calls.append(('check', props['type'], read))
        if self.error is not None:
            raise self.error
        return self.state

    def poll(self, props, abort):
        self.calls.append(('poll', props['type']))
        if self.error is not None:
            raise self.error
        return self.polled

    def keys(self, props):
        return self._prefetch

    def address(self, props):
        return self._address

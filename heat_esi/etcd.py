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

"""Every etcd call of heat-esi goes through this module.

A layer over etcd3gw's client (the v3 gRPC gateway): keys and values are
UTF-8 text, multi-key writes are single transactions built from the
``absent``/``value_is``/``put``/``delete`` helpers below, and every failure
is turned at this boundary into an :class:`EtcdError` whose message names
the endpoint and the key.

What etcd3gw leaves to its users is done here, once:

- failover: the client stays on one member of the cluster until it fails,
  then moves to the next; a failed member is passed over for a short
  cool-down;
- retries that never duplicate a write: a request that never reached etcd
  is tried on the next member, whatever it is; one that was sent but got no
  answer is tried again only when it is safe to repeat (reads, lease
  calls), and a write raises :class:`EtcdOutcomeUnknown` instead, which its
  caller resolves by reading back;
- token authentication, renewed under a lock whenever etcd rejects the
  token, and TLS with a verified server;
- watches that cannot hang: progress notifications with a finite read
  timeout, ``hasleader``, and resumption on the next member from the last
  revision seen. etcd3gw's own watcher hides a broken stream and a
  compacted start revision, so the stream is read here.

Why this module is over 500 lines: it is, by decision, the one module
behind which etcd3gw lives, so the client, its failover, its
authentication and its watch stream share private state (the member in
use, the token and its lock) that splitting would have to expose. The
pure helpers above the client (the operation builders and error
classification) are small next to it.
"""

import base64
import collections
import contextlib
import json
import os
import re
import ssl
import threading
import time

from etcd3gw.client import Etcd3Client
from oslo_log import log as logging
import requests
import urllib3

from heat_esi import exceptions

LOG = logging.getLogger(__name__)

API_PATH = '/v3/'
# gRPC status codes that the gateway puts in its error bodies.
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
PERMISSION_DENIED = 7
UNAVAILABLE = 14
UNAUTHENTICATED = 16
# What etcd says when a token must be renewed (besides UNAUTHENTICATED).
TOKEN_INVALID = ('invalid auth token', 'user name is empty',
                 'revision of auth store is old')

# A value that is not UTF-8 text is kept as its raw bytes: the one read
# fails (loads() names the key), not every read of its prefix.
KV = collections.namedtuple(
    'KV', 'key value create_revision mod_revision version lease')

Event = collections.namedtuple('Event', 'type kv prev_kv')
PUT, DELETE = 'PUT', 'DELETE'
# The type of the Event a watch asked for progress yields at each progress
# notification of etcd (kv None): all before it has been delivered.
PROGRESS = 'PROGRESS'


def _b64(text):
    if isinstance(text, str):
        # surrogateescape: a key read with undecodable bytes names the
        # same key when written back.
        text = text.encode('utf-8', 'surrogateescape')
    return base64.b64encode(text).decode('ascii')


def _unb64(data, errors='surrogateescape'):
    return base64.b64decode(data).decode('utf-8', errors)


def _value(data):
    """A value as text, or its raw bytes when it is not UTF-8."""
    raw = base64.b64decode(data)
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return raw


def _range_end(prefix):
    raw = bytearray(prefix.encode('utf-8'))
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode('ascii')


def _kv(raw):
    if raw is None:
        return None
    return KV(key=_unb64(raw['key']),
              value=_value(raw.get('value', '')),
              create_revision=int(raw.get('create_revision', 0)),
              mod_revision=int(raw.get('mod_revision', 0)),
              version=int(raw.get('version', 0)),
              lease=int(raw.get('lease', 0)))


def dumps(obj):
    """The JSON codec of every value heat-esi writes (json.dumps style)."""
    return json.dumps(obj)


def loads(key, text):
    """Decode a JSON value read at *key*, naming the key when it is not."""
    if isinstance(text, bytes):
        try:
            text.decode('utf-8')
        except UnicodeDecodeError as exc:
            raise exceptions.MalformedValue(
                key, 'not UTF-8 text (byte 0x%02x at offset %d)'
                % (text[exc.start], exc.start))
    try:
        return json.loads(text)
    except RecursionError:
        raise exceptions.MalformedValue(key, 'JSON nested too deeply')
    except (TypeError, ValueError) as exc:
        raise exceptions.MalformedValue(key, 'not JSON (%s)' % exc)


# Transaction building blocks -------------------------------------------------

def absent(key):
    """Compare: *key* does not exist."""
    return {'key': _b64(key), 'target': 'CREATE', 'result': 'EQUAL',
            'create_revision': 0}


def absent_prefix(prefix):
    """Compare: no key starts with *prefix* (etcd 3.3 and later)."""
    return dict(absent(prefix), range_end=_range_end(prefix))


def unchanged_prefix(prefix, revision):
    """Compare: no key under *prefix* was written after *revision*.

    A count made of the keys read at *revision* still holds (a key
    deleted since only lowers it). etcd 3.3 and later.
    """
    return {'key': _b64(prefix), 'range_end': _range_end(prefix),
            'target': 'MOD', 'result': 'LESS', 'mod_revision': revision + 1}


def mod_revision_is(key, revision):
    """Compare: *key* was last written at *revision* (0: absent)."""
    return {'key': _b64(key), 'target': 'MOD', 'result': 'EQUAL',
            'mod_revision': revision}


def value_is(key, value):
    """Compare: *key* holds exactly *value* (a fence on a claim)."""
    return {'key': _b64(key), 'target': 'VALUE', 'result': 'EQUAL',
            'value': _b64(value)}


def put(key, value, lease=None):
    """Operation: write *value* at *key*.

    *value* is str or bytes, or an object that is written encoded as JSON.
    """
    if not isinstance(value, (str, bytes)):
        value = dumps(value)
    req = {'key': _b64(key), 'value': _b64(value)}
    if lease:
        req['lease'] = lease
    return {'request_put': req}


def touch(key):
    """Operation: write *key* again with the value it holds.

    etcd's ignore_value put: the key's version and mod_revision go up, and
    the request does not carry the value. etcd refuses it when the key is
    absent, so it goes behind a comparison that the key exists.
    """
    return {'request_put': {'key': _b64(key), 'ignore_value': True}}


def delete(key):
    """Operation: delete *key* (no error when it is absent)."""
    return {'request_delete_range': {'key': _b64(key)}}


def get(key):
    """Operation: read *key* inside a transaction."""
    return {'request_range': {'key': _b64(key)}}


def get_prefix(prefix):
    """Operation: read every key under *prefix* inside a transaction."""
    return {'request_range': {'key': _b64(prefix),
                              'range_end': _range_end(prefix)}}


def get_range(start, end):
    """Operation: read the keys from *start* up to *end* (excluded)."""
    return {'request_range': {'key': _b64(start), 'range_end': _b64(end)}}


def get_page(prefix, start, limit, keys_only=False):
    """Operation: read at most *limit* keys under *prefix* from *start* on.

    :param keys_only: the keys and revisions without their values.
    """
    request = {'key': _b64(start), 'range_end': _range_end(prefix),
               'limit': limit}
    if keys_only:
        request['keys_only'] = True
    return {'request_range': request}


_failover_callbacks = []


def on_failover(callback):
    """Register a callback for every move of a client to another endpoint.

    *callback(old_endpoint, new_endpoint)* is called whenever a client
    moves to another etcd endpoint (esi-worker counts these).
    """
    _failover_callbacks.append(callback)


def failed_over(old_endpoint, new_endpoint):
    """Tell the on_failover callbacks that a client changed endpoint."""
    for callback in _failover_callbacks:
        callback(old_endpoint, new_endpoint)


def _responses(result):
    """The responses of a transaction; a range is the list of its KVs."""
    found = []
    for resp in result.get('responses') or []:
        rng = resp.get('response_range')
        if rng is not None:
            found.append([_kv(r) for r in rng.get('kvs') or []])
        else:
            found.append(resp)
    return found


def _read_timed_out(exc):
    # requests wraps urllib3's ReadTimeoutError in a ConnectionError while
    # streaming.
    return isinstance(exc, requests.exceptions.ReadTimeout) or bool(
        exc.args and isinstance(exc.args[0],
                                urllib3.exceptions.ReadTimeoutError))


def classify(exc, read_timeout):
    """(sent, reason) of a requests exception.

    *sent* is False only when the request cannot have reached etcd (the
    connection or the TLS handshake failed), so that repeating it
    elsewhere cannot apply it twice.
    """
    if isinstance(exc, requests.exceptions.SSLError):
        found = re.search(r'certificate verify failed[^)\'"]*', str(exc))
        return False, 'TLS handshake failed: %s' % (
            found.group(0) if found else 'see the CA and certificates')
    cause = exc.args[0] if exc.args else None
    cause = getattr(cause, 'reason', cause)     # inside urllib3's MaxRetry
    if isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
            cause, urllib3.exceptions.ConnectTimeoutError):
        # NewConnectionError (refused, unreachable, bad name) is one too.
        if 'refused' in str(cause):
            return False, 'connection refused'
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            return False, 'cannot connect (%s)' % str(cause).split(': ')[-1]
        return False, 'connect timed out'
    if _read_timed_out(exc):
        return True, 'no answer within %s s' % read_timeout
    return True, 'connection lost after the request was sent (%s)' % (
        cause.__class__.__name__ if cause is not None
        else exc.__class__.__name__)


def _error_of(resp):
    """(gRPC code, message) of a gateway error response."""
    try:
        body = resp.json()
    except ValueError:
        return None, (resp.text.strip()[:200] or resp.reason)
    return _error_fields(body)


def _error_fields(body):
    error = body.get('error')
    if isinstance(error, dict):         # an error chunk of a stream
        body = error
    code = body.get('code', body.get('grpc_code'))
    message = body.get('message') or (error if isinstance(error, str)
                                      else '') or json.dumps(body)[:200]
    return code, message


def token_rejected(code, message):
    """Say whether etcd wants a new token.

    It does when the token expired, is missing, or is from an older auth
    revision.
    """
    if code == UNAUTHENTICATED:
        return True
    return code in (INVALID_ARGUMENT, None) and any(
        text in message for text in TOKEN_INVALID)


def unavailable(status, code):
    """This member cannot serve the request now; another one may."""
    return status in (503, 504) or code in (UNAVAILABLE, DEADLINE_EXCEEDED)


def _system_ca():
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.capath or True


class _MemberFailed(Exception):
    """One member did not serve a request; another one may.

    *sent*: the request may have reached etcd (so a write's outcome is
    unknown).
    """

    def __init__(self, reason, sent):
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


class _TokenRejected(Exception):
    """etcd refused the token sent as *token*."""

    def __init__(self, token, message):
        super().__init__(message)
        self.token = token


class _StreamLost(Exception):
    """An open watch stream broke, went silent or lost its leader."""


class Etcd(object):
    """A client of an etcd cluster, safe to share between threads."""

    def __init__(self, host='127.0.0.1', port=2379, protocol='http',
                 ca_file=None, cert_file=None, key_file=None, timeout=5.0,
                 endpoints=None, username=None, password=None,
                 endpoint_cooldown=5.0, watch_progress_interval=60.0):
        if not endpoints:
            host_part = '[%s]' % host if ':' in host else host
            endpoints = ['%s://%s:%s' % (protocol, host_part, port)]
        self.endpoints = [url.strip().rstrip('/') for url in endpoints]
        for url in self.endpoints:
            parsed = requests.utils.urlparse(url)
            if parsed.scheme not in ('http', 'https') or not parsed.hostname:
                raise exceptions.EtcdConfigError(
                    '[esi_etcd] endpoints: %r is not an http(s)://host:port '
                    'URL' % url)
        if bool(cert_file) != bool(key_file):
            raise exceptions.EtcdConfigError(
                '[esi_etcd] %s is set but %s is not: a client certificate '
                'needs both' % (('cert_file', 'key_file') if cert_file
                                else ('key_file', 'cert_file')))
        for option, path in (('ca_file', ca_file), ('cert_file', cert_file),
                             ('key_file', key_file)):
            if path and not os.access(path, os.R_OK):
                raise exceptions.EtcdConfigError(
                    '[esi_etcd] %s %s cannot be read' % (option, path))
        if bool(username) != bool(password):
            raise exceptions.EtcdConfigError(
                '[esi_etcd] username and password go together')
        self.timeout = timeout
        self.username = username
        self._password = password
        self.cooldown = endpoint_cooldown
        self.watch_silence = 3 * watch_progress_interval
        self._verify = ca_file or _system_ca()
        self._cert = (cert_file, key_file) if cert_file else None
        self._lock = threading.Lock()
        self._current = 0
        self._failed_until = {}         # endpoint index -> monotonic time
        self._auth_lock = threading.Lock()
        self._token = None
        # Tokens got so far: a long watch opened before the last one was
        # opened with an older token (see state_watch).
        self.authentications = 0
        # requests.Session is not thread safe; one per thread.
        self._local = threading.local()

    @classmethod
    def from_conf(cls, conf):
        group = conf.esi_etcd
        return cls(host=group.host, port=group.port, protocol=group.protocol,
                   ca_file=group.ca_file, cert_file=group.cert_file,
                   key_file=group.key_file, timeout=group.timeout,
                   endpoints=group.endpoints, username=group.username,
                   password=group.password,
                   endpoint_cooldown=group.endpoint_cooldown,
                   watch_progress_interval=group.watch_progress_interval)

    @classmethod
    def from_url(cls, url, timeout=5.0):
        """A client of the comma-separated endpoint URLs in *url*."""
        return cls(endpoints=url.split(','), timeout=timeout)

    @property
    def endpoint(self):
        """The member in use."""
        return self.endpoints[self._current]

    # --- members ------------------------------------------------------------

    def _gateway(self, index):
        """This thread's etcd3gw client of endpoint *index*."""
        gateways = getattr(self._local, 'gateways', None)
        if gateways is None:
            session = requests.Session()
            # etcd is named explicitly: no proxy or CA bundle from the
            # environment (and requests re-reads os.environ on every call
            # when it trusts it, a third of a busy worker's CPU).
            session.trust_env = False
            session.verify = self._verify
            session.cert = self._cert
            gateways = self._local.gateways = {}
            self._local.session = session
        if index not in gateways:
            parsed = requests.utils.urlparse(self.endpoints[index])
            # The API path is given: no request depends on a version probe
            # of a member that may be dead.
            gateways[index] = Etcd3Client(
                host=parsed.hostname, port=parsed.port or 2379,
                protocol=parsed.scheme, timeout=self.timeout,
                api_path=API_PATH, session=self._local.session)
        return gateways[index]

    def _pick(self, tried):
        """Pick the next member to try.

        That is the current one unless it failed lately; None once every
        member was tried.
        """
        now = time.monotonic()
        with self._lock:
            count = len(self.endpoints)
            order = [(self._current + i) % count for i in range(count)]
        untried = [i for i in order if i not in tried]
        for index in untried:
            if self._failed_until.get(index, 0) <= now:
                return index
        return untried[0] if untried else None

    def _failed(self, index, reason):
        with self._lock:
            self._failed_until[index] = time.monotonic() + self.cooldown
            if self._current != index or len(self.endpoints) == 1:
                return
            self._current = (index + 1) % len(self.endpoints)
        LOG.warning('etcd member %s failed (%s); moving to %s',
                    self.endpoints[index], reason, self.endpoint)
        failed_over(self.endpoints[index], self.endpoint)

    def _succeeded(self, index):
        if self._current != index:
            with self._lock:
                self._current = index

    def _unavailable(self, key, failures):
        return exceptions.EtcdUnavailable(
            ', '.join(self.endpoints), key, '; '.join(failures))

    # --- authentication -----------------------------------------------------

    def _headers(self, index, watch=False):
        """Build the headers of a request to member *index*.

        Authorization (authenticating first if needed) and, on watches,
        hasleader: etcd then cancels a watch whose member lost the leader
        instead of leaving it silent.
        """
        headers = {'Grpc-Metadata-hasleader': 'true'} if watch else {}
        if self.username:
            if self._token is None:
                self._authenticate(index, None)
            if self._token:
                headers['Authorization'] = self._token
        return headers

    def _authenticate(self, index, stale):
        """Get a new token unless another thread already replaced *stale*."""
        with self._auth_lock:
            if self._token is not None and self._token != stale:
                return
            gateway = self._gateway(index)
            # No Authorization header here: etcd would check the old token
            # and refuse. Nothing is written: safe to repeat elsewhere.
            try:
                resp = gateway.session.post(
                    gateway.get_url('auth/authenticate'),
                    json={'name': self.username, 'password': self._password},
                    timeout=self.timeout)
            except requests.exceptions.RequestException as exc:
                raise _MemberFailed(classify(exc, self.timeout)[1], False)
            if resp.status_code == 200:
                self._token = resp.json().get('token', '')
                self.authentications += 1
                LOG.info('authenticated to etcd at %s as %s',
                         self.endpoints[index], self.username)
                return
            code, message = _error_of(resp)
            if 'authentication is not enabled' in message:
                LOG.warning('etcd at %s has authentication disabled; '
                            'connecting without a token',
                            self.endpoints[index])
                self._token = ''
                return
            if unavailable(resp.status_code, code):
                raise _MemberFailed(message, False)
            raise exceptions.EtcdAuthFailed(self.endpoints[index],
                                            self.username, message)

    def _explain(self, code, message):
        if 'user name is empty' in message and not self.username:
            return ('%s: etcd has authentication enabled; set [esi_etcd] '
                    'username and password' % message)
        if code == PERMISSION_DENIED and self.username:
            return '%s (user %s)' % (message, self.username)
        return message

    # --- requests -----------------------------------------------------------

    def _on_members(self, key, idempotent, call):
        """call(index) on one member after another until one answers.

        A member that fails is left for the next one (and for a
        cool-down) when the request never reached it, or when it did but
        is *idempotent*; otherwise the outcome is unknown. A rejected
        token is renewed once.
        """
        failures, tried, renewed = [], set(), False
        while True:
            index = self._pick(tried)
            if index is None:
                raise self._unavailable(key, failures)
            endpoint = self.endpoints[index]
            try:
                try:
                    result = call(index)
                except _TokenRejected as exc:
                    if renewed:
                        raise exceptions.EtcdError(
                            endpoint, key, '%s, even after authenticating '
                            'again as %s' % (exc, self.username))
                    renewed = True
                    self._authenticate(index, exc.token)
                    continue
            except _MemberFailed as exc:
                self._failed(index, exc.reason)
                if exc.sent and not idempotent:
                    raise exceptions.EtcdOutcomeUnknown(
                        endpoint, key, '%s; the write may or may not have '
                        'been applied' % exc.reason)
                failures.append('%s: %s' % (endpoint, exc.reason))
                tried.add(index)
                continue
            self._succeeded(index)
            return result

    def _send(self, index, path, body, key, timeout, watch=False):
        """POST *body* to member *index*; its answer, when it is a 200."""
        gateway = self._gateway(index)
        headers = self._headers(index, watch)
        try:
            resp = gateway.session.post(gateway.get_url(path), json=body,
                                        headers=headers, timeout=timeout,
                                        stream=watch)
        except requests.exceptions.RequestException as exc:
            sent, reason = classify(exc, timeout)
            raise _MemberFailed(reason, sent)
        if resp.status_code == 200:
            return resp
        code, message = _error_of(resp)
        resp.close()
        self._refused(index, key, headers, code, message,
                      unavailable(resp.status_code, code))

    def _refused(self, index, key, headers, code, message, retryable):
        """Raise what an error answer of etcd means."""
        if self.username and token_rejected(code, message):
            raise _TokenRejected(headers.get('Authorization'), message)
        if retryable:
            raise _MemberFailed(message, True)
        raise exceptions.EtcdError(self.endpoints[index], key,
                                   self._explain(code, message))

    def _post(self, path, body, key, idempotent=False, timeout=None):
        """Send a request; return the JSON of the first member that answers."""
        timeout = timeout or self.timeout
        return self._on_members(key, idempotent, lambda index: self._send(
            index, path, body, key, timeout).json())

    # Reads -------------------------------------------------------------

    def get(self, key, revision=None):
        """The KV at *key* (at *revision*, if given), or None when absent."""
        body = {'key': _b64(key)}
        if revision:
            body['revision'] = revision
        kvs = self._post('kv/range', body, key, True).get('kvs') or []
        return _kv(kvs[0]) if kvs else None

    def get_prefix(self, prefix, keys_only=False):
        """([KV...] under *prefix*, the store's revision at that read)."""
        body = {'key': _b64(prefix), 'range_end': _range_end(prefix)}
        if keys_only:
            body['keys_only'] = True
        result = self._post('kv/range', body, prefix, True)
        return ([_kv(r) for r in result.get('kvs') or []],
                int(result['header']['revision']))

    def revision(self, key='\0'):
        """The current revision of the store.

        :param key: the key read to learn it: one the user may read (with
            RBAC, heat-engine's role reads its prefixes only).
        """
        result = self._post('kv/range', {'key': _b64(key)},
                            '(revision)' if key == '\0' else key, True)
        return int(result['header']['revision'])

    # Writes ------------------------------------------------------------

    def put(self, key, value, lease=None):
        self._post('kv/put', put(key, value, lease)['request_put'], key,
                   False)

    def delete(self, key):
        """Delete *key*; True when something was deleted."""
        result = self._post('kv/deleterange', {'key': _b64(key)}, key, False)
        return int(result.get('deleted', 0)) > 0

    def delete_prefix(self, prefix):
        result = self._post('kv/deleterange',
                            {'key': _b64(prefix),
                             'range_end': _range_end(prefix)}, prefix, False)
        return int(result.get('deleted', 0))

    def txn(self, compare, success, failure=(), key=None):
        """Run one transaction.

        :returns: (succeeded, [responses]) where a range response is the list
            of KVs it read.
        :param key: the key named in an error message (default: the first
            key the transaction touches).
        :raises EtcdOutcomeUnknown: a transaction that writes was sent but
            not answered. One that only reads is retried instead.
        """
        if key is None:
            first = (list(compare) + list(success))[0]
            raw = first.get('key') or list(first.values())[0]['key']
            key = _unb64(raw)
        read_only = all('request_range' in op
                        for op in list(success) + list(failure))
        result = self._post('kv/txn', {'compare': list(compare),
                                       'success': list(success),
                                       'failure': list(failure)}, key,
                            read_only)
        return bool(result.get('succeeded')), _responses(result)

    def txn_each(self, txns, key):
        """Run several transactions in one request, each on its own terms.

        They are nested in one etcd transaction: each is decided by its own
        *compare*, and they all apply at the same revision. etcd refuses
        the request when two of them write the same key.

        :param txns: [(compare, success, failure)]
        :returns: [(succeeded, [responses])], in the order of *txns*.
        :raises EtcdOutcomeUnknown: as txn() does, for them all.
        """
        read_only = all('request_range' in op for _, success, failure in txns
                        for op in list(success) + list(failure))
        nested = [{'request_txn': {'compare': list(compare),
                                   'success': list(success),
                                   'failure': list(failure)}}
                  for compare, success, failure in txns]
        result = self._post('kv/txn', {'compare': [], 'success': nested,
                                       'failure': []}, key, read_only)
        found = []
        for resp in result.get('responses') or []:
            nested = resp.get('response_txn') or {}
            found.append((bool(nested.get('succeeded')),
                          _responses(nested)))
        return found

    def compact(self, revision):
        """Drop the history before *revision*.

        This is what etcd's auto-compaction does; watchers that lag behind
        it must re-read.
        """
        self._post('kv/compaction', {'revision': revision, 'physical': True},
                   '(compaction)', False)

    # Leases ------------------------------------------------------------

    def grant_lease(self, ttl):
        # Safe to repeat: a lease granted twice leaves one to expire unused.
        result = self._post('lease/grant', {'TTL': int(ttl)}, '(lease)',
                            True)
        return int(result['ID'])

    def refresh_lease(self, lease_id, timeout=None):
        """Keep *lease_id* alive; its remaining TTL, or -1 if it expired.

        :param timeout: seconds per member, when the lease's TTL asks for
            a quicker failover than [esi_etcd] timeout.
        """
        result = self._post('lease/keepalive', {'ID': lease_id}, '(lease)',
                            True, timeout=timeout)
        return int(result.get('result', {}).get('TTL', -1))

    def revoke_lease(self, lease_id):
        self._post('lease/revoke', {'ID': lease_id}, '(lease)', True)

    # Watches -----------------------------------------------------------

    def watch(self, prefix, start_revision, prev_kv=False, timeout=None,
              progress=False):
        """Yield the Events under *prefix* from *start_revision* on.

        Runs until the caller stops iterating or, when *timeout* is given,
        until that many seconds pass without an event. Without *timeout*
        the watch asks for progress notifications and takes a stream
        silent for three of their intervals for a dead connection; a dead
        or broken stream is re-opened, on the next member when there is
        one, from the revision after the last one seen.

        :param progress: also yield an Event of type PROGRESS (kv None)
            for each progress notification: what waits on the stream
            then knows it is alive while no key changes.
        :raises WatchCompacted: the revision to start or resume from is no
            longer in history.
        :raises EtcdUnavailable: no member could serve the watch.
        """
        create = {'key': _b64(prefix), 'range_end': _range_end(prefix)}
        if prev_kv:
            create['prev_kv'] = True
        if timeout is not None:
            create['start_revision'] = start_revision
            with self._watch(create, prefix, timeout) as events:
                yield from events
            return
        create['progress_notify'] = True
        resume_from = start_revision
        lost = 0
        reopened_for_auth = False
        while True:
            create['start_revision'] = resume_from
            index, resp, lines = self._open_watch(create, prefix,
                                                  self.watch_silence)
            try:
                for result in self._results(lines, prefix):
                    lost = 0
                    reopened_for_auth = False
                    events = result.get('events') or []
                    for event in _events(events):
                        resume_from = event.kv.mod_revision + 1
                        yield event
                    if not events and 'header' in result:
                        # A progress notification: everything up to its
                        # revision has been delivered.
                        resume_from = max(
                            resume_from,
                            int(result['header']['revision']) + 1)
                        if progress:
                            yield Event(PROGRESS, None, None)
            except _StreamLost as exc:
                reason = str(exc)
                if reason == 'silent':
                    # A dead connection, or an etcd that sends progress
                    # notifications less often than configured: either
                    # way a new stream costs little, and says which.
                    LOG.info('watch on %s at %s: no message in %g s, not '
                             'even a progress notification: a dead '
                             'connection? Re-opening it from revision %s',
                             prefix, self.endpoints[index],
                             self.watch_silence, resume_from)
                    continue
                if self.username and not reopened_for_auth and (
                        token_rejected(None, reason) or
                        'permission denied' in reason):
                    # etcd refused the token of the open stream: opening
                    # it again renews the token if etcd refuses it then
                    # too (_start_watch), and resumes where it stopped.
                    LOG.info('watch on %s at %s: etcd refused its token '
                             '(%s); re-opening it from revision %s',
                             prefix, self.endpoints[index], reason,
                             resume_from)
                    reopened_for_auth = True
                    continue
                self._failed(index, reason)
                lost += 1
                if lost >= len(self.endpoints):
                    raise exceptions.EtcdUnavailable(
                        self.endpoints[index], prefix, reason)
                LOG.warning('watch on %s at %s lost (%s); resuming from '
                            'revision %s at %s', prefix,
                            self.endpoints[index], reason, resume_from,
                            self.endpoint)
            finally:
                resp.close()

    def watching(self, key, timeout):
        """Watch *key* from now on, for a caller about to read it.

        A context manager yielding an iterator of the key's Events that
        ends after *timeout* seconds without one. The watch is registered
        before the block runs, so nothing written after a read inside it
        is missed; and it is a current watch, which etcd serves at once
        (one that starts at a past revision waits for etcd's 100 ms
        catch-up loop).
        """
        return self._watch({'key': _b64(key)}, key, timeout)

    @contextlib.contextmanager
    def _watch(self, create, key, timeout):
        """A short watch: its events until *timeout* s pass without one."""
        index, resp, lines = self._open_watch(create, key, timeout)

        def events():
            try:
                for result in self._results(lines, key):
                    yield from _events(result.get('events') or [])
            except _StreamLost as exc:
                if str(exc) == 'silent':
                    return      # quiet for *timeout* seconds: the end
                raise exceptions.EtcdUnavailable(self.endpoints[index], key,
                                                 str(exc))
        try:
            yield events()
        finally:
            resp.close()

    def _open_watch(self, create, key, silence):
        """Open a watch stream that etcd confirmed, on the first member able.

        :returns: (index, response, lines) of the stream.
        """
        return self._on_members(key, True, lambda index: self._start_watch(
            index, create, key, silence))

    def _start_watch(self, index, create, key, silence):
        """Open a watch on member *index* and read etcd's answer to it.

        Opened with the request timeout, so that a dead member is passed
        over as quickly as for any request; then reads wait *silence*
        seconds.
        """
        resp = self._send(index, 'watch', {'create_request': create}, key,
                          self.timeout, watch=True)
        lines = resp.iter_lines(chunk_size=None)
        try:
            chunk = next(_chunks(lines), None)
        except requests.exceptions.RequestException as exc:
            resp.close()
            raise _MemberFailed(classify(exc, self.timeout)[1], True)
        result = (chunk or {}).get('result', {})
        if result.get('created') and not result.get('canceled'):
            _settimeout(resp, silence)
            return index, resp, lines
        resp.close()
        if chunk is None:
            raise _MemberFailed('watch stream closed by etcd', True)
        if int(result.get('compact_revision', 0)):
            raise exceptions.WatchCompacted(self.endpoints[index], key,
                                            int(result['compact_revision']))
        code, message = _error_fields(chunk) if 'error' in chunk else (
            None, result.get('cancel_reason', 'watch canceled'))
        # etcd cancels a watch whose token it refuses as "permission
        # denied": authenticate again once before believing it.
        if 'permission denied' in message and self.username:
            raise _TokenRejected(self._token, message)
        no_leader = 'no leader' in message
        retryable = code in (UNAVAILABLE, DEADLINE_EXCEEDED) or no_leader
        self._refused(index, key, {'Authorization': self._token}, code,
                      message, retryable)

    def _results(self, lines, key):
        """Yield the results of an open watch stream.

        Errors, cancellations and silence end it with _StreamLost ('silent'
        for silence) or, for a compacted revision, WatchCompacted.
        """
        try:
            for chunk in _chunks(lines):
                if 'error' in chunk:
                    raise _StreamLost(_error_fields(chunk)[1])
                result = chunk.get('result', {})
                if int(result.get('compact_revision', 0)):
                    raise exceptions.WatchCompacted(
                        self.endpoint, key, int(result['compact_revision']))
                if result.get('canceled'):
                    raise _StreamLost('watch canceled: %s'
                                      % result.get('cancel_reason', ''))
                yield result
        except requests.exceptions.RequestException as exc:
            if _read_timed_out(exc):
                raise _StreamLost('silent')
            raise _StreamLost('watch stream broke: %s'
                              % classify(exc, None)[1])
        raise _StreamLost('watch stream closed by etcd')


def _chunks(lines):
    for line in lines:
        if line.strip():
            yield json.loads(line)


def _events(raw_events):
    for ev in raw_events:
        yield Event(ev.get('type', PUT), _kv(ev['kv']),
                    _kv(ev.get('prev_kv')))


def _settimeout(resp, seconds):
    """Give the socket under a streaming response a new read timeout."""
    sock = getattr(getattr(resp.raw, '_connection', None), 'sock', None)
    if sock is None:
        fp = getattr(getattr(resp.raw, '_fp', None), 'fp', None)
        sock = getattr(getattr(fp, 'raw', None), '_sock', None)
    if sock is not None:
        sock.settimeout(seconds)

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

A thin layer over etcd3gw's client (the v3 gRPC gateway): keys and values are
UTF-8 text, multi-key writes are single transactions built from the
``absent``/``value_is``/``put``/``delete`` helpers below, and etcd3gw's
exceptions are turned at this boundary into :class:`EtcdError`, whose message
names the endpoint and the key. etcd3gw's own watcher gives no signal when its
stream breaks or when the start revision was compacted, so :meth:`Etcd.watch`
reads the stream itself and raises instead.
"""

import base64
import collections
import contextlib
import json
import threading

from etcd3gw.client import Etcd3Client
from etcd3gw import exceptions as etcd3gw_exc
import requests
import urllib3

from heat_esi import exceptions

# A value that is not UTF-8 text is kept as its raw bytes: the one read
# fails (loads() names the key), not every read of its prefix.
KV = collections.namedtuple(
    'KV', 'key value create_revision mod_revision version lease')

Event = collections.namedtuple('Event', 'type kv prev_kv')
PUT, DELETE = 'PUT', 'DELETE'


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


def mod_revision_is(key, revision):
    """Compare: *key* was last written at *revision* (0: absent)."""
    return {'key': _b64(key), 'target': 'MOD', 'result': 'EQUAL',
            'mod_revision': revision}


def value_is(key, value):
    """Compare: *key* holds exactly *value* (a fence on a claim)."""
    return {'key': _b64(key), 'target': 'VALUE', 'result': 'EQUAL',
            'value': _b64(value)}


def put(key, value, lease=None):
    """Operation: write *value* (str or bytes, or an object encoded as JSON).
    """
    if not isinstance(value, (str, bytes)):
        value = dumps(value)
    req = {'key': _b64(key), 'value': _b64(value)}
    if lease:
        req['lease'] = lease
    return {'request_put': req}


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


_failover_callbacks = []


def on_failover(callback):
    """Call *callback(old_endpoint, new_endpoint)* whenever a client moves
    to another etcd endpoint (esi-worker counts these)."""
    _failover_callbacks.append(callback)


def failed_over(old_endpoint, new_endpoint):
    """Tell the on_failover callbacks that a client changed endpoint."""
    for callback in _failover_callbacks:
        callback(old_endpoint, new_endpoint)


def _reason(exc):
    detail = getattr(exc, 'detail_text', None) or str(exc) or \
        exc.__class__.__name__
    return detail.strip()[:200]


def _read_timed_out(exc):
    # requests wraps urllib3's ReadTimeoutError in a ConnectionError while
    # streaming.
    return isinstance(exc, requests.exceptions.ReadTimeout) or (
        exc.args and isinstance(exc.args[0],
                                urllib3.exceptions.ReadTimeoutError))


class Etcd(object):
    """A connection to one etcd endpoint, safe to share between threads."""

    def __init__(self, host='127.0.0.1', port=2379, protocol='http',
                 ca_file=None, cert_file=None, key_file=None, timeout=5.0):
        self.host = host
        self.port = port
        self.protocol = protocol
        self.timeout = timeout
        self._tls = dict(ca_file=ca_file, cert_file=cert_file,
                         key_file=key_file)
        host_part = '[%s]' % host if ':' in host else host
        self.endpoint = '%s://%s:%s' % (protocol, host_part, port)
        # requests.Session is not thread safe; one per thread.
        self._local = threading.local()

    @classmethod
    def from_conf(cls, conf):
        group = conf.esi_etcd
        return cls(host=group.host, port=group.port, protocol=group.protocol,
                   ca_file=group.ca_file, cert_file=group.cert_file,
                   key_file=group.key_file, timeout=group.timeout)

    @classmethod
    def from_url(cls, url, timeout=5.0):
        parsed = requests.utils.urlparse(url)
        return cls(host=parsed.hostname, port=parsed.port or 2379,
                   protocol=parsed.scheme or 'http', timeout=timeout)

    def _gateway(self):
        """This thread's etcd3gw client (requests sessions are not thread
        safe)."""
        gateway = getattr(self._local, 'gateway', None)
        if gateway is None:
            session = requests.Session()
            # etcd is named explicitly: no proxy or CA bundle from the
            # environment (and requests re-reads os.environ on every call
            # when it trusts it, a third of a busy worker's CPU).
            session.trust_env = False
            if self._tls['ca_file']:
                session.verify = self._tls['ca_file']
            if self._tls['cert_file'] and self._tls['key_file']:
                session.cert = (self._tls['cert_file'], self._tls['key_file'])
            gateway = Etcd3Client(
                host=self.host, port=self.port, protocol=self.protocol,
                timeout=self.timeout, api_path='/v3/', session=session)
            self._local.gateway = gateway
        return gateway

    def _post(self, path, body, key):
        """One request to the gateway; every failure becomes an EtcdError."""
        gateway = self._gateway()
        try:
            return gateway.post(gateway.get_url(path), json=body)
        except etcd3gw_exc.ConnectionTimeoutError:
            raise exceptions.EtcdUnavailable(
                self.endpoint, key, 'no answer within %s s' % self.timeout)
        except etcd3gw_exc.ConnectionFailedError as exc:
            reason = ('connection refused' if 'Connection refused' in
                      (exc.detail_text or '') else _reason(exc))
            raise exceptions.EtcdUnavailable(self.endpoint, key, reason)
        except etcd3gw_exc.Etcd3Exception as exc:
            raise exceptions.EtcdError(self.endpoint, key, _reason(exc))

    def _stream(self, body, key, timeout):
        """Open a watch stream (etcd3gw's watcher hides its failures)."""
        gateway = self._gateway()
        try:
            resp = gateway.session.post(
                gateway.get_url('watch'), json=body, stream=True,
                timeout=(self.timeout, timeout))
        except requests.exceptions.RequestException as exc:
            raise exceptions.EtcdUnavailable(self.endpoint, key,
                                             exc.__class__.__name__)
        if resp.status_code != 200:
            detail = resp.text.strip()[:200]
            resp.close()
            raise exceptions.EtcdUnavailable(self.endpoint, key, detail)
        return resp

    # Reads -------------------------------------------------------------

    def get(self, key, revision=None):
        """The KV at *key* (at *revision*, if given), or None when absent."""
        body = {'key': _b64(key)}
        if revision:
            body['revision'] = revision
        kvs = self._post('kv/range', body, key).get('kvs') or []
        return _kv(kvs[0]) if kvs else None

    def get_prefix(self, prefix, keys_only=False):
        """([KV...] under *prefix*, the store's revision at that read)."""
        body = {'key': _b64(prefix), 'range_end': _range_end(prefix)}
        if keys_only:
            body['keys_only'] = True
        result = self._post('kv/range', body, prefix)
        return ([_kv(r) for r in result.get('kvs') or []],
                int(result['header']['revision']))

    def revision(self):
        """The current revision of the store."""
        result = self._post('kv/range', {'key': _b64('\0')}, '(revision)')
        return int(result['header']['revision'])

    # Writes ------------------------------------------------------------

    def put(self, key, value, lease=None):
        self._post('kv/put', put(key, value, lease)['request_put'], key)

    def delete(self, key):
        """Delete *key*; True when something was deleted."""
        result = self._post('kv/deleterange', {'key': _b64(key)}, key)
        return int(result.get('deleted', 0)) > 0

    def delete_prefix(self, prefix):
        result = self._post('kv/deleterange',
                            {'key': _b64(prefix),
                             'range_end': _range_end(prefix)}, prefix)
        return int(result.get('deleted', 0))

    def txn(self, compare, success, failure=(), key=None):
        """Run one transaction.

        :returns: (succeeded, [responses]) where a range response is the list
            of KVs it read.
        :param key: the key named in an error message (default: the first
            key the transaction touches).
        """
        if key is None:
            first = (list(compare) + list(success))[0]
            raw = first.get('key') or list(first.values())[0]['key']
            key = _unb64(raw)
        result = self._post('kv/txn', {'compare': list(compare),
                                       'success': list(success),
                                       'failure': list(failure)}, key)
        responses = []
        for resp in result.get('responses') or []:
            rng = resp.get('response_range')
            if rng is not None:
                responses.append([_kv(r) for r in rng.get('kvs') or []])
            else:
                responses.append(resp)
        return bool(result.get('succeeded')), responses

    def compact(self, revision):
        """Drop the history before *revision* (what etcd's auto-compaction
        does; watchers that lag behind it must re-read)."""
        self._post('kv/compaction', {'revision': revision, 'physical': True},
                   '(compaction)')

    # Leases ------------------------------------------------------------

    def grant_lease(self, ttl):
        result = self._post('lease/grant', {'TTL': int(ttl)}, '(lease)')
        return int(result['ID'])

    def refresh_lease(self, lease_id):
        """Keep *lease_id* alive; its remaining TTL, or -1 if it expired."""
        result = self._post('lease/keepalive', {'ID': lease_id}, '(lease)')
        return int(result.get('result', {}).get('TTL', -1))

    def revoke_lease(self, lease_id):
        self._post('lease/revoke', {'ID': lease_id}, '(lease)')

    # Watches -----------------------------------------------------------

    def watch(self, prefix, start_revision, prev_kv=False, timeout=None):
        """Yield the Events under *prefix* from *start_revision* on.

        Runs until the caller stops iterating or, when *timeout* is given,
        until that many seconds pass without an event.

        :raises WatchCompacted: *start_revision* is no longer in history.
        :raises EtcdUnavailable: the stream could not start or broke.
        """
        create = {'key': _b64(prefix), 'range_end': _range_end(prefix),
                  'start_revision': start_revision}
        if prev_kv:
            create['prev_kv'] = True
        resp = self._stream({'create_request': create}, prefix, timeout)
        try:
            yield from self._events(resp.iter_lines(chunk_size=None),
                                    prefix, timeout)
        finally:
            resp.close()

    @contextlib.contextmanager
    def watching(self, key, timeout):
        """Watch *key* from now on, for a caller about to read it.

        Yields an iterator of the key's Events that ends after *timeout*
        seconds without one. The watch is registered before the block
        runs, so nothing written after a read inside it is missed; and it
        is a current watch, which etcd serves at once (one that starts at a
        past revision waits for etcd's 100 ms catch-up loop).
        """
        create = {'key': _b64(key)}
        resp = self._stream({'create_request': create}, key, timeout)
        lines = resp.iter_lines(chunk_size=None)
        try:
            for _ in self._events(lines, key, timeout, until_created=True):
                pass
            yield self._events(lines, key, timeout)
        finally:
            resp.close()

    def _events(self, lines, key, timeout, until_created=False):
        """Events of a watch stream; errors become EtcdErrors."""
        try:
            for line in lines:
                if not line.strip():
                    continue
                chunk = json.loads(line)
                if 'error' in chunk:
                    raise exceptions.EtcdError(self.endpoint, key,
                                               chunk['error'])
                result = chunk.get('result', {})
                if int(result.get('compact_revision', 0)):
                    raise exceptions.WatchCompacted(
                        self.endpoint, key, int(result['compact_revision']))
                if result.get('canceled'):
                    raise exceptions.EtcdError(
                        self.endpoint, key, 'watch canceled: %s'
                        % result.get('cancel_reason', ''))
                if until_created and result.get('created'):
                    return
                for ev in result.get('events') or []:
                    yield Event(ev.get('type', PUT), _kv(ev['kv']),
                                _kv(ev.get('prev_kv')))
        except requests.exceptions.RequestException as exc:
            if timeout is not None and _read_timed_out(exc):
                return          # quiet for *timeout* seconds: the end
            raise exceptions.EtcdUnavailable(
                self.endpoint, key,
                'watch stream broke: %s' % exc.__class__.__name__)

"""How heat_esi.etcd turns transport failures into EtcdErrors.

The transport is tests.fakes.Gateway (requests.Session.post answering from
a script per member), so each rule is seen alone and in milliseconds.
tests/unit/test_etcd_client.py has the basic retry, cool-down and token
rules; this module has the rest of the mapping: what each failure becomes,
what the message names (and never: the password), which calls are safe to
repeat, and how watches fail over.
"""

import logging

import pytest
import requests
import urllib3

from heat_esi import etcd
from heat_esi import exceptions
from tests import fakes

A, B, C = ('http://10.0.0.1:2379', 'http://10.0.0.2:2379',
           'http://10.0.0.3:2379')
PASSWORD = 's3cret-pa55'
OK = {'header': {'revision': '7'}}


@pytest.fixture
def gateway(monkeypatch):
    return fakes.Gateway(monkeypatch)


def client(**kwargs):
    kwargs.setdefault('endpoints', [A, B, C])
    kwargs.setdefault('timeout', 2)
    return etcd.Etcd(**kwargs)


def authenticated(**kwargs):
    return client(username='heat', password=PASSWORD, **kwargs)


def token(value):
    return fakes.response(body={'header': {}, 'token': value})


def connect_timeout():
    return requests.exceptions.ConnectTimeout(urllib3.exceptions.MaxRetryError(
        None, '/', urllib3.exceptions.ConnectTimeoutError(
            None, 'Connection to 10.0.0.1 timed out')))


def unresolvable():
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None, '/', urllib3.exceptions.NameResolutionError(
                'etcd.invalid', None, OSError('Name or service not known'))))


def tls_refused():
    return requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='10.0.0.1', port=2379): Max retries "
        "exceeded (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
        "certificate (_ssl.c:1006)')))")


def lost_stream():
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError('Connection broken',
                                         ConnectionResetError(104)))


# --- what each failure becomes -----------------------------------------------

@pytest.mark.parametrize('failure, reason', [
    (connect_timeout, 'connect timed out'),
    (unresolvable, 'cannot connect'),
    (tls_refused, 'TLS handshake failed: certificate verify failed: '
                  'self-signed certificate'),
])
def test_a_write_that_never_left_moves_to_the_next_member(gateway, failure,
                                                          reason):
    gateway.on(A, failure()).on(B, fakes.response(body={
        'header': {'revision': '7'}, 'succeeded': True}))
    c = client()
    assert c.txn([etcd.absent('/k')], [etcd.put('/k', 'v')]) == (True, [])
    assert gateway.paths() == [(A, 'kv/txn'), (B, 'kv/txn')]
    # And the reason, when no member is left, says why each one failed.
    gateway.on(B, failure()).on(C, failure()).on(A, failure())
    with pytest.raises(exceptions.EtcdUnavailable) as caught:
        c.put('/k', 'v')
    assert str(caught.value).count(reason) == 3


@pytest.mark.parametrize('call, path', [
    (lambda c: c.put('/k', 'v'), 'kv/put'),
    (lambda c: c.delete('/k'), 'kv/deleterange'),
    (lambda c: c.delete_prefix('/k'), 'kv/deleterange'),
    (lambda c: c.compact(5), 'kv/compaction'),
    (lambda c: c.txn_each([([], [etcd.put('/k', 'v')], [])], '/k'),
     'kv/txn'),
])
def test_every_write_sent_without_answer_is_outcome_unknown(gateway, call,
                                                            path):
    gateway.on(A, fakes.read_timeout())
    with pytest.raises(exceptions.EtcdOutcomeUnknown) as caught:
        call(client())
    assert gateway.paths() == [(A, path)]
    assert caught.value.endpoint == A
    assert 'no answer within 2 s' in str(caught.value)


@pytest.mark.parametrize('call, path', [
    (lambda c: c.get_prefix('/k/'), 'kv/range'),
    (lambda c: c.revision(), 'kv/range'),
    (lambda c: c.revoke_lease(42), 'lease/revoke'),
    (lambda c: c.txn_each([([], [etcd.get('/k')], [])], '/k'), 'kv/txn'),
])
def test_every_read_and_lease_call_is_asked_again(gateway, call, path):
    gateway.on(A, fakes.read_timeout()).on(B, lost_stream()).on(
        C, fakes.response(body={'header': {'revision': '7'}, 'kvs': [],
                                'responses': [{'response_txn': {
                                    'succeeded': True}}]}))
    call(client())
    assert gateway.paths() == [(A, path), (B, path), (C, path)]


def test_errors_name_the_endpoint_and_the_key(gateway):
    gateway.on(A, fakes.read_timeout())
    with pytest.raises(exceptions.EtcdOutcomeUnknown) as caught:
        # The key named by default: the first one the transaction touches.
        client().txn([etcd.absent('/config/v2.0/ha_routers/r1')],
                     [etcd.put('/jobs/all/j1', 'v')])
    assert (caught.value.endpoint, caught.value.key) == (
        A, '/config/v2.0/ha_routers/r1')
    assert str(caught.value).startswith(
        'etcd at %s failed on key /config/v2.0/ha_routers/r1: ' % A)
    gateway.on(A, fakes.refused()).on(B, fakes.refused()).on(
        C, fakes.refused())
    with pytest.raises(exceptions.EtcdUnavailable) as caught:
        client().get('/state/v2.0/ha_routers/r1')
    assert str(caught.value).startswith(
        'etcd at %s, %s, %s is unreachable (key /state/v2.0/ha_routers/r1)'
        % (A, B, C))


def test_an_answer_that_is_not_json_is_quoted_and_not_retried(gateway):
    gateway.on(A, fakes.response(500, text='<html>' + 'x' * 500))
    with pytest.raises(exceptions.EtcdError) as caught:
        client().get('/k')
    assert type(caught.value) is exceptions.EtcdError
    assert '<html>' in str(caught.value)
    assert len(caught.value.detail) == 200
    assert len(gateway.calls) == 1


def test_permission_denied_names_the_user_and_is_not_retried(gateway):
    gateway.on(A, token('t1'), fakes.error(
        403, 7, 'etcdserver: permission denied'))
    with pytest.raises(exceptions.EtcdError) as caught:
        authenticated().put('/config/x', 'v')
    assert str(caught.value) == (
        'etcd at %s failed on key /config/x: etcdserver: permission denied '
        '(user heat)' % A)
    assert [path for _, path in gateway.paths()] == [
        'auth/authenticate', 'kv/put']


def test_a_value_that_is_not_text_or_not_json_names_its_key(gateway):
    gateway.on(A, fakes.response(body={'header': {'revision': '7'}, 'kvs': [
        {'key': etcd._b64('/state/x'), 'value': etcd._b64(b'\xc3('),
         'mod_revision': '3', 'create_revision': '3', 'version': '1'}]}))
    kv = client().get('/state/x')
    assert kv.value == b'\xc3('
    with pytest.raises(exceptions.MalformedValue) as caught:
        etcd.loads(kv.key, kv.value)
    assert str(caught.value) == ('malformed value at /state/x: not UTF-8 '
                                 'text (byte 0xc3 at offset 0)')
    with pytest.raises(exceptions.MalformedValue, match=r'^malformed value '
                       r'at /state/x: not JSON \(Expecting'):
        etcd.loads('/state/x', '{"a": 1')


# --- the password ------------------------------------------------------------

@pytest.mark.parametrize('answers', [
    # refused at once
    {A: [fakes.error(400, 3, 'etcdserver: authentication failed, invalid '
                             'user ID or password')]},
    # no member lets us authenticate
    {A: [fakes.refused()], B: [fakes.error(503, 14, 'no leader')],
     C: [fakes.read_timeout()]},
    # the new token is refused too
    {A: [token('t1'), fakes.error(401, 16, 'etcdserver: invalid auth token'),
         token('t2'), fakes.error(401, 16, 'etcdserver: invalid auth token')]},
    # denied
    {A: [token('t1'), fakes.error(403, 7, 'etcdserver: permission denied')]},
    # the write's fate is unknown
    {A: [token('t1'), fakes.read_timeout()]},
], ids=['wrong password', 'unreachable', 'token refused', 'denied',
        'unknown'])
def test_the_password_is_in_no_error_and_no_log(gateway, caplog, answers):
    caplog.set_level(logging.DEBUG)
    for endpoint, queued in answers.items():
        gateway.on(endpoint, *queued)
    with pytest.raises(exceptions.EtcdError) as caught:
        authenticated().put('/k', 'v')
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value.__dict__)
    assert PASSWORD not in caplog.text
    # It was sent, to authenticate only.
    assert {call.path for call in gateway.calls
            if PASSWORD in str((call.body, call.headers))} == {
        'auth/authenticate'}


# --- authentication ----------------------------------------------------------

def test_authentication_moves_on_when_a_member_cannot_answer_it(gateway):
    gateway.on(A, fakes.refused()).on(
        B, fakes.error(503, 14, 'etcdserver: no leader')).on(
        C, token('t1'), fakes.response())
    authenticated().put('/k', 'v')
    assert gateway.paths() == [(A, 'auth/authenticate'),
                               (B, 'auth/authenticate'),
                               (C, 'auth/authenticate'), (C, 'kv/put')]
    assert gateway.calls[-1].headers == {'Authorization': 't1'}


def test_an_etcd_without_authentication_is_used_without_a_token(gateway):
    gateway.on(A, fakes.error(400, 9, 'etcdserver: authentication is not '
                                      'enabled'),
               fakes.response(), fakes.response())
    c = authenticated()
    c.put('/k', 'v')
    c.put('/k', 'w')
    # Asked once; then no Authorization header at all.
    assert [call.path for call in gateway.calls] == [
        'auth/authenticate', 'kv/put', 'kv/put']
    assert gateway.calls[1].headers == gateway.calls[2].headers == {}


def test_a_watch_refused_as_permission_denied_authenticates_again(gateway):
    created = {'result': {'header': {'revision': '7'}, 'created': True}}
    canceled = {'result': {'header': {'revision': '7'}, 'created': True,
                           'canceled': True,
                           'cancel_reason': 'rpc error: code = '
                                            'PermissionDenied desc = '
                                            'etcdserver: permission denied'}}
    gateway.on(A, token('t1'), fakes.stream(canceled), token('t2'),
               fakes.stream(created))
    with authenticated().watching('/state/x', 0.1) as events:
        assert list(events) == []
    assert [(call.path, call.headers.get('Authorization'))
            for call in gateway.calls] == [
        ('auth/authenticate', None), ('watch', 't1'),
        ('auth/authenticate', None), ('watch', 't2')]


# --- failover ----------------------------------------------------------------

@pytest.fixture
def failovers(monkeypatch):
    seen = []
    monkeypatch.setattr(etcd, '_failover_callbacks', [
        lambda old, new: seen.append((old, new))])
    return seen


def test_a_failover_is_reported_once_and_sticks(gateway, failovers):
    gateway.on(A, fakes.refused()).on(B, fakes.response(), fakes.response())
    c = client()
    c.put('/k', 'v')
    c.put('/k', 'w')
    assert failovers == [(A, B)]
    assert gateway.paths() == [(A, 'kv/put'), (B, 'kv/put'), (B, 'kv/put')]


def test_members_cooling_down_are_tried_when_none_is_left(gateway):
    gateway.on(A, fakes.refused(), fakes.response(body={
        'header': {'revision': '7'}}))
    gateway.on(B, fakes.response(), fakes.refused())
    gateway.on(C, fakes.refused())
    c = client(endpoint_cooldown=600)
    c.put('/k', 'v')             # A refused: on B, A cooling down
    assert c.get('/k') is None   # B, C refused: A, cooling down, is tried
    assert gateway.paths()[2:] == [(B, 'kv/range'), (C, 'kv/range'),
                                   (A, 'kv/range')]
    assert c.endpoint == A


def test_a_watch_resumes_on_the_next_member_after_the_last_event(gateway):
    def event(key, revision):
        return {'type': 'PUT', 'kv': {
            'key': etcd._b64(key), 'value': etcd._b64('v'),
            'create_revision': str(revision), 'mod_revision': str(revision),
            'version': '1'}}
    created = {'result': {'header': {'revision': '10'}, 'created': True}}
    gateway.on(A, fakes.stream(
        created, {'result': {'header': {'revision': '11'},
                             'events': [event('/jobs/all/a', 11)]}},
        then=lost_stream()))
    gateway.on(B, fakes.stream(
        created, {'result': {'header': {'revision': '12'},
                             'events': [event('/jobs/all/b', 12)]}},
        {'error': {'grpc_code': 14, 'message': 'no leader'}}))
    # etcd confirms the watch, then cancels it: history is compacted.
    gateway.on(C, fakes.stream(
        created, {'result': {'canceled': True, 'compact_revision': '12'}}))
    seen = []
    with pytest.raises(exceptions.WatchCompacted) as caught:
        for ev in client().watch('/jobs/', 5):
            seen.append((ev.kv.key, ev.kv.mod_revision))
    assert seen == [('/jobs/all/a', 11), ('/jobs/all/b', 12)]
    starts = [call.body['create_request']['start_revision']
              for call in gateway.calls]
    assert starts == [5, 12, 13]
    assert caught.value.compact_revision == 12
    assert caught.value.endpoint == C


def test_a_watch_no_member_can_serve_is_unavailable(gateway):
    gateway.on(A, fakes.refused()).on(B, fakes.stream(
        {'result': {'created': True, 'canceled': True,
                    'cancel_reason': 'etcdserver: no leader'}})).on(
        C, fakes.error(503, 14, 'etcdserver: no leader'))
    with pytest.raises(exceptions.EtcdUnavailable) as caught:
        next(client().watch('/jobs/', 5))
    message = str(caught.value)
    assert '%s: connection refused' % A in message
    assert '%s: etcdserver: no leader' % B in message
    assert '%s: etcdserver: no leader' % C in message

"""The retry and failover rules of heat_esi.etcd, one request at a time.

requests.Session.post is replaced by a script of answers per endpoint, so
that each rule can be seen alone; the real behaviour against etcd
members is in tests/integration/test_etcd_*.
"""

import pytest
import requests
import urllib3

from heat_esi import etcd
from heat_esi import exceptions
from tests import fakes

A, B, C = 'http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'


def reset():
    """A connection reset after the request went out."""
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError('Connection aborted.',
                                         ConnectionResetError(104)))


class Script(object):
    """Answers to requests.Session.post, in order; records every call."""

    def __init__(self, monkeypatch, *steps):
        self.steps = list(steps)
        self.calls = []
        script = self

        def post(session, url, json=None, headers=None, timeout=None,
                 **kwargs):
            script.calls.append((url, json, dict(headers or {})))
            step = script.steps.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        monkeypatch.setattr(requests.Session, 'post', post)

    def urls(self):
        return [url for url, _, _ in self.calls]


def client(**kwargs):
    kwargs.setdefault('endpoints', [A, B, C])
    return etcd.Etcd(**kwargs)


def test_a_refused_write_moves_to_the_next_member(monkeypatch):
    script = Script(monkeypatch, fakes.refused(), fakes.response())
    c = client()
    c.put('/k', 'v')
    assert script.urls() == [A + '/v3/kv/put', B + '/v3/kv/put']
    assert c.endpoint == B      # and stays there


@pytest.mark.parametrize('failure', [
    fakes.read_timeout, reset, lambda: fakes.error(503, 14, 'no leader')])
def test_an_unanswered_write_is_not_repeated(monkeypatch, failure):
    script = Script(monkeypatch, failure())
    with pytest.raises(exceptions.EtcdOutcomeUnknown) as caught:
        client().txn([etcd.absent('/k')], [etcd.put('/k', 'v')])
    assert len(script.calls) == 1
    assert 'may or may not have been applied' in str(caught.value)
    assert isinstance(caught.value, exceptions.EtcdError)


@pytest.mark.parametrize('failure', [fakes.read_timeout, reset,
                                     lambda: fakes.error(503, 14, 'no leader'),
                                     lambda: fakes.error(504, 4, 'timed out')])
def test_an_unanswered_read_is_asked_of_the_next_member(monkeypatch,
                                                        failure):
    script = Script(monkeypatch, failure(), fakes.response(body={
        'header': {'revision': '9'}, 'kvs': []}))
    assert client().get('/k') is None
    assert script.urls() == [A + '/v3/kv/range', B + '/v3/kv/range']


def test_a_transaction_that_only_reads_is_retried(monkeypatch):
    script = Script(monkeypatch, fakes.read_timeout(), fakes.response(body={
        'header': {'revision': '9'}, 'succeeded': True, 'responses': []}))
    client().txn([], [etcd.get('/a'), etcd.get_prefix('/b/')], key='/a')
    assert len(script.calls) == 2


def test_lease_calls_are_retried(monkeypatch):
    Script(monkeypatch, fakes.read_timeout(),
           fakes.response(body={'result': {'TTL': '7'}}), reset(),
           fakes.response(body={'ID': '42', 'TTL': '5'}))
    c = client()
    assert c.refresh_lease(42) == 7
    assert c.grant_lease(5) == 42


def test_every_member_down_names_each_one(monkeypatch):
    Script(monkeypatch, fakes.refused(), fakes.read_timeout(), fakes.refused())
    with pytest.raises(exceptions.EtcdUnavailable) as caught:
        client(timeout=2).get('/k')
    message = str(caught.value)
    assert '%s: connection refused' % A in message
    assert '%s: no answer within 2 s' % B in message
    assert '%s: connection refused' % C in message


def test_a_failed_member_is_passed_over_during_its_cooldown(monkeypatch):
    script = Script(monkeypatch, fakes.refused(), fakes.response(),
                    fakes.error(503, 14, 'x'), fakes.response())
    c = client(endpoint_cooldown=60)
    c.put('/k', 'v')             # A fails: now on B
    c.get('/k')                  # B fails: C, not A (cooling down)
    assert script.urls()[-1].startswith(C)


def test_other_errors_are_not_retried(monkeypatch):
    Script(monkeypatch, fakes.error(400, 3, 'etcdserver: too many operations'))
    with pytest.raises(exceptions.EtcdError) as caught:
        client().get('/k')
    assert 'too many operations' in str(caught.value)
    assert not isinstance(caught.value, exceptions.EtcdUnavailable)


# --- authentication ---------------------------------------------------------

def token(value):
    return fakes.response(body={'header': {}, 'token': value})


@pytest.mark.parametrize('rejection', [
    (401, 16, 'etcdserver: invalid auth token'),
    (400, 3, 'etcdserver: user name is empty'),
    (400, 3, 'etcdserver: revision of auth store is old'),
    (400, None, 'etcdserver: invalid auth token')])
def test_a_rejected_token_is_renewed_once_and_the_request_retried(
        monkeypatch, rejection):
    script = Script(monkeypatch, token('t1'), fakes.error(*rejection),
                    token('t2'), fakes.response())
    c = client(username='heat', password='s3cret')
    c.put('/k', 'v')
    (auth1, body1, headers1), (put1, _, headers2), \
        (auth2, _, headers3), (put2, _, headers4) = script.calls
    assert auth1.endswith('/v3/auth/authenticate')
    assert body1 == {'name': 'heat', 'password': 's3cret'}
    # No Authorization header on authenticate itself.
    assert 'Authorization' not in headers1
    assert 'Authorization' not in headers3
    assert headers2['Authorization'] == 't1'
    assert headers4['Authorization'] == 't2'


def test_a_token_rejected_again_is_an_error(monkeypatch):
    Script(monkeypatch, token('t1'),
           fakes.error(401, 16, 'etcdserver: invalid auth token'), token('t2'),
           fakes.error(401, 16, 'etcdserver: invalid auth token'))
    with pytest.raises(exceptions.EtcdError):
        client(username='heat', password='s3cret').get('/k')


def test_a_wrong_password_fails_at_once_naming_user_and_member(
        monkeypatch):
    script = Script(monkeypatch, fakes.error(
        400, 3, 'etcdserver: authentication failed, invalid user ID or '
                'password'))
    with pytest.raises(exceptions.EtcdAuthFailed) as caught:
        client(username='heat', password='s3cret').get('/k')
    message = str(caught.value)
    assert 'authentication failed for user heat at %s' % A in message
    assert 's3cret' not in message
    assert len(script.calls) == 1


def test_auth_required_without_credentials_says_what_to_set(monkeypatch):
    Script(monkeypatch, fakes.error(400, 3, 'etcdserver: user name is empty'))
    with pytest.raises(exceptions.EtcdError) as caught:
        client().get('/k')
    assert '[esi_etcd] username and password' in str(caught.value)


def test_watches_carry_the_token_and_hasleader(monkeypatch):
    created = fakes.response(body={
        'result': {'header': {'revision': '3'}, 'created': True}})
    script = Script(monkeypatch, token('t1'), created)

    def lines(resp, **kwargs):
        yield resp._content
        raise fakes.read_timeout()    # then quiet: the short watch ends
    monkeypatch.setattr(requests.Response, 'iter_lines', lines)
    monkeypatch.setattr(requests.Response, 'close', lambda resp: None)
    c = client(username='heat', password='s3cret')
    with c.watching('/state/x', 0.5) as events:
        assert list(events) == []
    _, body, headers = script.calls[1]
    assert headers == {'Authorization': 't1',
                       'Grpc-Metadata-hasleader': 'true'}


# --- configuration ----------------------------------------------------------

@pytest.mark.parametrize('given, missing', [
    ({'cert_file': __file__}, 'key_file'),
    ({'key_file': __file__}, 'cert_file')])
def test_half_a_certificate_pair_is_an_error(given, missing):
    with pytest.raises(exceptions.EtcdConfigError) as caught:
        client(**given)
    assert missing in str(caught.value)


def test_an_unreadable_ca_file_is_an_error():
    with pytest.raises(exceptions.EtcdConfigError) as caught:
        client(ca_file='/nonexistent/ca.pem')
    assert 'ca_file /nonexistent/ca.pem' in str(caught.value)


def test_https_without_ca_file_verifies_with_the_system_store():
    c = client(endpoints=['https://127.0.0.1:2379'])
    assert c._verify not in (False, None)


def test_a_bad_endpoint_url_is_an_error():
    with pytest.raises(exceptions.EtcdConfigError) as caught:
        client(endpoints=['127.0.0.1:2379'])
    assert '127.0.0.1:2379' in str(caught.value)

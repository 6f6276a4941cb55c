"""heat-engine's shared /state watch (heat_esi.state_watch) on a fake etcd."""

import threading
import time

import pytest

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import state_watch
from tests import esi_fixtures
from tests import fakes

KEY = keys.state('ha_router', 'r1')
OTHER = keys.state('ha_router', 'r2')


def _enough(version):
    return lambda state: state is not None and state['version'] >= version


@pytest.fixture
def store():
    store = fakes.FakeEtcd()
    yield store
    store.close()


def _gets(store, key):
    return [r for r in store.requests if r == ('get', key)]


def _watches(store):
    return [r for r in store.requests if r == ('watch', keys.STATE)]


def _until(predicate):
    esi_fixtures.wait_until(predicate, timeout=5, interval=0.005)


def test_an_answer_expected_before_the_write_needs_no_read(store):
    watch = state_watch.of(store)
    watch.expect(KEY)
    store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
    state = watch.wait(KEY, _enough(1), 5)
    assert state['worker_state'] == 'CREATE_COMPLETED'
    assert not _gets(store, KEY)


def test_one_stream_for_every_key(store):
    watch = state_watch.of(store)
    others = [keys.state('ha_router', 'r%d' % i) for i in range(20)]
    for key in others:
        watch.expect(key)
    for i, key in enumerate(others):
        store.put(key, records.state('CREATE_COMPLETED', i + 1, {}))
    for i, key in enumerate(others):
        assert watch.wait(key, _enough(i + 1), 5)['version'] == i + 1
    assert state_watch.of(store) is watch
    assert [r for r in store.requests if r[0] in ('watch', 'watching')] \
        == [('watch', keys.STATE)]


def test_a_check_with_nothing_expected_reads_once(store):
    store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
    watch = state_watch.of(store)
    assert watch.wait(KEY, _enough(1), 5)['version'] == 1
    assert len(_gets(store, KEY)) == 1


def test_an_answer_during_the_wait_ends_it(store):
    watch = state_watch.of(store)
    watch.expect(KEY)

    def worker():
        deadline = time.monotonic() + 5
        while not watch.waiting and time.monotonic() < deadline:
            time.sleep(0.005)
        store.put(KEY, records.state('CREATE_COMPLETED', 2, {}))
    thread = threading.Thread(target=worker)
    thread.start()
    try:
        started = time.monotonic()
        assert watch.wait(KEY, _enough(2), 5)['version'] == 2
        assert time.monotonic() - started < 4
    finally:
        thread.join(5)


def test_no_answer_returns_what_is_there_after_the_timeout(store):
    store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
    watch = state_watch.of(store)
    started = time.monotonic()
    assert watch.wait(KEY, _enough(2), 0.2)['version'] == 1
    assert time.monotonic() - started >= 0.2


def test_a_malformed_state_names_its_key(store):
    watch = state_watch.of(store)
    watch.expect(KEY)
    store.put(KEY, 'not json')
    with pytest.raises(exceptions.MalformedValue) as caught:
        watch.wait(KEY, _enough(1), 5)
    assert KEY in str(caught.value)


def test_a_lost_stream_makes_the_checks_read_again(store):
    watch = state_watch.of(store)
    watch.expect(KEY)
    store.close()
    # The stream ends with the store: what was expected is forgotten, and
    # the next check reads (here, fails to: etcd is gone).
    _until(lambda: watch._stream is None)
    with pytest.raises(exceptions.EtcdError):
        watch.wait(KEY, _enough(1), 0.1)


def test_done_forgets_the_key(store):
    watch = state_watch.of(store)
    watch.expect(KEY)
    watch.done(KEY)
    store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
    assert watch.wait(KEY, _enough(1), 5)['version'] == 1
    assert len(_gets(store, KEY)) == 1


def test_the_revision_is_read_through_state(store):
    # heat-engine's etcd role may read /state, not the whole key space.
    state_watch.of(store).expect(KEY)
    assert ('revision', keys.STATE) in store.requests
    assert ('revision', '(revision)') not in store.requests


def test_a_stream_refused_for_its_token_is_opened_again(store):
    # What etcd.watch raises when etcd refuses the stream's token even
    # after a new one: the stream ends, the waiters read once, and the
    # next check opens it again.
    watch = state_watch.of(store)
    store.fail(exceptions.EtcdError(store.endpoint, keys.STATE,
                                    'etcdserver: invalid auth token'),
               only={'watch'})
    watch.expect(KEY)
    _until(lambda: watch._stream is None)
    store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
    assert watch.wait(KEY, _enough(1), 5)['version'] == 1
    assert len(_gets(store, KEY)) == 1
    # Opened again (after a short back-off), the stream serves: the next
    # answer needs no read.
    _until(lambda: watch.expect(OTHER) or watch.opened == 2)
    _until(lambda: len(_watches(store)) == 2)
    store.put(OTHER, records.state('CREATE_COMPLETED', 1, {}))
    assert watch.wait(OTHER, _enough(1), 5)['version'] == 1
    assert not _gets(store, OTHER)


def test_a_new_token_opens_the_stream_again(store):
    watch = state_watch.of(store)
    watch.expect(KEY)
    _until(lambda: _watches(store))
    store.authentications += 1      # the client authenticated again
    store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
    assert watch.wait(KEY, _enough(1), 5)['version'] == 1
    assert watch.opened == 2
    # Its waiter read /state once rather than trust the old stream.
    assert len(_gets(store, KEY)) == 1
    _until(lambda: len(_watches(store)) == 2)


def test_a_new_client_gets_a_new_stream_and_the_waiters_read(store):
    old = state_watch.of(store)
    old.expect(KEY)
    _until(lambda: _watches(store))
    other = fakes.FakeEtcd()
    try:
        other.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
        watch = state_watch.of(other)
        assert watch is not old and watch.client is other
        assert watch.wait(KEY, _enough(1), 5)['version'] == 1
        assert len(_gets(other, KEY)) == 1
        assert _watches(other)
        # The old one serves no more: a check still holding it reads.
        store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
        assert old.wait(KEY, _enough(1), 5)['version'] == 1
        assert len(_gets(store, KEY)) == 1
    finally:
        other.close()


class _SilentEtcd(fakes.FakeEtcd):
    """A fake whose watch streams open, then say nothing until closed."""

    def watch(self, prefix, start_revision, prev_kv=False, timeout=None,
              progress=False):
        with self._cond:
            self._failure('watch', prefix, False)
            while not self._closed:
                self._cond.wait()
        raise exceptions.EtcdUnavailable(self.endpoint, prefix, 'closed')
        yield


def test_a_silent_stream_costs_a_read_not_a_hang(monkeypatch):
    monkeypatch.setattr(lifecycle, 'CHECK_WAIT', 0.2)
    store = _SilentEtcd()
    try:
        watch = state_watch.of(store)
        watch.expect(KEY)
        store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
        started = time.monotonic()
        # The stream never delivers it: the waiter reads once CHECK_WAIT
        # passed since it registered, well within its own timeout.
        assert watch.wait(KEY, _enough(1), 5)['version'] == 1
        assert 0.1 < time.monotonic() - started < 2
        assert len(_gets(store, KEY)) == 1
    finally:
        store.close()


def test_a_silent_stream_is_read_at_each_check_wait(monkeypatch):
    monkeypatch.setattr(lifecycle, 'CHECK_WAIT', 0.1)
    store = _SilentEtcd()
    try:
        watch = state_watch.of(store)
        watch.expect(KEY)
        # No answer: a check of 0.35 s reads about every CHECK_WAIT, and
        # returns what is there at its end.
        assert watch.wait(KEY, _enough(1), 0.35) is None
        assert 2 <= len(_gets(store, KEY)) <= 4
    finally:
        store.close()


# --- what it uses of heat_esi.etcd, on a scripted gateway --------------------

A = 'http://10.0.0.1:2379'


@pytest.fixture
def gateway(monkeypatch):
    return fakes.Gateway(monkeypatch)


def _authenticated():
    return etcd.Etcd(endpoints=[A], timeout=2, username='heat',
                     password='s3cret-pa55')


def _token(value):
    return fakes.response(body={'header': {}, 'token': value})


def _put(key, revision):
    return {'type': 'PUT', 'kv': {
        'key': etcd._b64(key), 'value': etcd._b64('v'),
        'create_revision': str(revision), 'mod_revision': str(revision),
        'version': '1'}}


CREATED = {'result': {'header': {'revision': '10'}, 'created': True}}


def test_the_revision_is_read_through_the_key_given(gateway):
    gateway.on(A, fakes.response(body={'header': {'revision': '7'}}))
    assert etcd.Etcd(endpoints=[A]).revision(keys.STATE) == 7
    assert gateway.calls[0].body == {'key': etcd._b64(keys.STATE)}


def test_a_stream_whose_token_etcd_refuses_is_opened_again(gateway):
    # The open stream ends with etcd refusing its token: it is opened
    # again from the revision after the last event, with a new token when
    # etcd refuses the old one then too.
    refused = {'result': {'header': {'revision': '11'}, 'created': True,
                          'canceled': True,
                          'cancel_reason': 'etcdserver: permission denied'}}
    gateway.on(A, _token('t1'), fakes.stream(
        CREATED, {'result': {'header': {'revision': '11'},
                             'events': [_put('/state/a', 11)]}},
        {'error': {'grpc_code': 16,
                   'message': 'etcdserver: invalid auth token'}}),
        fakes.stream(refused), _token('t2'), fakes.stream(
            CREATED, {'result': {'header': {'revision': '12'},
                                 'events': [_put('/state/b', 12)]}}))
    client = _authenticated()
    seen = []
    for event in client.watch(keys.STATE, 5):
        seen.append((event.kv.key, event.kv.mod_revision))
        if len(seen) == 2:
            break
    assert seen == [('/state/a', 11), ('/state/b', 12)]
    assert [(call.path, call.headers.get('Authorization'),
             (call.body or {}).get('create_request', {}).get(
                 'start_revision')) for call in gateway.calls] == [
        ('auth/authenticate', None, None), ('watch', 't1', 5),
        ('watch', 't1', 12), ('auth/authenticate', None, None),
        ('watch', 't2', 12)]
    assert client.authentications == 2


def test_progress_notifications_are_yielded_when_asked(gateway):
    progress = {'result': {'header': {'revision': '11'}}}
    gateway.on(A, fakes.stream(
        CREATED, progress, {'result': {'header': {'revision': '12'},
                                       'events': [_put('/state/a', 12)]}}))
    events = etcd.Etcd(endpoints=[A]).watch(keys.STATE, 5, progress=True)
    types = [next(events).type, next(events).type]
    assert types == [etcd.PROGRESS, etcd.PUT]
    events.close()

"""heat-engine's shared /state watch (heat_esi.state_watch) on a fake etcd."""

import threading
import time

import pytest

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import state_watch
from tests import fakes

KEY = keys.state('ha_router', 'r1')


def _enough(version):
    return lambda state: state is not None and state['version'] >= version


@pytest.fixture
def store():
    store = fakes.FakeEtcd()
    yield store
    store.close()


def _gets(store, key):
    return [r for r in store.requests if r == ('get', key)]


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
    deadline = time.monotonic() + 5
    while watch._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watch._thread is None
    with pytest.raises(exceptions.EtcdError):
        watch.wait(KEY, _enough(1), 0.1)


def test_done_forgets_the_key(store):
    watch = state_watch.of(store)
    watch.expect(KEY)
    watch.done(KEY)
    store.put(KEY, records.state('CREATE_COMPLETED', 1, {}))
    assert watch.wait(KEY, _enough(1), 5)['version'] == 1
    assert len(_gets(store, KEY)) == 1

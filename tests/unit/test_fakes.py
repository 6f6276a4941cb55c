"""What tests.fakes.FakeEtcd adds to etcd's semantics: failures on demand.

That the fake otherwise answers as etcd does is checked against a real
server in tests/integration/test_fake_etcd.py.
"""

import threading

import pytest

from heat_esi import etcd
from heat_esi import exceptions
from tests import fakes


@pytest.fixture
def store():
    store = fakes.FakeEtcd()
    yield store
    store.close()


def claim(key='/k'):
    return [etcd.absent(key)], [etcd.put(key, 'mine')]


def test_unavailable_for_the_next_calls_then_back(store):
    store.fail(fakes.UNAVAILABLE, count=2)
    for _ in range(2):
        with pytest.raises(exceptions.EtcdUnavailable) as caught:
            store.get('/k')
        assert '/k' in str(caught.value)
    assert store.get('/k') is None


def test_failures_can_target_one_method(store):
    store.fail(fakes.UNAVAILABLE, only=['txn'])
    store.put('/k', 'v')
    assert store.get('/k').value == 'v'
    with pytest.raises(exceptions.EtcdUnavailable):
        store.txn(*claim('/other'))
    assert store.txn(*claim('/other'))[0]


def test_an_unknown_outcome_spares_reads_as_the_real_client_does(store):
    store.fail(fakes.OUTCOME_UNKNOWN)
    assert store.txn([], [etcd.get('/k')], key='/k') == (True, [[]])
    with pytest.raises(exceptions.EtcdOutcomeUnknown):
        store.txn(*claim())


@pytest.mark.parametrize('landed', [True, False])
def test_an_unknown_outcome_landed_or_not(store, landed):
    store.fail(fakes.OUTCOME_UNKNOWN, landed=landed)
    revision = store.revision()
    with pytest.raises(exceptions.EtcdOutcomeUnknown):
        store.txn(*claim())
    assert (store.get('/k') is not None) is landed
    assert store.revision() == revision + (1 if landed else 0)


def test_a_write_that_lands_late_is_judged_when_it_lands(store):
    store.fail(fakes.OUTCOME_UNKNOWN, landed=fakes.LATER)
    with pytest.raises(exceptions.EtcdOutcomeUnknown):
        store.txn(*claim())
    assert store.get('/k') is None
    assert store.deliver_late() == [(True, [{'response_put': {}}])]
    assert store.get('/k').value == 'mine'
    # A late copy is compared when it arrives, not when it was sent.
    store.fail(fakes.OUTCOME_UNKNOWN, landed=fakes.LATER)
    with pytest.raises(exceptions.EtcdOutcomeUnknown):
        store.txn([etcd.value_is('/k', 'mine')], [etcd.put('/k', 'late')])
    store.put('/k', 'taken over')
    assert store.deliver_late() == [(False, [])]
    assert store.get('/k').value == 'taken over'


def test_an_expired_lease_takes_its_keys(store):
    lease = store.grant_lease(5)
    store.put('/w/mine', 'x', lease=lease)
    store.put('/w/kept', 'y')
    start = store.revision() + 1
    store.expire(lease)
    assert store.dump('/w/') == {'/w/kept': 'y'}
    assert store.refresh_lease(lease) == -1
    assert lease not in store.leases()
    assert [(e.type, e.kv.key) for e in store.watch('/w/', start,
                                                    timeout=0)] == [
        (etcd.DELETE, '/w/mine')]


def test_close_ends_an_open_watch(store):
    events = store.watch('/w/', store.revision() + 1)
    ended = threading.Event()
    failures = []

    def follow():
        try:
            for event in events:
                failures.append(event)
        except exceptions.EtcdUnavailable as exc:
            failures.append(exc)
        ended.set()
    thread = threading.Thread(target=follow)
    thread.start()
    store.put('/w/a', '1')
    store.close()
    assert ended.wait(5)
    thread.join(5)
    assert [type(f) for f in failures] == [
        etcd.Event, exceptions.EtcdUnavailable]
    with pytest.raises(exceptions.EtcdUnavailable):
        store.get('/w/a')


def test_a_short_watch_ends_after_max_watch_wait():
    store = fakes.FakeEtcd(max_watch_wait=0.01)
    with store.watching('/state/x', 60) as events:
        assert list(events) == []

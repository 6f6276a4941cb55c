"""The list-then-watch reader (heat_esi.worker.intake) on a fake etcd.

It is what the job intake and the monitor's poll requests both read with.
Tests wait on events the callbacks set, with a deadline.
"""

import threading

import pytest

from heat_esi import etcd
from heat_esi import keys
from heat_esi.worker import claims
from heat_esi.worker import intake
from tests import fakes

WAIT = 5
PREFIX = '/things/'


class Reader(object):
    """A ListThenWatch over PREFIX whose callbacks record what they saw."""

    def __init__(self, store):
        self.store = store
        self.cond = threading.Condition()
        self.listed, self.events, self.restarts = [], [], []
        self.stop = threading.Event()
        self.reader = intake.ListThenWatch(
            store, PREFIX, self.read_all, self.on_event, self.stop,
            'thing watch', delay=(0.05, 0.1), on_restart=self.on_restart)
        self.thread = threading.Thread(target=self.reader.run,
                                       daemon=True)

    def read_all(self):
        kvs, revision = self.store.get_prefix(PREFIX)
        with self.cond:
            self.listed.append(sorted(kv.key for kv in kvs))
            self.cond.notify_all()
        return revision

    def on_event(self, event):
        with self.cond:
            self.events.append((event.type, event.kv.key))
            self.cond.notify_all()

    def on_restart(self, why):
        self.restarts.append(why)

    def wait(self, predicate):
        with self.cond:
            assert self.cond.wait_for(predicate, WAIT)


@pytest.fixture
def store():
    store = fakes.FakeEtcd()
    yield store
    store.close()


@pytest.fixture
def reader(store):
    reader = Reader(store)
    yield reader
    reader.stop.set()
    store.close()
    reader.thread.join(WAIT)
    assert not reader.thread.is_alive()


def test_what_is_there_is_listed_and_what_comes_later_is_watched(
        store, reader):
    store.put(PREFIX + 'a', '1')
    reader.thread.start()
    reader.wait(lambda: reader.listed == [[PREFIX + 'a']])
    store.put(PREFIX + 'b', '2')
    store.delete(PREFIX + 'a')
    reader.wait(lambda: len(reader.events) == 2)
    assert reader.events == [(etcd.PUT, PREFIX + 'b'),
                             (etcd.DELETE, PREFIX + 'a')]
    assert reader.reader.live


def test_a_failed_listing_is_tried_again(store, reader):
    store.fail(fakes.UNAVAILABLE, count=2, only=['get_prefix'])
    reader.thread.start()
    reader.wait(lambda: reader.listed)
    assert reader.restarts == ['error', 'error']
    assert reader.reader.live


def test_a_watch_behind_compaction_lists_again(store, reader):
    listing = reader.read_all

    def read_all_then_compact():
        revision = listing()
        if len(reader.listed) == 1:
            # Changes made and compacted away before the watch opens.
            store.put(PREFIX + 'b', '2')
            store.put(PREFIX + 'c', '3')
            store.compact(store.revision())
        return revision
    reader.reader.read_all = read_all_then_compact
    store.put(PREFIX + 'a', '1')
    reader.thread.start()
    reader.wait(lambda: len(reader.listed) == 2)
    assert reader.listed[1] == [PREFIX + k for k in 'abc']
    assert reader.restarts == ['compacted']


# --- the job intake ----------------------------------------------------------

def job_event(job_id, version, kind=etcd.PUT):
    kv = etcd.KV(keys.job(job_id), '["monitoring_worker", {}, 0]', 5,
                 5 + version, version, 0)
    return etcd.Event(kind, kv, None)


def test_a_claimed_job_is_no_candidate_unless_the_claim_may_be_ours(store):
    jobs = intake.JobIntake(store, lambda job_id: False)
    jobs.on_event(job_event('a', 1))
    jobs.on_event(job_event('b', 1))
    assert 'a' in jobs.candidates and 'b' in jobs.candidates
    # Claimed by another worker: dropped.
    jobs.on_event(job_event('a', 2))
    assert 'a' not in jobs.candidates
    # Our claim of b got no answer, and its read-back found nothing; the
    # claim landed later: b stays a candidate, for a slot to adopt it.
    claims._unresolved['b'] = 'claim-id'
    try:
        jobs.candidates.discard('b')
        jobs.on_event(job_event('b', 2))
        assert 'b' in jobs.candidates
    finally:
        claims._unresolved.pop('b', None)

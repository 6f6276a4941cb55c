"""tests.fakes.FakeEtcd answers as a real etcd does.

Each scenario runs against a real etcd server and against the fake, and
their transcripts must be equal: what the unit tier learns from the fake
holds for heat_esi.etcd.Etcd. Revisions are counted from the store's
revision at the start, and lease ids are named by their order.
"""

import pytest

from heat_esi import etcd
from heat_esi import exceptions
from tests import esi_fixtures
from tests import fakes

# A watch of these scenarios ends after this many seconds without an event.
# Its events are all there at once, but a loaded machine can pause the
# stream between two of them: a window under a second would cut it short.
QUIET = 2


class Transcript(object):
    """What a scenario saw.

    The numbers that differ between two stores are made relative: revisions
    to the first one read, lease ids to their order.
    """

    def __init__(self, client):
        self.client = client
        self.base = client.revision()
        self.leases = {}
        self.lines = []

    def lease(self, lease_id):
        return self.leases.setdefault(lease_id, 'lease%d' % len(self.leases))

    def kv(self, kv):
        if kv is None:
            return None
        return (kv.key, kv.value, self.rev(kv.create_revision),
                self.rev(kv.mod_revision), kv.version,
                self.lease(kv.lease) if kv.lease else 0)

    def rev(self, revision):
        return revision - self.base if revision else 0

    def result(self, found):
        """A txn's (ok, responses): ranges as KVs, others by their kind."""
        ok, responses = found
        return ok, [[self.kv(kv) for kv in r] if isinstance(r, list)
                    else sorted(r) for r in responses]

    def event(self, event):
        return (event.type, self.kv(event.kv), self.kv(event.prev_kv))

    def add(self, *line):
        self.lines.append(line)


def revisions_and_versions(c, t):
    c.put('/a', 'one')
    t.add('get', t.kv(c.get('/a')))
    c.put('/a', 'two')
    t.add('get', t.kv(c.get('/a')))
    t.add('delete', c.delete('/a'), c.delete('/a'))
    t.add('revision', t.rev(c.revision()))
    c.put('/a', 'three')
    t.add('get', t.kv(c.get('/a')), t.kv(c.get('/missing')))
    c.put('/p/x', {'json': [1]})
    c.put('/p/y', b'\xff\xfe')
    t.add('prefix', [t.kv(kv) for kv in c.get_prefix('/p/')[0]],
          t.rev(c.get_prefix('/p/')[1]))
    t.add('keys only', [t.kv(kv) for kv in c.get_prefix(
        '/p/', keys_only=True)[0]])


def compares(c, t):
    c.put('/c/k', 'v')
    kv = c.get('/c/k')
    for compare in ([etcd.absent('/c/k')], [etcd.absent('/c/none')],
                    [etcd.absent_prefix('/c/')],
                    [etcd.absent_prefix('/none/')],
                    [etcd.mod_revision_is('/c/k', kv.mod_revision)],
                    [etcd.mod_revision_is('/c/k', kv.mod_revision + 1)],
                    [etcd.mod_revision_is('/c/none', 0)],
                    [etcd.value_is('/c/k', 'v')],
                    [etcd.value_is('/c/k', 'w')],
                    [etcd.value_is('/c/none', '')],
                    [etcd.absent('/c/none'), etcd.value_is('/c/k', 'w')]):
        t.add('compare', t.result(c.txn(
            compare, [etcd.get('/c/k')], [etcd.get_prefix('/c/')],
            key='/c/k')))
    t.add('revision', t.rev(c.revision()))


def transactions(c, t):
    t.add('create', t.result(c.txn(
        [etcd.absent('/t/config')],
        [etcd.put('/t/config', {'v': 1}), etcd.put('/t/job', 'j'),
         etcd.delete('/t/nothing'), etcd.get('/t/config')],
        [etcd.get('/t/config')])))
    t.add('again', t.result(c.txn(
        [etcd.absent('/t/config')],
        [etcd.put('/t/config', {'v': 1})], [etcd.get('/t/config')])))
    t.add('revision', t.rev(c.revision()))
    for ops in ([etcd.put('/t/a', '1'), etcd.put('/t/a', '2')],
                [etcd.put('/t/a', '1'), etcd.delete('/t/a')]):
        with pytest.raises(exceptions.EtcdError) as caught:
            c.txn([], ops)
        t.add('duplicate', type(caught.value).__name__,
              'duplicate key' in str(caught.value))
    t.add('deletes twice', t.result(c.txn(
        [], [etcd.delete('/t/job'), etcd.delete('/t/job')])))
    t.add('each', [t.result(r) for r in c.txn_each([
        ([etcd.absent('/t/config')], [etcd.put('/t/b', 'x')], []),
        ([etcd.value_is('/t/config', '{"v": 1}')],
         [etcd.put('/t/c', 'y'), etcd.delete('/t/config')],
         [etcd.get('/t/config')]),
        ([], [etcd.get_prefix('/t/')], [])], key='/t/')])
    t.add('revision', t.rev(c.revision()))
    with pytest.raises(exceptions.EtcdError):
        c.txn_each([([], [etcd.put('/t/d', '1')], []),
                    ([], [etcd.put('/t/d', '2')], [])], key='/t/d')
    t.add('exclusive branches', [t.result(r) for r in c.txn_each([
        ([etcd.absent('/t/e')], [etcd.put('/t/e', '1')],
         [etcd.put('/t/e', '2')])], key='/t/e')])


def leases(c, t):
    lease = c.grant_lease(30)
    other = c.grant_lease(30)
    c.put('/l/a', 'a', lease=lease)
    c.put('/l/b', 'b', lease=lease)
    c.put('/l/c', 'c', lease=other)
    c.put('/l/b', 'b2')         # a put without the lease detaches it
    t.add('under lease', [t.kv(kv) for kv in c.get_prefix('/l/')[0]])
    t.add('refresh', c.refresh_lease(lease) > 0)
    start = c.revision() + 1
    c.revoke_lease(lease)
    t.add('revoked', [t.kv(kv) for kv in c.get_prefix('/l/')[0]],
          c.refresh_lease(lease))
    t.add('events', [t.event(e) for e in c.watch('/l/', start, prev_kv=True,
                                                 timeout=QUIET)])
    with pytest.raises(exceptions.EtcdError) as caught:
        c.put('/l/d', 'd', lease=lease)
    t.add('put under a revoked lease', type(caught.value).__name__)
    c.revoke_lease(other)


def watches(c, t):
    start = c.revision() + 1
    c.put('/w/a', '1')
    c.txn([], [etcd.put('/w/a', '2'), etcd.put('/w/b', '3'),
               etcd.put('/x/out', '4')])
    c.delete('/w/a')
    t.add('history', [t.event(e) for e in c.watch('/w/', start,
                                                  timeout=QUIET)])
    t.add('with prev', [t.event(e) for e in c.watch('/w/', start + 1,
                                                    prev_kv=True,
                                                    timeout=QUIET)])
    with c.watching('/w/b', QUIET) as events:
        c.put('/w/b', '5')
        c.put('/w/c', '6')
        c.delete('/w/b')
        t.add('watching', [t.event(e) for e in events])
    now = c.revision()
    c.put('/w/a', '7')
    c.compact(now + 1)
    with pytest.raises(exceptions.WatchCompacted):
        list(c.watch('/w/', now, timeout=QUIET))
    t.add('after compaction', [t.event(e) for e in c.watch(
        '/w/', now + 1, timeout=QUIET)])


SCENARIOS = [revisions_and_versions, compares, transactions, leases,
             watches]


@pytest.fixture(scope='module')
def real_etcd():
    """An etcd server of this module's own.

    The scenarios compact history, which must not be taken from the other
    tests' shared server.
    """
    server = esi_fixtures.EtcdServer().start()
    yield server
    server.cleanup()


@pytest.mark.parametrize('scenario', SCENARIOS,
                         ids=[s.__name__ for s in SCENARIOS])
def test_the_fake_answers_as_etcd_does(real_etcd, scenario):
    client = real_etcd.client()
    client.delete_prefix('/')
    transcripts = []
    for client in (client, fakes.FakeEtcd(max_watch_wait=0.5)):
        transcript = Transcript(client)
        scenario(client, transcript)
        transcripts.append(transcript.lines)
    real, fake = transcripts
    assert fake == real

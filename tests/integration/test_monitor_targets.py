"""The monitor's read of what it polls, on a real etcd (issue 23).

targets.completed reads a type's ids a page at a time (keys only), then
the resources the member owns, each one's /config, /state and /monitoring
in one transaction: 100,000 edge routers read at once took etcd longer
than the client's timeout.
"""

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi.worker import targets


def _write(client, count, state='CREATE_COMPLETED'):
    ops = []
    for i in range(count):
        rid = 'r-%04d' % i
        ops += [etcd.put(keys.config('edge_router', rid), records.config(
                    {'id': rid, 'ip': '192.0.2.1'}, 1)),
                etcd.put(keys.state('edge_router', rid),
                         records.state(state, 1))]
        if len(ops) >= 100:
            client.txn([], ops, key='/config/')
            ops = []
    if ops:
        client.txn([], ops, key='/config/')


def test_every_page_of_ids_is_read_then_owned_values(etcd_client,
                                                     monkeypatch):
    monkeypatch.setattr(targets, 'PAGE', 7)
    monkeypatch.setattr(targets, 'PER_TXN', 3)
    _write(etcd_client, 50)
    # Not monitored: a create not complete, and a marked (deleted) one.
    etcd_client.put(keys.state('edge_router', 'r-0003'),
                    records.state('CREATE_STARTED', 1))
    etcd_client.put(keys.config('edge_router', 'r-0004'), records.config(
        {'id': 'r-0004', 'ip': '192.0.2.1'}, 2, marked_for_deletion=True))
    etcd_client.put(keys.monitoring('edge_router', 'r-0005'),
                    {'router': 'UP', 'version': 1})
    asked = []

    def owns(rid):
        asked.append(rid)
        return rid.endswith(('0', '3', '4', '5'))
    found = {t['rid']: t for t in targets.completed(etcd_client,
                                                    'edge_router',
                                                    owns=owns)}
    # Each id was asked about once, across the 8 pages (the last short).
    assert sorted(asked) == ['r-%04d' % i for i in range(50)]
    assert sorted(found) == sorted(
        'r-%04d' % i for i in range(50)
        if i % 10 in (0, 3, 4, 5) and i not in (3, 4))
    assert found['r-0005']['current'] is not None
    assert found['r-0010']['current'] is None
    assert found['r-0010']['body'] == {'id': 'r-0010', 'ip': '192.0.2.1'}
    assert found['r-0010']['config_revision'] == etcd_client.get(
        keys.config('edge_router', 'r-0010')).mod_revision


def test_a_page_boundary_on_the_last_key_ends_the_read(etcd_client,
                                                       monkeypatch):
    monkeypatch.setattr(targets, 'PAGE', 5)
    _write(etcd_client, 10)
    assert len(list(targets.completed(etcd_client, 'edge_router'))) == 10


def test_pages_mostly_owned_are_read_whole_with_the_same_result(
        etcd_client, monkeypatch):
    monkeypatch.setattr(targets, 'PAGE', 10)
    _write(etcd_client, 30)
    etcd_client.put(keys.state('edge_router', 'r-0012'),
                    records.state('CREATE_STARTED', 1))
    etcd_client.put(keys.monitoring('edge_router', 'r-0013'),
                    {'router': 'DOWN', 'version': 1})
    # A stray key inside a page's span is no resource.
    etcd_client.put(keys.config('edge_router', 'r-0014') + '/x', 'stray')

    def owns(rid):
        return rid != 'r-0015'
    monkeypatch.setattr(targets, 'PER_TXN', 40)       # key by key
    by_key = list(targets.completed(etcd_client, 'edge_router', owns=owns))
    spans = []
    read_span = targets._read_span

    def counted(*args):
        spans.append(args[2:4])
        return read_span(*args)
    monkeypatch.setattr(targets, '_read_span', counted)
    monkeypatch.setattr(targets, 'PER_TXN', 2)        # pages whole
    whole = list(targets.completed(etcd_client, 'edge_router', owns=owns))
    # The stray key takes a place in its page; the last page, of one id,
    # is read key by key.
    assert spans == [('r-0000', 'r-0009'), ('r-0010', 'r-0018'),
                     ('r-0019', 'r-0028')]
    assert whole == by_key
    assert [t['rid'] for t in whole] == [
        'r-%04d' % i for i in range(30) if i not in (12, 15)]
    assert [t['current'] for t in whole if t['current']] == [
        etcd_client.get(keys.monitoring('edge_router', 'r-0013')).value]


def test_owned_is_remembered_while_the_members_stay(monkeypatch):
    owned = targets.Owned('m1')
    hashed = []
    real = targets.owner

    def counting(rid, members):
        hashed.append(rid)
        return real(rid, members)
    monkeypatch.setattr(targets, 'owner', counting)
    rids = ['r-%d' % i for i in range(20)]
    owns = owned.of(['m1', 'm2'])       # a cycle
    first = [owns(rid) for rid in rids]
    assert len(hashed) == 20
    # The next cycle, the same members (in any order): no hashing again.
    owns = owned.of(['m2', 'm1'])
    assert [owns(rid) for rid in rids] == first
    assert len(hashed) == 20
    assert first == [real(rid, ['m1', 'm2']) == 'm1' for rid in rids]
    assert any(first) and not all(first)
    # Another member: everything again.
    owns = owned.of(['m1', 'm2', 'm3'])
    again = [owns(rid) for rid in rids]
    assert len(hashed) == 40
    assert again == [real(rid, ['m1', 'm2', 'm3']) == 'm1' for rid in rids]

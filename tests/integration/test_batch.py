"""Transactions of concurrent slots sent together, against a real etcd."""

import json
import re
import signal
import threading

import pytest

from heat_esi import etcd
from heat_esi.worker import batch
from tests import esi_fixtures


@pytest.fixture(scope='module')
def client():
    server = esi_fixtures.EtcdServer().start()
    try:
        yield server.client()
    finally:
        server.cleanup()


def test_each_nested_transaction_is_decided_on_its_own(client):
    client.put('/b/taken', 'someone')
    client.put('/b/template', 'tmpl')
    results = client.txn_each([
        ([etcd.absent('/b/taken')], [etcd.put('/b/taken', 'me')],
         [etcd.get('/b/taken')]),
        ([etcd.absent('/b/free')], [etcd.put('/b/free', 'me'),
                                    etcd.get('/b/template')], []),
    ], key='/b/')
    ok, (held,) = results[0]
    assert not ok and held[0].value == 'someone'
    ok, (put, read) = results[1]
    assert ok and read[0].value == 'tmpl'
    assert client.get('/b/taken').value == 'someone'
    assert client.get('/b/free').value == 'me'


def test_concurrent_transactions_share_requests_and_keep_their_results(
        client):
    batcher = batch.Batcher(client)
    threads, results = 16, {}
    for i in range(threads):
        client.put('/c/%d' % i, 'v%d' % (i % 2))
    start = threading.Barrier(threads)

    def fenced_write(i):
        start.wait()
        for n in range(20):
            # Only the even keys hold the value the fence expects.
            results[(i, n)] = batcher.txn(
                [etcd.value_is('/c/%d' % i, 'v0')],
                [etcd.put('/c/out/%d/%d' % (i, n), 'x')], key='/c/')[0]
    runners = [threading.Thread(target=fenced_write, args=(i,))
               for i in range(threads)]
    for t in runners:
        t.start()
    for t in runners:
        t.join(60)
    assert len(results) == threads * 20
    assert all(ok == (i % 2 == 0) for (i, _), ok in results.items())
    written, _ = client.get_prefix('/c/out/', keys_only=True)
    assert len(written) == threads // 2 * 20
    assert batcher.transactions == threads * 20
    assert batcher.requests < batcher.transactions / 2


def test_a_lone_transaction_goes_at_once_as_a_plain_one(client):
    batcher = batch.Batcher(client)
    ok, (read,) = batcher.txn([], [etcd.get('/b/template')], key='/b/')
    assert ok and read[0].value == 'tmpl'
    assert (batcher.requests, batcher.transactions) == (1, 1)


def test_two_writes_of_one_key_never_share_a_request(client):
    """Two transactions writing one key go in separate requests.

    etcd refuses a request that writes a key twice; such transactions wait
    for the next request instead.
    """
    batcher = batch.Batcher(client)
    errors = []
    start = threading.Barrier(8)

    def write(i):
        start.wait()
        try:
            for n in range(10):
                batcher.txn([], [etcd.put('/d/same', '%d-%d' % (i, n))],
                            key='/d/same')
        except Exception as exc:
            errors.append(exc)
    runners = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in runners:
        t.start()
    for t in runners:
        t.join(60)
    assert errors == []
    assert batcher.requests == batcher.transactions == 80
    assert client.get('/d/same').version == 80


def test_a_transaction_etcd_refuses_does_not_fail_the_others(client):
    """A transaction etcd refuses is retried alone, not with the others.

    A transaction that writes one key twice is refused by etcd; sent in a
    batch it would take the others with it, so they go again alone.
    """
    batcher = batch.Batcher(client)
    bad = batch._Pending([], [etcd.put('/f/0', 'x'), etcd.put('/f/0', 'y')],
                         [], '/f/')
    good = batch._Pending([], [etcd.put('/f/1', 'x')], [], '/f/')
    batcher._send([bad, good])
    assert 'duplicate key' in str(bad.error)
    assert good.error is None and good.result[0]
    assert client.get('/f/1').value == 'x'
    assert client.get('/f/0') is None


def test_an_etcd_failure_reaches_every_transaction_of_the_request():
    server = esi_fixtures.EtcdServer().start()
    c = server.client()
    server.cleanup()
    batcher = batch.Batcher(c)
    with pytest.raises(Exception) as info:
        batcher.txn([], [etcd.put('/e', 'x')], key='/e')
    assert 'connection refused' in str(info.value)


def test_a_worker_under_load_batches_and_runs_each_job_once(tmp_path):
    server = esi_fixtures.EtcdServer().start()
    proc = None
    try:
        c = server.client()
        from heat_esi import keys
        from heat_esi import records
        from heat_esi import templates
        templates.store(c, templates.load_dir())
        esi_fixtures.register_edge_routers(c)
        proc = esi_fixtures.WorkerProcess(str(tmp_path), server.port,
                                          job_slots=8, debug=False).start()
        # The jobs must reach the worker as watch events, which carry their
        # values; jobs found by the first read of /jobs/ are read once more
        # when taken, which this count would take for a regression.
        proc.wait_for_log('found 0 unclaimed job(s)')
        proc.signal(signal.SIGSTOP)
        start = c.revision()
        for i in range(60):
            rid = 'b-%d' % i
            body = {'id': rid, 'primary_router_id': esi_fixtures.PRIMARY,
                    'secondary_router_id': esi_fixtures.SECONDARY}
            params = templates.build_params(
                templates.load_dir()['ha_router_monitoring'], 'ha_router',
                body, 1, None)
            job_id, job = records.job('create', 'monitoring_worker',
                                      'ha_router', rid, 1, params, body)
            c.put(keys.job(job_id), job)
        proc.signal(signal.SIGCONT)
        esi_fixtures.wait_until(lambda: len(c.get_prefix(
            '/state/v2.0/ha_routers/b-', keys_only=True)[0]) == 60,
            timeout=60, message='60 answers')
        proc.stop()
        stopped = re.search(r'went to etcd in (\d+) request\(s\) for (\d+)',
                            proc.log())
        requests, transactions = map(int, stopped.groups())
        # claim, job_state and finish of each job, in fewer requests.
        assert transactions == 3 * 60
        assert requests < transactions / 2
        states = esi_fixtures.history(c, '/state/v2.0/ha_routers/b-', start)
        assert sorted(ev.kv.key for ev in states) == sorted(
            keys.state('ha_router', 'b-%d' % i) for i in range(60))
        worker_states = {json.loads(ev.kv.value)['state']['worker_state']
                         for ev in states}
        assert worker_states == {'CREATE_COMPLETED'}
        assert c.get_prefix('/jobs/', keys_only=True)[0] == []
    finally:
        if proc is not None:
            proc.stop()
        server.cleanup()

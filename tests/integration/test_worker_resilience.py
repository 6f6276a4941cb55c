"""esi-worker against an etcd that restarts, compacts, or comes late.

Also jobs that keep losing their worker. Each test has its own etcd
server.
"""


import signal

import pytest

from heat_esi import keys
from heat_esi import templates
from tests import esi_fixtures


@pytest.fixture
def own_etcd():
    server = esi_fixtures.EtcdServer().start()
    client = server.client()
    templates.store(client, templates.load_dir())
    esi_fixtures.register_edge_routers(client)
    yield server, client
    server.cleanup()


def worker_on(server, tmp_path, name='w', **options):
    options.setdefault('claim_ttl', 10)
    options.setdefault('etcd_reader_retry_interval', 0.05)
    return esi_fixtures.WorkerProcess(
        str(tmp_path), server.port, name=name,
        sections={'monitor': {'enabled': 'false'}}, **options)


def test_worker_resumes_after_an_etcd_restart(own_etcd, tmp_path):
    server, client = own_etcd
    worker = worker_on(server, tmp_path).start()
    try:
        esi_fixtures.write_ha_job(client,
                                  '60000000-0000-0000-0000-000000000001')
        esi_fixtures.wait_until(lambda: esi_fixtures.state_of(
            client, '60000000-0000-0000-0000-000000000001'))
        server.stop()
        worker.wait_for_log('job watch interrupted')
        server.start()
        rid = '60000000-0000-0000-0000-000000000002'
        esi_fixtures.write_ha_job(client, rid)
        esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid),
                                timeout=30, message='state after the restart')
        assert worker.proc.poll() is None
    finally:
        worker.stop()


def test_worker_rereads_when_its_revision_was_compacted(own_etcd,
                                                        tmp_path):
    server, client = own_etcd
    worker = worker_on(server, tmp_path).start()
    try:
        # The intake's first read sets the revision its watch resumes from.
        worker.wait_for_log('unclaimed job(s) at revision')
        server.stop()
        worker.wait_for_log('job watch interrupted')
        # Held still while a job is written and the history compacted past
        # it: the revision it resumes from is gone.
        worker.signal(signal.SIGSTOP)
        server.start()
        rid = '60000000-0000-0000-0000-000000000003'
        esi_fixtures.write_ha_job(client, rid)
        client.put('/unrelated', 'x')
        client.compact(client.revision())
        worker.signal(signal.SIGCONT)
        esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid),
                                timeout=30, message='state after compaction')
        assert 'fell behind compaction' in worker.log()
    finally:
        worker.stop()


def test_worker_started_before_etcd_waits_for_it(tmp_path):
    server = esi_fixtures.EtcdServer()
    worker = worker_on(server, tmp_path).start(wait=False)
    try:
        worker.wait_for_log('esi-worker waits for etcd')
        server.start()
        worker.wait_for_log('esi-worker started', timeout=40)
        client = server.client()
        templates.store(client, templates.load_dir())
        esi_fixtures.register_edge_routers(client)
        rid = '60000000-0000-0000-0000-000000000004'
        esi_fixtures.write_ha_job(client, rid)
        esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    finally:
        worker.stop()
        server.cleanup()


def test_job_past_max_attempts_fails_saying_so(own_etcd, tmp_path):
    server, client = own_etcd
    esi_fixtures.register_edge_routers(client, esi_fixtures.SECONDARY,
                                       state='DOWN')
    first = worker_on(server, tmp_path, name='first', claim_ttl=2,
                      max_attempts=1).start()
    rid = '60000000-0000-0000-0000-000000000005'
    job_id = esi_fixtures.write_ha_job(client, rid)
    esi_fixtures.wait_until(lambda: client.get(keys.working(job_id)))
    first.proc.kill()
    first.proc.wait()
    second = worker_on(server, tmp_path, name='second', claim_ttl=2,
                       max_attempts=1).start()
    try:
        assert_failed_after_one_claim(client, rid)
        assert client.get_prefix(keys.JOBS_ALL)[0] == []
    finally:
        second.stop()


def assert_failed_after_one_claim(client, rid):
    """The job of *rid* ends CREATE_FAILED for max_attempts 1."""
    state = esi_fixtures.wait_until(
        lambda: esi_fixtures.state_of(client, rid), timeout=20)
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert 'was claimed 1 times without finishing (max_attempts 1)' \
        in state['error']


def test_a_claim_killed_before_any_other_write_counts(own_etcd, tmp_path):
    server, client = own_etcd
    esi_fixtures.register_edge_routers(client, esi_fixtures.SECONDARY,
                                       state='DOWN')
    rid = '60000000-0000-0000-0000-000000000006'
    job_id = esi_fixtures.write_ha_job(client, rid)
    job = client.get(keys.job(job_id))
    first = worker_on(server, tmp_path, name='first', claim_ttl=2,
                      max_attempts=1).start()
    esi_fixtures.wait_until(lambda: client.get(keys.working(job_id)))
    first.proc.kill()
    first.proc.wait()
    # The claim was its only write: the claim key, and the job's key
    # written again with its value unchanged (what counts the claim). (Its
    # lease may have expired meanwhile: that deletion is etcd's.)
    written = [ev.kv for ev in esi_fixtures.history(
        client, '/', job.mod_revision + 1)
        if not ev.kv.key.startswith(keys.MEMBERS)]
    assert [kv.key for kv in written] == [keys.working(job_id),
                                          keys.job(job_id)]
    assert (written[1].value, written[1].version) == (job.value, 2)
    # Its lease expires before any worker watches: nobody sees the claim
    # go, and the next worker still counts it.
    esi_fixtures.wait_until(lambda: client.get(keys.working(job_id)) is None,
                            timeout=10, message='lease expiry')
    second = worker_on(server, tmp_path, name='second', claim_ttl=2,
                       max_attempts=1).start()
    try:
        assert_failed_after_one_claim(client, rid)
    finally:
        second.stop()

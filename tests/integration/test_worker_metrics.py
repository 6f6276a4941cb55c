"""esi-worker's /metrics, /healthz and /readyz.

They are scraped from a real worker process against a real etcd.
"""

import json

from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from tests import esi_fixtures
from tests import scrape


def test_metrics_count_jobs_failures_lost_claims_and_backlog(loaded,
                                                             workers):
    client = loaded
    esi_fixtures.routers_active(client)
    port = esi_fixtures.free_port()
    ok = ['40000000-0000-0000-0000-%012d' % i for i in range(5)]
    for rid in ok:
        esi_fixtures.write_ha_job(client, rid)
    failing = '40000000-0000-0000-0000-100000000000'
    esi_fixtures.job_on_missing_router(client, failing)
    workers(1, metrics_port=port, etcd_reader_timeout=1.5)
    esi_fixtures.wait_until(
        lambda: all(esi_fixtures.state_of(client, r) for r in ok + [failing]),
        timeout=30, message='6 states')

    # A claim taken over while the job runs: its result is refused.
    lost = '40000000-0000-0000-0000-200000000000'
    lost_job = esi_fixtures.job_on_missing_router(client, lost)
    esi_fixtures.wait_until(lambda: client.get(keys.working(lost_job)),
                            message='the claim')
    client.put(keys.working(lost_job), 'someone-else')
    # A value no worker can read, and a job no worker here runs.
    bad_id = records.job('create', 'monitoring_worker', 'ha_router',
                         '40000000-0000-0000-0000-300000000000', 1, [],
                         {})[0]
    client.put(keys.job(bad_id), 'not json{')
    other_id, other = records.job('create', 'other_handler', 'ha_router',
                                  '40000000-0000-0000-0000-400000000000', 1,
                                  [], {})
    other[1]['created_at'] -= 120
    client.put(keys.job(other_id), other)

    def counted():
        found = scrape.families(port)
        # The backlog gauges come from a read of /jobs/ cached for up to
        # 5 s: one taken before the bad value moved to /jobs/rejected/
        # shows the counter but not the gauge.
        if all((scrape.value(found, 'esi_worker_claims_lost_total'),
                scrape.value(found, 'esi_worker_rejected_values_total'),
                scrape.value(found, 'esi_jobs_rejected'),
                scrape.value(found, 'esi_jobs_backlog',
                             handler='other_handler'))):
            return found
        return None
    found = esi_fixtures.wait_until(
        counted, timeout=20, interval=0.5,
        message='claims lost, rejected, backlog')

    job = dict(handler='monitoring_worker', action='create',
               resource_type='ha_router')
    assert scrape.value(found, 'esi_worker_jobs_claimed_total', **job) == 7
    assert scrape.value(found, 'esi_worker_jobs_completed_total', **job) == 5
    assert scrape.value(found, 'esi_worker_jobs_failed_total', **job) == 1
    assert scrape.value(found, 'esi_worker_claims_lost_total') == 1
    assert scrape.value(found, 'esi_worker_reclaims_total') == 0
    assert scrape.value(found, 'esi_worker_rejected_values_total') == 1
    # Duration and latency are observed once per recorded result.
    hist = dict(handler='monitoring_worker', action='create')
    assert scrape.value(found, 'esi_worker_job_duration_seconds_count',
                        **hist) == 6
    assert scrape.value(found, 'esi_worker_job_state_latency_seconds_count',
                        **hist) == 6
    # The failing job waited for its timeout (1.5 s), so it is above the
    # 1 s bucket on any machine; how long the others took depends on the
    # machine's load, so it is not asserted here (benchmarks/ measures it).
    assert scrape.value(found, 'esi_worker_job_duration_seconds_bucket',
                        le='1.0', **hist) <= 5
    # Its etcd_reader read twice, a retry interval (1 s) apart, and gave up
    # there: a third read would have come after its 1.5 s timeout.
    assert scrape.value(found, 'esi_worker_job_duration_seconds_sum',
                        **hist) >= 1.0
    assert scrape.value(found, 'esi_jobs_backlog',
                        handler='other_handler') == 1
    assert 120 <= scrape.value(found, 'esi_jobs_backlog_oldest_age_seconds',
                               handler='other_handler') < 180
    # The stolen claim:
    assert scrape.value(found, 'esi_jobs_in_flight') == 1
    assert scrape.value(found, 'esi_jobs_rejected') == 1
    assert scrape.value(found, 'esi_worker_watch_restarts_total') == 0
    # No label names a resource, job or request.
    for family in found.values():
        for sample in family.samples:
            assert set(sample.labels) <= {'handler', 'action',
                                          'resource_type', 'result',
                                          'reason', 'le', 'version',
                                          'implementation', 'major',
                                          'minor', 'patchlevel'}, sample

    # The lease keeper renews every claim_ttl / 3 seconds.
    def renewed():
        found = scrape.families(port)
        if scrape.value(found, 'esi_worker_lease_renewals_total',
                        result='ok'):
            return found
        return None
    found = esi_fixtures.wait_until(renewed, timeout=10, interval=0.5,
                                    message='renewal')
    assert scrape.value(
        found, 'esi_worker_lease_renewal_duration_seconds_count') >= 1


def test_readyz_follows_etcd_and_healthz_stays_up(tmp_path):
    server = esi_fixtures.EtcdServer().start()
    port = esi_fixtures.free_port()
    worker = esi_fixtures.WorkerProcess(
        str(tmp_path), server.port, name='probe', metrics_port=port,
        claim_ttl=10, sections={'monitor': {'enabled': 'false'}})
    try:
        templates.store(server.client(), templates.load_dir())
        worker.start()
        esi_fixtures.wait_until(
            lambda: scrape.get(port, '/readyz').status_code == 200,
            timeout=10, message='ready')
        assert scrape.get(port, '/readyz').text == 'ok\n'
        assert scrape.get(port, '/nowhere').status_code == 404

        server.stop()
        # (A Response with a 5xx status is falsy: wrap it.)
        resp, = esi_fixtures.wait_until(
            lambda: (lambda r: [r] if r.status_code == 503 else None)(
                scrape.get(port, '/readyz')), timeout=5, interval=0.1,
            message='not ready once etcd stops')
        assert 'etcd unreachable' in resp.text
        assert 'connection refused' in resp.text
        alive = scrape.get(port, '/healthz')
        assert (alive.status_code, alive.text) == (200, 'ok\n')

        server.start()
        esi_fixtures.wait_until(
            lambda: scrape.get(port, '/readyz').status_code == 200,
            timeout=15, interval=0.2, message='ready again')
        found = scrape.families(port)
        assert scrape.value(found, 'esi_worker_watch_restarts_total',
                            reason='error') >= 1
    finally:
        worker.stop()
        server.cleanup()


def test_no_http_server_unless_a_port_is_set(loaded, workers):
    worker, = workers(1)
    assert 'serving /metrics' not in worker.log()
    conf = open(worker.conf).read()
    assert 'metrics_port' not in conf
    # The option's default binds to loopback only.
    from heat_esi import conf as esi_conf
    opt = {o.name: o for o in esi_conf.worker_opts}
    assert opt['metrics_address'].default == '127.0.0.1'
    assert opt['metrics_port'].default is None


def test_json_log_lines_and_state_error_carry_the_request_id(
        loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    worker, = workers(1, etcd_reader_timeout=0.5,
                      sections={'monitor': {'enabled': 'false'},
                                'DEFAULT': {'use_json': 'true'}})
    request_id = 'req-5d0c7d6e-6a43-4b0e-9d55-0123456789ab'
    rid = '60000000-0000-0000-0000-000000000001'
    job_id = esi_fixtures.job_on_missing_router(client, rid,
                                                request_id=request_id)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid),
                                    message='failed state')
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert state['error'].endswith('(request %s)' % request_id)
    worker.wait_for_log('finished: CREATE_FAILED')
    lines = [json.loads(line) for line in worker.log().splitlines()]
    of_job = [line for line in lines if job_id in line['message']]
    assert len(of_job) >= 3     # claimed, failed, finished
    for line in of_job:
        ctx = line['context']
        assert (ctx['job_id'], ctx['resource_type'], ctx['resource_id'],
                ctx['request_id'], ctx['global_request_id']) == (
            job_id, 'ha_router', rid, request_id, request_id), line
    # Lines of no job carry none.
    started = [line for line in lines
               if line['message'].startswith('esi-worker started')]
    assert started and 'job_id' not in started[0]['context']


def test_etcd_failover_is_counted(loaded, etcd_server, tmp_path):
    dead = 'http://127.0.0.1:%d' % esi_fixtures.free_port()
    port = esi_fixtures.free_port()
    worker = esi_fixtures.WorkerProcess(
        str(tmp_path), etcd_server.port, name='failover', metrics_port=port,
        sections={'monitor': {'enabled': 'false'},
                  'esi_etcd': {'endpoints': '%s,%s' % (dead,
                                                       etcd_server.url)}})
    try:
        worker.start()
        found = scrape.families(port)
        # The first member refused; the client moved to the second, once.
        assert scrape.value(found, 'esi_worker_etcd_failovers_total') == 1
        esi_fixtures.wait_until(
            lambda: scrape.get(port, '/readyz').status_code == 200,
            message='ready on the second member')
    finally:
        worker.stop()

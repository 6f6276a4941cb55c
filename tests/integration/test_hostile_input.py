"""Hostile and clumsy values in etcd against real esi-worker processes.

None stops a worker, wedges a job, or leaks a password (issue 9).
"""

import json
import logging
import threading
import time

import pytest

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from heat_esi.worker import monitor as monitor_mod
from heat_esi.worker.plugins import base
from heat_esi.worker import service
from tests import esi_fixtures
from tests import snmp_agents

PASSWORD = 'pa55-never-copied'


def ha_job(rid, **fields):
    """(key, value) of a well-formed ha_router create job."""
    job_id, value = records.job(
        'create', 'monitoring_worker', 'ha_router', rid, 1,
        esi_fixtures.ha_router_params(), {'id': rid})
    value[1].update(fields)
    return keys.job(job_id), value


def live_job_keys(client):
    """Keys of jobs still to run or running (not /jobs/rejected)."""
    return [kv.key for prefix in (keys.JOBS_ALL, keys.JOBS_WORKING,
                                  '/esi-worker/job_state/')
            for kv in client.get_prefix(prefix)[0]]


def assert_rejected(client, key, *expected):
    """Assert that the job at *key* was rejected.

    It is in /jobs/rejected, with a FAILED /state whose error names the key
    and says *expected*.
    """
    job_id = key[len(keys.JOBS_ALL):]
    rid = keys.parse_job_id(job_id)['resource_id']
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid),
                                    message='rejection of %s' % key)
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert key in state['error']
    for text in expected:
        assert text in state['error']
    assert client.get(keys.JOBS_REJECTED + job_id) is not None
    assert client.get(key) is None
    return state


def test_non_utf8_job_values_are_rejected_and_the_next_job_runs(
        loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    before, _ = ha_job('70000000-0000-0000-0000-000000000001')
    client.put(before, b'\xff\xfe["monitoring_worker"')     # read_all
    worker, = workers(1)
    after, _ = ha_job('70000000-0000-0000-0000-000000000002')
    client.put(after, b'["monitoring_worker", \x80]')         # the watch
    ok_rid = '70000000-0000-0000-0000-000000000003'
    esi_fixtures.write_ha_job(client, ok_rid)
    state = esi_fixtures.wait_until(
        lambda: esi_fixtures.state_of(client, ok_rid),
        message='the valid job after them')
    assert state['state']['worker_state'] == 'CREATE_COMPLETED'
    assert_rejected(client, before, 'not UTF-8 text (byte 0xff at offset 0)')
    assert_rejected(client, after, 'not UTF-8 text (byte 0x80')
    # The raw bytes are kept for an operator.
    assert client.get(keys.JOBS_REJECTED + before[len(keys.JOBS_ALL):]
                      ).value == b'\xff\xfe["monitoring_worker"'
    assert live_job_keys(client) == []
    assert worker.proc.poll() is None
    # A restart reads the same store without trouble.
    worker.stop()
    workers(1)


@pytest.mark.parametrize('fields, expected', [
    ({'action': []}, '"action" must be one of'),
    ({'resource_type': ['x']}, '"resource_type" must be a resource type'),
    ({'version': '1'}, '"version" must be an integer'),
    ({'params': [{'param': 'p'}]}, '"params" must be a list'),
    ({'resource_id': 'someone-else'}, 'not the resource_id of the job id'),
])
def test_wrong_typed_fields_are_rejected_and_hold_nothing(
        loaded, workers, fields, expected):
    client = loaded
    esi_fixtures.routers_active(client)
    worker, = workers(1)
    rid = '71000000-0000-0000-0000-000000000001'
    key, value = ha_job(rid, **fields)
    client.put(key, value)
    assert_rejected(client, key, expected)
    # The resource's next job, which waits for the bad one, runs.
    later_rid = '71000000-0000-0000-0000-000000000002'
    later = esi_fixtures.write_ha_job(client, later_rid,
                                      dependency=[key[len(keys.JOBS_ALL):]])
    esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, later_rid))
    assert client.get(keys.job(later)) is None
    assert live_job_keys(client) == []
    assert worker.proc.poll() is None
    assert 'someone-else' not in json.dumps(
        [kv.key for kv in client.get_prefix('/state/')[0]])


def test_jobs_that_wait_for_each_other_or_themselves_still_run(
        loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    ids = ['72000000-0000-0000-0000-00000000000%d' % i for i in range(3)]
    (key_a, job_a), (key_b, job_b), (key_c, job_c) = [ha_job(r)
                                                      for r in ids]
    id_of = {k: k[len(keys.JOBS_ALL):] for k in (key_a, key_b, key_c)}
    job_a[1]['dependency'] = [id_of[key_b]]
    job_b[1]['dependency'] = [id_of[key_a]]
    job_c[1]['dependency'] = [id_of[key_c]]
    workers(1)
    client.txn([], [etcd.put(key_a, job_a), etcd.put(key_b, job_b),
                    etcd.put(key_c, job_c)], key=key_a)
    esi_fixtures.wait_until(
        lambda: all(esi_fixtures.state_of(client, r) for r in ids),
        message='three states')
    assert live_job_keys(client) == []


def test_a_job_past_its_deadline_fails_and_frees_its_slot(loaded, workers):
    client = loaded          # no router ever becomes ACTIVE
    workers(1, job_slots=1, job_timeout=1, etcd_reader_timeout=600)
    rid = '73000000-0000-0000-0000-000000000001'
    start = time.monotonic()
    esi_fixtures.write_ha_job(client, rid)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid),
                                    timeout=10)
    assert time.monotonic() - start < 5
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert ('job deadline passed: still running after 1.0 s ([worker] '
            'job_timeout)') in state['error']
    assert 'ha_router %s' % rid in state['error']
    # The only slot takes the next job.
    esi_fixtures.routers_active(client)
    ok_rid = '73000000-0000-0000-0000-000000000002'
    esi_fixtures.write_ha_job(client, ok_rid)
    esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, ok_rid))
    assert live_job_keys(client) == []


def test_a_template_element_sets_its_own_job_timeout(loaded, workers):
    client = loaded
    esi_fixtures.put_template(client, 'ha_router_monitoring', template_file=(
        'primary:\n  type: etcd_reader\n  etcd_type: edge_router\n'
        '  etcd_id: {{ primary_device_id }}\n  job_timeout: 0.5\n'))
    workers(1, job_timeout=600, etcd_reader_timeout=600)
    rid = '73000000-0000-0000-0000-000000000003'
    esi_fixtures.write_ha_job(client, rid)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert ('job deadline passed: still running after 0.5 s (job_timeout '
            'of heat_template ha_router_monitoring)') in state['error']


class _Deaf(object):
    """A handler that ignores its job's deadline for resource 'stuck'."""

    def __init__(self):
        self.release = threading.Event()

    def prefetch(self, job):
        return ()

    def run(self, claim, abort):
        if claim.job['resource_id'].startswith('stuck'):
            self.release.wait(30)
        return {'state_monitoring': {}}, ()


def test_a_handler_that_ignores_the_deadline_loses_its_job_not_the_slot(
        etcd_client):
    client = etcd_client
    deaf = _Deaf()
    worker = service.Worker(client, {'monitoring_worker': deaf},
                            job_slots=1, claim_ttl=30, shutdown_grace=0,
                            job_timeout=0.3, deadline_grace=0.3)
    worker.start()
    try:
        key, value = ha_job('stuck-1')
        start = time.monotonic()
        client.put(key, value)
        state = esi_fixtures.wait_until(
            lambda: esi_fixtures.state_of(client, 'stuck-1'))
        assert time.monotonic() - start < 3
        assert state['state']['worker_state'] == 'CREATE_FAILED'
        assert ('ha_router stuck-1: job deadline passed: still running '
                'after 0.3 s ([worker] job_timeout); its handler did not '
                'stop within 0.3 s more') in state['error']
        assert client.get_prefix(keys.JOBS_WORKING)[0] == []
        # The one slot has a new thread: the next job runs.
        key, value = ha_job('74000000-0000-0000-0000-000000000009')
        client.put(key, value)
        state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(
            client, '74000000-0000-0000-0000-000000000009'))
        assert state['state']['worker_state'] == 'CREATE_COMPLETED'
        # The stuck thread, once it returns, writes nothing and ends.
        deaf.release.set()
        esi_fixtures.wait_until(
            lambda: len([t for t in threading.enumerate()
                         if t.name.startswith('slot-')]) == 1,
            message='one slot thread')
        assert worker.dead_threads() == []
        state = esi_fixtures.state_of(client, 'stuck-1')
        assert state['state']['worker_state'] == 'CREATE_FAILED'
    finally:
        deaf.release.set()
        worker.stop()


class _Unrecordable(object):
    """A handler whose outcome cannot be written: an internal bug."""

    def prefetch(self, job):
        return ()

    def run(self, claim, abort):
        return {'state_monitoring': {'x': object()}}, ()


class _BrokenPrefetch(_Unrecordable):

    def prefetch(self, job):
        raise KeyError('boom')


@pytest.mark.parametrize('handler, expected', [
    (_Unrecordable(), 'internal error in job'),
    (_BrokenPrefetch(), 'internal error while reading the job'),
])
def test_an_unexpected_error_fails_the_job_and_holds_no_claim(
        etcd_client, handler, expected):
    client = etcd_client
    worker = service.Worker(client, {'monitoring_worker': handler},
                            job_slots=1, claim_ttl=30, shutdown_grace=0)
    worker.start()
    try:
        rid = '74000000-0000-0000-0000-000000000001'
        key, value = ha_job(rid)
        client.put(key, value)
        state = esi_fixtures.wait_until(
            lambda: esi_fixtures.state_of(client, rid))
        assert state['state']['worker_state'] == 'CREATE_FAILED'
        assert expected in state['error']
        assert client.get_prefix(keys.JOBS_WORKING)[0] == []
        assert client.get_prefix(keys.JOBS_ALL)[0] == []
    finally:
        worker.stop()


def test_the_password_stays_in_config(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    worker, = workers(1)
    start = client.revision() + 1
    # A job written the old way, with the password in resource_input ...
    rid = '75000000-0000-0000-0000-000000000001'
    key, value = ha_job(rid)
    value[1]['resource_input']['password'] = PASSWORD
    client.put(key, value)
    # ... and a malformed one with the password in it.
    bad_key, bad = ha_job('75000000-0000-0000-0000-000000000002',
                          action=[], resource_input={'password': PASSWORD})
    client.put(bad_key, bad)
    bad_text_key, _ = ha_job('75000000-0000-0000-0000-000000000003')
    client.put(bad_text_key, '{"password": "%s", oops' % PASSWORD)
    esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert_rejected(client, bad_key)
    assert_rejected(client, bad_text_key, 'not JSON')
    written = esi_fixtures.history(client, '/', start)
    # The only writes with the password are the two test writes above.
    with_password = [ev.kv.key for ev in written
                     if PASSWORD in str(ev.kv.value)]
    assert with_password == [key, bad_key, bad_text_key]
    assert PASSWORD not in worker.log()


def test_a_failed_modify_hides_the_routers_old_up(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    # The primary's modify failed; the monitor then stops polling it, and
    # its /monitoring still says UP from before.
    client.put(keys.state('edge_router', esi_fixtures.PRIMARY),
               records.state('MODIFY_FAILED', 2, {'router': 'ACTIVE'},
                             error='router 192.0.2.1 is not UP'))
    client.put(keys.monitoring('edge_router', esi_fixtures.PRIMARY),
               {'router': 'UP', 'version': 1})
    workers(1, etcd_reader_timeout=0.3)
    rid = '76000000-0000-0000-0000-000000000001'
    esi_fixtures.write_ha_job(client, rid)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert 'worker_state MODIFY_FAILED' in state['error']


def test_monitoring_older_than_the_last_job_is_not_used(loaded, workers):
    client = loaded
    esi_fixtures.routers_active(client)
    # The modify completed with the router down; the monitor has not
    # polled since, and its /monitoring is from version 1.
    client.put(keys.state('edge_router', esi_fixtures.PRIMARY),
               records.state('MODIFY_COMPLETED', 2, {'router': 'DOWN'}))
    client.put(keys.monitoring('edge_router', esi_fixtures.PRIMARY),
               {'router': 'UP', 'version': 1})
    workers(1, etcd_reader_timeout=0.3)
    rid = '76000000-0000-0000-0000-000000000002'
    esi_fixtures.write_ha_job(client, rid)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert 'router DOWN' in state['error']


# --- SNMP: IPv6, management networks, the monitor --------------------------

def snmp_sections(port, allowed, monitor=None):
    return {'snmp': {'port': port, 'request_timeout': 0.3,
                     'check_timeout': 3, 'uptime_interval': 0.3,
                     'communities': 'EDGE_ROUTER_COMMUNITY:%s'
                     % snmp_agents.COMMUNITY,
                     'allowed_networks': allowed},
            'monitor': monitor or {'enabled': 'false'}}


def edge_router_job(client, rid, ip):
    template = templates.fetch(client, 'edge_router_monitoring')
    body = {'id': rid, 'ip': ip, 'password': PASSWORD}
    params = templates.build_params(template, 'edge_router', body, 1,
                                    templates.config_lookup(client))
    job_id, job = records.job('create', 'monitoring_worker', 'edge_router',
                              rid, 1, params, body)
    client.txn([], [etcd.put(keys.config('edge_router', rid),
                             records.config(body, 1)),
                    etcd.put(keys.job(job_id), job)], key=keys.job(job_id))
    return job_id


def test_ipv6_edge_router_end_to_end(loaded, workers, agent6):
    client = loaded
    worker, = workers(1, sections=snmp_sections(agent6.port, '::1/128'))
    rid = '77000000-0000-0000-0000-000000000001'
    edge_router_job(client, rid, '::1')
    state = esi_fixtures.wait_until(
        lambda: esi_fixtures.state_of(client, rid, 'edge_router'),
        timeout=15)
    assert state['state']['worker_state'] == 'CREATE_COMPLETED', state
    assert json.loads(state['state']['state_monitoring']) == {
        'router': 'ACTIVE'}
    assert snmp_agents.COMMUNITY not in worker.log()


@pytest.mark.parametrize('allowed, expected', [
    ('127.0.0.2/32', 'the address is outside [snmp] allowed_networks '
                     '(127.0.0.2/32)'),
    ('', '[snmp] allowed_networks is empty'),
])
def test_the_worker_refuses_snmp_outside_allowed_networks(
        loaded, workers, allowed, expected):
    client = loaded
    workers(1, sections=snmp_sections(161, allowed))
    rid = '77000000-0000-0000-0000-000000000002'
    edge_router_job(client, rid, '127.0.0.3')
    state = esi_fixtures.wait_until(
        lambda: esi_fixtures.state_of(client, rid, 'edge_router'))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert 'SNMP to 127.0.0.3 refused' in state['error']
    assert expected in state['error']


def test_a_bad_allowed_network_stops_the_worker_at_start(
        tmp_path, etcd_server):
    proc = esi_fixtures.WorkerProcess(
        str(tmp_path), etcd_server.port,
        sections=snmp_sections(161, '10.0.0.0/33,127.0.0.0/8'))
    proc.start(wait=False)
    try:
        assert proc.proc.wait(30) == 2
    finally:
        proc.stop()     # a worker that did start must not outlive the test
    assert ("allowed_networks has an entry that is not a network in CIDR "
            "notation: '10.0.0.0/33'") in proc.log()


def test_poison_configs_do_not_stop_the_monitor(loaded, workers, tmp_path):
    client = loaded
    port = snmp_agents.free_udp_port('127.0.0.2')
    agent = snmp_agents.SnmpAgent(str(tmp_path), '127.0.0.2', port).start()
    try:
        good = '78000000-0000-0000-0000-000000000001'
        client.put(keys.config('edge_router', good), records.config(
            {'id': good, 'ip': '127.0.0.2'}, 1))
        client.put(keys.state('edge_router', good),
                   records.state('CREATE_COMPLETED', 1, {'router': 'ACTIVE'}))
        poisoned = {
            keys.config('edge_router', 'p1'): b'\xff{"body": {}}',
            keys.config('edge_router', 'p2'): {'body': {'ip': ['x']},
                                               'version': 1},
            keys.config('edge_router', 'p3'): {'body': {'id': 'p3'},
                                               'version': 1},
            keys.state('edge_router', 'p4'): b'\xc3\x28',
            keys.monitoring('edge_router', good): b'\xff',
        }
        for pid in ('p1', 'p2', 'p3'):
            client.put(keys.state('edge_router', pid),
                       records.state('CREATE_COMPLETED', 1))
        client.put(keys.config('edge_router', 'p4'), records.config(
            {'id': 'p4', 'ip': '127.0.0.2'}, 1))
        for key, value in poisoned.items():
            client.put(key, value)
        worker, = workers(1, sections=snmp_sections(
            port, '127.0.0.0/8', {'interval': 0.5}))
        esi_fixtures.wait_until(
            lambda: (client.get(keys.monitoring('edge_router', good))
                     .value == json.dumps({'router': 'UP', 'version': 1})),
            timeout=10, message='the good router polled')
        log = worker.log()
        assert ('not monitoring edge_router p1: malformed value at %s: not '
                'UTF-8' % keys.config('edge_router', 'p1')) in log
        assert ("cannot monitor edge_router p2: "
                "['x'] is not an IP address") in log
        assert 'cannot monitor edge_router p3' in log
        assert keys.state('edge_router', 'p4') in log
        assert 'Traceback' not in log
        assert worker.proc.poll() is None
    finally:
        agent.stop()


class _Exploding(base.Plugin):
    def poll(self, props, abort):
        raise RuntimeError('plugin bug')


def test_a_poll_that_raises_is_logged_with_element_and_resource(
        loaded, caplog):
    client = loaded
    rid = '79000000-0000-0000-0000-000000000001'
    client.put(keys.config('edge_router', rid), records.config(
        {'id': rid, 'ip': '127.0.0.2'}, 1))
    client.put(keys.state('edge_router', rid),
               records.state('CREATE_COMPLETED', 1))
    lease = client.grant_lease(10)
    mon = monitor_mod.Monitor(client, {'router': _Exploding()},
                              lambda: lease)
    try:
        with caplog.at_level(logging.WARNING):
            mon.cycle()
    finally:
        mon.stop()
        client.revoke_lease(lease)
    assert ('cannot monitor edge_router %s: element router (router) failed'
            % rid) in caplog.text
    assert 'plugin bug' in caplog.text


def test_a_poll_whose_template_is_unreadable_is_logged(loaded, caplog):
    client = loaded
    rid = '79000000-0000-0000-0000-000000000002'
    client.put(keys.config('edge_router', rid), records.config(
        {'id': rid, 'ip': '127.0.0.2'}, 1))
    client.put(keys.state('edge_router', rid),
               records.state('CREATE_COMPLETED', 1))
    client.put(keys.heat_template('edge_router_monitoring'), b'\xff')
    lease = client.grant_lease(10)
    mon = monitor_mod.Monitor(client, {}, lambda: lease)
    try:
        with caplog.at_level(logging.WARNING):
            mon.cycle()
    finally:
        mon.stop()
        client.revoke_lease(lease)
    assert 'cannot monitor edge_router %s' % rid in caplog.text
    assert 'not UTF-8' in caplog.text


def test_a_lone_surrogate_in_a_param_fails_the_job_clearly(loaded, workers):
    # JSON's "\ud800" is a str that UTF-8 cannot encode: as an etcd_id it
    # must be refused as an id, not crash the handler building a key.
    client = loaded
    esi_fixtures.routers_active(client)
    workers(1)
    rid = '7a000000-0000-0000-0000-000000000001'
    key, value = ha_job(rid)
    value[1]['params'][1]['value'] = '\ud800'
    client.put(key, value)
    state = esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, rid))
    assert state['state']['worker_state'] == 'CREATE_FAILED'
    assert '"etcd_id" must be a resource id' in state['error']
    assert 'internal error' not in state['error']


def test_a_stray_poll_request_key_does_not_stop_poll_answers(loaded,
                                                             workers):
    """A key of the wrong shape under /esi-worker/poll/ is passed over.

    A request found beside it when the worker starts is still answered.
    """
    client = loaded
    client.put(keys.POLL_REQUESTS + 'stray', {'request': 'x'})
    request = keys.poll_request('edge_router', esi_fixtures.PRIMARY)
    client.put(request, {'request': 'token-1'})

    def answer():
        value = json.loads(client.get(request).value)
        return 'answer' in value and value

    worker, = workers(1, sections=snmp_sections(
        161, '127.0.0.0/8', monitor={'interval': 60}))
    answered = esi_fixtures.wait_until(
        answer, timeout=10, message='an answer to the poll request')
    assert answered['request'] == 'token-1'
    assert 'Traceback' not in worker.log()

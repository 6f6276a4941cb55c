"""ESI::EdgeRouter with real SNMP agents and continuous monitoring.

A whole HA pair from one HOT template; in-process Heat, real etcd, real
esi-worker processes, real snmpd.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import logging
import os
import time

import pytest

from heat_esi import keys
from tests import esi_fixtures
from tests import scrape
from tests import snmp_agents

HOT = os.path.join(os.path.dirname(__file__), '..', '..', 'templates',
                   'hot', 'ha_router_pair.yaml')
PASSWORD = 'pa55-never-logged'
INTERVAL = 1.0


@pytest.fixture
def heat(loaded, etcd_server, caplog):
    from oslo_config import cfg
    heat_engine.setup(etcd_server.port)
    cfg.CONF.set_override('action_retry_limit', 0)
    caplog.set_level(logging.DEBUG)
    yield loaded
    cfg.CONF.clear_override('action_retry_limit')


@pytest.fixture
def snmp_workers(workers, agents):
    def start(count=1, check_timeout=5, **worker):
        return workers(count, **worker, sections={
            'snmp': {'port': agents[0].port, 'request_timeout': 0.3,
                     'check_timeout': check_timeout,
                     'uptime_interval': 0.5,
                     'communities': 'EDGE_ROUTER_COMMUNITY:%s'
                     % snmp_agents.COMMUNITY,
                     'allowed_networks': '127.0.0.0/8'},
            'monitor': {'interval': INTERVAL}})
    return start


def pair_stack(primary='127.0.0.2', secondary='127.0.0.3'):
    with open(HOT) as f:
        template = f.read()
    return heat_engine.stack(template, params={'parameters': {
        'primary_ip': primary, 'secondary_ip': secondary,
        'password': PASSWORD}})


def test_pair_template_creates_monitors_and_checks(heat, snmp_workers,
                                                   agents, caplog):
    port = esi_fixtures.free_port()
    procs = snmp_workers(1, metrics_port=port)
    stk = pair_stack()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    primary = stk['primary_router'].resource_id
    secondary = stk['secondary_router'].resource_id
    for rid in (primary, secondary):
        esi_fixtures.wait_until(
            lambda: esi_fixtures.monitoring_of(heat, rid) == {
                'router': 'UP', 'version': 1},
            timeout=3 * INTERVAL + 5, message='/monitoring UP of %s' % rid)
    # One vocabulary from create to poll: UP, DOWN.
    assert stk['ha_router'].FnGetAtt('state_monitoring') == {
        'primary': 'UP', 'secondary': 'UP'}
    assert stk['primary_router'].FnGetAtt('state_monitoring') == {
        'router': 'UP'}
    assert 'password' not in stk['primary_router'].FnGetAtt('show')
    # The password is in /config, and in no job, claimed or not.
    config = heat.get(keys.config('edge_router', primary)).value
    assert PASSWORD in config
    jobs = esi_fixtures.history(heat, '/jobs/', 1)
    assert jobs and not [ev.kv.key for ev in jobs
                         if PASSWORD in str(ev.kv.value)]
    from heat.objects import event as event_object
    events = event_object.Event.get_all_by_stack(stk.context, stk.id)
    assert events
    for ev in events:     # what `openstack stack event show` prints
        assert PASSWORD not in json.dumps(ev.resource_properties)
    stk.check()
    assert stk.state == ('CHECK', 'COMPLETE'), stk.status_reason

    # One agent stops: DOWN within one interval (plus the poll itself).
    agents[1].stop()
    stopped = time.monotonic()
    esi_fixtures.wait_until(
        lambda: esi_fixtures.monitoring_of(heat, secondary) == {
            'router': 'DOWN', 'version': 1},
        timeout=INTERVAL + 3, message='/monitoring DOWN')
    print('DOWN seen %.1f s after the agent stopped'
          % (time.monotonic() - stopped))
    assert esi_fixtures.monitoring_of(heat, primary)['router'] == 'UP'
    # The monitor counted its polls and its three writes (two UP, a DOWN).
    found = scrape.families(port)
    polls = {r: scrape.value(found, 'esi_worker_monitor_polls_total',
                             result=r)
             for r in ('up', 'down', 'error')}
    assert polls['up'] >= 2 and polls['down'] >= 1, polls
    assert scrape.value(
        found, 'esi_worker_monitor_state_changes_total') == 3
    # The HA router's state follows its routers' current monitoring.
    assert stk['ha_router'].FnGetAtt('state_monitoring') == {
        'primary': 'UP', 'secondary': 'DOWN'}
    assert stk['ha_router'].FnGetAtt('status') == 'DOWN'
    stk.check()
    assert stk.state == ('CHECK', 'FAILED')
    # Heat stops at the first resource whose check fails: the secondary
    # router itself, or the HA router over it; either names the router.
    assert 'edge_router %s' % secondary in stk.status_reason
    assert 'at 127.0.0.3: router DOWN (no SNMP answer from 127.0.0.3:' in \
        stk.status_reason
    ha = stk['ha_router']
    ha.state_set(ha.CREATE, ha.COMPLETE)
    with pytest.raises(Exception) as err:
        for _ in ha.check():
            pass
    assert 'edge_router %s (secondary) at 127.0.0.3: router DOWN' \
        % secondary in str(err.value)

    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    time.sleep(INTERVAL * 2)     # a monitor must not write it back
    assert heat.get_prefix('/monitoring/')[0] == []

    logs = caplog.text + ''.join(p.log() for p in procs)
    assert PASSWORD not in logs
    assert snmp_agents.COMMUNITY not in logs


def test_address_where_nothing_answers_fails_the_create(heat, snmp_workers,
                                                        caplog):
    procs = snmp_workers(1, check_timeout=2)
    stk = pair_stack(primary='127.0.0.9')
    start = time.monotonic()
    stk.create()
    elapsed = time.monotonic() - start
    assert stk.state == ('CREATE', 'FAILED')
    reason = stk['primary_router'].status_reason
    assert 'router 127.0.0.9 is not UP after 2.0 s' in reason
    assert 'no SNMP answer' in reason
    assert elapsed < 2 + 5
    logs = caplog.text + ''.join(p.log() for p in procs)
    assert PASSWORD not in logs and snmp_agents.COMMUNITY not in logs


def test_two_workers_share_the_devices(heat, snmp_workers, agents):
    procs = snmp_workers(2)
    stk = pair_stack()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    ids = [stk[r].resource_id for r in ('primary_router',
                                        'secondary_router')]
    for rid in ids:
        esi_fixtures.wait_until(lambda: esi_fixtures.monitoring_of(heat, rid),
                                timeout=3 * INTERVAL + 5)
    time.sleep(3 * INTERVAL)
    # Each device is written once (first result), by one worker.
    for rid in ids:
        writes = [ev for ev in esi_fixtures.history(
            heat, keys.monitoring('edge_router', rid), 1)]
        assert len(writes) == 1
    # A worker dies: its devices move to the other one.
    procs[0].proc.kill()
    procs[0].proc.wait()
    agents[0].stop()
    esi_fixtures.wait_until(
        lambda: esi_fixtures.monitoring_of(heat, ids[0])['router'] == 'DOWN',
        timeout=5 + 3 * INTERVAL, message='DOWN after the worker died')

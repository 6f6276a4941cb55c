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
from heat_esi.worker import monitor as monitor_mod
from tests import esi_fixtures
from tests import scrape
from tests import snmp_agents

HOT = os.path.join(os.path.dirname(__file__), '..', '..', 'templates',
                   'hot', 'ha_router_pair.yaml')
PASSWORD = 'pa55-never-logged'
INTERVAL = snmp_agents.MONITOR_INTERVAL


@pytest.fixture
def heat(heat_engine_on, caplog):
    caplog.set_level(logging.DEBUG)
    return heat_engine_on


def pair_stack(primary='127.0.0.2', secondary='127.0.0.3'):
    with open(HOT) as f:
        template = f.read()
    return heat_engine.stack(template, params={'parameters': {
        'primary_ip': primary, 'secondary_ip': secondary,
        'password': PASSWORD}})


def device_of(client, rid):
    """Return the /config and /state values of the edge router *rid*."""
    return (client.get(keys.config('edge_router', rid)).value,
            client.get(keys.state('edge_router', rid)).value)


def add_device(client, like, rid):
    """Register the edge router *rid*, a copy of *like* (see device_of).

    Its create is complete, so the monitor polls it: once its /monitoring
    is written, a monitoring cycle that began after this call has ended,
    and with it every poll of the cycles before (a cycle waits for all of
    its polls).
    """
    config, state = like
    config = json.loads(config)
    config['body']['id'] = rid
    client.put(keys.config('edge_router', rid), config)
    client.put(keys.state('edge_router', rid), state)


def one_per_member(client, count=2):
    """Return one new edge router id for each of the *count* monitors.

    Each id is one that its monitor owns; the ids are returned once all
    *count* monitors have registered.
    """
    members = esi_fixtures.wait_until(
        lambda: (lambda m: m if len(m) == count else None)(
            [keys.under(keys.MONITORS, kv.key)
             for kv in client.get_prefix(keys.MONITORS)[0]]),
        timeout=5 + 3 * INTERVAL, message='%d monitors' % count)
    found = {}
    candidates = ('marker-%d' % i for i in range(1000))
    while len(found) < count:
        rid = next(candidates)
        found.setdefault(monitor_mod.owner(rid, members), rid)
    return sorted(found.values())


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

    like = device_of(heat, primary)
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    # A monitor must not write it back: not while it ends the cycles it
    # began before the delete, nor in the next one.
    add_device(heat, like, 'marker')
    esi_fixtures.wait_until(
        lambda: esi_fixtures.monitoring_of(heat, 'marker'),
        timeout=3 * INTERVAL + 5, message='a cycle after the delete')
    assert [kv.key for kv in heat.get_prefix('/monitoring/')[0]] == [
        keys.monitoring('edge_router', 'marker')]

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
    # Each worker ends a cycle after those first writes: one it began
    # after its marker device appeared.
    like = device_of(heat, ids[0])
    markers = one_per_member(heat)
    for marker in markers:
        add_device(heat, like, marker)
    for marker in markers:
        esi_fixtures.wait_until(
            lambda: esi_fixtures.monitoring_of(heat, marker),
            timeout=3 * INTERVAL + 5, message='a cycle of each worker')
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

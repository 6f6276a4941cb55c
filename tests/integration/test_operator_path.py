"""What an operator meets after the happy path.

A device that was down once, a stack check that must see the device now,
no esi-worker running. In-process Heat, real etcd, real esi-worker
processes, real snmpd.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import os
import threading
import time

from oslo_config import cfg
import pytest

from heat.common import template_format
from heat.engine import environment
from heat.engine import stack as stack_mod
from heat.engine import template as template_mod

from heat_esi import keys
from tests import esi_fixtures
from tests import snmp_agents

HOT = os.path.join(os.path.dirname(__file__), '..', '..', 'templates',
                   'hot', 'ha_router_pair.yaml')
PAIR = ('primary_router', 'secondary_router', 'ha_router')


@pytest.fixture
def heat(heat_engine_on):
    yield heat_engine_on
    cfg.CONF.clear_override('worker_wait', group='esi')


def pair_template(maximum_gateways=500):
    with open(HOT) as f:
        template = f.read()
    params = {'parameters': {'primary_ip': '127.0.0.2',
                             'secondary_ip': '127.0.0.3',
                             'password': 'pa55',
                             'maximum_gateways': maximum_gateways}}
    return template, params


def test_check_sees_the_device_now_and_a_device_down_once_keeps_its_ids(
        heat, workers, agents):
    # Monitors poll every 10 minutes: only an immediate poll sees the stop.
    workers(1, sections={
        'snmp': {'port': agents[0].port, 'request_timeout': 0.3,
                 'check_timeout': 3, 'uptime_interval': 0.3,
                 'allowed_networks': '127.0.0.0/8',
                 'communities': 'EDGE_ROUTER_COMMUNITY:%s'
                 % snmp_agents.COMMUNITY},
        'monitor': {'interval': 600}})
    template, params = pair_template()
    stk = heat_engine.stack(template, params=params)
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    ids = {name: stk[name].resource_id for name in PAIR}

    agents[1].stop()
    start = time.monotonic()
    stk.check()
    elapsed = time.monotonic() - start
    assert stk.state == ('CHECK', 'FAILED')
    assert elapsed < 8, elapsed
    print('stack check saw the stopped agent in %.1f s' % elapsed)
    reason = stk['secondary_router'].status_reason
    assert 'edge_router %s at 127.0.0.3: router DOWN (no SNMP answer from ' \
        '127.0.0.3:%d' % (ids['secondary_router'], agents[1].port) in reason
    # The HA router's outputs follow the monitoring the check refreshed.
    assert stk['ha_router'].FnGetAtt('state_monitoring') == {
        'primary': 'UP', 'secondary': 'DOWN'}

    agents[1].start()
    # An unrelated update: the failed router is re-checked, not replaced.
    template, params = pair_template(maximum_gateways=300)
    new = stack_mod.Stack(stk.context, stk.name, template_mod.Template(
        template_format.parse(template),
        env=environment.Environment(params)))
    stk.update(new)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    assert {name: stk[name].resource_id for name in PAIR} == ids
    secondary = esi_fixtures.json_at(
        heat, keys.config('edge_router', ids['secondary_router']))
    assert secondary['version'] == 2       # the re-check's modify job
    state = json.loads(heat.get(keys.state(
        'edge_router', ids['secondary_router'])).value)
    assert state['state']['worker_state'] == 'MODIFY_COMPLETED'
    assert esi_fixtures.json_at(
        heat, keys.config('ha_router', ids['ha_router']))['body'][
        'maximum_gateways'] == 300
    # Nothing was created beside them.
    assert sorted(kv.key for kv in heat.get_prefix('/config/v2.0/')[0]
                  if '/heat_templates/' not in kv.key) == sorted(
        keys.config(rtype, ids[name]) for name, rtype in (
            ('primary_router', 'edge_router'),
            ('secondary_router', 'edge_router'),
            ('ha_router', 'ha_router')))
    stk = stack_mod.Stack.load(stk.context, stack_id=stk.id)
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason


def test_without_a_worker_the_create_says_so_and_fails(heat):
    esi_fixtures.register_edge_routers(heat)
    cfg.CONF.set_override('worker_wait', 3, group='esi')
    stk = heat_engine.stack(heat_engine.ha_router_template())
    start = time.monotonic()
    stk.create()
    elapsed = time.monotonic() - start
    assert stk.state == ('CREATE', 'FAILED')
    assert 'no esi-worker is running' in stk['ha'].status_reason
    assert '[esi] worker_wait' in stk['ha'].status_reason
    assert 3 < elapsed < 3 + 5
    from heat.objects import event as event_object
    reasons = [ev.resource_status_reason for ev in
               event_object.Event.get_all_by_stack(stk.context, stk.id)]
    assert any('waiting up to 3 s' in r for r in reasons), reasons


def test_a_worker_that_appears_takes_the_waiting_create(heat, workers):
    esi_fixtures.register_edge_routers(heat)
    stk = heat_engine.stack(heat_engine.ha_router_template())
    res = stk['ha']
    created = threading.Thread(target=stk.create)
    created.start()
    try:
        esi_fixtures.wait_until(
            lambda: 'no esi-worker is running' in (res.status_reason or ''),
            timeout=5, message='the status reason to say so')
    finally:
        workers(1)
        created.join(30)
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason

"""One project's hostile device cannot stall the monitor for the others.

Issue 19, finding 1, against real processes: etcd, an esi-worker with its
monitor on, snmpd for the well-behaved devices and tests/hostile_snmp.py
for the hostile one: a device that answers sysUpTime, but whose ifName
walk never ends (a new row every 0.5 s, each within request_timeout).
Also finding 9d: a poll request under a key that is not UTF-8.
"""

import json
import logging
import os
import threading
import time
import uuid

import pytest

from heat_esi import keys
from heat_esi import records
from heat_esi import templates
from heat_esi.worker.plugins import snmp
from tests import esi_fixtures
from tests import hostile_snmp
from tests import snmp_agents

HOSTILE_IP = '127.0.0.9'
# The interface the hostile device never lists: its walk goes on forever.
MISSING_NAME = 'xe-9/9/9'
HOSTILE_PROJECT = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0'
OTHER_PROJECT = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1'
INTERVAL = 1.0
# As in the issue: each row of the hostile walk comes within it.
REQUEST_TIMEOUT = 1.0
POLL_TIMEOUT = 3.0


def sections(port, **monitor):
    found = snmp_agents.worker_sections(port, interval=INTERVAL,
                                        check_timeout=2)
    found['snmp']['request_timeout'] = REQUEST_TIMEOUT
    found['monitor'].update({'poll_timeout': POLL_TIMEOUT}, **monitor)
    return found


@pytest.fixture
def hostile(agents):
    """The hostile agent, on HOSTILE_IP and the port of the snmpd agents."""
    agent = hostile_snmp.HostileAgent(
        HOSTILE_IP, agents[0].port, snmp_agents.COMMUNITY,
        row_delay=0.5).start()
    yield agent
    agent.stop()


def router(client, ip, project):
    rid = str(uuid.uuid4())
    esi_fixtures.register(client, 'edge_router', rid, {'router': 'ACTIVE'},
                          project=project, ip=ip, name='r-' + rid[:4])
    return rid


def interface(client, router_id, project, name=MISSING_NAME):
    iid = str(uuid.uuid4())
    esi_fixtures.register(client, 'er_physical_interface', iid,
                          {'interface': 'ACTIVE'}, project=project,
                          device_id=router_id, name=name)
    return iid


def hostile_setup(client):
    """The hostile project's router and interface on the hostile device."""
    rid = router(client, HOSTILE_IP, HOSTILE_PROJECT)
    return rid, interface(client, rid, HOSTILE_PROJECT)


def state_at(client, rtype, rid):
    return (esi_fixtures.monitoring_of(client, rid, rtype) or {}).get(
        'router' if rtype == 'edge_router' else 'interface')


def wait_state(client, rtype, rid, state, timeout):
    """Seconds until /monitoring of *rid* says *state*."""
    started = time.monotonic()
    esi_fixtures.wait_until(lambda: state_at(client, rtype, rid) == state,
                            timeout=timeout, interval=0.05,
                            message='%s %s %s' % (rtype, rid, state))
    return time.monotonic() - started


def ask(client, rtype, rid):
    """Write a poll request as a stack check does; return its token."""
    token = uuid.uuid4().hex
    client.put(keys.poll_request(rtype, rid), {'request': token})
    return token


def answer_to(client, rtype, rid, token):
    kv = client.get(keys.poll_request(rtype, rid))
    value = json.loads(kv.value) if kv else {}
    if value.get('request') == token and 'answer' in value:
        return value['answer']
    return None


def test_a_stopped_agent_is_seen_down_despite_a_hostile_device(
        loaded, agents, hostile, workers):
    client = loaded
    hostile_router, hostile_if = hostile_setup(client)
    other = router(client, agents[1].host, OTHER_PROJECT)
    workers(1, sections=sections(agents[0].port))
    wait_state(client, 'edge_router', other, 'UP', 20)
    # The hostile walk is under way in the monitor from here on.
    wait_state(client, 'edge_router', hostile_router, 'UP', 20)
    agents[1].stop()
    # A generous bound: the next poll comes within an interval, and
    # fails within request_timeout; a cycle held by the hostile walk
    # would keep the router UP for as long as the walk goes on.
    bound = 3 * (INTERVAL + REQUEST_TIMEOUT + 1) + POLL_TIMEOUT
    waited = wait_state(client, 'edge_router', other, 'DOWN', bound)
    print('stale UP after the agent stopped: %.2f s' % waited)
    # And the hostile interface itself is DOWN: its walk did not end
    # within poll_timeout, which counts as not answering.
    wait_state(client, 'er_physical_interface', hostile_if, 'DOWN', 20)


def test_stack_checks_of_the_hostile_project_do_not_starve_others(
        loaded, agents, hostile, workers):
    client = loaded
    _, hostile_if = hostile_setup(client)
    others = [router(client, agents[0].host, OTHER_PROJECT)]
    workers(1, sections=sections(agents[0].port))
    wait_state(client, 'edge_router', others[0], 'UP', 20)
    # The hostile project's own checks: 16 poll requests at once, as
    # many as the old monitor had threads.
    hostile_tokens = [ask(client, 'er_physical_interface', hostile_if)
                      for _ in range(16)]
    del hostile_tokens
    started = time.monotonic()
    token = ask(client, 'edge_router', others[0])
    answer = esi_fixtures.wait_until(
        lambda: answer_to(client, 'edge_router', others[0], token),
        timeout=20, message='the other project\'s poll answer')
    print('other project\'s check answered in %.2f s'
          % (time.monotonic() - started))
    assert answer['state'] == {'router': 'UP'}
    # The hostile one gets its answer too, within check_wait: DOWN, for
    # a walk that went on past poll_timeout.
    token = ask(client, 'er_physical_interface', hostile_if)
    answer = esi_fixtures.wait_until(
        lambda: answer_to(client, 'er_physical_interface', hostile_if,
                          token), timeout=30,
        message='the hostile project\'s poll answer')
    assert answer['state'] == {'interface': 'DOWN'}
    assert 'poll_timeout' in answer['why']['interface'], answer


def threads_of(pid):
    return len(os.listdir('/proc/%d/task' % pid))


def create_job(client, rtype, rid):
    """Write the create job of a registered resource, as Heat does."""
    config = json.loads(client.get(keys.config(rtype, rid)).value)
    template = templates.load_dir()[
        templates.monitoring_template_name(rtype)]
    params = templates.build_params(template, rtype, config['body'], 1,
                                    templates.config_lookup(client))
    job_id, job = records.job('create', 'monitoring_worker', rtype, rid, 1,
                              params, config['body'])
    client.put(keys.job(job_id), job)
    return job_id


def test_jobs_on_the_hostile_device_end_in_time_and_leave_no_thread(
        loaded, agents, hostile, workers):
    client = loaded
    hostile_router = router(client, HOSTILE_IP, HOSTILE_PROJECT)
    job_timeout = 3.0
    # The monitor off: only the jobs' threads are counted.
    proc, = workers(1, sections={
        'snmp': sections(agents[0].port)['snmp'],
        'monitor': {'enabled': 'false'}}, job_timeout=job_timeout)
    before = threads_of(proc.proc.pid)
    took = []
    for _ in range(3):
        iid = interface(client, hostile_router, HOSTILE_PROJECT)
        client.delete(keys.state('er_physical_interface', iid))
        started = time.monotonic()
        create_job(client, 'er_physical_interface', iid)
        state = esi_fixtures.wait_until(
            lambda: esi_fixtures.state_of(client, iid,
                                          'er_physical_interface'),
            timeout=job_timeout + 30, message='the job\'s end')
        took.append(time.monotonic() - started)
        assert state['state']['worker_state'] == 'CREATE_FAILED', state
        # The element's own timeout (check_timeout 2 s) ends the walk: the
        # job does not wait for [worker] job_timeout and its grace.
        assert 'did not end' in state['error'] or \
            'not UP after' in state['error'], state
    after = threads_of(proc.proc.pid)
    print('jobs took %s s; threads %d before, %d after'
          % (['%.1f' % t for t in took], before, after))
    assert max(took) < job_timeout + 10
    assert after <= before + 1, (before, after)


def test_a_poll_request_under_a_key_that_is_not_utf8_is_skipped(
        loaded, agents, workers):
    client = loaded
    good = '7' + str(uuid.uuid4())[1:]
    esi_fixtures.register(client, 'edge_router', good, {'router': 'ACTIVE'},
                          ip=agents[0].host, name='good')
    # Sorted before the good one; \udcff is the byte 0xff in the key.
    bad_key = keys.POLL_REQUESTS + 'v2.0/edge_routers/0\udcff\x1b[2J'
    client.put(bad_key, {'request': 'bad'})
    token = ask(client, 'edge_router', good)
    proc, = workers(1, sections=sections(agents[0].port))
    answer = esi_fixtures.wait_until(
        lambda: answer_to(client, 'edge_router', good, token), timeout=20,
        message='the answer to the request after the bad key')
    assert answer['state'] == {'router': 'UP'}
    proc.wait_for_log('edge_routers/0\\xff\\x1b[2J')
    assert '\x1b' not in proc.log()


# --- each misbehaviour, against the plugins in this process ------------------

@pytest.fixture
def plugin_conf():
    from oslo_config import cfg

    from heat_esi import conf
    config = cfg.ConfigOpts()
    conf.register_worker_opts(config)
    config([])
    config.set_override('request_timeout', REQUEST_TIMEOUT, group='snmp')
    config.set_override('uptime_interval', 0.3, group='snmp')
    config.set_override('communities', {'C': snmp_agents.COMMUNITY},
                        group='snmp')
    config.set_override('allowed_networks', ['127.0.0.0/8'], group='snmp')
    config.set_override('poll_timeout', POLL_TIMEOUT, group='monitor')
    return config


@pytest.fixture
def hostile_with(tmp_path, plugin_conf):
    """Start a hostile agent with options; the config points at it."""
    started = []

    def start(**options):
        port = snmp_agents.free_udp_port(HOSTILE_IP)
        plugin_conf.set_override('port', port, group='snmp')
        started.append(hostile_snmp.HostileAgent(
            HOSTILE_IP, port, snmp_agents.COMMUNITY, **options).start())
        return plugin_conf
    yield start
    for agent in started:
        agent.stop()


NEVER = threading.Event()
PORT_PROPS = {'device_ip': HOSTILE_IP, 'community_name': 'C',
              'name': MISSING_NAME}
ROUTER_PROPS = {'ip': HOSTILE_IP, 'community_name': 'C'}


def test_a_walk_stops_at_max_walk_rows(hostile_with):
    config = hostile_with(row_delay=0.01)
    config.set_override('max_walk_rows', 20, group='snmp')
    plugin = snmp.PhysicalPort(None, config)
    state, why = plugin.poll(PORT_PROPS, NEVER)
    assert state == 'DOWN'
    assert why == ('the walk of %s on %s went on past 20 rows ([snmp] '
                   'max_walk_rows)' % (snmp.IF_NAME, HOSTILE_IP))


def test_a_walk_of_huge_values_ends_by_poll_timeout(hostile_with):
    # Rows of 60,000 bytes, each within request_timeout, forever: the poll
    # is DOWN by poll_timeout, whatever it read.
    plugin = snmp.PhysicalPort(None, hostile_with(row_delay=0.05,
                                                  value_size=60000))
    started = time.monotonic()
    state, why = plugin.poll(PORT_PROPS, NEVER)
    assert state == 'DOWN'
    assert why.endswith('did not end within %s s ([monitor] poll_timeout)'
                        % POLL_TIMEOUT), why
    assert time.monotonic() - started < POLL_TIMEOUT + 5


def test_a_job_check_ends_by_the_elements_timeout(hostile_with):
    plugin = snmp.PhysicalPort(None, hostile_with(row_delay=0.5))
    with pytest.raises(snmp.exceptions.JobFailed) as err:
        plugin.check(dict(PORT_PROPS, timeout=1.5), NEVER)
    assert str(err.value) == (
        "interface 'xe-9/9/9' of '127.0.0.9' is not UP after 1.5 s: SNMP "
        "from interface 'xe-9/9/9' of '127.0.0.9' did not end within 1.5 s "
        "(the element's timeout)")


def test_slow_answers_make_a_poll_overrun_its_deadline(hostile_with,
                                                       caplog):
    # Each GET answered in 0.8 s (within request_timeout): a router's two
    # reads and the pause between them take longer than poll_timeout.
    config = hostile_with(get_delay=0.8)
    config.set_override('poll_timeout', 1.0, group='monitor')
    with caplog.at_level(logging.WARNING):
        plugin = snmp.Router(None, config)
    # The operator is told at start that this poll_timeout is short.
    assert '[monitor] poll_timeout (1.0 s) is shorter than a router' in \
        caplog.text
    state, why = plugin.poll(ROUTER_PROPS, NEVER)
    assert (state, why) == ('DOWN', 'the poll of router 127.0.0.9 did not '
                            'end within 1.0 s ([monitor] poll_timeout)')


def test_a_sysuptime_that_is_no_integer_is_down_not_a_crash(hostile_with):
    state, why = snmp.Router(None, hostile_with(huge_uptime=True)).poll(
        ROUTER_PROPS, NEVER)
    assert state == 'DOWN'
    assert why.startswith('sysUpTime of 127.0.0.9 is not an integer: '), why
    assert '99999' in why and len(why) < 200, why

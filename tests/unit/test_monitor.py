"""The monitor: who polls which device, and the bounds of its polls.

Rendezvous hashing over the live members; then (issue 19, finding 1) a
poll past poll_timeout, a device's share of threads, and /healthz when the
cycles stop completing.
"""

import asyncio
import threading

from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import templates
from heat_esi.worker import health
from heat_esi.worker import monitor
from heat_esi.worker.plugins import base
from tests import esi_fixtures
from tests import fakes

IDS = ['router-%d' % i for i in range(300)]


def test_each_device_has_one_owner_and_the_load_is_shared():
    members = ['a', 'b', 'c']
    owners = [monitor.owner(rid, members) for rid in IDS]
    assert owners == [monitor.owner(rid, list(reversed(members)))
                      for rid in IDS]
    for member in members:
        assert 60 < owners.count(member) < 140


def test_a_dead_members_devices_move_and_no_others_do():
    before = {rid: monitor.owner(rid, ['a', 'b', 'c']) for rid in IDS}
    after = {rid: monitor.owner(rid, ['a', 'c']) for rid in IDS}
    moved = {rid for rid in IDS if before[rid] != after[rid]}
    assert moved == {rid for rid in IDS if before[rid] == 'b'}


# --- bounds: issue 19, finding 1 ---------------------------------------------

ROUTERS = ['7e000000-0000-0000-0000-00000000000%d' % i for i in range(3)]


class Stuck(base.Plugin):
    """A plugin whose poll() (in a thread) never ends by itself."""

    def __init__(self):
        self.release = threading.Event()
        self.calls = 0

    def poll(self, props, abort):
        self.calls += 1
        self.release.wait(30)
        return states.UP, ''


class Quick(base.Plugin):
    """A plugin that polls without a thread, at once."""

    async def poll_async(self, props, abort):
        return states.UP, ''


def routers(client):
    """Write ROUTERS, as their creates leave them; return a lease."""
    client.put(keys.heat_template('edge_router_monitoring'), records.config(
        templates.load_dir()['edge_router_monitoring'], 1))
    for rid in ROUTERS:
        client.put(keys.config('edge_router', rid), records.config(
            {'id': rid, 'ip': '192.0.2.1'}, 1))
        client.put(keys.state('edge_router', rid),
                   records.state('CREATE_COMPLETED', 1))
    lease = client.grant_lease(60)
    return lambda: lease


def in_thread(function, timeout):
    """Run *function* in a thread; whether it returned within *timeout*."""
    thread = threading.Thread(target=function, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive()


def test_a_poll_past_poll_timeout_is_down_and_holds_one_thread():
    client = fakes.FakeEtcd()
    lease = routers(client)
    stuck = Stuck()
    mon = monitor.Monitor(client, {'router': stuck}, lease,
                          member_id='m', poll_timeout=0.5, threads=8)
    try:
        # Bounded: a cycle ends once every poll is past poll_timeout.
        assert in_thread(mon.cycle, 20)
        for rid in ROUTERS:
            assert client.get(keys.monitoring('edge_router', rid)).value \
                == '{"router": "DOWN", "version": 1}'
        assert stuck.calls == len(ROUTERS)
        # The threads of the first polls still run: no device gets a
        # second one, whatever asks.
        assert in_thread(mon.cycle, 20)
        assert stuck.calls == len(ROUTERS)
    finally:
        stuck.release.set()
        mon.stop()


def test_the_answer_of_a_poll_past_poll_timeout_says_so():
    client = fakes.FakeEtcd()
    lease = routers(client)
    stuck = Stuck()
    mon = monitor.Monitor(client, {'router': stuck}, lease,
                          member_id='m', poll_timeout=0.5)
    target = next(t for t in mon._targets('edge_router')
                  if t['rid'] == ROUTERS[0])
    try:
        answer = asyncio.run(mon._poll(monitor._Device(), None, **target))
    finally:
        stuck.release.set()
        mon.stop()
    assert answer['state'] == {'router': 'DOWN'}
    assert answer['why'] == {'router': 'the poll of element router did not '
                             'end within 0.5 s ([monitor] poll_timeout)'}


class Blocking(fakes.FakeEtcd):
    """etcd whose reads hang once *hang* is set (a wedged monitor)."""

    def __init__(self):
        super().__init__()
        self.hang = threading.Event()
        self.release = threading.Event()

    def txn(self, *args, **kwargs):
        if self.hang.is_set():
            self.release.wait(30)
        return super().txn(*args, **kwargs)


class _Worker(object):
    def dead_threads(self):
        return []


def test_healthz_fails_when_the_monitors_cycles_stop_completing():
    client = Blocking()
    lease = routers(client)
    mon = monitor.Monitor(client, {'router': Quick()}, lease,
                          member_id='m', interval=0.1, stall_after=5.0)
    checks = health.Health(_Worker(), client)
    checks.monitor = mon
    mon.start()
    try:
        # Cycles complete: alive, and stays so.
        esi_fixtures.wait_until(lambda: client.get(
            keys.monitoring('edge_router', ROUTERS[0])), 10)
        assert mon.stalled() is None
        assert checks.alive() == []
        client.hang.set()
        reasons = esi_fixtures.wait_until(checks.alive, 30)
        assert reasons[0].startswith('monitor stuck: no cycle completed '
                                     'for '), reasons
        client.release.set()
        client.hang.clear()
        esi_fixtures.wait_until(lambda: not checks.alive(), 20)
    finally:
        client.release.set()
        mon.stop()


def test_a_key_that_is_not_utf8_is_printed_escaped():
    key = '/esi-worker/poll/v2.0/edge_routers/0\udcff\x1b[2J\n'
    assert monitor.printable(key) == \
        '/esi-worker/poll/v2.0/edge_routers/0\\xff\\x1b[2J\\n'
    # ... and has an owner, like any other id.
    assert monitor.owner('0\udcff', ['a', 'b']) in ('a', 'b')


class SlowOn(base.Plugin):
    """Polls the device at *slow* until poll_timeout cuts it; others now."""

    def __init__(self, slow):
        self.slow = slow

    async def poll_async(self, props, abort):
        if props['ip'] == self.slow:
            await asyncio.sleep(60)
        return states.UP, ''


def test_a_poll_request_never_waits_for_a_cycles_backlog():
    client = fakes.FakeEtcd()
    lease = routers(client)
    # Last in the cycle's order: its periodic poll waits for a slot.
    quick = ROUTERS[-1]
    for rid in ROUTERS[:-1]:
        client.put(keys.config('edge_router', rid), records.config(
            {'id': rid, 'ip': '192.0.2.9'}, 1))
    # One periodic poll in flight at most, held by a slow device for
    # poll_timeout: the quick device's periodic poll waits behind it.
    mon = monitor.Monitor(client, {'router': SlowOn('192.0.2.9')}, lease,
                          member_id='m', max_polls=1, poll_timeout=20,
                          interval=60)
    mon.start()
    try:
        esi_fixtures.wait_until(lambda: mon._devices.get(
            ('edge_router', quick)) and mon._devices[
                'edge_router', quick].queued, 10)
        key = keys.poll_request('edge_router', quick)
        client.put(key, {'request': 't'})
        answer = esi_fixtures.wait_until(
            lambda: 'answer' in etcd.loads(key, client.get(key).value) and
            etcd.loads(key, client.get(key).value)['answer'], 10)
        assert answer['state'] == {'router': 'UP'}
    finally:
        mon.stop()


def test_a_cycle_reads_the_heat_templates_once_for_all_its_devices():
    # Issue 23: a read per device polled was half the monitor's CPU.
    client = fakes.FakeEtcd()
    lease = routers(client)
    mon = monitor.Monitor(client, {'router': Quick()}, lease, member_id='m')
    try:
        mon.cycle()
        for rid in ROUTERS:
            assert client.get(keys.monitoring('edge_router', rid)).value \
                == '{"router": "UP", "version": 1}'
        template = keys.heat_template('edge_router_monitoring')
        assert [r for r in client.requests if r[1] == template] == [
            ('put', template)]      # routers() writing it
        assert client.requests.count(
            ('get_prefix', keys.heat_template(''))) == 1
    finally:
        mon.stop()


class Recording(base.Plugin):
    """Polls every device at once, and records the address of each poll."""

    def __init__(self):
        self.polled = []

    async def poll_async(self, props, abort):
        self.polled.append(props['ip'])
        return states.UP, ''


def test_a_departed_members_devices_are_polled_at_once_and_only_they():
    # Issue 23: without the member watch, the others would wait for their
    # next cycle (here 60 s) to find a killed worker's devices theirs.
    client = fakes.FakeEtcd()
    client.put(keys.heat_template('edge_router_monitoring'), records.config(
        templates.load_dir()['edge_router_monitoring'], 1))
    ips = ['192.0.2.%d' % i for i in range(1, 41)]
    for i, ip in enumerate(ips):
        rid = 'router-%d' % i
        client.put(keys.config('edge_router', rid), records.config(
            {'id': rid, 'ip': ip}, 1))
        client.put(keys.state('edge_router', rid),
                   records.state('CREATE_COMPLETED', 1))
    leases = {name: client.grant_lease(60) for name in 'ab'}
    plugins = {name: Recording() for name in 'ab'}
    mons = {name: monitor.Monitor(client, {'router': plugins[name]},
                                  lambda n=name: leases[n], member_id=name,
                                  interval=60)
            for name in 'ab'}
    for mon in mons.values():
        mon._register()         # both, before either's first cycle
    for mon in mons.values():
        mon.start()
    try:
        esi_fixtures.wait_until(lambda: sorted(
            plugins['a'].polled + plugins['b'].polled) == sorted(ips), 10)
        first_a = list(plugins['a'].polled)
        of_b = set(plugins['b'].polled)
        assert first_a and of_b and not of_b & set(first_a)
        client.expire(leases['b'])          # b was killed
        esi_fixtures.wait_until(
            lambda: of_b <= set(plugins['a'].polled), 10,
            message="b's devices polled by a")
        # a's own devices keep their interval: none was polled again.
        assert sorted(plugins['a'].polled) == sorted(first_a + list(of_b))
    finally:
        for mon in mons.values():
            mon.stop()

"""One hostile device among many: does the monitor still see the others?

Issue 19, finding 1, measured on real processes: etcd, one esi-worker with
its monitor on, snmpd for the well-behaved devices (one snmpd for most of
them, another for the "victims", which is stopped and started again) and
tests/hostile_snmp.py for one hostile device, whose ifName walk never
ends, with an ESI::ErPhysicalInterface on it.

Figures (one run, on this machine):

- change_s: for each victim, seconds from its agent stopping (down_s) and
  starting again (up_s) until /monitoring says so; the target is
  ``interval + request_timeout + 1`` s;
- check_s: seconds until another project's stack-check poll request is
  answered, once the hostile project has 16 of its own in;
- healthz: what /healthz answers meanwhile;
- cpu_ms_per_poll: the worker's CPU per device polled;
- jobs: seconds each create job on the hostile device took, against
  ``[worker] job_timeout``, and the worker's threads after each.

``python benchmarks/bench_monitor.py [--devices 100] [--cap 60]`` prints
them as JSON. With PYTHONPATH pointing at another tree's heat_esi, the
worker runs that code (the figures "before" a change).

``--swarm 10000`` measures the monitor's scale instead (issue 23): that
many edge routers, answered by one tests/snmp_swarm.py process (one UDP
socket for every 127.64.x.y address), one in ``--silent-every`` (10) of
them never answering. Once each has its /monitoring, the worker's CPU is
read over ``--cycles`` further cycles: cpu_ms_per_poll, and from it
devices_per_core_60s, the devices one core keeps at a 60 s interval;
cycle_s is the wall time of one cycle (it must stay below the interval).
With ``--before TREE`` (a checkout of the code before a change), each
round runs TREE's worker on ``--before-devices`` routers, then this
tree's on as many and on ``--swarm``, so that the machine's noise hits
both sides.
"""

import argparse
import collections
import ipaddress
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

from heat_esi.demo.etcd import free_port  # noqa: E402
from heat_esi import etcd  # noqa: E402
from heat_esi import keys  # noqa: E402
from heat_esi import records  # noqa: E402
from heat_esi import templates  # noqa: E402
from tests import esi_fixtures  # noqa: E402
from tests import hostile_snmp  # noqa: E402
from tests import scrape  # noqa: E402
from tests import snmp_agents  # noqa: E402
from tests import snmp_swarm  # noqa: E402

HOSTILE_IP = '127.0.3.1'
HOSTILE_PROJECT = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0'
OTHER_PROJECT = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1'
REQUEST_TIMEOUT = 1.0       # the default; each hostile row comes in 0.5 s


def _router(client, ip, project):
    rid = str(uuid.uuid4())
    esi_fixtures.register(client, 'edge_router', rid, {'router': 'ACTIVE'},
                          project=project, ip=ip, name='r-' + rid[:4])
    return rid


def _interface(client, router_id):
    iid = str(uuid.uuid4())
    esi_fixtures.register(client, 'er_physical_interface', iid,
                          {'interface': 'ACTIVE'}, project=HOSTILE_PROJECT,
                          device_id=router_id, name='xe-9/9/9')
    return iid


def _router_state(client, rid):
    return (esi_fixtures.monitoring_of(client, rid) or {}).get('router')


def _wait_each(client, rids, state, cap):
    """{rid: seconds until /monitoring of rid says *state*, or None}."""
    started = time.monotonic()
    found = {}
    while len(found) < len(rids) and time.monotonic() - started < cap:
        for rid in rids:
            if rid not in found and _router_state(client, rid) == state:
                found[rid] = time.monotonic() - started
        time.sleep(0.05)
    return {rid: found.get(rid) for rid in rids}


def _healthz(port):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/healthz' % port,
                                    timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return 'no answer: %s' % exc


def _answer(client, key, token):
    kv = client.get(key)
    value = json.loads(kv.value) if kv else {}
    if value.get('request') == token and 'answer' in value:
        return value['answer']
    return None


def _summary(values):
    known = [v for v in values if v is not None]
    return {'max': max(known) if known else None,
            'median': statistics.median(known) if known else None,
            'missed': len(values) - len(known)}


def monitor_figures(server, client, tmp, devices, victims, interval, cap):
    port = snmp_agents.free_udp_port('127.0.1.1')
    well = ['127.0.1.%d' % i for i in range(1, devices - victims)]
    victim_ips = ['127.0.2.%d' % i for i in range(1, victims + 1)]
    agents = [snmp_agents.SnmpAgent(tmp, well[0], port, well[1:]).start(),
              snmp_agents.SnmpAgent(tmp, victim_ips[0], port,
                                    victim_ips[1:]).start()]
    hostile = hostile_snmp.HostileAgent(HOSTILE_IP, port,
                                        snmp_agents.COMMUNITY,
                                        row_delay=0.5).start()
    worker = None
    try:
        others = [_router(client, ip, OTHER_PROJECT) for ip in well]
        victims_ids = [_router(client, ip, OTHER_PROJECT)
                       for ip in victim_ips]
        hostile_if = _interface(client, _router(client, HOSTILE_IP,
                                                HOSTILE_PROJECT))
        sections = snmp_agents.worker_sections(port, interval=interval)
        sections['snmp'].update(request_timeout=REQUEST_TIMEOUT,
                                uptime_interval=1.0)
        metrics_port = free_port()
        worker = common.worker(server, 'monitor', sections=sections,
                               metrics_port=metrics_port).start()
        out = {'devices': len(others) + len(victims_ids) + 1,
               'interval_s': interval, 'request_timeout_s': REQUEST_TIMEOUT,
               'target_s': interval + REQUEST_TIMEOUT + 1}
        first = _wait_each(client, others + victims_ids, 'UP', cap)
        out['first_up'] = _summary(list(first.values()))
        # The hostile walk is under way by now.
        time.sleep(3 * interval)
        out['healthz_before'] = _healthz(metrics_port)
        cpu0, t0 = common.cpu_seconds(worker.proc.pid), time.monotonic()
        agents[1].stop()
        down = _wait_each(client, victims_ids, 'DOWN', cap)
        agents[1].start()
        up = _wait_each(client, victims_ids, 'UP', cap)
        cpu = common.cpu_seconds(worker.proc.pid) - cpu0
        polls = (time.monotonic() - t0) / interval * out['devices']
        out['cpu_ms_per_poll'] = cpu / polls * 1000
        out['change_s'] = {'down': _summary(list(down.values())),
                           'up': _summary(list(up.values()))}
        # The hostile project's own stack checks, then another's.
        for _ in range(16):
            client.put(keys.poll_request('er_physical_interface',
                                         hostile_if),
                       {'request': uuid.uuid4().hex})
        token = uuid.uuid4().hex
        key = keys.poll_request('edge_router', others[0])
        started = time.monotonic()
        client.put(key, {'request': token})
        answered = None
        while time.monotonic() - started < cap:
            if _answer(client, key, token):
                answered = time.monotonic() - started
                break
            time.sleep(0.05)
        out['check_s'] = answered
        out['healthz_after'] = _healthz(metrics_port)
        out['worker_threads'] = len(os.listdir('/proc/%d/task'
                                               % worker.proc.pid))
        return out
    finally:
        if worker is not None:
            worker.stop()
        hostile.stop()
        for agent in agents:
            agent.stop()


def job_figures(server, client, tmp, jobs, job_timeout, cap):
    port = snmp_agents.free_udp_port('127.0.1.1')
    hostile = hostile_snmp.HostileAgent(HOSTILE_IP, port,
                                        snmp_agents.COMMUNITY,
                                        row_delay=0.5).start()
    worker = None
    try:
        router_id = _router(client, HOSTILE_IP, HOSTILE_PROJECT)
        sections = snmp_agents.worker_sections(port, check_timeout=10)
        sections['snmp']['request_timeout'] = REQUEST_TIMEOUT
        sections['monitor'] = {'enabled': 'false'}
        worker = common.worker(server, 'jobs', sections=sections,
                               job_timeout=job_timeout).start()
        took, errors, threads = [], [], []
        template = templates.load_dir()['er_physical_interface_monitoring']
        for _ in range(jobs):
            iid = _interface(client, router_id)
            client.delete(keys.state('er_physical_interface', iid))
            body = json.loads(client.get(keys.config(
                'er_physical_interface', iid)).value)['body']
            params = templates.build_params(
                template, 'er_physical_interface', body, 1,
                templates.config_lookup(client))
            job_id, job = records.job('create', 'monitoring_worker',
                                      'er_physical_interface', iid, 1,
                                      params, body)
            started = time.monotonic()
            client.put(keys.job(job_id), job)
            state = None
            while state is None and time.monotonic() - started < cap:
                state = esi_fixtures.state_of(client, iid,
                                              'er_physical_interface')
                time.sleep(0.05)
            took.append(time.monotonic() - started if state else None)
            errors.append(state and state.get('error', '')[-160:])
            threads.append(len(os.listdir('/proc/%d/task'
                                          % worker.proc.pid)))
        return {'job_timeout_s': job_timeout, 'took_s': took,
                'errors': errors, 'threads_after_each': threads}
    finally:
        if worker is not None:
            worker.stop()
        hostile.stop()


def _write_routers(client, count):
    """*count* edge routers at 127.64.0.1 and on; their {rid: ip}."""
    first = ipaddress.ip_address('127.64.0.1')
    found, ops = {}, []
    for i in range(count):
        rid = str(uuid.uuid4())
        ip = str(first + i)
        found[rid] = ip
        ops += [etcd.put(keys.config('edge_router', rid), records.config(
                    {'id': rid, 'name': 'r-' + rid[:4], 'ip': ip,
                     'status': 'ACTIVE', 'tenant_id': OTHER_PROJECT}, 1)),
                etcd.put(keys.state('edge_router', rid), records.state(
                    'CREATE_COMPLETED', 1, {'router': 'ACTIVE'}))]
        if len(ops) + 2 > common.TXN_OPS:
            client.txn([], ops, key='/config/')
            ops = []
    if ops:
        client.txn([], ops, key='/config/')
    return found


def _polls(port):
    found = scrape.families(port)
    return sum(scrape.value(found, 'esi_worker_monitor_polls_total',
                            result=result)
               for result in ('up', 'down', 'error'))


def swarm_figures(server, client, tmp, devices, silent_every, interval,
                  cycles, max_polls, cap, tree=None):
    """The monitor's CPU per device poll with *devices* routers.

    :param tree: the heat_esi tree the worker runs (None: this one).
    """
    port = snmp_agents.free_udp_port('127.0.0.1')
    swarm = snmp_swarm.SwarmAgent(port, snmp_agents.COMMUNITY,
                                  silent_every).start()
    worker = None
    saved = os.environ.get('PYTHONPATH')
    try:
        ips = _write_routers(client, devices)
        silent = sum(snmp_swarm.silent(ip, silent_every)
                     for ip in ips.values())
        sections = snmp_agents.worker_sections(port, interval=interval)
        sections['snmp'].update(request_timeout=REQUEST_TIMEOUT,
                                uptime_interval=1.0)
        sections['monitor'].update(resource_types='edge_router',
                                   max_polls=max_polls)
        metrics_port = free_port()
        if tree:
            os.environ['PYTHONPATH'] = tree
        worker = common.worker(server, 'swarm', sections=sections,
                               metrics_port=metrics_port).start()
        if tree:
            if saved is None:
                del os.environ['PYTHONPATH']
            else:
                os.environ['PYTHONPATH'] = saved
        started = time.monotonic()
        prefix = keys.monitoring_prefix('edge_router')
        common.wait_count(client, prefix, devices, timeout=cap,
                          interval=1.0)
        out = {'tree': tree or 'this', 'devices': devices,
               'silent': silent, 'interval_s': interval,
               'max_polls': max_polls,
               'first_cycle_s': time.monotonic() - started}
        polls0 = _polls(metrics_port)
        meter = common.CpuMeter(worker=worker.proc.pid,
                                etcd=server.proc.pid).start()
        deadline = time.monotonic() + cap
        polls = 0
        while polls < cycles * devices and time.monotonic() < deadline:
            time.sleep(0.5)
            polls = _polls(metrics_port) - polls0
        used = meter.stop()
        states = [json.loads(kv.value).get('router') for kv in
                  client.get_prefix(prefix)[0]]
        out.update({
            'polls': polls, 'wall_s': meter.wall,
            'cycle_s': meter.wall / (polls / devices) if polls else None,
            'cpu_ms_per_poll': used['worker'] / max(polls, 1) * 1000,
            'etcd_cpu_ms_per_poll': used['etcd'] / max(polls, 1) * 1000,
            'up': states.count('UP'), 'down': states.count('DOWN')})
        # Why routers are DOWN, as the worker logged it (addresses and
        # numbers left out): the silent ones' timeouts, and nothing else.
        why = collections.Counter(
            re.sub(r'[0-9.]+', 'N', line.split('router DOWN (', 1)[1])[:100]
            for line in worker.log().splitlines()
            if 'router DOWN (' in line)
        out['why_down_logged'] = dict(why.most_common(5))
        out['devices_per_core_60s'] = (
            60.0 / (out['cpu_ms_per_poll'] / 1000) if polls else None)
        return out
    finally:
        if saved is None:
            os.environ.pop('PYTHONPATH', None)
        else:
            os.environ['PYTHONPATH'] = saved
        if worker is not None:
            worker.stop()
        swarm.stop()


def swarm_run(devices, before_devices, silent_every, interval, cycles,
              max_polls, cap, before=None, rounds=1):
    """swarm_figures of each side, alternated, each on a fresh etcd."""
    tmp = tempfile.mkdtemp(prefix='bench-swarm-')
    sides = []
    for _ in range(rounds):
        if before:
            sides.append((before, before_devices))
            sides.append((None, before_devices))
        sides.append((None, devices))
    found = []
    try:
        for tree, count in sides:
            server, client = common.start_etcd()
            try:
                _clear(client)
                found.append(swarm_figures(
                    server, client, tmp, count, silent_every, interval,
                    cycles, max_polls, cap, tree))
            except Exception as exc:
                found.append({'tree': tree or 'this', 'devices': count,
                              'error': str(exc)[:300]})
            finally:
                server.cleanup()
            print(json.dumps(found[-1]), file=sys.stderr, flush=True)
        return found
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _clear(client):
    """Remove every resource and what was written about it."""
    for rtype in ('edge_router', 'er_physical_interface'):
        for prefix in (keys.config_prefix(rtype), keys.state_prefix(rtype),
                       keys.monitoring_prefix(rtype)):
            client.delete_prefix(prefix)
    for prefix in ('/jobs/', '/esi-worker/'):
        client.delete_prefix(prefix)


def run(devices=100, victims=5, interval=2.0, jobs=3, job_timeout=5.0,
        cap=60.0):
    tmp = tempfile.mkdtemp(prefix='bench-monitor-')
    server, client = common.start_etcd()
    try:
        _clear(client)
        found = {'monitor': monitor_figures(server, client, tmp, devices,
                                            victims, interval, cap)}
        _clear(client)
        found['jobs'] = job_figures(server, client, tmp, jobs, job_timeout,
                                    cap)
        return found
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--devices', type=int, default=100)
    parser.add_argument('--victims', type=int, default=5)
    parser.add_argument('--interval', type=float, default=2.0)
    parser.add_argument('--jobs', type=int, default=3)
    parser.add_argument('--job-timeout', type=float, default=5.0)
    parser.add_argument('--cap', type=float, default=60.0,
                        help='seconds to wait for any one figure')
    parser.add_argument('--swarm', type=int, default=0,
                        help='routers for the scale figures (issue 23)')
    parser.add_argument('--before-devices', type=int, default=1000)
    parser.add_argument('--before', help='the tree of the "before" side')
    parser.add_argument('--silent-every', type=int, default=10)
    parser.add_argument('--cycles', type=int, default=2)
    parser.add_argument('--max-polls', type=int, default=2000)
    parser.add_argument('--rounds', type=int, default=1)
    args = parser.parse_args(argv)
    if args.swarm:
        print(json.dumps(swarm_run(
            args.swarm, args.before_devices, args.silent_every,
            args.interval, args.cycles, args.max_polls, args.cap,
            args.before, args.rounds), indent=2))
        return
    print(json.dumps(run(args.devices, args.victims, args.interval,
                         args.jobs, args.job_timeout, args.cap), indent=2))


if __name__ == '__main__':
    main()

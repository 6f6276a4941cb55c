"""Does the cost of one job stay flat as etcd fills up?

One etcd per size side by side (100, 10,000 and 100,000 resident resources
in the suite), each written directly, as finished jobs leave them; every
step is measured in each, alternated, in the same run, so that the
machine's drift falls on all alike.

The monitor's cycle polls edge routers answered by tests/snmp_swarm.py
(one process answering sysUpTime for every 127.x.y.z, one device in ten
silent) through the v2c client, as a deployment shares its devices: one
member per *per_member* devices, this one polling its share.

On its own: ``python benchmarks/bench_scale.py --sizes 100,10000,100000
--steps monitor`` prints the JSON of the steps asked for.
"""

import argparse
from concurrent import futures
import ipaddress
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

from oslo_config import cfg  # noqa: E402

from heat_esi import conf as esi_conf  # noqa: E402
from heat_esi import etcd  # noqa: E402
from heat_esi import keys  # noqa: E402
from heat_esi import records  # noqa: E402
from heat_esi import states  # noqa: E402
from heat_esi import templates  # noqa: E402
from heat_esi.worker import claims  # noqa: E402
from heat_esi.worker import elements  # noqa: E402
from heat_esi.worker import monitor as monitor_mod  # noqa: E402
from tests import snmp_agents  # noqa: E402
from tests import snmp_swarm  # noqa: E402

# The first resident edge router's address; the swarm answers them all.
FIRST_IP = ipaddress.ip_address('127.64.0.1')
# One swarm device in SILENT_EVERY never answers (a device that is down).
SILENT_EVERY = 10
# The monitor's settings in the cycle measured: polls in flight, and the
# pause between a router's two sysUpTime reads (shorter than the default
# 1 s, so that a cycle of 10,000 routers takes seconds, not minutes; the
# CPU per poll does not depend on it).
MAX_POLLS = 1000
UPTIME_INTERVAL = 0.5
REQUEST_TIMEOUT = 0.5
# Polls measured at least, whatever the devices (see monitor_cycle).
MIN_POLLS = 2000
# Writers of the resident resources, each with a client of its own.
WRITERS = 4


def _median_ms(samples):
    return statistics.median(samples) * 1000


def claim_cost(client, count, tag):
    """Seconds of one claim (the transaction with its template read)."""
    lease = client.grant_lease(60)
    try:
        common.write_jobs(client, ['%s-%d' % (tag, i) for i in range(count)],
                          per_txn=50)
        found = []
        prefetch = (keys.heat_template('ha_router_monitoring'),)
        for kv in client.get_prefix(keys.JOBS_ALL + 'create:'
                                    'monitoring_worker:ha_router:%s-'
                                    % tag)[0]:
            name, job = records.parse_job(kv.key, kv.value)
            start = time.perf_counter()
            claim = claims.claim(client, kv, name, job, lease, prefetch)
            found.append(time.perf_counter() - start)
            claim.finish(records.state('CREATE_COMPLETED', 1, {}))
    finally:
        client.revoke_lease(lease)
    return found


def render_cost(client, count):
    """Seconds of rendering the ha_router template once."""
    template = templates.fetch(client, 'ha_router_monitoring')
    params = {'primary_device_id': common.PRIMARY,
              'secondary_device_id': common.SECONDARY}
    found = []
    for _ in range(count):
        start = time.perf_counter()
        elements.render(template, params)
        found.append(time.perf_counter() - start)
    return found


def reader_cost(client, count, ids):
    """Seconds of one etcd_reader read of an edge router's parts."""
    found = []
    for i in range(count):
        start = time.perf_counter()
        states.parts_of(client, 'edge_router', ids[i % len(ids)])
        found.append(time.perf_counter() - start)
    return found


def write_resident(server, count, prefix='res'):
    """Write *count* resources that exist, as finished jobs leave them.

    Edge routers (config with a device ip from FIRST_IP on, /state) and as
    many HA routers that pair them, in transactions of common.TXN_OPS puts
    sent by WRITERS clients at once: 100,000 of each in about a minute.
    """
    def batch(start, stop):
        ops = []
        for i in range(start, stop):
            edge = '%s-edge-%d' % (prefix, i)
            ha = '%s-ha-%d' % (prefix, i)
            ops += [
                etcd.put(keys.config('edge_router', edge), records.config(
                    {'id': edge, 'name': edge, 'status': 'ACTIVE',
                     'ip': str(FIRST_IP + i)}, 1)),
                etcd.put(keys.state('edge_router', edge), records.state(
                    'CREATE_COMPLETED', 1, {'router': 'ACTIVE'})),
                etcd.put(keys.config('ha_router', ha), records.config(
                    dict(common.ha_body(ha), status='ACTIVE'), 1)),
                etcd.put(keys.state('ha_router', ha), records.state(
                    'CREATE_COMPLETED', 1, {'primary': 'ACTIVE',
                                            'secondary': 'ACTIVE'})),
            ]
        return ops

    per_txn = common.TXN_OPS // 4
    clients = [server.client() for _ in range(WRITERS)]

    def write(n):
        client = clients[n]
        for start in range(n * per_txn, count, WRITERS * per_txn):
            client.txn([], batch(start, min(start + per_txn, count)),
                       key='/config/')
    with futures.ThreadPoolExecutor(WRITERS) as pool:
        for done in [pool.submit(write, n) for n in range(WRITERS)]:
            done.result()


def monitor_conf(port):
    conf = cfg.ConfigOpts()
    esi_conf.register_worker_opts(conf)
    conf([], project='heat-esi')
    conf.set_override('port', port, group='snmp')
    conf.set_override('request_timeout', REQUEST_TIMEOUT, group='snmp')
    conf.set_override('uptime_interval', UPTIME_INTERVAL, group='snmp')
    conf.set_override('communities',
                      {'EDGE_ROUTER_COMMUNITY': snmp_agents.COMMUNITY},
                      group='snmp')
    # The devices are on loopback; outside the allowed networks the polls
    # would be refused before a request, and measure nothing.
    conf.set_override('allowed_networks', ['127.0.0.0/8'], group='snmp')
    return conf


def monitor_cycle(server, client, conf, min_polls=MIN_POLLS):
    """Measure a monitor's cycles over the edge routers it owns.

    The swarm answers them (one in SILENT_EVERY never does); the cycles'
    wall and CPU time are measured, of this process and of etcd.

    The first cycle writes each device's /monitoring; the next ones, which
    only poll, are measured: as many as make *min_polls* polls at least (CPU
    time comes in ticks of 10 ms: one cycle of 100 devices would be a few
    ticks). Returned per cycle, with the states the cycles wrote.
    """
    plugins = elements.load_plugins(client, conf)
    lease = client.grant_lease(600)
    mon = monitor_mod.Monitor(client, plugins, lambda: lease,
                              interval=3600, member_id='bench',
                              max_polls=MAX_POLLS)
    try:
        mon.cycle()
        owned = _owned(client, mon.member_id)
        cycles = max(1, -(-min_polls // max(len(owned), 1)))
        common.settle(server.proc.pid, quiet=0.2)
        meter = common.CpuMeter(etcd=server.proc.pid,
                                monitor=os.getpid()).start()
        for _ in range(cycles):
            mon.cycle()
        used = meter.stop()
        found = {'wall_s': meter.wall / cycles, 'cycles': cycles,
                 'monitor_cpu_s': used['monitor'] / cycles,
                 'etcd_cpu_s': used['etcd'] / cycles, 'owned': len(owned)}
        monitored = {kv.key.rsplit('/', 1)[1]: json.loads(kv.value)
                     for kv in client.get_prefix(keys.monitoring_prefix(
                         'edge_router'))[0]}
        states_ = [monitored.get(rid, {}).get('router') for rid in owned]
        found.update(up=states_.count('UP'), down=states_.count('DOWN'))
    finally:
        mon.stop()
        client.revoke_lease(lease)
    return found


def _owned(client, member_id):
    members = [keys.under(keys.MONITORS, kv.key)
               for kv in client.get_prefix(keys.MONITORS)[0]]
    edges = client.get_prefix(keys.config_prefix('edge_router'),
                              keys_only=True)[0]
    ours = []
    for kv in edges:
        rid = kv.key.rsplit('/', 1)[1]
        if rid.startswith('res-') and (
                monitor_mod.owner(rid, members) == member_id):
            ours.append(rid)
    return ours


STEPS = ('etcd', 'worker', 'heat', 'monitor')


def run(sizes, jobs, samples, per_member, heat_runs, worker_jobs,
        steps=STEPS, log=None, min_polls=MIN_POLLS):
    """Every step at each size in *sizes*, alternated; see run.py.

    :param per_member: the monitor's share: a deployment of N devices
        has one member per *per_member* of them (at least one).
    :param steps: which of STEPS to measure.
    :param min_polls: the monitor's polls measured at least, per size.
    """
    import bench_heat
    import bench_worker
    log = log or (lambda *a: None)
    servers, clients = {}, {}
    try:
        for size in sizes:
            servers[size], clients[size] = common.start_etcd()
            start = time.perf_counter()
            write_resident(servers[size], size)
            log('%d resident written in %.1f s' % (
                size, time.perf_counter() - start))
        result = {size: {'resident_keys': common.count_keys(
            clients[size], '/')} for size in sizes}
        if 'etcd' in steps:
            _etcd_steps(clients, sizes, jobs, samples, result)
        # The whole worker path: CPU per job and latency.
        if 'worker' in steps:
            for size in sizes:
                result[size]['worker_cpu'] = []
            for rnd in range(2):
                for size in sizes:
                    result[size]['worker_cpu'].append(
                        bench_worker.cpu_per_job(
                            servers[size], clients[size], 1, worker_jobs,
                            'sc%d' % rnd))
            for size in sizes:
                runs = result[size].pop('worker_cpu')
                result[size]['job_total_ms'] = statistics.median(
                    r['total_ms'] for r in runs)
                result[size]['job_worker_ms'] = statistics.median(
                    r['worker_ms'] for r in runs)
                lat = bench_worker.latency(servers[size], clients[size],
                                           samples // 4, tag='sl')
                result[size]['latency_median_ms'] = lat['median_ms']
        # The Heat side: validation and create of one HA router stack.
        if 'heat' in steps:
            heat = bench_heat.heat_side(servers, heat_runs, common.PRIMARY,
                                        common.SECONDARY)
            for size in sizes:
                result[size].update(('heat_' + k, v)
                                    for k, v in heat[size].items())
        if 'monitor' in steps:
            _monitor_step(servers, clients, sizes, per_member, result,
                          min_polls)
        return result
    finally:
        for server in servers.values():
            server.cleanup()


def _etcd_steps(clients, sizes, jobs, samples, result):
    """Claim, render and etcd_reader read at each size, alternated."""
    edge_ids = ['res-edge-%d' % i for i in range(min(sizes))]
    acc = {size: {'claim': [], 'render': [], 'reader': []}
           for size in sizes}
    for rnd in range(3):
        for size in sizes:
            client = clients[size]
            acc[size]['claim'] += claim_cost(client, jobs, 'cl%d' % rnd)
            acc[size]['render'] += render_cost(client, samples)
            acc[size]['reader'] += reader_cost(client, samples, edge_ids)
    for size in sizes:
        result[size].update(
            claim_ms=_median_ms(acc[size]['claim']),
            render_ms=_median_ms(acc[size]['render']),
            etcd_reader_ms=_median_ms(acc[size]['reader']))


def _monitor_step(servers, clients, sizes, per_member, result, min_polls):
    """The monitor's cycle over its share of the swarm's routers.

    Each size has one member per *per_member* devices, as a deployment
    would share them, the others stand-in keys; the one measured here
    polls its share.
    """
    port = snmp_agents.free_udp_port('127.0.0.1')
    swarm = snmp_swarm.SwarmAgent(port, snmp_agents.COMMUNITY,
                                  SILENT_EVERY).start()
    try:
        for size in sizes:
            client = clients[size]
            others = max(1, round(size / per_member)) - 1
            lease = client.grant_lease(600)
            members = [etcd.put(keys.MONITORS + 'other-%d' % i,
                                'other', lease=lease)
                       for i in range(others)]
            for at in range(0, len(members), common.TXN_OPS):
                client.txn([], members[at:at + common.TXN_OPS],
                           key=keys.MONITORS)
            try:
                cyc = monitor_cycle(servers[size], client,
                                    monitor_conf(port), min_polls)
            finally:
                client.revoke_lease(lease)
            cpu_s = cyc['monitor_cpu_s'] + cyc['etcd_cpu_s']
            owned = max(cyc['owned'], 1)
            result[size].update(
                monitor_members=others + 1,
                monitor_devices=cyc['owned'],
                monitor_cycles=cyc['cycles'],
                monitor_up=cyc['up'], monitor_down=cyc['down'],
                monitor_wall_s=cyc['wall_s'],
                monitor_ms_per_device=cyc['wall_s'] / owned * 1000,
                monitor_cpu_ms_per_device=cpu_s / owned * 1000,
                monitor_own_cpu_ms_per_device=(
                    cyc['monitor_cpu_s'] / owned * 1000),
                monitor_etcd_cpu_ms_per_device=(
                    cyc['etcd_cpu_s'] / owned * 1000))
    finally:
        swarm.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--sizes', default='100,10000,100000')
    parser.add_argument('--steps', default=','.join(STEPS))
    parser.add_argument('--per-member', type=int, default=10000)
    parser.add_argument('--claims', type=int, default=100)
    parser.add_argument('--samples', type=int, default=300)
    parser.add_argument('--worker-jobs', type=int, default=300)
    parser.add_argument('--heat-runs', type=int, default=5)
    args = parser.parse_args(argv)
    found = run([int(n) for n in args.sizes.split(',')], args.claims,
                args.samples, args.per_member, args.heat_runs,
                args.worker_jobs, steps=args.steps.split(','),
                log=lambda text: print(text, file=sys.stderr, flush=True))
    print(json.dumps(found, indent=1, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Does the cost of one job stay flat as etcd fills up?

Two etcds side by side, one holding few resident resources and one many
(written directly to etcd, as finished jobs leave them); every step is
measured in both, alternated, in the same run, so that the machine's drift
falls on both alike.
"""

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


def monitor_conf(dead_port):
    conf = cfg.ConfigOpts()
    esi_conf.register_worker_opts(conf)
    conf([], project='heat-esi')
    conf.set_override('port', dead_port, group='snmp')
    conf.set_override('request_timeout', 0.1, group='snmp')
    conf.set_override('communities', {'EDGE_ROUTER_COMMUNITY': 'bench'},
                      group='snmp')
    # The devices are on loopback; outside the allowed networks the polls
    # would be refused before a request, and measure nothing.
    conf.set_override('allowed_networks', ['127.0.0.0/8'], group='snmp')
    return conf


def monitor_cycle(server, client, conf, cycles=2):
    """Measure one monitor's cycle over every edge router.

    None of the routers answers (their SNMP port is closed); the cycle's
    wall and CPU time are measured, of this process and of etcd.

    The first cycle writes each device's /monitoring; the last one, which
    only polls, is returned.
    """
    plugins = elements.load_plugins(client, conf)
    lease = client.grant_lease(120)
    mon = monitor_mod.Monitor(client, plugins, lambda: lease,
                              interval=3600, member_id='bench')
    found = None
    try:
        for _ in range(cycles):
            common.settle(server.proc.pid, quiet=0.2)
            meter = common.CpuMeter(etcd=server.proc.pid,
                                    monitor=os.getpid()).start()
            mon.cycle()
            used = meter.stop()
            found = {'wall_s': meter.wall, 'monitor_cpu_s': used['monitor'],
                     'etcd_cpu_s': used['etcd'],
                     'owned': len(_owned(client, mon.member_id))}
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
            ours.append(kv.key)
    return ours


def run(sizes, jobs, samples, devices, heat_runs, worker_jobs):
    """Every step at each size in *sizes*, alternated; see run.py."""
    import bench_heat
    import bench_worker
    servers, clients = {}, {}
    try:
        for size in sizes:
            servers[size], clients[size] = common.start_etcd()
            common.write_resident(clients[size], size)
        result = {size: {} for size in sizes}
        edge_ids = ['res-edge-%d' % i for i in range(min(sizes))]
        acc = {size: {'claim': [], 'render': [], 'reader': []}
               for size in sizes}
        for rnd in range(3):
            for size in sizes:
                client = clients[size]
                acc[size]['claim'] += claim_cost(client, jobs,
                                                 'cl%d' % rnd)
                acc[size]['render'] += render_cost(client, samples)
                acc[size]['reader'] += reader_cost(client, samples,
                                                   edge_ids)
        for size in sizes:
            result[size].update(
                claim_ms=_median_ms(acc[size]['claim']),
                render_ms=_median_ms(acc[size]['render']),
                etcd_reader_ms=_median_ms(acc[size]['reader']))
        # The whole worker path: CPU per job and latency.
        for size in sizes:
            result[size]['worker_cpu'] = []
        for rnd in range(2):
            for size in sizes:
                result[size]['worker_cpu'].append(bench_worker.cpu_per_job(
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
        heat = bench_heat.heat_side(servers, heat_runs, common.PRIMARY,
                                    common.SECONDARY)
        for size in sizes:
            result[size].update(('heat_' + k, v)
                                for k, v in heat[size].items())
        # The monitor's cycle over devices that do not answer. Each size
        # has as many monitors (members) as it takes for this one to own
        # about *devices* of them, as a deployment would share them.
        dead = common.esi_fixtures.free_port()
        for size in sizes:
            client = clients[size]
            others = max(1, round(size / devices)) - 1
            lease = client.grant_lease(600)
            members = [etcd.put(keys.MONITORS + 'other-%d' % i,
                                'other', lease=lease)
                       for i in range(others)]
            client.txn([], members or [etcd.get(keys.MONITORS)],
                       key=keys.MONITORS)
            cyc = monitor_cycle(servers[size], client, monitor_conf(dead))
            client.revoke_lease(lease)
            cpu_s = cyc['monitor_cpu_s'] + cyc['etcd_cpu_s']
            result[size].update(
                monitor_members=others + 1,
                monitor_devices=cyc['owned'],
                monitor_wall_s=cyc['wall_s'],
                monitor_ms_per_device=cyc['wall_s'] / cyc['owned'] * 1000,
                monitor_cpu_ms_per_device=cpu_s / cyc['owned'] * 1000)
        return result
    finally:
        for server in servers.values():
            server.cleanup()

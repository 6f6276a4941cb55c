"""A network + subnet stack through the heat_worker, against OS::Heat::None.

The stack of templates/hot/tenant_network.yaml (ESI::Network and
ESI::Subnet) and a stack of two OS::Heat::None (the second depending on
the first, as the subnet does on the network), created and deleted
alternately through heat-api in one run. A real esi-worker runs both
handlers: its heat_worker creates each resource's own stack of simulated
Contrail resources through the same heat-api (keystoneauth1's ``none``
auth_type, as the network demo does), its monitoring_worker checks the
network. Heat is the demo's (heat_esi.demo.heat.InProcessHeat: heat-api
and heat-engine in one process, noauth, sqlite).

That Heat configures oslo.config's global CONF from a heat.conf, which the
in-process engine of bench_heat configures otherwise: the measurement runs
in a process of its own (run() starts it; main() is that process).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402

# The heat_worker's pause between two reads of its stack: short, as the
# stand-ins answer at once; its default (1 s) would be most of what is
# measured.
POLL_INTERVAL = 0.1
# Seconds between two reads of the measured stack's status.
WATCH_INTERVAL = 0.05
NONE_TEMPLATE = {
    'heat_template_version': '2018-08-31',
    'resources': {'network': {'type': 'OS::Heat::None'},
                  'subnet': {'type': 'OS::Heat::None',
                             'depends_on': 'network'}}}


def run(runs, log=print):
    """Measure in a process of its own; the results (see measure())."""
    with tempfile.TemporaryDirectory(prefix='esi-bench-net-') as tmp:
        out = os.path.join(tmp, 'network.json')
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), '--runs', str(runs),
             '--output', out], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=600 + 120 * runs)
        if proc.returncode != 0:
            raise RuntimeError('bench_network failed (%d):\n%s'
                               % (proc.returncode, proc.stdout[-3000:]))
        with open(out) as f:
            return json.load(f)


def wait(heat, stack_id, timeout=300):
    """Poll the stack until no action runs; (status, reason, seconds)."""
    from heatclient import exc as heat_exc
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            stack = heat.stacks.get(stack_id)
        except heat_exc.HTTPNotFound:
            return 'DELETE_COMPLETE', '', time.perf_counter() - start
        if not stack.stack_status.endswith('IN_PROGRESS'):
            return (stack.stack_status, stack.stack_status_reason,
                    time.perf_counter() - start)
        time.sleep(WATCH_INTERVAL)
    raise RuntimeError('stack %s still in progress after %s s'
                       % (stack_id, timeout))


def timed(heat, name, template):
    """Create then delete a stack of *template*; (create s, delete s)."""
    start = time.perf_counter()
    stack_id = heat.stacks.create(stack_name=name,
                                  template=template)['stack']['id']
    status, reason, _ = wait(heat, stack_id)
    created = time.perf_counter() - start
    if status != 'CREATE_COMPLETE':
        raise RuntimeError('stack %s: %s: %s' % (name, status, reason))
    start = time.perf_counter()
    heat.stacks.delete(stack_id)
    status, reason, _ = wait(heat, stack_id)
    deleted = time.perf_counter() - start
    if status != 'DELETE_COMPLETE':
        raise RuntimeError('stack %s: %s: %s' % (name, status, reason))
    return created, deleted


def measure(runs, sides=None):
    """The create and delete times of both stacks, alternated.

    :param sides: [(poll_interval, check_wait)]: each side's heat_worker
        poll_interval and the wait of the ESI resources' checks for the
        worker's answer (None: lifecycle.CHECK_WAIT), measured alternately
        in this run, a worker started for each side's turn. None: one side,
        (POLL_INTERVAL, None), with one worker.
    :returns: {'esi_s', 'none_s', 'ratio' (create medians),
        'esi_delete_s', 'none_delete_s', 'delete_ratio', the runs,
        'stacks_left' (stacks left: none)}; with *sides*, {'sides': [that,
        with 'poll_interval_s' and 'check_wait_s', for each side]}
    """
    from heat_esi.demo import heat as demo_heat  # first: oslo.service
    from heatclient import client as heat_client

    from heat_esi.demo import network
    from heat_esi.demo import run as demo_run
    from heat_esi import lifecycle
    from heat_esi import simulated

    from heat_esi import esi_resource

    one = sides is None
    sides = sides or [(POLL_INTERVAL, None)]
    # The checks that found no answer yet: each costs the resource a step
    # of heat-engine's scheduler (1 s) before the next. Counted, as wall
    # times on a loaded machine hide them.
    missed = [0]
    check_done = esi_resource.EsiResource._check_done

    def counted(resource, cookie):
        done = check_done(resource, cookie)
        missed[0] += not done
        return done
    server, client = common.start_etcd()
    heat = worker = None
    work = tempfile.mkdtemp(prefix='esi-bench-heat-', dir=server.dir)
    # read_state's wait is bound when it is defined; the in-process
    # heat-engine's checks call it with that default.
    defaults = lifecycle.read_state.__defaults__

    def start_worker(poll_interval):
        sections = {'heat_worker': dict(
            network.worker_auth(heat.endpoint),
            environment=simulated.environment_file(),
            poll_interval=poll_interval)}
        return common.worker(server, 'network', sections=sections,
                             enabled_handlers='monitoring_worker,'
                                              'heat_worker').start()

    def use(side):
        poll_interval, check_wait = side
        lifecycle.read_state.__defaults__ = (
            defaults[0], lifecycle.CHECK_WAIT if check_wait is None
            else check_wait)
        return start_worker(poll_interval)

    try:
        heat = demo_heat.InProcessHeat(work, client, 'bench-network',
                                       simulated=True).start()
        api = heat_client.Client('1', endpoint=heat.endpoint, token='x')
        with open(os.path.join(demo_run.hot_dir(),
                               network.TEMPLATE)) as f:
            esi_template = f.read()
        none_template = json.dumps(NONE_TEMPLATE)
        times = [([], []) for _ in sides]
        misses = [[] for _ in sides]
        esi_resource.EsiResource._check_done = counted
        worker = use(sides[0])
        timed(api, 'warm-none', none_template)
        timed(api, 'warm-esi', esi_template)
        for i in range(runs):
            for n, side in enumerate(sides):
                if not one:
                    worker.stop()
                    worker = None
                    worker = use(side)
                esi, none = times[n]
                none.append(timed(api, 'none-%d-%d' % (n, i), none_template))
                missed[0] = 0
                esi.append(timed(api, 'esi-%d-%d' % (n, i), esi_template))
                misses[n].append(missed[0])
        left = [s.stack_name for s in api.stacks.list()]
    finally:
        esi_resource.EsiResource._check_done = check_done
        lifecycle.read_state.__defaults__ = defaults
        if worker is not None:
            worker.stop()
        if heat is not None:
            heat.stop()
        server.cleanup()

    def median(values, which):
        return statistics.median(v[which] for v in values)
    found = []
    for side, (esi, none), miss in zip(sides, times, misses):
        poll_interval, check_wait = side
        side = {'runs': runs, 'poll_interval_s': poll_interval,
                'check_wait_s': (lifecycle.CHECK_WAIT if check_wait is None
                                 else check_wait),
                'esi_s': median(esi, 0), 'none_s': median(none, 0),
                'esi_delete_s': median(esi, 1),
                'none_delete_s': median(none, 1),
                'esi_runs': esi, 'none_runs': none, 'stacks_left': left,
                'missed_checks': miss}
        side['ratio'] = side['esi_s'] / side['none_s']
        side['delete_ratio'] = side['esi_delete_s'] / side['none_delete_s']
        found.append(side)
    return found[0] if one else {'sides': found}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--sides', default=None,
                        help='POLL:WAIT,...: heat_worker poll_interval and '
                             'the checks\' wait for the worker (WAIT "-": '
                             'the default) of each side, alternated; e.g. '
                             '1.0:-,1.0:1.5,0.1:-')
    parser.add_argument('--output', default=None,
                        help='file for the JSON results (default: printed)')
    args = parser.parse_args(argv)
    sides = None
    if args.sides:
        sides = [(float(poll), None if wait == '-' else float(wait))
                 for poll, wait in (side.split(':')
                                    for side in args.sides.split(','))]
    results = measure(args.runs, sides)
    if args.output is None:
        print(json.dumps(results, indent=1, sort_keys=True))
        return 0
    with open(args.output, 'w') as f:
        json.dump(results, f)
    return 0


if __name__ == '__main__':
    sys.exit(main())

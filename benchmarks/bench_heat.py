"""Stack create through the real Heat engine, ESI::HaRouter against None.

The engine runs in this process, with a real esi-worker answering;
OS::Heat::None is the baseline.

Import this module before anything imports heat (tests.heat_engine picks
oslo.service's threading backend).

On its own, ``python benchmarks/bench_heat.py [--sizes 1,100] [--runs 5]
[--before TREE --rounds 2]`` prints stack_ratios as JSON; with --before,
each round runs a process of TREE's heat_esi (a checkout before a change)
then one of this tree's, alternated so that the shared machine's noise
hits both sides.
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from tests import heat_engine  # noqa: E402  (before any heat import)


def template(count, esi=True, primary=common.PRIMARY,
             secondary=common.SECONDARY):
    """A HOT template of *count* HA routers (or OS::Heat::None)."""
    if esi:
        res = {'type': 'ESI::HaRouter',
               'properties': {'primary_router_id': primary,
                              'secondary_router_id': secondary}}
    else:
        res = {'type': 'OS::Heat::None'}
    return {'heat_template_version': '2018-08-31',
            'resources': {'r%d' % i: dict(res) for i in range(count)}}


def timed_create(tmpl, cpu=None):
    """Time the validation and the creation of a new stack of *tmpl*.

    Both are done as heat-engine's create_stack does them: validate, then
    create.

    :param cpu: a list that gets the process CPU seconds of the create.
    :returns: (validate seconds, create seconds)
    """
    stk = heat_engine.stack(tmpl)
    start = time.perf_counter()
    stk.validate()
    validated = time.perf_counter()
    cpu0 = time.process_time()
    stk.create()
    done = time.perf_counter()
    if cpu is not None:
        cpu.append(time.process_time() - cpu0)
    if stk.state != ('CREATE', 'COMPLETE'):
        raise RuntimeError('stack create failed: %s' % stk.status_reason)
    return validated - start, done - validated


_requests = collections.Counter()


def _count_requests():
    """Count heat-engine's etcd requests by path (kv/txn, watch...)."""
    from heat_esi import etcd
    send = etcd.Etcd._send
    if getattr(send, 'counted', False):
        return

    def counted(self, index, path, *args, **kwargs):
        _requests[path] += 1
        return send(self, index, path, *args, **kwargs)
    counted.counted = True
    etcd.Etcd._send = counted


def use(server):
    """Point the in-process engine's plugins at *server*."""
    heat_engine.setup(server.port)


def stack_ratios(server, sizes, runs):
    """Compare the create times of ESI::HaRouter and OS::Heat::None stacks.

    The median create time of stacks of each size, the two kinds alternated
    in one run; a real esi-worker answers the jobs.

    :param runs: {size: number of runs}
    """
    use(server)
    _count_requests()
    proc = common.worker(server, 'heat').start()
    found = {}
    try:
        timed_create(template(1, esi=False))        # warm-up
        timed_create(template(1))
        for size in sizes:
            esi, none, esi_cpu, none_cpu = [], [], [], []
            _requests.clear()
            for _ in range(runs[size]):
                none.append(timed_create(template(size, esi=False),
                                         none_cpu)[1])
                esi.append(timed_create(template(size), esi_cpu)[1])
            esi_s, none_s = statistics.median(esi), statistics.median(none)
            found[size] = {'esi_s': esi_s,
                           'none_s': none_s,
                           'ratio': esi_s / none_s,
                           # heat-engine's CPU (this process), which the
                           # load of a shared machine distorts less
                           'cpu_ratio': statistics.median(esi_cpu) /
                           statistics.median(none_cpu),
                           # its etcd requests per ESI resource created
                           # (validate and create), by kind
                           'etcd_requests_per_resource': {
                               path: round(n / (size * runs[size]), 2)
                               for path, n in sorted(_requests.items())},
                           'esi_runs': esi, 'none_runs': none}
    finally:
        proc.stop()
    return found


def heat_side(servers, runs, primary, secondary):
    """Time validate and create of one HA router stack in each of *servers*.

    The *servers* are etcds holding different numbers of resources; they
    are used alternately.

    :returns: {label: {'validate_ms', 'create_ms'}} (medians)
    """
    procs = {label: common.worker(srv, 'heat-%s' % label).start()
             for label, srv in servers.items()}
    times = {label: ([], []) for label in servers}
    try:
        for run in range(runs + 1):
            for label, srv in servers.items():
                use(srv)
                validate, create = timed_create(
                    template(1, primary=primary, secondary=secondary))
                if run:     # the first is a warm-up
                    times[label][0].append(validate * 1000)
                    times[label][1].append(create * 1000)
    finally:
        for proc in procs.values():
            proc.stop()
    return {label: {'validate_ms': statistics.median(v),
                    'create_ms': statistics.median(c)}
            for label, (v, c) in times.items()}


# A side's process, run in the root of its tree with that tree first on
# PYTHONPATH: that tree's heat_esi and tests (imported first, so that
# common.py's path does not replace them), measured by this file, so that
# a tree from before a change is measured the same way.
_SIDE = """
import importlib.util, json, os, sys
from tests import heat_engine
import heat_esi
print('side: heat_esi of %s' % os.path.dirname(heat_esi.__file__),
      file=sys.stderr)
sys.path.insert(0, os.path.dirname(sys.argv[3]))
spec = importlib.util.spec_from_file_location('bench_heat', sys.argv[3])
bench_heat = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_heat)
common = bench_heat.common
sizes, runs = [int(s) for s in sys.argv[1].split(',')], int(sys.argv[2])
server, _ = common.start_etcd()
try:
    print(json.dumps(bench_heat.stack_ratios(server, sizes, {
        size: runs if size < 100 else max(1, runs - 2) for size in sizes})))
finally:
    server.cleanup()
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1,100')
    parser.add_argument('--runs', type=int, default=5,
                        help='runs per size (two fewer for 100 and more)')
    parser.add_argument('--before', help='the tree of the "before" side')
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args(argv)
    this = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = []
    sides = [this] if not args.before else \
        [args.before, this] * args.rounds
    for tree in sides:
        env = dict(os.environ, PYTHONPATH=tree)
        out = subprocess.run(
            [sys.executable, '-c', _SIDE, args.sizes, str(args.runs),
             os.path.abspath(__file__)],
            cwd=tree, env=env, stdout=subprocess.PIPE, check=True).stdout
        side = {'tree': tree}
        for size, figures in json.loads(
                out.decode().strip().splitlines()[-1]).items():
            side[size] = {name: value for name, value in figures.items()
                          if not name.endswith('_runs')}
        print(json.dumps(side), file=sys.stderr, flush=True)
        found.append(side)
    print(json.dumps(found, indent=2))


if __name__ == '__main__':
    main()

"""Stack create through the real Heat engine, ESI::HaRouter against None.

The engine runs in this process, with a real esi-worker answering;
OS::Heat::None is the baseline.

Import this module before anything imports heat (tests.heat_engine picks
oslo.service's threading backend).
"""

import os
import statistics
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


def timed_create(tmpl):
    """Time the validation and the creation of a new stack of *tmpl*.

    Both are done as heat-engine's create_stack does them: validate, then
    create.

    :returns: (validate seconds, create seconds)
    """
    stk = heat_engine.stack(tmpl)
    start = time.perf_counter()
    stk.validate()
    validated = time.perf_counter()
    stk.create()
    done = time.perf_counter()
    if stk.state != ('CREATE', 'COMPLETE'):
        raise RuntimeError('stack create failed: %s' % stk.status_reason)
    return validated - start, done - validated


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
    proc = common.worker(server, 'heat').start()
    found = {}
    try:
        timed_create(template(1, esi=False))        # warm-up
        timed_create(template(1))
        for size in sizes:
            esi, none = [], []
            for _ in range(runs[size]):
                none.append(timed_create(template(size, esi=False))[1])
                esi.append(timed_create(template(size))[1])
            esi_s, none_s = statistics.median(esi), statistics.median(none)
            found[size] = {'esi_s': esi_s,
                           'none_s': none_s,
                           'ratio': esi_s / none_s,
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

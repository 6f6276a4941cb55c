"""One-resource stack create through the real Heat engine (not a test).

ESI::HaRouter, with a stand-in that writes /state as soon as the job
appears, against OS::Heat::None in the same run: median times and ratio.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from tests import heat_engine  # noqa: E402  (before any heat import)

from heat_esi import exceptions  # noqa: E402
from heat_esi import keys  # noqa: E402
from heat_esi import records  # noqa: E402
from heat_esi import templates  # noqa: E402
from tests import esi_fixtures  # noqa: E402

NONE_TEMPLATE = {'heat_template_version': '2018-08-31',
                 'resources': {'none': {'type': 'OS::Heat::None'}}}


def stand_in(client, stop):
    """Answer each job at once, as a worker with nothing to wait for."""
    revision = client.revision() + 1
    try:
        while not stop.is_set():
            for event in client.watch(keys.JOBS_ALL, revision, timeout=0.2):
                revision = event.kv.mod_revision + 1
                if event.type == 'PUT' and event.kv.version == 1:
                    job = json.loads(event.kv.value)[1]
                    client.put(keys.state(job['resource_type'],
                                          job['resource_id']),
                               records.state(
                                   records.completed(job['action']),
                                   job['version'], {}))
    except exceptions.EtcdError:
        pass        # etcd stopped at the end of the run


def time_create(template):
    stk = heat_engine.stack(template)
    start = time.perf_counter()
    stk.create()
    elapsed = time.perf_counter() - start
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--runs', type=int, default=15)
    args = parser.parse_args()
    server = esi_fixtures.EtcdServer().start()
    stop = threading.Event()
    try:
        client = server.client()
        templates.store(client, templates.load_dir())
        esi_fixtures.register_edge_routers(client)
        heat_engine.setup(server.port)
        threading.Thread(target=stand_in, args=(server.client(), stop),
                         daemon=True).start()
        time.sleep(0.3)
        esi, none = [], []
        time_create(NONE_TEMPLATE)       # warm-up
        time_create(heat_engine.ha_router_template())
        for _ in range(args.runs):
            none.append(time_create(NONE_TEMPLATE))
            esi.append(time_create(heat_engine.ha_router_template()))
    finally:
        stop.set()
        server.cleanup()
    m_esi, m_none = statistics.median(esi), statistics.median(none)
    print('OS::Heat::None stack create: median %.3f s (%d runs)'
          % (m_none, len(none)))
    print('ESI::HaRouter  stack create: median %.3f s (%d runs)'
          % (m_esi, len(esi)))
    print('ratio ESI::HaRouter / OS::Heat::None: %.2f' % (m_esi / m_none))


if __name__ == '__main__':
    main()

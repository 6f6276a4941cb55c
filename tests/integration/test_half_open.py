"""A worker whose connections to etcd go half-open.

Nothing arrives and nothing is closed. Its watch must notice and
reconnect.
"""

import time

from heat_esi import templates
from tests import esi_fixtures
from tests.etcd_cluster import EtcdCluster
from tests.etcd_cluster import TcpRelay


def test_worker_notices_a_half_open_watch_and_reconnects(tmp_path):
    cluster = EtcdCluster(size=1).start()
    relay = TcpRelay(cluster.members[0].port)
    worker = None
    try:
        client = cluster.client()
        templates.store(client, templates.load_dir())
        esi_fixtures.register_edge_routers(client)
        # The worker reaches etcd only through the relay; progress
        # notifications come every second, so silence means a dead line
        # after 3 s.
        worker = esi_fixtures.WorkerProcess(
            str(tmp_path), 0, name='w', claim_ttl=30,
            etcd_reader_retry_interval=0.05, sections={
                'monitor': {'enabled': 'false'},
                'esi_etcd': {'endpoints': relay.url, 'timeout': 2,
                             'watch_progress_interval': 1}}).start()
        # The first job must come through the watch, so that the watch
        # is open and confirmed before the line is frozen: a job found by
        # the initial read would complete while the watch may still be
        # opening, and a freeze then is an unanswered open, not silence.
        worker.wait_for_log('found 0 unclaimed job(s)', timeout=20)
        first = '80000000-0000-0000-0000-000000000001'
        esi_fixtures.write_ha_job(client, first)
        esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, first),
                                timeout=20)
        frozen_at = time.monotonic()
        assert relay.freeze() > 0
        second = '80000000-0000-0000-0000-000000000002'
        esi_fixtures.write_ha_job(client, second)
        worker.wait_for_log('a dead connection', timeout=20)
        detected = time.monotonic() - frozen_at
        esi_fixtures.wait_until(lambda: esi_fixtures.state_of(client, second),
                                timeout=30, message='job after the freeze')
        done = time.monotonic() - frozen_at
        print('\nhalf-open watch detected after %.2f s; the job written '
              'after the freeze completed after %.2f s' % (detected, done))
        # Bound: three progress intervals, plus the log poll's slack.
        assert detected < 3 * 1 + 2
        state = esi_fixtures.state_of(client, second)
        assert state['state']['worker_state'] == 'CREATE_COMPLETED'
    finally:
        if worker is not None:
            worker.stop()
        relay.close()
        cluster.cleanup()

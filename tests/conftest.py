import os
import sys

import pytest

from heat_esi import templates
from tests import esi_fixtures

# Job handlers installed on this host but enabled on no worker of the tests
# (entry points of a stand-in distribution): their jobs are other workers'.
# A job for a handler that no entry point provides is refused instead.
# PYTHONPATH: the esi-worker processes that tests start see them too.
HANDLER_DIST = os.path.join(os.path.dirname(__file__), 'fixtures',
                            'handler_dist')
if HANDLER_DIST not in sys.path:
    sys.path.append(HANDLER_DIST)
    os.environ['PYTHONPATH'] = os.pathsep.join(
        p for p in (os.environ.get('PYTHONPATH'), HANDLER_DIST) if p)


@pytest.fixture(scope='session')
def etcd_server():
    server = esi_fixtures.EtcdServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def etcd_client(etcd_server):
    """A client on an empty store (every test starts from nothing)."""
    client = etcd_server.client()
    client.delete_prefix('/')
    return client


@pytest.fixture
def loaded(etcd_client):
    """Store the shipped heat_templates as `heat-esi templates load` does."""
    templates.store(etcd_client, templates.load_dir())
    return etcd_client


@pytest.fixture
def seed():
    return esi_fixtures.seed_blocks()


@pytest.fixture
def workers(tmp_path, etcd_server):
    """Start real esi-worker processes: workers(n, **[worker] options)."""
    started = []

    def start(count=1, sections=None, **options):
        options.setdefault('claim_ttl', 5)
        options.setdefault('etcd_reader_retry_interval', 0.05)
        # The device monitor only where a test asks for it.
        options['sections'] = sections or {'monitor': {'enabled': 'false'}}
        procs = [esi_fixtures.WorkerProcess(
            str(tmp_path), etcd_server.port,
            name='worker%d' % (len(started) + i), **options)
            for i in range(count)]
        for proc in procs:
            started.append(proc)
            proc.start()
        return procs

    yield start
    for proc in started:
        proc.stop()

import pytest

from heat_esi import templates
from tests import esi_fixtures
from tests.functional import services


@pytest.fixture(scope='session')
def cloud(tmp_path_factory):
    cloud = services.Cloud(str(tmp_path_factory.mktemp('cloud')))
    try:
        cloud.start()
        templates.store(cloud.etcd.client(), templates.load_dir())
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope='module')
def cloud_worker_stopped(cloud):
    """The cloud's own worker stopped for a module, started again after.

    Its worker has no [snmp] settings: a module whose jobs go to devices
    runs a worker of its own meanwhile, so that only that one claims them.
    """
    cloud.worker.stop()
    try:
        yield cloud
    finally:
        cloud.worker.start()


@pytest.fixture
def seed():
    return esi_fixtures.seed_blocks()


@pytest.fixture(scope='module')
def routers(cloud):
    """The seed's two edge routers, project a's, in the cloud's etcd."""
    client = cloud.etcd.client()
    esi_fixtures.register_edge_routers(
        client, esi_fixtures.PRIMARY, esi_fixtures.SECONDARY,
        project=cloud.keystone.projects['a']['id'])
    return client

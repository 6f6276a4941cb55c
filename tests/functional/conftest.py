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

import pytest

from heat_esi import templates
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
    from tests import esi_fixtures
    return esi_fixtures.seed_blocks()

"""heat-engine killed with SIGKILL while an HA router create waits for its
worker, then started again: after Heat's recovery (stack update
--existing), one config per resource, its job run once."""

import json
import time

import pytest

from heat_esi import keys
from tests import esi_fixtures
from tests.functional import services


@pytest.fixture
def routers(cloud):
    client = cloud.etcd.client()
    esi_fixtures.register_edge_routers(
        client, esi_fixtures.PRIMARY, esi_fixtures.SECONDARY,
        project=cloud.keystone.projects['a']['id'])
    return client


def puts(client, prefix, start):
    return [ev.kv for ev in esi_fixtures.history(client, prefix, start)]


def test_heat_engine_killed_mid_create_leaves_one_config(cloud, routers):
    client = routers
    cloud.worker.stop()          # the create waits for its worker
    start = client.revision() + 1
    cloud.openstack('stack', 'create', '-t', services.HA_ROUTER, 'crash')
    written = esi_fixtures.wait_until(
        lambda: puts(client, '/config/v2.0/ha_routers/', start),
        timeout=60, interval=0.2, message='the config of the create')
    rid = written[0].key.rsplit('/', 1)[1]
    assert [kv.key for kv in client.get_prefix(keys.JOBS_ALL)[0]
            if rid in kv.key], 'the create job is in etcd'

    cloud.heat.kill_engine()
    killed = time.monotonic()
    cloud.heat.start_engine()
    cloud.worker.start()
    cloud.heat.wait_for_engine()
    print('heat-engine back %.1f s after the kill'
          % (time.monotonic() - killed))
    show, _ = cloud.show_stack('crash')
    print('after the restart: %s %s' % (show['stack_status'],
                                        show['stack_status_reason']))

    # What Heat offers: an update of the stack as it is.
    result = cloud.openstack('stack', 'update', '--existing', '--wait',
                             'crash', check=False)
    print('stack update --existing: %s' % result.stdout[-500:])
    show, outputs = cloud.show_stack('crash')
    assert show['stack_status'] == 'UPDATE_COMPLETE', show[
        'stack_status_reason']
    assert outputs['ha_router_id'] == rid
    assert outputs['state_monitoring'] == {'primary': 'UP',
                                           'secondary': 'UP'}
    cloud.openstack('stack', 'check', 'crash')

    def status():
        return cloud.show_stack('crash')[0]['stack_status']
    esi_fixtures.wait_until(lambda: status() == 'CHECK_COMPLETE', timeout=60,
                            interval=1, message='CHECK_COMPLETE')

    # One config ever written for the stack's HA router, one create job,
    # run once.
    configs = {kv.key for kv in puts(client, '/config/v2.0/ha_routers/',
                                     start)}
    assert configs == {keys.config('ha_router', rid)}
    create_jobs = {kv.key for kv in puts(client, keys.JOBS_ALL, start)
                   if kv.key.startswith(keys.JOBS_ALL + 'create:')}
    assert len(create_jobs) == 1, create_jobs
    states = [json.loads(kv.value)['state']['worker_state']
              for kv in puts(client, keys.state('ha_router', rid), start)]
    assert states.count('CREATE_COMPLETED') == 1, states

    cloud.openstack('stack', 'delete', '--wait', '--yes', 'crash')
    assert esi_fixtures.resource_keys(client, rid) == []

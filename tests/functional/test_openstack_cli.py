"""`openstack stack ...` against real processes.

heat-api, heat-engine, RabbitMQ, MariaDB, etcd and esi-worker, each its own
process (tests/functional/services.py).
"""

import json

from heat_esi import keys
from tests import esi_fixtures

SEED_PREFIXES = ('/config/', '/jobs/all/', '/esi-worker/', '/state/')
SEED_TENANT = '0b576f6f4cbf414f829cd12f008bf08f'
SEED_ID = 'f01ed0a6-7094-4e54-b14b-94657fff1efb'
PRIMARY = esi_fixtures.PRIMARY
SECONDARY = esi_fixtures.SECONDARY


def history_of(client, rid):
    """{key: first value written} of every key of resource *rid*."""
    found = {}
    for ev in esi_fixtures.history(client, '/', 1):
        if rid in ev.kv.key and ev.kv.key.startswith(SEED_PREFIXES) and \
                ev.kv.key not in found:
            found[ev.kv.key] = json.loads(ev.kv.value)
    return found


def test_resource_type_list_shows_esi_types(cloud):
    out = cloud.openstack('orchestration', 'resource', 'type', 'list',
                          '-f', 'value').stdout
    assert 'ESI::HaRouter' in out.split()


def test_stack_create_writes_the_seed(cloud, routers, seed):
    result, elapsed = cloud.stack_create('seed')
    assert 'CREATE_COMPLETE' in result.stdout
    print('openstack stack create --wait: %.1f s' % elapsed)
    rid = cloud.resource_id('seed')
    written = history_of(routers, rid)
    for point in ('(1)', '(2)', '(3)', '(4)'):
        key, value = seed[point]
        if point == '(2)':
            job_key = [k for k in written if k.startswith(keys.JOBS_ALL)][0]
            suffix = job_key[-5:]
            key = key.replace('w4ig8', suffix)
            value = json.loads(json.dumps(value).replace('w4ig8', suffix))
            assert 'request_id' in esi_fixtures.operator_fields(
                written[job_key])
        key = key.replace(SEED_ID, rid)
        # The stack's project: a's, by its Keystone id.
        value = json.loads(json.dumps(value).replace(SEED_ID, rid).replace(
            SEED_TENANT, cloud.keystone.projects['a']['id']))
        assert written[key] == value, point
    # What is left once the job is done: the config and the state.
    kvs = [kv.key for kv in routers.get_prefix('/')[0] if rid in kv.key]
    assert sorted(kvs) == sorted([keys.config('ha_router', rid),
                                  keys.state('ha_router', rid)])


def test_outputs_and_resource_show_expose_the_worker_state(cloud, routers):
    cloud.stack_create('outputs')
    out = json.loads(cloud.openstack('stack', 'output', 'show', 'outputs',
                                     'state_monitoring', '-f',
                                     'json').stdout)
    assert out['output_value'] == {'primary': 'UP', 'secondary': 'UP'}
    show = json.loads(cloud.openstack('stack', 'resource', 'show',
                                      'outputs', 'ha_router', '-f',
                                      'json').stdout)
    assert show['attributes']['worker_state'] == 'CREATE_COMPLETED'
    assert show['attributes']['status'] == 'ACTIVE'


def test_stack_update_and_delete(cloud, routers):
    cloud.stack_create('lifecycle')
    rid = cloud.resource_id('lifecycle')
    cloud.openstack('stack', 'update', '--wait', '--existing',
                    '--parameter', 'name=renamed', 'lifecycle')
    config = json.loads(routers.get(keys.config('ha_router', rid)).value)
    assert config['version'] == 2 and config['body']['name'] == 'renamed'
    state = json.loads(routers.get(keys.state('ha_router', rid)).value)
    assert state['version'] == 2
    assert state['state']['worker_state'] == 'MODIFY_COMPLETED'
    # A new router id replaces the resource, and the dry run says so.
    third = '5e552b8f-0000-4000-8000-000000000003'
    esi_fixtures.register_edge_routers(
        routers, third, project=cloud.keystone.projects['a']['id'])
    dry = json.loads(cloud.openstack(
        'stack', 'update', '--dry-run', '--existing', '--parameter',
        'secondary_router_id=' + third, 'lifecycle', '-f', 'json').stdout)
    assert [r['resource_name'] for r in dry['replaced']] == ['ha_router']
    cloud.openstack('stack', 'delete', '--wait', '--yes', 'lifecycle')
    assert [kv.key for kv in routers.get_prefix('/')[0]
            if rid in kv.key] == []


def test_update_in_place_then_show_the_stack_and_its_outputs(cloud,
                                                             routers):
    # On sqlite, Heat reuses a deleted properties row's id here, and the
    # show after the update answers "ResourcePropertiesData ... not found".
    cloud.stack_create('inplace')
    rid = cloud.resource_id('inplace')
    for version, gateways in ((2, 300), (3, 200)):
        cloud.openstack('stack', 'update', '--existing', '--wait',
                        '--parameter', 'maximum_gateways=%d' % gateways,
                        'inplace')
        show, outputs = cloud.show_stack('inplace')
        assert show['stack_status'] == 'UPDATE_COMPLETE'
        assert outputs['ha_router_id'] == rid
        assert outputs['worker_state'] == 'MODIFY_COMPLETED'
        assert outputs['state_monitoring'] == {'primary': 'UP',
                                               'secondary': 'UP'}
        config = json.loads(routers.get(keys.config('ha_router', rid)).value)
        assert config['version'] == version
        assert config['body']['available_gateways'] == gateways
    # The outputs follow the routers' monitoring, not the create's view.
    down = keys.monitoring('edge_router', SECONDARY)
    routers.put(down, {'router': 'DOWN', 'version': 1})
    try:
        _, outputs = cloud.show_stack('inplace')
    finally:
        routers.delete(down)
    assert outputs['state_monitoring'] == {'primary': 'UP',
                                           'secondary': 'DOWN'}
    assert outputs['status'] == 'DOWN'
    cloud.openstack('stack', 'delete', '--wait', '--yes', 'inplace')


def test_bad_properties_are_rejected_and_nothing_is_written(cloud, routers):
    before = routers.revision()
    result, _ = cloud.stack_create(
        'bad', '--parameter', 'secondary_router_id=' + PRIMARY, check=False)
    assert result.returncode != 0
    assert 'must name two different edge routers' in result.stderr
    assert routers.revision() == before


def test_unknown_router_id_is_rejected_before_anything_is_written(
        cloud, routers):
    before = routers.revision()
    result, _ = cloud.stack_create(
        'unknown', '--parameter', 'primary_router_id=no-such-router',
        check=False)
    assert result.returncode != 0
    assert 'edge_router no-such-router does not exist in ESI' in \
        result.stderr
    assert routers.revision() == before

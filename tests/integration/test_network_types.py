"""ESI::EseDevice, EsePhysicalPort, Network and Subnet through the real Heat
engine and a real etcd: the seeds' points (1) and (2), field by field.

A stand-in worker answers the jobs (the stacks themselves are heat_worker's,
tested with it); each type's /config and every job of its plan are
compared with ESI's document. Two differences are heat-esi's by design:
an ESE device's password stays out of its jobs' resource_input, and the
job ids' random suffixes are new.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import os

from oslo_config import cfg
import pytest

from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures
from tests import network_seeds

RESOURCE_TYPES = network_seeds.RESOURCE_TYPES
SEED_PROPERTIES = network_seeds.SEED_PROPERTIES


@pytest.fixture
def heat(heat_engine_on):
    """The engine, the seeds' device's network open, their references."""
    # The seeds' switch's network, besides the engine's own (loopback).
    before = list(cfg.CONF.esi.management_networks)
    cfg.CONF.set_override('management_networks', before + ['10.161.0.0/24'],
                          group='esi')
    for esi_type in ('ese_device', 'network'):
        rid, body = network_seeds.config(esi_type)
        esi_fixtures.register(heat_engine_on, esi_type, rid,
                              state={'x': 'ACTIVE'}, **body)
    yield heat_engine_on
    cfg.CONF.set_override('management_networks', before, group='esi')


@pytest.fixture
def stand_in(heat):
    """A stand-in for workers of both handlers, as test_heat_job_plans'.

    A plan's jobs run in their order: each finishes (its key goes), the
    last one writes /state for the whole plan.
    """
    with network_seeds.plans_answered(heat, {'x': 'ACTIVE'}, []):
        yield


def create(esi_type, **props):
    props = dict(SEED_PROPERTIES[esi_type], **props)
    stk = heat_engine.stack({
        'heat_template_version': '2018-08-31',
        'resources': {'res': {'type': RESOURCE_TYPES[esi_type],
                              'properties': props}}})
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    return stk


def written_jobs(client, rid, since):
    """{handler: job value} of the jobs written for *rid* since *since*."""
    found = {}
    for value in network_seeds.jobs_written(client, rid, since):
        esi_fixtures.operator_fields(value)
        found[value[0]] = value
    return found


@pytest.mark.parametrize('esi_type', sorted(RESOURCE_TYPES))
def test_points_1_and_2_are_the_seeds(heat, stand_in, esi_type):
    since = heat.revision() + 1
    stk = create(esi_type)
    rid = stk['res'].resource_id
    seed_rid, seed_body = network_seeds.config(esi_type)

    (config_key, config), = network_seeds.points(esi_type)['(1)']
    assert heat.get(config_key.replace(seed_rid, rid)) is not None
    assert esi_fixtures.json_at(heat, keys.config(esi_type, rid)) == \
        network_seeds.with_id(config, seed_rid, rid)

    written = written_jobs(heat, rid, since)
    seed_jobs = network_seeds.points(esi_type)['(2)']
    assert sorted(written) == sorted(job[0] for _key, job in seed_jobs)
    # The seed's job ids, then its resource id, become this create's.
    text = json.dumps([job for _key, job in seed_jobs])
    for _key, job in seed_jobs:
        text = text.replace(job[1]['id'], written[job[0]][1]['id'])
    expected = json.loads(text.replace(seed_rid, rid))
    for job in expected:
        # heat-esi's: a secret stays in /config.
        job[1]['resource_input'].pop('password', None)
        assert written[job[0]] == job


def test_a_subnet_is_one_job_first_and_last(heat, stand_in):
    since = heat.revision() + 1
    stk = create('subnet')
    written = written_jobs(heat, stk['res'].resource_id, since)
    (job,) = written.values()
    assert (job[1]['is_first'], job[1]['is_last']) == (True, True)
    assert job[0] == 'heat_worker'


def test_the_device_password_is_in_config_only(heat, stand_in):
    since = heat.revision() + 1
    stk = create('ese_device', password='s3cret-never-shown')
    rid = stk['res'].resource_id
    config = esi_fixtures.json_at(heat, keys.config('ese_device', rid))
    assert config['body']['password'] == 's3cret-never-shown'
    for key in ('/jobs/', '/state/', '/esi-worker/'):
        for kv in heat.get_prefix(key)[0]:
            assert 's3cret' not in kv.value
    assert all('s3cret' not in event.kv.value for event in
               esi_fixtures.history(heat, keys.JOBS_ALL, since))
    shown = stk['res'].FnGetAtt('show')
    assert 'password' not in shown


HOT = os.path.join(os.path.dirname(__file__), '..', '..', 'templates', 'hot')


def shipped(template, **params):
    with open(os.path.join(HOT, template)) as f:
        stk = heat_engine.stack(f.read(), params=params)
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    return stk


def test_the_tenant_network_template_creates_a_network_and_its_subnet(
        heat, stand_in):
    stk = shipped('tenant_network.yaml', name='blue', cidr='10.20.0.0/24',
                  gateway_ip='10.20.0.1')
    net_id = stk['network'].resource_id
    network = esi_fixtures.json_at(heat, keys.config('network', net_id))
    subnet = esi_fixtures.json_at(heat, keys.config(
        'subnet', stk['subnet'].resource_id))
    assert network['body']['name'] == 'blue'
    assert subnet['body']['network_id'] == net_id
    assert subnet['body']['name'] == 'blue-subnet'
    assert subnet['body']['allocation_pools'] == [
        {'start': '10.20.0.2', 'end': '10.20.0.254'}]
    assert stk['subnet'].FnGetAtt('dhcp_server_address') == '10.20.0.2'


def test_the_tor_template_creates_a_device_and_two_ports(heat, stand_in):
    stk = shipped('tor.yaml', hostname='QFX-NW09', password='hidden-one')
    dev_id = stk['device'].resource_id
    device = esi_fixtures.json_at(heat, keys.config('ese_device', dev_id))
    assert device['body']['hostname'] == 'QFX-NW09'
    assert device['body']['password'] == 'hidden-one'
    names = []
    for port in ('first_port', 'second_port'):
        body = esi_fixtures.json_at(heat, keys.config(
            'ese_physical_port', stk[port].resource_id))['body']
        assert body['ese_device_id'] == dev_id
        names.append(body['name'])
    assert names == ['xe-0/0/3', 'xe-0/0/4']


def jobs_by_action(client, rid, since):
    """[(action, handler, on_failure, is_first, is_last)] written since."""
    jobs = [value[1] for value in
            network_seeds.jobs_written(client, rid, since)]
    return [(job['action'], job['handler'], job['on_failure'],
             job['is_first'], job['is_last']) for job in jobs]


def update(stk, esi_type, **props):
    from heat.engine import stack as stack_mod
    from heat.engine import template as template_mod
    props = dict(SEED_PROPERTIES[esi_type], **props)
    new = stack_mod.Stack(stk.context, stk.name, template_mod.Template({
        'heat_template_version': '2018-08-31',
        'resources': {'res': {'type': RESOURCE_TYPES[esi_type],
                              'properties': props}}}))
    stk.update(new)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason


def test_a_network_update_and_delete_write_esis_sequences(heat, stand_in):
    stk = create('network')
    rid = stk['res'].resource_id
    since = heat.revision() + 1
    update(stk, 'network', admin_state_up=False, name='renamed')
    assert stk['res'].resource_id == rid
    config = esi_fixtures.json_at(heat, keys.config('network', rid))
    assert config['version'] == 2
    assert (config['body']['admin_state_up'], config['body']['name'],
            config['body']['status']) == (False, 'renamed', 'PENDING_UPDATE')
    # Unmonitor (its failure ignored), update the stack, monitor again.
    assert jobs_by_action(heat, rid, since) == [
        ('delete', 'monitoring_worker', 'ignore', True, False),
        ('modify', 'heat_worker', 'fail', False, False),
        ('create', 'monitoring_worker', 'fail', False, True)]
    since = heat.revision() + 1
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert jobs_by_action(heat, rid, since) == [
        ('logical_delete', 'monitoring_worker', 'ignore', True, False),
        ('logical_delete', 'heat_worker', 'fail', False, True)]


def test_a_subnet_update_and_delete_are_one_heat_job_each(heat, stand_in):
    pools = [{'start': '172.16.101.10', 'end': '172.16.101.99'}]
    stk = create('subnet', allocation_pools=pools)
    rid = stk['res'].resource_id
    since = heat.revision() + 1
    update(stk, 'subnet', gateway_ip='172.16.101.254',
           dns_nameservers=['192.0.2.53'], allocation_pools=pools)
    body = esi_fixtures.json_at(heat, keys.config('subnet', rid))['body']
    assert (body['gateway_ip'], body['dns_nameservers']) == (
        '172.16.101.254', ['192.0.2.53'])
    assert jobs_by_action(heat, rid, since) == [
        ('modify', 'heat_worker', 'fail', True, True)]
    since = heat.revision() + 1
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert jobs_by_action(heat, rid, since) == [
        ('logical_delete', 'heat_worker', 'fail', True, True)]


def test_a_network_with_a_subnet_cannot_be_deleted_first(heat, stand_in):
    net = create('network')
    net_id = net['res'].resource_id
    sub = create('subnet', network_id=net_id)
    net.delete()
    assert net.state == ('DELETE', 'FAILED')
    assert 'cannot be deleted while other resources use it: subnet %s ' \
        '(sample-subnet)' % sub['res'].resource_id in net.status_reason
    sub.delete()
    net.delete()
    assert net.state == ('DELETE', 'COMPLETE'), net.status_reason


def test_a_subnet_check_reads_its_last_action(heat, stand_in):
    stk = create('subnet')
    stk.check()
    assert stk.state == ('CHECK', 'COMPLETE'), stk.status_reason
    rid = stk['res'].resource_id
    heat.put(keys.state('subnet', rid), records.state(
        'CREATE_FAILED', 1, error='the stack subnet_%s failed' % rid))
    stk.check()
    assert stk.state == ('CHECK', 'FAILED')
    assert 'did not complete' in stk['res'].status_reason

"""ESI::EseDevice, EsePhysicalPort, Network and Subnet against ESI's seeds.

Each type's /config body (point (1)) is written by its handle_create on a
fake etcd; each job's params are built by templates.build_params from the
heat_template that the type's template mapping picks for the handler, and
compared with the seed's point (2).
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import uuid

from heat.common import exception
import pytest

from heat_esi import client
from heat_esi import keys
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates
from tests import fakes
from tests import network_seeds

RESOURCE_TYPES = network_seeds.RESOURCE_TYPES
SEED_PROPERTIES = network_seeds.SEED_PROPERTIES


@pytest.fixture
def store(monkeypatch):
    """heat-engine's fake etcd: the templates and the seeds' references."""
    from oslo_config import cfg
    fake = fakes.FakeEtcd(
        endpoints=['http://fake-etcd-%s:2379' % uuid.uuid4().hex[:8]],
        max_watch_wait=0.05)
    heat_engine.setup(0)
    # The seeds' switch's network, besides the engine's own (loopback).
    before = list(cfg.CONF.esi.management_networks)
    cfg.CONF.set_override('management_networks', before + ['10.161.0.0/24'],
                          group='esi')
    monkeypatch.setattr(client, 'etcd_client', lambda: fake)
    templates.store(fake, templates.load_dir())
    for esi_type in ('ese_device', 'network'):
        rid, body = network_seeds.config(esi_type)
        fake.put(keys.config(esi_type, rid), records.config(body, 1))
    yield fake
    cfg.CONF.set_override('management_networks', before, group='esi')
    fake.close()


@pytest.fixture
def resource():
    stacks = []     # a resource holds its stack by a weak reference

    def make(esi_type, **props):
        props = dict(SEED_PROPERTIES[esi_type], **props)
        stacks.append(heat_engine.stack({
            'heat_template_version': '2018-08-31',
            'resources': {'res': {'type': RESOURCE_TYPES[esi_type],
                                  'properties': props}}},
            ctx=heat_engine.context(project_id=network_seeds.PROJECT)))
        return stacks[-1]['res']
    return make


def created_body(store, res):
    """The /config of *res* as its create writes it: (body, 1, False).

    Its checks and body; the write of the jobs (two for a monitored
    type) is tested through Heat (tests/integration/test_network_types).
    """
    res.validate()
    res._check_values()
    return res._create_body(str(uuid.uuid4())), 1, False


@pytest.mark.parametrize('esi_type', sorted(RESOURCE_TYPES))
def test_the_config_is_the_seeds_point_1(store, resource, esi_type):
    res = resource(esi_type)
    body, version, marked = created_body(store, res)
    seed_id, seed_body = network_seeds.config(esi_type)
    # The same fields in the same order, as ESI's API writes them.
    assert list(body) == list(seed_body)
    assert body == network_seeds.with_id(seed_body, seed_id, body['id'])


def job_params(store, esi_type, handler, body):
    name = template_mappings.template_name(handler, esi_type, body)
    return templates.build_params(templates.fetch(store, name), esi_type,
                                  body, 1, templates.config_lookup(store))


@pytest.mark.parametrize('esi_type, handler', [
    ('ese_device', 'heat_worker'),
    ('ese_device', 'monitoring_worker'),
    ('ese_physical_port', 'heat_worker'),
    ('ese_physical_port', 'monitoring_worker'),
    ('network', 'heat_worker'),
    ('network', 'monitoring_worker'),
    ('subnet', 'heat_worker'),
])
def test_the_job_params_are_the_seeds_point_2(store, esi_type, handler):
    rid, body = network_seeds.config(esi_type)
    expected = network_seeds.jobs(esi_type)[handler]['params']
    assert job_params(store, esi_type, handler, body) == expected


def test_the_ese_device_heat_template_follows_existing(store):
    _rid, body = network_seeds.config('ese_device')
    assert template_mappings.template_name(
        'heat_worker', 'ese_device', body) == 'ese_device_existing'
    new = dict(body, existing='new')
    assert template_mappings.template_name(
        'heat_worker', 'ese_device', new) == 'ese_device_new'
    params = job_params(store, 'ese_device', 'heat_worker', new)
    assert {p['param']: p['value'] for p in params} == {
        'name': 'QFX-NW02', 'management_ip': '10.161.0.34',
        'dataplane_ip': '10.161.0.34'}


def test_every_mapped_template_is_shipped():
    shipped = templates.load_dir()
    for handler, table in template_mappings.TEMPLATE_MAPPINGS.items():
        for esi_type in table:
            for existing in ('new', 'existing'):
                # The fields the mappings of the types choose by.
                name = template_mappings.template_name(
                    handler, esi_type, {'existing': existing,
                                        'service_type': 'vpn',
                                        'device_owner':
                                            'network:gw_interface'})
                assert shipped[name]['handler'] == handler, name


def test_the_plans_are_the_seeds():
    """Two handlers: the stack, then its monitoring; a subnet: one."""
    for esi_type in RESOURCE_TYPES:
        steps = template_mappings.plan(esi_type, 'create')
        expected = [job['handler'] for job in sorted(
            network_seeds.jobs(esi_type).values(),
            key=lambda job: not job['is_first'])]
        assert [step.handler for step in steps] == expected, esi_type


def test_the_ese_device_password_stays_in_config(store, resource):
    res = resource('ese_device')
    body, _v, _m = created_body(store, res)
    assert body['password'] == 'password'
    rendered = job_params(store, 'ese_device', 'monitoring_worker', body)
    rendered += job_params(store, 'ese_device', 'heat_worker', body)
    assert 'password' not in str(rendered)


def test_public_ip_address_defaults_to_the_management_address(
        store, resource, monkeypatch):
    props = dict(SEED_PROPERTIES['ese_device'],
                 management_ip_address='10.161.0.99', existing='new')
    del props['public_ip_address']
    monkeypatch.setitem(SEED_PROPERTIES, 'ese_device', props)
    body, _v, _m = created_body(store, resource('ese_device'))
    assert body['public_ip_address'] == '10.161.0.99'
    # What a new device's stack is given.
    params = job_params(store, 'ese_device', 'heat_worker', body)
    assert {p['param']: p['value'] for p in params}['dataplane_ip'] == \
        '10.161.0.99'


def test_a_device_outside_the_management_networks_is_refused(store,
                                                             resource):
    res = resource('ese_device', management_ip_address='192.0.2.7')
    before = store.revision()
    with pytest.raises(exception.StackValidationFailed) as err:
        res.validate()
    assert 'management_ip_address' in str(err.value)
    assert '192.0.2.7 is outside the management networks open to ESE ' \
        'devices' in str(err.value)
    assert store.revision() == before


def test_a_port_on_a_missing_device_is_refused(store, resource):
    res = resource('ese_physical_port', ese_device_id=str(uuid.uuid4()))
    with pytest.raises(exception.StackValidationFailed) as err:
        res.validate()
    assert 'ese_device_id' in str(err.value)


def test_a_subnet_on_a_missing_network_is_refused(store, resource):
    res = resource('subnet', network_id=str(uuid.uuid4()))
    with pytest.raises(exception.StackValidationFailed) as err:
        res.validate()
    assert 'network_id' in str(err.value)


def test_a_subnet_gets_default_pools_around_its_gateway(store, resource):
    body, _v, _m = created_body(store, resource(
        'subnet', cidr='10.0.0.0/29', gateway_ip='10.0.0.3'))
    assert body['allocation_pools'] == [
        {'start': '10.0.0.1', 'end': '10.0.0.2'},
        {'start': '10.0.0.4', 'end': '10.0.0.6'}]
    assert body['dhcp_server_address'] == '10.0.0.1'
    assert body['gateway_ip'] == '10.0.0.3'


def test_a_subnet_keeps_the_pools_it_is_given(store, resource):
    body, _v, _m = created_body(store, resource(
        'subnet', allocation_pools=[{'start': '172.16.101.10',
                                     'end': '172.16.101.20'}],
        dns_nameservers=['192.0.2.53'],
        host_routes=[{'destination': '10.0.0.0/8',
                      'nexthop': '172.16.101.254'}]))
    assert body['allocation_pools'] == [{'start': '172.16.101.10',
                                         'end': '172.16.101.20'}]
    assert body['dhcp_server_address'] == '172.16.101.10'
    assert body['dns_nameservers'] == ['192.0.2.53']
    assert body['host_routes'] == [{'destination': '10.0.0.0/8',
                                    'nexthop': '172.16.101.254'}]


@pytest.mark.parametrize('props, message', [
    ({'cidr': '172.16.101.1/24'}, 'has host bits set'),
    ({'cidr': '172.16.101.0/31'}, 'is not an IPv4 network of at least'),
    ({'cidr': '2001:db8::/64'}, 'is not an IPv4 network'),
    ({'gateway_ip': '172.16.102.1'},
     '172.16.102.1 is not a host address of 172.16.101.0/24'),
    ({'allocation_pools': [{'start': '172.16.101.9',
                            'end': '172.16.101.3'}]},
     'ends before it starts'),
    ({'gateway_ip': '172.16.101.5',
      'allocation_pools': [{'start': '172.16.101.2',
                            'end': '172.16.101.9'}]},
     'holds the gateway 172.16.101.5'),
    ({'ip_version': 6}, 'ip_version'),
])
def test_bad_subnets_are_refused_naming_the_property(store, resource, props,
                                                     message):
    res = resource('subnet', **props)
    before = store.revision()
    with pytest.raises(exception.StackValidationFailed) as err:
        res.validate()
    assert message in str(err.value)
    assert store.revision() == before


@pytest.mark.parametrize('hostname', ['', 'QFX NW02', '-QFX', 'q' * 254,
                                      'QFX\x1b[2J'])
def test_a_device_hostname_is_a_hostname(store, resource, hostname):
    with pytest.raises(exception.StackValidationFailed) as err:
        resource('ese_device', hostname=hostname).validate()
    assert 'hostname' in str(err.value)
    assert '\x1b' not in str(err.value)


def test_unknown_existing_values_are_refused(store, resource):
    with pytest.raises(exception.StackValidationFailed) as err:
        resource('ese_device', existing='maybe').validate()
    assert 'existing' in str(err.value)


def test_an_existing_port_is_fetched_by_its_device_hostname(store):
    _rid, body = network_seeds.config('ese_physical_port')
    existing = dict(body, existing='existing')
    assert template_mappings.template_name(
        'heat_worker', 'ese_physical_port', existing) == \
        'ese_physical_port_existing'
    device = '5314fffc-6c86-4410-a64b-5386286ac629'
    assert job_params(store, 'ese_physical_port', 'heat_worker',
                      existing) == [
        {'resources': [], 'type': 'value', 'value': 'xe-0/0/3',
         'param': 'physical_port_name'},
        {'resources': [{'resource_type': 'ese_device',
                        'resource_id': device}],
         'type': 'value', 'value': 'QFX-NW02',
         'param': 'physical_device_hostname'}]


def test_a_new_gateway_stays_out_of_the_pools(store, resource):
    res = resource('subnet')
    body, _v, _m = created_body(store, res)
    assert res._update_body(body, {'gateway_ip': None})['gateway_ip'] == \
        '172.16.101.1'
    with pytest.raises(exception.StackValidationFailed) as err:
        res._update_body(body, {'gateway_ip': '172.16.101.9'})
    assert 'gateway_ip' in str(err.value)
    assert '172.16.101.9 is in the allocation pool ' \
        '172.16.101.2-172.16.101.254' in str(err.value)

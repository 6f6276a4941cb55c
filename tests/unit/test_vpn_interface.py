"""ESI::VpnInterface against CreateVpnInterface_01: body, params, bgp_md5.

On a fake etcd holding the seed's HA infrastructure, catalog and gateway;
the writes through Heat and a real etcd (with the gateway's version 2)
are tests/integration/test_vpn_interface.py's.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json

from heat.common import exception
import pytest
import yaml

from heat_esi import keys
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates
from tests import vpn_seeds

SECRET = 'Never-Shown-9'


@pytest.fixture
def store(monkeypatch):
    with vpn_seeds.fake_etcd(monkeypatch, vpn_seeds.put_world,
                             vpn_seeds.put_gateway) as fake:
        yield fake


@pytest.fixture
def resource():
    return vpn_seeds.resource_maker(
        'ESI::VpnInterface', vpn_seeds.SEED_PROPERTIES['vpn_interface'],
        'vi')


def test_the_body_is_the_seeds_point_1(store, resource):
    res = resource()
    res.validate()
    res._check_values()
    body = res._create_body(vpn_seeds.INTERFACE)
    _rid, seed_body = vpn_seeds.config('vpn_interface')
    assert list(body) == list(seed_body)
    assert list(body['primary']) == list(seed_body['primary'])
    assert body == seed_body


def params(store, handler, body):
    name = template_mappings.template_name(handler, 'vpn_interface', body)
    return templates.build_params(templates.fetch(store, name),
                                  'vpn_interface', body, 1,
                                  templates.config_lookup(store))


def test_the_job_params_are_the_seeds_but_the_md5_a_reference(store):
    rid, body = vpn_seeds.config('vpn_interface')
    for handler, job in vpn_seeds.jobs('vpn_interface').items():
        expected = vpn_seeds.without_device_logins(job['params'])
        for param in expected:
            if param['param'] == 'md5':
                param.update(type='secret', value={
                    'resource_type': 'vpn_interface', 'resource_id': rid,
                    'field': 'bgp_md5'})
        assert params(store, handler, body) == expected, handler


def test_the_md5_is_in_no_param_and_no_resource_input(store):
    _rid, body = vpn_seeds.config('vpn_interface')
    body = dict(body, bgp_md5=SECRET)
    found = params(store, 'heat_worker', body) + params(
        store, 'monitoring_worker', body)
    assert SECRET not in json.dumps(found)
    _id, job = records.job('create', 'heat_worker', 'vpn_interface',
                           body['id'], 1, found, body)
    assert SECRET not in json.dumps(job)
    assert 'bgp_md5' not in job[1]['resource_input']


def test_the_md5_is_never_shown(store, resource):
    res = resource(bgp_md5=SECRET)
    res.validate()
    res.resource_id_set(vpn_seeds.INTERFACE)
    store.put(keys.config('vpn_interface', vpn_seeds.INTERFACE),
              records.config(res._create_body(vpn_seeds.INTERFACE), 1))
    shown = res.FnGetAtt('show')
    assert shown['vpn_gw_id'] == vpn_seeds.GATEWAY
    assert 'bgp_md5' not in shown and SECRET not in json.dumps(shown)


@pytest.mark.parametrize('key, position', [
    ('has space', 3), ('semi;colon', 4), ('quo"te', 3), ('tab\tx', 3),
    ('brace}', 5), ('caf\u00e9', 3)])
def test_a_bad_md5_is_refused_without_showing_it(store, resource, key,
                                                 position):
    res = resource(bgp_md5=key)
    with pytest.raises(exception.StackValidationFailed) as err:
        res.validate()
    assert 'bgp_md5' in str(err.value)
    assert 'position %d' % position in str(err.value)
    assert key not in str(err.value)


@pytest.mark.parametrize('peer, message', [
    ({'ip_address': '192.168.8.2'}, 'primary.ip_address must be an IPv4 '
     'address with its prefix length'),
    ({'ip_address': 'fe80::1/64'}, 'primary.ip_address'),
    ({'bgp_peer_ip': 'peer'}, 'primary.bgp_peer_ip must be an IPv4'),
    ({'bgp_router_id': '1.2.3'}, 'primary.bgp_router_id must be an IPv4'),
    ({'bgp_peer_ip': '10.0.0.1'}, 'primary.bgp_peer_ip must be in '
     'primary.ip_address\'s network 192.168.8.0/30'),
])
def test_a_bad_peer_is_refused_naming_the_field(store, resource, peer,
                                                message):
    primary = dict(vpn_seeds.SEED_PROPERTIES['vpn_interface']['primary'],
                   **peer)
    res = resource(primary=primary)
    with pytest.raises(exception.StackValidationFailed) as err:
        res.validate()
    assert message in str(err.value)


def test_the_plans_are_the_seeds():
    steps = template_mappings.plan('vpn_interface', 'create')
    assert [step.handler for step in steps] == ['heat_worker',
                                                'monitoring_worker']


def test_the_md5_stack_parameter_is_hidden():
    # The part before the Jinja-rendered resources is plain HOT.
    text = templates.load_dir()['vpn_interface']['template_file']
    hot = yaml.safe_load(text.split('\nresources:')[0])
    assert hot['parameters']['md5']['hidden'] is True
    assert not [name for name in hot['parameters']
                if 'password' in name or 'username' in name]

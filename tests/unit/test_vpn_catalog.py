"""ESI::VpnService, QosOption and StaticRoute against ESI's seeds, on a fake.

Each type's /config body (point (1)) as its create builds it, the static
route's job params (point (2)) from the shipped static_route_vpn template,
and the generic path of the types without a plan (lifecycle).
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import uuid

from heat.common import exception
import pytest
import yaml

from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import states
from heat_esi import template_mappings
from heat_esi import templates
from heat_esi.worker.handlers import heat
from tests import fakes
from tests import vpn_seeds as seeds

CREDENTIALS = ('primary_device_username', 'primary_device_password',
               'secondary_device_username', 'secondary_device_password')


@pytest.fixture
def store(monkeypatch):
    """heat-engine's fake etcd: the templates, the seed's HA gateway."""
    with seeds.fake_etcd(monkeypatch, seeds.register_infrastructure) as fake:
        yield fake


@pytest.fixture
def resource():
    """resource(esi_type, **props): the seed's, in a stack of its own."""
    makers = {esi_type: seeds.resource_maker(seeds.RESOURCE_TYPES[esi_type],
                                             seeds.SEED_PROPERTIES[esi_type])
              for esi_type in seeds.CATALOG}
    return lambda esi_type, **props: makers[esi_type](**props)


def seed_body(esi_type, rid, **ids):
    seed_rid, body = seeds.config(esi_type)
    body = seeds.with_id(body, seed_rid, rid)
    for old, new in ids.items():
        body = seeds.with_id(body, old, new)
    return body


@pytest.mark.parametrize('esi_type', sorted(seeds.CATALOG))
def test_the_config_is_the_seeds_point_1(store, resource, esi_type):
    if esi_type == 'qos_option':
        _rid, service = seeds.config('vpn_service')
        store.put(keys.config('vpn_service', seeds.SERVICE),
                  records.config(service, 1))
    if esi_type == 'static_route':
        seeds.register_gateway(store)
    res = resource(esi_type)
    res.validate()
    rid = str(uuid.uuid4())
    body = res._create_body(rid)
    expected = seed_body(esi_type, rid)
    # The same fields in the same order, as ESI's API writes them.
    assert list(body) == list(expected)
    assert body == expected


def static_route_params(store, body):
    name = template_mappings.template_name('heat_worker', 'static_route',
                                           body)
    assert name == 'static_route_vpn'
    return templates.build_params(templates.fetch(store, name),
                                  'static_route', body, 1,
                                  templates.config_lookup(store))


def test_the_static_route_job_params_are_the_seeds_without_credentials(
        store):
    seeds.register_gateway(store)
    _rid, body = seeds.config('static_route')
    (_key, job), = seeds.points('static_route')['(2)']
    expected = [p for p in job[1]['params'] if p['param'] not in CREDENTIALS]
    assert len(expected) == len(job[1]['params']) - 4
    found = static_route_params(store, body)
    assert found == expected
    assert seeds.PASSWORD not in json.dumps(found)
    # One heat_worker job, first and last.
    assert [repr(step) for step in template_mappings.plan(
        'static_route', records.CREATE)] == ['Step(create, heat_worker, fail)']


def test_the_static_route_stack_is_esis_without_credentials(store):
    """Rendered as the heat_worker renders it: two NETCONF resources."""
    template = templates.fetch(store, 'static_route_vpn')
    hot = yaml.safe_load(heat.render(template, {}))
    params = set(template['parameter_mappings'])
    # Every param but heat_timeout is a stack parameter, and only they.
    assert set(hot['parameters']) == params - {'heat_timeout'}
    for props in seeds.netconf_properties(hot).values():
        assert sorted(props) == ['configs', 'device_ip', 'device_port',
                                 'lock_timeout']
        path = [(hop['tag'], hop.get('name')) for hop in
                props['configs'][0]['path']]
        assert path == [('routing-instances', None),
                        ('instance', {'get_param': 'vrf_name'}),
                        ('routing-options', None), ('static', None),
                        ('route', {'get_param': 'route'})]


def test_a_gateway_gone_fails_the_static_routes_params_naming_it(store):
    _rid, body = seeds.config('static_route')
    with pytest.raises(exceptions.TemplateError) as err:
        static_route_params(store, body)
    assert 'vpn_gateway %s does not exist' % seeds.GATEWAY in str(err.value)


def test_a_static_route_past_the_maximum_is_refused(store, resource):
    seeds.register_gateway(store, maximum_static_routes=0)
    res = resource('static_route')
    res.validate()
    with pytest.raises(exception.Error) as err:
        res._create_conditions()
    assert 'vpn_gateway %s has 0 static routes, its maximum_static_routes' \
        % seeds.GATEWAY in str(err.value)


def test_a_qos_option_gets_the_ha_router_of_its_services_interfaces(
        store, resource):
    _rid, service = seeds.config('vpn_service')
    store.put(keys.config('vpn_service', seeds.SERVICE),
              records.config(service, 1))
    res = resource('qos_option')
    res.validate()
    assert res._create_body('x')['ha_router_id'] == seeds.HA_ROUTER
    store.put(keys.config('vpn_service', seeds.SERVICE), records.config(
        dict(service, uplink_interfaces=[], downlink_interfaces=[]), 1))
    res = resource('qos_option')
    with pytest.raises(exception.Error) as err:
        res._create_body('x')
    assert 'vpn_service %s: its HA interfaces must all be on one HA ' \
        'router, the QoS option\'s; they are on none' % seeds.SERVICE in \
        str(err.value)


# --- types without a plan ---------------------------------------------------

def test_which_types_have_a_plan():
    assert not lifecycle.has_plan('vpn_service')
    assert not lifecycle.has_plan('qos_option')
    assert lifecycle.has_plan('static_route')
    assert lifecycle.has_plan('network')
    assert lifecycle.expected_action('vpn_service', records.CREATE) is None
    assert lifecycle.expected_action('static_route', records.CREATE) == \
        records.CREATE


def test_config_and_state_are_written_in_one_transaction():
    fake = fakes.FakeEtcd()
    body = {'id': 'x', 'name': 'n'}
    config_key = keys.config('vpn_service', 'x')
    assert lifecycle.write_without_plan(
        fake, 'vpn_service', 'x', [etcd.absent(config_key)], body, 1) == ()
    config, state = (fake.get(config_key),
                     fake.get(keys.state('vpn_service', 'x')))
    assert config.mod_revision == state.mod_revision
    assert json.loads(config.value) == records.config(body, 1)
    assert json.loads(state.value) == {
        'state': {'worker_state': 'READ_COMPLETE'}, 'version': 1,
        'error': ''}
    # Again (a retried create): its compare fails, nothing is written.
    before = fake.revision()
    assert lifecycle.write_without_plan(
        fake, 'vpn_service', 'x', [etcd.absent(config_key)], body, 1) is None
    assert fake.revision() == before


def test_read_complete_ends_an_action_of_a_type_without_a_plan():
    state = {'worker_state': states.READ_COMPLETE, 'version': 2,
             'error': ''}
    assert lifecycle.answered(state, 2, None) == lifecycle.DONE
    assert lifecycle.answered(state, 3, None) == lifecycle.PENDING
    assert lifecycle.answered(state, 2, records.CREATE) == \
        lifecycle.UNEXPECTED
    assert lifecycle.answered(dict(state, worker_state='CREATE_COMPLETED'),
                              2, None) == lifecycle.UNEXPECTED
    assert states.status({}, state, {}) == states.ACTIVE
    assert lifecycle.last_action_problem(state, 2) is None


def test_an_ha_interface_a_service_lists_is_in_use():
    fake = fakes.FakeEtcd()
    _rid, service = seeds.config('vpn_service')
    fake.put(keys.config('vpn_service', seeds.SERVICE),
             records.config(service, 1))
    for rid in (seeds.UPLINK, seeds.DOWNLINK):
        assert lifecycle.users(fake, 'ha_interface', rid,
                               lambda body: True) == [
            'vpn_service %s (sample-vpn-service)' % seeds.SERVICE]
    assert lifecycle.users(fake, 'ha_interface', 'another',
                           lambda body: True) == []
    assert lifecycle.users(fake, 'ha_interface', seeds.UPLINK,
                           lambda body: False) == [
        'a vpn_service of another project']

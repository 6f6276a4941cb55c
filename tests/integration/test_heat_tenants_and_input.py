"""The Heat side of hostile input.

Management networks, tenants, values etcd cannot take, and retried
creates; the in-process Heat engine and a real etcd.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json

import pytest

from heat.common import exception as heat_exc
from heat.engine import stack as stack_mod
from heat.engine import template as template_mod

from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures

PRIMARY, SECONDARY = esi_fixtures.PRIMARY, esi_fixtures.SECONDARY
OTHER = 'b7c05d3e0f1a4a0e9c3f5a2d6e8f0a11'      # another project
THEIRS = ('6a0f7e10-0000-4000-8000-0000000000a1',
          '6a0f7e10-0000-4000-8000-0000000000a2')
MISSING = '00000000-0000-4000-8000-00000000dead'
LOOPBACK = ['127.0.0.0/8', '::1/128']


@pytest.fixture
def heat(heat_engine_on):
    from oslo_config import cfg
    esi_fixtures.register_edge_routers(heat_engine_on)
    esi_fixtures.register_edge_routers(heat_engine_on, *THEIRS,
                                       project=OTHER)
    yield heat_engine_on
    cfg.CONF.set_override('management_networks', LOOPBACK, group='esi')


def networks(values):
    from oslo_config import cfg
    cfg.CONF.set_override('management_networks', values, group='esi')


def edge_router_template(**props):
    return {
        'heat_template_version': '2018-08-31',
        'resources': {'er': {'type': 'ESI::EdgeRouter',
                             'properties': props}},
    }


def refusal(heat, template, ctx=None):
    """The validation error of *template*; asserts nothing was written."""
    stk = heat_engine.stack(template, ctx=ctx)
    before = heat.revision()
    with pytest.raises(heat_exc.StackValidationFailed) as err:
        stk.validate()
    assert heat.revision() == before
    return str(err.value)


# --- management networks -----------------------------------------------------

@pytest.mark.parametrize('ip', ['192.0.2.1', '2001:db8::1', '10.0.0.1'])
def test_edge_router_outside_the_management_networks_is_refused(heat, ip):
    message = refusal(heat, edge_router_template(ip=ip))
    assert 'resources.er.properties.ip' in message
    assert '%s is outside the management networks' % ip in message
    assert '[esi] management_networks in heat.conf' in message


@pytest.mark.parametrize('ip', ['127.0.0.2', '::1'])
def test_edge_router_inside_the_management_networks_is_accepted(heat, ip):
    heat_engine.stack(edge_router_template(ip=ip)).validate()


def test_no_management_network_refuses_every_address(heat):
    networks([])
    for ip in ('127.0.0.2', '::1'):
        message = refusal(heat, edge_router_template(ip=ip))
        assert 'no management network is configured' in message
        assert ('in heat.conf, such as "[esi] management_networks = '
                '192.0.2.0/24,2001:db8::/64"') in message


def test_a_bad_management_network_is_named_for_the_operator(heat, caplog):
    networks(['127.0.0.0/8', 'loopback'])
    message = refusal(heat, edge_router_template(ip='127.0.0.2'))
    assert '[esi] management_networks of heat-engine is not valid' in message
    assert ("[esi] management_networks has an entry that is not a network "
            "in CIDR notation: 'loopback'") in caplog.text


def test_an_address_known_only_at_create_is_checked_before_writing(heat):
    # The ip comes from another resource: unknown at validation, checked
    # before the create writes anything.
    template = edge_router_template(ip={'get_attr': ['addr', 'value']})
    template['resources']['addr'] = {'type': 'OS::Heat::Value',
                                     'properties': {'value': '192.0.2.7'}}
    stk = heat_engine.stack(template)
    stk.timeout_mins = 0.1      # no worker: a written job would wait
    stk.validate()
    before = heat.revision()
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert '192.0.2.7 is outside the management networks' in \
        stk['er'].status_reason
    assert heat.revision() == before


# --- tenants -----------------------------------------------------------------

def test_another_projects_router_is_refused_like_a_missing_one(heat):
    def refused(rid):
        return refusal(heat, heat_engine.ha_router_template(
            primary_router_id=rid)).replace(rid, '<id>')

    missing = refused(MISSING)
    assert 'edge_router <id> does not exist in ESI' in missing
    assert refused(THEIRS[0]) == missing
    # Nor does it tell whether the other project is deleting it.
    key = keys.config('edge_router', THEIRS[1])
    heat.put(key, records.config({'id': THEIRS[1], 'tenant_id': OTHER}, 2,
                                 marked_for_deletion=True))
    assert refused(THEIRS[1]) == missing
    # The owner may use its routers; an admin may use anyone's.
    theirs = heat_engine.ha_router_template(primary_router_id=THEIRS[0],
                                            secondary_router_id=PRIMARY)
    heat_engine.stack(theirs, ctx=heat_engine.context(is_admin=True)
                      ).validate()
    theirs['resources']['ha']['properties']['secondary_router_id'] = \
        THEIRS[1]
    heat.put(key, records.config({'id': THEIRS[1], 'tenant_id': OTHER}, 1))
    heat_engine.stack(theirs, ctx=heat_engine.context(OTHER)).validate()


def test_another_projects_resource_is_neither_updated_checked_nor_deleted(
        heat, stand_in):
    stand_in()
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    res = stk['ha']
    rid = res.resource_id
    # The id now names another project's resource (as an adopted or
    # guessed id would).
    config_key = keys.config('ha_router', rid)
    value = json.loads(heat.get(config_key).value)
    value['body']['tenant_id'] = OTHER
    heat.put(config_key, value)
    before = heat.revision()

    assert res.FnGetAtt('state_monitoring') is None
    assert res.FnGetAtt('status') is None
    assert res.FnGetAtt('show') == {}
    new = stack_mod.Stack(stk.context, stk.name, template_mod.Template(
        heat_engine.ha_router_template(name='mine-now')))
    stk.update(new)
    assert stk.state == ('UPDATE', 'FAILED')
    assert 'ha_router %s does not exist in ESI' % rid in stk.status_reason
    assert 'cannot be updated' in stk.status_reason
    res = stk['ha']
    res.state_set(res.CREATE, res.COMPLETE)
    stk.check()
    assert stk.state == ('CHECK', 'FAILED')
    assert 'ha_router %s does not exist in ESI' % rid in res.status_reason
    assert 'CREATE_COMPLETED' not in res.status_reason
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    assert heat.revision() == before
    assert json.loads(heat.get(config_key).value) == value


def test_check_does_not_show_another_projects_router_state(heat, stand_in):
    stand_in()
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    # The primary router turns out to be another project's; it is down.
    esi_fixtures.register_edge_routers(heat, PRIMARY, state='DOWN',
                                       project=OTHER)
    stk.check()
    assert stk.state == ('CHECK', 'FAILED')
    reason = stk['ha'].status_reason
    assert 'edge_router %s does not exist in ESI' % PRIMARY in reason
    assert '(primary)' in reason
    assert 'DOWN' not in reason


def test_adopt_of_another_projects_resource_is_refused(heat, stand_in):
    stand_in()
    victim = heat_engine.stack(heat_engine.ha_router_template())
    victim.create()
    rid = victim['ha'].resource_id
    victim_keys = esi_fixtures.resource_keys(heat, rid)
    data = victim.prepare_abandon()
    # The attacker's stack names its own routers and the victim's id.
    props = data['template']['resources']['ha']['properties']
    props.update(primary_router_id=THEIRS[0], secondary_router_id=THEIRS[1])
    before = heat.revision()
    adopted = stack_mod.Stack(
        heat_engine.context(OTHER), victim.name + '-adopted',
        template_mod.Template(data['template']), adopt_stack_data=data)
    adopted.store()
    adopted.adopt()
    assert adopted.state == ('ADOPT', 'FAILED')
    assert 'cannot adopt %s: ha_router %s does not exist in ESI' % (
        rid, rid) in adopted['ha'].status_reason
    assert adopted['ha'].resource_id is None
    assert adopted['ha'].FnGetAtt('state_monitoring') is None
    adopted.delete()
    assert adopted.state == ('DELETE', 'COMPLETE'), adopted.status_reason
    assert heat.revision() == before
    assert esi_fixtures.resource_keys(heat, rid) == victim_keys


# --- values etcd or a worker cannot take -------------------------------------

@pytest.mark.parametrize('props, where, why', [
    ({'primary_router_id': 'router-\ud800'}, 'primary_router_id',
     'lone surrogate at position'),
    # Free text is refused as not printable, before any encoding.
    ({'name': 'ha-\udcff'}, 'resources.ha.properties.name',
     'U+DCFF at position 3'),
])
def test_lone_surrogate_is_a_validation_error(heat, props, where, why):
    message = refusal(heat, heat_engine.ha_router_template(**props))
    assert where in message
    assert why in message


def test_value_too_big_for_etcd_is_refused_naming_the_property(heat):
    # Free text has a tighter bound than what etcd takes (255 characters,
    # see esi_resource.text_property).
    message = refusal(heat, heat_engine.ha_router_template(
        description='x' * (1400 * 1024)))
    assert 'resources.ha.properties.description' in message
    assert 'length (1433600) is out of range' in message
    assert 'max: 255' in message


# --- retried creates ---------------------------------------------------------

def test_create_whose_job_was_withdrawn_writes_it_again(heat, workers):
    stk = heat_engine.stack(heat_engine.ha_router_template())
    res = stk['ha']
    cookie = res.handle_create()
    res.handle_create_cancel(cookie)         # no worker: withdrawn
    assert heat.get_prefix(keys.JOBS_ALL)[0] == []
    # The retry finds the config but neither a job nor a state.
    assert res.handle_create() == cookie
    assert res.handle_create() == cookie     # and writes one job only
    jobs = heat.get_prefix(keys.JOBS_ALL)[0]
    assert [keys.parse_job_id(kv.key[len(keys.JOBS_ALL):])['resource_id']
            for kv in jobs] == [res.resource_id]
    workers(1)
    esi_fixtures.wait_until(lambda: res.check_create_complete(cookie),
                            message='the create to complete')
    # Once answered, a retry writes nothing.
    before = heat.revision()
    res.handle_create()
    assert heat.revision() == before

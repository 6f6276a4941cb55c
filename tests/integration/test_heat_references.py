"""A resource that another one uses, through the real Heat engine, a real
etcd, a real esi-worker and SNMP agents: its delete is refused across
stacks and projects, for every type a relation points to, and a user whose
referenced resource went away anyway can still be deleted."""

from tests import heat_engine  # noqa: F401  (before any heat import)

from importlib import metadata
import json

import pytest

from heat.engine import stack as stack_mod
from heat.engine import template as template_mod

from heat_esi import esi_resource
from heat_esi import keys
from heat_esi.resources import edge_router
from heat_esi.resources import er_physical_interface
from heat_esi.resources import ese_physical_port
from heat_esi.resources import gw_interface
from heat_esi.resources import ha_interface
from heat_esi.resources import ha_router
from heat_esi.resources import static_route
from heat_esi.resources import subnet
from heat_esi import templates
from tests import esi_fixtures

OTHER_PROJECT = 'a-project-of-someone-else'
# An interface every test host has, standing in for the device's ge-0/0/1.
IF_NAME = 'lo'
TYPES = (edge_router.EdgeRouter, er_physical_interface.ErPhysicalInterface,
         ha_router.HaRouter, ha_interface.HaInterface,
         ese_physical_port.EsePhysicalPort, subnet.Subnet,
         static_route.StaticRoute, gw_interface.GwInterface)


@pytest.fixture
def heat(heat_engine_on):
    """The in-process Heat engine on the test etcd (the shared set-up)."""
    return heat_engine_on


def hot(**resources):
    return {'heat_template_version': '2018-08-31', 'resources': resources}


def router():
    return {'type': 'ESI::EdgeRouter', 'properties': {
        'name': 'vMX-router-01', 'ip': '127.0.0.2', 'login': 'esi',
        'password': 'esiesi0000'}}


def interface(device_id, name=IF_NAME, description=''):
    return {'type': 'ESI::ErPhysicalInterface', 'properties': {
        'name': name, 'device_id': device_id, 'description': description}}


def config_history(client, start):
    return [ev.kv.key for ev in esi_fixtures.history(client, '/config/',
                                                     start)]


def update(stk, template):
    stk.update(stack_mod.Stack(stk.context, stk.name,
                               template_mod.Template(template)))
    return stk


def test_every_referenced_type_refuses_its_delete():
    """Declared once: each type a relation points to refuses (see RELATIONS).

    And each reference property's constraint is the relation's type.
    """
    referenced = {target for target in templates.RELATIONS.values()}
    assert referenced == {'edge_router', 'ha_router',
                          'er_physical_interface', 'ese_device', 'network',
                          # issue 22's (the VPN gateway's relations)
                          'ha_interface', 'vpn_service', 'qos_option',
                          'vpn_gateway',
                          # a gw_interface's ports and ESE logical ports'
                          'gw_interface', 'ese_physical_port'}
    for rtype in referenced:
        assert templates.referrers(rtype), rtype
    assert templates.referrers('edge_router') == [
        ('er_physical_interface', 'device_id'),
        ('ha_router', 'primary_router_id'),
        ('ha_router', 'secondary_router_id')]
    for cls in TYPES:
        for field, target in templates.references(cls.esi_type):
            names = [c.name for c in
                     cls.properties_schema[field].constraints]
            assert names == ['esi.%s' % target], (cls.esi_type, field)
    assert not hasattr(esi_resource.EsiResource, 'referenced_by')
    # Each type a relation points to has the constraint its reference
    # properties get.
    constraints = {ep.name for ep in
                   metadata.entry_points(group='heat.constraints')}
    assert {'esi.%s' % target for target in referenced} <= constraints


def test_an_edge_router_in_use_elsewhere_cannot_be_deleted(heat,
                                                           snmp_workers):
    snmp_workers(1)
    under = heat_engine.stack(hot(router=router()))
    under.create()
    assert under.state == ('CREATE', 'COMPLETE'), under.status_reason
    rid = under['router'].resource_id

    # The same project's interface, and another project's (wired by an
    # admin, who may use any resource).
    over = heat_engine.stack(hot(iface=interface(rid, description='mine')))
    over.create()
    assert over.state == ('CREATE', 'COMPLETE'), over.status_reason
    mine = over['iface'].resource_id
    theirs_stack = heat_engine.stack(
        hot(iface=interface(rid, description='secret-description')),
        ctx=heat_engine.context(OTHER_PROJECT, is_admin=True))
    theirs_stack.create()
    assert theirs_stack.state == ('CREATE', 'COMPLETE'), \
        theirs_stack.status_reason
    theirs = theirs_stack['iface'].resource_id

    before = heat.revision()
    under.delete()
    assert under.state == ('DELETE', 'FAILED')
    reason = under['router'].status_reason
    # The users in the order of their keys: ids are random.
    assert 'edge_router %s cannot be deleted while other resources use ' \
        'it: ' % rid in reason, reason
    assert 'er_physical_interface %s (%s)' % (mine, IF_NAME) in reason
    assert 'a er_physical_interface of another project' in reason
    assert reason.endswith('. Delete them first.'), reason
    assert theirs not in reason and 'secret' not in reason
    assert OTHER_PROJECT not in reason
    # Nothing of the router was written.
    assert config_history(heat, before + 1) == []
    body = json.loads(heat.get(keys.config('edge_router', rid)).value)
    assert body['version'] == 1 and not body['marked_for_deletion']

    # Once its users are gone, it goes.
    over.delete()
    assert over.state == ('DELETE', 'COMPLETE'), over.status_reason
    theirs_stack.delete()
    assert theirs_stack.state == ('DELETE', 'COMPLETE'), \
        theirs_stack.status_reason
    under.delete()
    assert under.state == ('DELETE', 'COMPLETE'), under.status_reason
    assert heat.get(keys.config('edge_router', rid)) is None


def interface_on_a_vanished_router(heat):
    """An interface stack whose edge router's config went away anyway.

    Removed by hand, or by a version that did not refuse the delete.
    :returns: (the interface's stack, the router's id)
    """
    under = heat_engine.stack(hot(router=router()))
    under.create()
    assert under.state == ('CREATE', 'COMPLETE'), under.status_reason
    rid = under['router'].resource_id
    over = heat_engine.stack(hot(iface=interface(rid)))
    over.create()
    assert over.state == ('CREATE', 'COMPLETE'), over.status_reason
    heat.delete(keys.config('edge_router', rid))
    return over, rid


def test_a_user_whose_router_vanished_can_still_be_deleted(heat,
                                                           snmp_workers):
    snmp_workers(1)
    over, rid = interface_on_a_vanished_router(heat)
    iface = over['iface'].resource_id
    # The worker answers its delete job, and the keys go.
    over.delete()
    assert over.state == ('DELETE', 'COMPLETE'), over.status_reason
    assert heat.get(keys.config('er_physical_interface', iface)) is None
    assert heat.get(keys.state('er_physical_interface', iface)) is None


def test_an_update_names_the_vanished_router(heat, snmp_workers):
    snmp_workers(1)
    over, rid = interface_on_a_vanished_router(heat)
    before = heat.revision()
    update(over, hot(iface=interface(rid, description='changed')))
    assert over.state == ('UPDATE', 'FAILED')
    assert 'device_id: edge_router %s does not exist in ESI' % rid \
        in over.status_reason, over.status_reason
    assert 'can be deleted, but not updated' in over.status_reason
    assert config_history(heat, before + 1) == []

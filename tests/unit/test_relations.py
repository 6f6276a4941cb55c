"""What is derived from templates.RELATIONS, the one table of relations.

The constraints, the client plugin's getters and setup.cfg's entry points
(which cannot be generated) follow the table exactly (issue 20, item 4).
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import configparser
import os

from heat_esi import client
from heat_esi import constraints
from heat_esi import esi_resource
from heat_esi.resources import edge_router
from heat_esi.resources import er_physical_interface
from heat_esi.resources import ese_device
from heat_esi.resources import ese_physical_port
from heat_esi.resources import ha_interface
from heat_esi.resources import ha_router
from heat_esi.resources import network
from heat_esi.resources import subnet
from heat_esi import templates

SETUP_CFG = os.path.join(os.path.dirname(__file__), '..', '..', 'setup.cfg')
TYPES = [edge_router.EdgeRouter, er_physical_interface.ErPhysicalInterface,
         ha_interface.HaInterface, ha_router.HaRouter,
         ese_device.EseDevice, ese_physical_port.EsePhysicalPort,
         network.Network, subnet.Subnet]


def entry_points(group):
    cfg = configparser.ConfigParser()
    cfg.read(SETUP_CFG)
    lines = cfg['entry_points'][group].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split('=', 1))
                for line in lines)


def test_the_constraint_entry_points_are_the_graphs_exactly():
    """setup.cfg cannot be generated: it is checked against the table."""
    declared = entry_points('heat.constraints')
    expected = {templates.constraint_name(esi_type):
                'heat_esi.constraints:%s' % constraints.class_name(esi_type)
                for esi_type in templates.referenced_types()}
    expected['esi.printable_text'] = \
        'heat_esi.constraints:PrintableTextConstraint'
    assert declared == expected


def test_each_referenced_type_has_its_constraint_and_getter():
    for esi_type in templates.referenced_types():
        cls = getattr(constraints, constraints.class_name(esi_type))
        assert issubclass(cls, constraints.EsiResourceConstraint)
        assert cls.resource_getter_name == templates.getter_name(esi_type)
        assert callable(getattr(client.EsiClientPlugin,
                                cls.resource_getter_name))


def test_a_new_relation_gets_its_getter_from_get_usable(monkeypatch):
    """The getter of a type reads through get_usable with that type."""
    calls = []
    plugin = object.__new__(client.EsiClientPlugin)
    monkeypatch.setattr(plugin, 'get_usable',
                        lambda *args: calls.append(args) or {'id': 'x'},
                        raising=False)
    assert plugin.get_ha_router('x') == {'id': 'x'}
    assert calls == [('ha_router', 'x')]


def test_monitored_fields_are_relations():
    """What a stack check polls of another resource is a declared relation."""
    for cls in TYPES:
        for _label, field in cls.monitored:
            assert (cls.esi_type, field) in templates.RELATIONS, cls
        assert issubclass(cls, esi_resource.EsiResource)

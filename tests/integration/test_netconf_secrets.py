"""bgp_md5 applied to a router through NamedConfigs, held by nothing in Heat.

The stack is vpn_interface's heat_template as the heat_worker renders it:
its ``md5`` parameter is a reference to the interface's bgp_md5, and
ESI::Netconf::NamedConfigs (``secrets``) reads the value from the
interface's /config only when it sends the configuration. The routers are
NETCONF test devices: each one's running configuration holds the key
(authentication-key); Heat's database (stack parameters, templates,
resources' properties and data, events with their resource_properties)
and the engine's log, at DEBUG, do not.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import logging
import os
import uuid

import yaml

from heat_esi.worker.handlers import heat as heat_handler
from tests import esi_fixtures
from tests.integration.test_netconf_named_configs import environment
from tests.integration.test_netconf_named_configs import routers  # noqa

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
IFACE = 'a7d3c2b1-5e4f-4a3b-9c8d-7e6f5a4b3c2d'
VRF = 'vrf_gw_sample-ha-router-downlink_1025'


def vpn_interface_stack(devices, project=heat_engine.PROJECT, **changes):
    with open(os.path.join(ROOT, 'templates', 'heat_templates',
                           'vpn_interface.yaml')) as f:
        template = yaml.safe_load(f)
    values = {
        'jinja_primary_uplink_ip': '192.168.8.2/30',
        'jinja_secondary_uplink_ip': '192.168.8.6/30',
        'heat_timeout': '60', 'vrf_name': VRF, 'local_as': 65001,
        'primary_ebgp_config_group': 'VPNGW1-EBGP',
        'secondary_ebgp_config_group': 'VPNGW2-EBGP',
        'uplink_vlan': '122', 'primary_peer_ip': '192.168.8.1',
        'secondary_peer_ip': '192.168.8.5',
        'primary_router_id': '192.168.8.2',
        'secondary_router_id': '192.168.8.6', 'remote_as': '65100',
        'md5': 'vpn_interface/%s/bgp_md5@1' % IFACE,
        'bgp_group_name': 'CloudGW1',
    }
    for name, router in zip(('primary', 'secondary'), devices):
        values.update({'%s_device_ip' % name: router.host,
                       '%s_device_port' % name: router.port,
                       '%s_device_physical_interface' % name: 'ge-0/0/1'})
    values.update((k, v) for k, v in changes.items() if k != 'as_update_of')
    parameters, context, _timeout = heat_handler.split_params(values, 10)
    ctx = heat_engine.context(project_id=project)
    ctx.roles = ['esi_netconf']
    text = heat_handler.render(template, context)
    params = dict(environment(), parameters=parameters)
    if changes.pop('as_update_of', None) is not None:
        from heat.common import template_format
        from heat.engine import environment as env_mod
        from heat.engine import template as template_mod
        return template_mod.Template(template_format.parse(text),
                                     env=env_mod.Environment(params))
    return heat_engine.stack(text, ctx=ctx, params=params)


def heat_database_holds(text):
    """The rows of Heat's database (every table) that contain *text*."""
    from heat.db import api as db_api
    import sqlalchemy
    found = []
    engine = db_api.get_engine()
    meta = sqlalchemy.MetaData()
    meta.reflect(bind=engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()):
                if text in repr(tuple(row)):
                    found.append(table.name)
    return found


def test_the_router_gets_the_md5_and_heat_never_holds_it(
        routers, heat_engine_on, caplog):  # noqa: F811
    secret = 'md5-%s' % uuid.uuid4().hex
    esi_fixtures.register(heat_engine_on, 'vpn_interface', IFACE,
                          bgp_md5=secret)
    stk = vpn_interface_stack(routers)
    with caplog.at_level(logging.DEBUG):
        stk.create()
        assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
        for router in routers:
            keys_ = router.running().findall(
                'routing-instances/instance/protocols/bgp/group/neighbor/'
                'authentication-key')
            assert [k.text for k in keys_] == [secret], router.running_text()
        # Heat keeps the reference; events, properties, data: no value.
        props = stk['netconf_configure_primary'].properties
        assert props['secrets'] == {
            '$BGP_MD5': 'vpn_interface/%s/bgp_md5@1' % IFACE}
        assert heat_database_holds(secret) == []
        assert heat_database_holds('vpn_interface/%s/bgp_md5' % IFACE)

        stk.delete()
        assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
        for router in routers:
            assert router.running().find(
                'routing-instances/instance/protocols/bgp') is None
    assert secret not in caplog.text
    assert heat_database_holds(secret) == []


def test_a_routers_error_that_echoes_the_md5_is_masked(
        routers, heat_engine_on, caplog):  # noqa: F811
    secret = 'md5-%s' % uuid.uuid4().hex
    esi_fixtures.register(heat_engine_on, 'vpn_interface', IFACE,
                          bgp_md5=secret)
    routers[0].refuse_next_commit('error: bad authentication-key "%s"'
                                  % secret)
    stk = vpn_interface_stack(routers)
    with caplog.at_level(logging.DEBUG):
        stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'bad authentication-key' in stk.status_reason
    assert secret not in stk.status_reason
    assert secret not in caplog.text
    assert heat_database_holds(secret) == []
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason


def test_another_projects_md5_is_refused(routers,  # noqa: F811
                                         heat_engine_on):
    secret = 'md5-%s' % uuid.uuid4().hex
    esi_fixtures.register(heat_engine_on, 'vpn_interface', IFACE,
                          project='someone-else', bgp_md5=secret)
    before = [r.running_text() for r in routers]
    stk = vpn_interface_stack(routers)
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert ("secrets: $BGP_MD5 refers to vpn_interface/%s/bgp_md5, which is "
            "not a resource of this stack's project" % IFACE) in \
        stk.status_reason
    assert secret not in stk.status_reason
    assert [r.running_text() for r in routers] == before
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason


def test_a_new_md5_reaches_the_routers_on_update(routers,  # noqa: F811
                                                 heat_engine_on):
    first, second = ('md5-%s' % uuid.uuid4().hex for _ in range(2))
    esi_fixtures.register(heat_engine_on, 'vpn_interface', IFACE,
                          bgp_md5=first)
    stk = vpn_interface_stack(routers)
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    # The interface's update: version 2 of its /config, the heat_worker's
    # reference @2, a changed property for Heat.
    from heat_esi import keys
    from heat_esi import records
    body = dict(esi_fixtures.json_at(
        heat_engine_on, keys.config('vpn_interface', IFACE))['body'],
        bgp_md5=second)
    heat_engine_on.put(keys.config('vpn_interface', IFACE),
                       records.config(body, 2))
    from heat.engine import stack as stack_mod
    new = stack_mod.Stack(stk.context, stk.name, vpn_interface_stack(
        routers, md5='vpn_interface/%s/bgp_md5@2' % IFACE, as_update_of=stk))
    stk.update(new)
    assert stk.state == ('UPDATE', 'COMPLETE'), stk.status_reason
    for router in routers:
        keys_ = router.running().findall(
            'routing-instances/instance/protocols/bgp/group/neighbor/'
            'authentication-key')
        assert [k.text for k in keys_] == [second], router.running_text()
    assert heat_database_holds(first) == heat_database_holds(second) == []
    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason

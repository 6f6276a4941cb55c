"""The real Heat engine, in this process (openstack-heat from PyPI).

Configured by heat_esi.demo.heat, the bootstrap the demo and the
functional tests use too. Import this module before anything imports
heat: importing heat_esi.demo.heat chooses oslo.service's threading
backend, which must come first.
"""

from heat_esi.demo import heat as heat_bootstrap

from oslo_config import cfg

from tests import esi_fixtures

_ready = False


def setup(etcd_port):
    """Configure Heat once per process; point [esi_etcd] at *etcd_port*."""
    global _ready
    if not _ready:
        # The tests' SNMP agents and simulated routers: loopback only.
        heat_bootstrap.configure(heat_bootstrap.LOOPBACK_NETWORKS)
        from heat.common import messaging
        messaging.setup('fake://', optional=True)
        from heat.tests import utils
        utils.setup_dummy_db()
        from heat.engine import resources
        resources.initialise()
        _ready = True
    cfg.CONF.set_override('port', etcd_port, group='esi_etcd')


PROJECT = esi_fixtures.PROJECT


def context(project_id=PROJECT, is_admin=False):
    from heat.tests import utils
    return utils.dummy_context(tenant_id=project_id, is_admin=is_admin)


def stack(template, name=None, ctx=None, params=None):
    """A stored, not yet created, Stack of the HOT *template* (a dict)."""
    from heat.common import template_format
    from heat.engine import environment
    from heat.engine import stack as stack_mod
    from heat.engine import template as template_mod
    if isinstance(template, str):
        template = template_format.parse(template)
    from heat.tests import utils
    env = environment.Environment(params or {})
    name = name or 'esi-' + utils.random_name()
    stk = stack_mod.Stack(ctx or context(), name,
                          template_mod.Template(template, env=env))
    stk.store()
    return stk


def ha_router_template(**props):
    props.setdefault('primary_router_id',
                     '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198')
    props.setdefault('secondary_router_id',
                     '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e')
    return {
        'heat_template_version': '2018-08-31',
        'resources': {'ha': {'type': 'ESI::HaRouter', 'properties': props}},
        'outputs': {
            'state_monitoring': {
                'value': {'get_attr': ['ha', 'state_monitoring']}},
            'worker_state': {'value': {'get_attr': ['ha', 'worker_state']}},
        },
    }

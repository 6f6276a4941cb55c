"""The real Heat engine, in this process (openstack-heat from PyPI).

Import this module before anything imports heat: oslo.service's threading
backend must be chosen first.
"""

import os
import sys

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except backend.exceptions.BackendAlreadySelected:
    pass

from oslo_config import cfg  # noqa: E402

import heat_esi.resources  # noqa: E402
from tests import esi_fixtures  # noqa: E402

_ready = False


def setup(etcd_port):
    """Configure Heat once per process; point [esi_etcd] at *etcd_port*."""
    global _ready
    if not _ready:
        from heat.common import config  # noqa: F401  (registers options)
        from heat.engine import environment  # noqa: F401
        cfg.CONF([], project='heat')
        heat_etc = os.path.join(sys.prefix, 'etc', 'heat')
        cfg.CONF.set_override('environment_dir',
                              os.path.join(heat_etc, 'environment.d'))
        cfg.CONF.set_override('template_dir',
                              os.path.join(heat_etc, 'templates'))
        cfg.CONF.set_override('deferred_auth_method', 'password')
        cfg.CONF.set_override('plugin_dirs', [
            os.path.dirname(heat_esi.resources.__file__)])
        from heat.common import messaging
        messaging.setup('fake://', optional=True)
        from heat.tests import utils
        utils.setup_dummy_db()
        from heat.engine import resources
        resources.initialise()
        # The tests' SNMP agents and simulated routers: loopback only.
        cfg.CONF.set_override('management_networks',
                              ['127.0.0.0/8', '::1/128'], group='esi')
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

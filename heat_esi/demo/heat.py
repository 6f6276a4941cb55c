#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Heat without keystone, running heat-esi's plugins: one bootstrap.

Every Heat that heat-esi starts itself is configured here: the demo's
heat-api and heat-engine in one process (InProcessHeat), the tests' and the
benchmarks' in-process engine (configure(), through tests/heat_engine.py),
and the functional tests' heat-api and heat-engine processes
(write_heat_conf(), through tests/functional/services.py). What
openstack-heat 27 needs there: deferred_auth_method password (trusts need
keystone), the noauth paste flavor, and the old default policies (noauth
gives every caller the role admin, which the new defaults refuse).

Import this module before anything imports heat: importing it selects
oslo.service's threading backend, which must be chosen before Heat's
services load.
"""

import os
import shutil
import socketserver
import sys
import threading
from wsgiref import simple_server

from oslo_config import cfg
from oslo_service import backend

from heat_esi import conf

# Where the demo's and the tests' edge routers may be: their SNMP agents
# answer on loopback addresses only.
LOOPBACK_NETWORKS = ('127.0.0.0/8', '::1/128')


def use_threading_backend():
    """Select oslo.service's threading backend, unless one is chosen."""
    try:
        backend.init_backend(backend.BackendType.THREADING)
    except backend.exceptions.BackendAlreadySelected:
        pass


use_threading_backend()


def settings(management_networks=LOOPBACK_NETWORKS, simulated=False):
    """[(group, option, value)]: what Heat needs for heat-esi's plugins.

    The same values reach a heat.conf (write_heat_conf) and this process's
    own configuration (configure). *simulated* adds the Contrail stand-ins
    (heat_esi/simulated) to plugin_dirs, for the heat_worker's stacks.
    """
    from heat_esi import resources
    heat_etc = os.path.join(sys.prefix, 'etc', 'heat')
    plugin_dirs = [os.path.dirname(resources.__file__)]
    if simulated:
        from heat_esi import simulated as stand_ins
        plugin_dirs.append(stand_ins.plugin_dir())
    return [
        ('DEFAULT', 'plugin_dirs', plugin_dirs),
        ('DEFAULT', 'environment_dir',
         os.path.join(heat_etc, 'environment.d')),
        ('DEFAULT', 'template_dir', os.path.join(heat_etc, 'templates')),
        ('DEFAULT', 'deferred_auth_method', 'password'),
        ('esi', 'management_networks', list(management_networks)),
    ]


def _ini(value):
    return ','.join(value) if isinstance(value, list) else str(value)


def write_heat_conf(directory, transport_url, etcd_client, extra=(),
                    database=None, management_networks=LOOPBACK_NETWORKS,
                    simulated=False, sections=None):
    """Write heat.conf (and its api-paste.ini) in *directory*; its path.

    *extra* are lines of [DEFAULT]. *database* is an SQLAlchemy URL;
    without one, sqlite in *directory*, which is enough for a create and a
    delete, not for in-place updates. *simulated*: see settings().
    *sections* are further groups, {group: {option: value}}, such as the
    demo's [netconf].
    """
    heat_etc = os.path.join(sys.prefix, 'etc', 'heat')
    paste = os.path.join(directory, 'api-paste.ini')
    shutil.copy(os.path.join(heat_etc, 'api-paste.ini'), paste)
    path = os.path.join(directory, 'heat.conf')
    ours = settings(management_networks, simulated)
    lines = ['[DEFAULT]', 'transport_url = %s' % transport_url]
    lines += ['%s = %s' % (name, _ini(value))
              for group, name, value in ours if group == 'DEFAULT']
    lines += ['action_retry_limit = 0'] + list(extra) + [
        '[database]',
        # sqlite lets one writer in at a time; the API and engine threads of
        # one process wait up to a minute for each other rather than fail
        # with "database is locked" on a loaded machine.
        'connection = %s' % (database or 'sqlite:///%s?timeout=60' % (
            os.path.join(directory, 'heat.sqlite'))),
        '[paste_deploy]',
        'flavor = noauth',
        'api_paste_config = %s' % paste,
        '[oslo_policy]',
        'enforce_new_defaults = false',
        '[esi_etcd]',
        'endpoints = %s' % ','.join(etcd_client.endpoints),
    ]
    for group, name, value in ours:
        if group != 'DEFAULT':
            lines += ['[%s]' % group, '%s = %s' % (name, _ini(value))]
    for group, options in sorted((sections or {}).items()):
        lines += ['[%s]' % group] + ['%s = %s' % (name, _ini(value))
                                     for name, value in options.items()]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def configure(management_networks=LOOPBACK_NETWORKS):
    """Configure this process's Heat (cfg.CONF) without a heat.conf.

    For an engine run in-process by a test: Heat's and heat-esi's options
    registered, settings() as overrides; the caller chooses messaging,
    database and etcd.
    """
    from heat.common import config  # noqa: F401  (registers options)
    from heat.engine import environment  # noqa: F401
    cfg.CONF([], project='heat')
    conf.register_engine_opts(cfg.CONF)
    for group, name, value in settings(management_networks):
        cfg.CONF.set_override(name, value,
                              group=None if group == 'DEFAULT' else group)


def _sqlite_begin_immediate():
    """Begin every sqlite transaction of this process with the write lock.

    The demo's Heat runs on sqlite, its API and engine threads in one
    process. A deferred transaction that reads, then writes while another
    thread writes, fails at once with "database is locked": sqlite cannot
    wait there without a deadlock, so the busy timeout does not apply. A
    stack whose resources are created in parallel (the HA gateway's) hits
    it. BEGIN IMMEDIATE takes the lock first, so a transaction waits for
    the others (up to the busy timeout) instead. oslo.db emits its own
    BEGIN unless conn.info says one is open; a class-level listener runs
    before the engine's own, so ours comes first.
    """
    import sqlalchemy

    @sqlalchemy.event.listens_for(sqlalchemy.engine.Engine, 'begin')
    def begin_immediate(conn):
        if conn.dialect.name == 'sqlite' and \
                'in_transaction' not in conn.info:
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            conn.info['in_transaction'] = True


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


class InProcessHeat(object):
    """heat-api and heat-engine in this process, for the demo.

    noauth, oslo.messaging's in-memory transport and sqlite in *directory*;
    every request runs in *project*, Heat's noauth middleware taking it
    from the X-Auth-Project header. A caller therefore needs no token: the
    demo's heat_worker reaches it with keystoneauth1's ``none`` auth_type
    and this endpoint. *simulated*: heat-engine loads the Contrail
    stand-ins too (settings()). *sections*: further heat.conf groups
    (write_heat_conf()).
    """

    def __init__(self, directory, etcd_client, project, simulated=False,
                 sections=None):
        self.dir = directory
        self.etcd_client = etcd_client
        self.project = project
        self.simulated = simulated
        self.sections = sections
        self.log = os.path.join(directory, 'heat.log')
        self.engine = None
        self.api = None
        self.endpoint = None

    def start(self):
        from oslo_log import log as logging
        heat_conf = write_heat_conf(self.dir, 'fake://', self.etcd_client,
                                    ['log_file = %s' % self.log],
                                    simulated=self.simulated,
                                    sections=self.sections)
        from heat.common import config
        from heat.common import messaging
        logging.register_options(cfg.CONF)
        cfg.CONF(['--config-file', heat_conf], project='heat')
        logging.setup(cfg.CONF, 'heat')
        messaging.setup()
        from heat.db import migration
        migration.db_sync()
        # After the migration: it holds a transaction on one connection
        # while it opens another.
        _sqlite_begin_immediate()
        config.startup_sanity_check()
        from heat.engine import service as engine_service
        from heat.rpc import api as rpc_api
        self.engine = engine_service.EngineService(cfg.CONF.host,
                                                   rpc_api.ENGINE_TOPIC)
        self.engine.start()
        heat_api = config.load_paste_app('heat-api')
        project = self.project

        def app(environ, start_response):
            environ['HTTP_X_AUTH_PROJECT'] = project
            return heat_api(environ, start_response)

        self.api = simple_server.make_server('127.0.0.1', 0, app,
                                             server_class=_Server,
                                             handler_class=_QuietHandler)
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        self.endpoint = 'http://127.0.0.1:%d/v1/%s' % (
            self.api.server_port, project)
        return self

    def stop(self):
        if self.engine is not None:
            try:
                self.engine.stop()
            except Exception:
                # The demo is ending either way: a stop that fails must not
                # hide the outcome it prints.
                pass
        if self.api is not None:
            self.api.shutdown()
        # oslo.log made Heat's log the place of uncaught exceptions; the
        # demo removes that log with its directory, and an error that ends
        # it must still be printed.
        sys.excepthook = sys.__excepthook__

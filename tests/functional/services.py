"""Real OpenStack services for the functional tests, on loopback only.

RabbitMQ (Debian's rabbitmq-server), MariaDB (Debian's mariadb-server),
Keystone (PyPI's keystone, keystone.wsgi.api under gunicorn), heat-engine
(its console script), heat-api (heat.wsgi.api under gunicorn) with
keystonemiddleware's auth_token, etcd and esi-worker, each its own
process, each stopped by its process id. heat-engine and heat-api read the
heat.conf blocks of the operator guide (doc/source) first, then the test's
own settings; a worker's [heat_worker] is the Keystone page's block with
this Keystone's address and the worker's password.
"""

import concurrent.futures
import configparser
import getpass
import grp
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

from keystoneauth1.identity import v3 as ks_identity
from keystoneauth1 import session as ks_session
from keystoneclient.v3 import client as ks_client
import requests

from heat_esi.demo import heat as heat_bootstrap
from heat_esi import resources
from tests import doc_blocks
from tests import esi_fixtures

BIN = os.path.dirname(sys.executable)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
HOT = os.path.join(ROOT, 'templates', 'hot')
HA_ROUTER = os.path.join(HOT, 'ha_router.yaml')
SIMULATED_ENVIRONMENT = os.path.join(ROOT, 'etc', 'heat-esi',
                                     'simulated-contrail.yaml')
RABBIT_BIN = '/usr/lib/rabbitmq/bin'
MARIADBD = '/usr/sbin/mariadbd'


def _wait(check, what, timeout, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = ''
    if log and os.path.exists(log):
        with open(log, errors='replace') as f:
            tail = f.read()[-4000:]
    raise RuntimeError('%s did not start:\n%s' % (what, tail))


def _descendants(pid):
    """Process ids of *pid*'s children, theirs, and so on."""
    found = []
    try:
        tasks = os.listdir('/proc/%d/task' % pid)
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            with open('/proc/%d/task/%s/children' % (pid, task)) as f:
                children = [int(c) for c in f.read().split()]
        except FileNotFoundError:
            continue
        for child in children:
            found += [child] + _descendants(child)
    return found


def _stop(proc, timeout=20):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RabbitMQ(object):
    """A private RabbitMQ node: its own name, ports and data directory."""

    def __init__(self, directory):
        self.dir = directory
        self.port = esi_fixtures.free_port()
        self.node = 'esi%s@localhost' % uuid.uuid4().hex[:8]
        self.env = dict(
            os.environ,
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(esi_fixtures.free_port()),
            RABBITMQ_MNESIA_BASE=os.path.join(directory, 'mnesia'),
            RABBITMQ_LOG_BASE=os.path.join(directory, 'log'),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(directory, 'plugins'),
            RABBITMQ_CONFIG_FILE=os.path.join(directory, 'rabbitmq'),
            RABBITMQ_PID_FILE=os.path.join(directory, 'rabbitmq.pid'),
            # The Erlang cookie lives in HOME; a private one for this node.
            HOME=directory,
            ERL_CRASH_DUMP=os.path.join(directory, 'erl_crash.dump'))
        self.url = 'rabbit://guest:guest@127.0.0.1:%d/' % self.port
        self.ctl = os.path.join(RABBIT_BIN, 'rabbitmqctl')
        self.proc = None

    def start(self):
        # Debian's /usr/sbin wrappers switch to the rabbitmq user, who cannot
        # write to our directory; the real scripts run as the caller.
        server = os.path.join(RABBIT_BIN, 'rabbitmq-server')
        if not os.path.exists(server):
            raise RuntimeError('rabbitmq-server is not installed: run '
                               'tools/ensure-services.sh (apt-get install '
                               'rabbitmq-server)')
        with open(os.path.join(self.dir, 'plugins'), 'w') as f:
            f.write('[].\n')
        self.epmd_before = self._epmd_pids()
        self.log = open(os.path.join(self.dir, 'rabbitmq.out'), 'ab')
        self.proc = subprocess.Popen([server], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        # await_startup gives up at once while the node is not yet known
        # to epmd; the AMQP port opening is the sign that it is.
        _wait(self._listening, 'RabbitMQ', 90, self.proc,
              os.path.join(self.dir, 'rabbitmq.out'))
        result = subprocess.run(
            [self.ctl, '-n', self.node, '--timeout', '60', 'await_startup'],
            env=self.env, capture_output=True, text=True, timeout=90)
        if result.returncode != 0:
            raise RuntimeError('RabbitMQ did not start: %s' % result.stderr)
        return self

    def _listening(self):
        try:
            socket.create_connection(('127.0.0.1', self.port), 1).close()
            return True
        except OSError:
            return False

    @staticmethod
    def _epmd_pids():
        out = subprocess.run(['pgrep', '-x', 'epmd'], capture_output=True,
                             text=True).stdout
        return {int(p) for p in out.split()}

    def stop(self):
        if self.proc is None:
            return
        subprocess.run([self.ctl, '-n', self.node, 'stop'],
                       env=self.env, capture_output=True, timeout=60)
        _stop(self.proc)
        # The node started an epmd of its own; end it by its process id.
        for pid in self._epmd_pids() - self.epmd_before:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.log.close()


class MariaDB(object):
    """A private MariaDB server: its own data directory, socket and port.

    Heat on sqlite corrupts itself on in-place updates (sqlite reuses the
    ids of deleted rows); production runs MariaDB or MySQL, so do we.
    """

    def __init__(self, directory):
        self.dir = directory
        self.port = esi_fixtures.free_port()
        self.socket = os.path.join(directory, 'mysqld.sock')
        self.password = uuid.uuid4().hex
        self.url = 'mysql+pymysql://heat:%s@127.0.0.1:%d/heat' % (
            self.password, self.port)
        self.proc = None

    def start(self):
        if not os.path.exists(MARIADBD):
            raise RuntimeError('mariadb-server is not installed: run '
                               'tools/ensure-services.sh (apt-get install '
                               'mariadb-server)')
        data = os.path.join(self.dir, 'data')
        # As root, the server must be told to stay root: it owns nothing
        # else here, and the data directory is ours.
        user = ['--user=%s' % getpass.getuser()]
        subprocess.run(['mariadb-install-db', '--no-defaults',
                        '--datadir=' + data, '--skip-test-db',
                        '--auth-root-authentication-method=socket'] + user,
                       check=True, capture_output=True, timeout=120)
        self.log = os.path.join(self.dir, 'mariadb.err')
        self.proc = subprocess.Popen(
            [MARIADBD, '--no-defaults', '--datadir=' + data,
             '--socket=' + self.socket, '--port=%d' % self.port,
             '--bind-address=127.0.0.1', '--skip-log-bin',
             '--pid-file=' + os.path.join(self.dir, 'mariadb.pid'),
             '--log-error=' + self.log, '--innodb-buffer-pool-size=32M',
             '--innodb-log-file-size=16M'] + user,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait(lambda: self._sql('SELECT 1'), 'MariaDB', 60, self.proc,
              self.log)
        if not self._sql("CREATE DATABASE heat CHARACTER SET utf8mb4; "
                         "CREATE USER 'heat'@'127.0.0.1' IDENTIFIED BY "
                         "'%s'; GRANT ALL ON heat.* TO 'heat'@'127.0.0.1'"
                         % self.password):
            raise RuntimeError('could not create the heat database')
        return self

    def create_database(self, name):
        """A database *name* and its user *name*; its SQLAlchemy URL."""
        password = uuid.uuid4().hex
        if not self._sql("CREATE DATABASE %s CHARACTER SET utf8mb4; "
                         "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'; "
                         "GRANT ALL ON %s.* TO '%s'@'127.0.0.1'"
                         % (name, name, password, name, name)):
            raise RuntimeError('could not create the %s database' % name)
        return 'mysql+pymysql://%s:%s@127.0.0.1:%d/%s' % (
            name, password, self.port, name)

    def _sql(self, statements):
        return subprocess.run(
            ['mariadb', '--no-defaults', '-S', self.socket, '-u', 'root',
             '-e', statements], capture_output=True, timeout=30
        ).returncode == 0

    def stop(self):
        _stop(self.proc)


def _plugin_dirs():
    """heat-esi's plugins, and the Contrail stand-ins once they exist.

    The stand-ins (heat_esi/simulated) are for the demo and the tests
    only: production heat-engines load heat_esi/resources alone.
    """
    dirs = [os.path.dirname(resources.__file__)]
    simulated = os.path.join(os.path.dirname(dirs[0]), 'simulated')
    if os.path.isdir(simulated):
        dirs.append(simulated)
    return dirs


def _environment_dir(directory, environments):
    """An environment_dir: Heat's own environment files and *environments*.

    heat-engine reads every file of its environment_dir into the global
    environment of every stack (what an operator puts in
    /etc/heat/environment.d).
    """
    target = os.path.join(directory, 'environment.d')
    os.makedirs(target, exist_ok=True)
    shipped = os.path.join(sys.prefix, 'etc', 'heat', 'environment.d')
    sources = [os.path.join(shipped, name) for name in
               sorted(os.listdir(shipped))] if os.path.isdir(shipped) else []
    for path in sources + list(environments):
        shutil.copy(path, target)
    return target


KEYSTONE_PAGE = os.path.join('admin', 'keystone.rst')


def _heat_ini_blocks():
    """[(kind, text, page)] of the docs' heat.conf blocks, in order."""
    pages = [page for page, _ in doc_blocks.blocks('ini')]
    return [(kind, block, page) for (kind, block), page in
            zip(doc_blocks.ini_blocks(), pages) if kind == 'heat']


class Keystone(object):
    """Keystone from PyPI under gunicorn, with its own MariaDB database.

    ``keystone-manage bootstrap`` makes the admin, RegionOne and Keystone's
    own public endpoint; then, as doc/source/admin/keystone.rst asks of an
    operator, the project ``service``, the service users ``heat`` (admin
    there) and ``esi-worker``, and heat's catalog entry; and for the tests
    two tenant projects, ``a`` and ``b``, each with a user of role member,
    the worker a member of both (it acts in each resource's project).
    """

    REGION = 'RegionOne'
    DOMAIN = 'Default'
    SERVICE_PROJECT = 'service'
    TENANTS = ('a', 'b')

    def __init__(self, directory, database):
        self.dir = directory
        self.database = database
        self.port = esi_fixtures.free_port()
        self.auth_url = 'http://127.0.0.1:%d/v3' % self.port
        self.admin_password = uuid.uuid4().hex
        self.heat_password = uuid.uuid4().hex
        self.worker_password = uuid.uuid4().hex
        self.projects = {}
        self.worker_auth = {}
        self.proc = None
        self.log = os.path.join(directory, 'keystone.log')

    def start(self):
        conf = os.path.join(self.dir, 'keystone.conf')
        keys_dir = os.path.join(self.dir, 'keys')
        with open(conf, 'w') as f:
            f.write('\n'.join([
                '[DEFAULT]',
                'log_file = %s' % self.log,
                '[database]',
                'connection = %s' % self.database,
                '[token]',
                'provider = fernet',
                '[fernet_tokens]',
                'key_repository = %s' % os.path.join(keys_dir, 'fernet'),
                '[fernet_receipts]',
                'key_repository = %s' % os.path.join(keys_dir, 'receipts'),
                '[credential]',
                'key_repository = %s' % os.path.join(keys_dir, 'credential'),
                '[identity]',
                # bcrypt's fewest rounds: every CLI call of the tests
                # authenticates, on a machine the tests share.
                'password_hash_rounds = 4',
            ]) + '\n')
        manage = [os.path.join(BIN, 'keystone-manage'), '--config-file', conf]
        # As root, keystone-manage wants to know who owns the keys.
        owner = ['--keystone-user', getpass.getuser(),
                 '--keystone-group', grp.getgrgid(os.getgid()).gr_name]
        env = dict(os.environ, OS_BOOTSTRAP_PASSWORD=self.admin_password)
        for command in (['db_sync'], ['fernet_setup'] + owner,
                        ['credential_setup'] + owner,
                        ['bootstrap', '--bootstrap-region-id', self.REGION,
                         '--bootstrap-admin-url', self.auth_url,
                         # auth_token validates through the internal one.
                         '--bootstrap-internal-url', self.auth_url,
                         '--bootstrap-public-url', self.auth_url]):
            result = subprocess.run(manage + command, env=env,
                                    capture_output=True, text=True,
                                    timeout=300)
            if result.returncode != 0:
                raise RuntimeError('keystone-manage %s failed:\n%s' % (
                    command[0], result.stderr[-3000:]))
        gunicorn_conf = os.path.join(self.dir, 'keystone-gunicorn.conf.py')
        self.server_log = os.path.join(self.dir, 'keystone-gunicorn.log')
        with open(gunicorn_conf, 'w') as f:
            # Keystone's configuration parses sys.argv: only its files.
            f.write('import sys\n'
                    'sys.argv[1:] = []\n'
                    'wsgi_app = "keystone.wsgi.api:application"\n'
                    'bind = "127.0.0.1:%d"\n'
                    'workers = 1\n'
                    'worker_class = "gthread"\n'
                    'threads = 4\n'
                    'errorlog = %r\n' % (self.port, self.server_log))
        self.proc = subprocess.Popen(
            [os.path.join(BIN, 'gunicorn'), '-c', gunicorn_conf],
            env=dict(os.environ, OS_KEYSTONE_CONFIG_FILES=conf),
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait(self._ready, 'Keystone', 90, self.proc, self.server_log)
        return self

    def _ready(self):
        try:
            return requests.get(self.auth_url, timeout=2).ok
        except requests.RequestException:
            return False

    def admin(self):
        """A keystoneclient of the bootstrap's admin."""
        return ks_client.Client(session=self.session(
            'admin', self.admin_password, 'admin'))

    def session(self, username, password, project_name):
        return ks_session.Session(auth=ks_identity.Password(
            auth_url=self.auth_url, username=username, password=password,
            project_name=project_name, user_domain_name=self.DOMAIN,
            project_domain_name=self.DOMAIN))

    def register(self, heat_port):
        """The operator's set-up, heat's endpoint on *heat_port*; tenants."""
        ks = self.admin()
        roles = {role.name: role for role in ks.roles.list()}
        service = ks.projects.create(self.SERVICE_PROJECT, 'default')
        heat = ks.users.create('heat', domain='default',
                               password=self.heat_password,
                               default_project=service)
        ks.roles.grant(roles['admin'], user=heat, project=service)
        orchestration = ks.services.create('heat', type='orchestration')
        ks.endpoints.create(
            orchestration, 'http://127.0.0.1:%d/v1/%%(project_id)s'
            % heat_port, interface='public', region=self.REGION)
        worker = ks.users.create('esi-worker', domain='default',
                                 password=self.worker_password,
                                 default_project=service)
        # Its own project's token is what the worker checks its password
        # with at start; it acts in the tenants' projects.
        ks.roles.grant(roles['member'], user=worker, project=service)
        self.worker_auth = {
            'auth_type': 'password', 'auth_url': self.auth_url,
            'username': 'esi-worker', 'password': self.worker_password,
            'project_name': self.SERVICE_PROJECT,
            'user_domain_name': self.DOMAIN,
            'project_domain_name': self.DOMAIN}
        for name in self.TENANTS:
            project = ks.projects.create(name, 'default')
            password = uuid.uuid4().hex
            user = ks.users.create('user-' + name, domain='default',
                                   password=password,
                                   default_project=project)
            ks.roles.grant(roles['member'], user=user, project=project)
            ks.roles.grant(roles['member'], user=worker, project=project)
            self.projects[name] = {'id': project.id, 'name': name,
                                   'username': user.name,
                                   'password': password}

    def heat_settings(self):
        """heat.conf lines: this Keystone's address and heat's password."""
        return [
            '[keystone_authtoken]',
            'www_authenticate_uri = %s' % self.auth_url,
            'auth_url = %s' % self.auth_url,
            'password = %s' % self.heat_password,
            '[trustee]',
            'auth_url = %s' % self.auth_url,
            'password = %s' % self.heat_password,
            '[clients_keystone]',
            'auth_uri = %s' % self.auth_url,
        ]

    def token(self, project='a'):
        """A token of *project*'s user, scoped to it."""
        p = self.projects[project]
        return self.session(p['username'], p['password'],
                            p['name']).get_token()

    def stop(self):
        _stop(self.proc)


class Heat(object):
    """heat-engine and heat-api as separate processes, on Keystone.

    heat.conf is: the operator guide's heat.conf blocks but Keystone's,
    the tests' own settings (write_heat_conf), the Keystone page's blocks
    (doc/source/admin/keystone.rst), then only what differs here: where
    Keystone is, heat's password, and Heat's own defaults where
    write_heat_conf chose noauth's.
    """

    def __init__(self, directory, transport_url, etcd_client, database,
                 keystone, plugin_dirs=(), environments=(), settings=()):
        self.dir = directory
        self.keystone = keystone
        self.api_port = esi_fixtures.free_port()
        self.args = []
        keystone_blocks = []
        for i, (kind, block, page) in enumerate(_heat_ini_blocks()):
            path = os.path.join(directory, 'doc-heat-%d.conf' % i)
            with open(path, 'w') as f:
                f.write(block)
            if page == KEYSTONE_PAGE:
                keystone_blocks += ['--config-file', path]
            else:
                self.args += ['--config-file', path]
        self.conf = heat_bootstrap.write_heat_conf(
            directory, transport_url, etcd_client,
            ['num_engine_workers = 1', 'debug = true'], database=database)
        self.args += ['--config-file', self.conf] + keystone_blocks
        local = os.path.join(directory, 'heat-keystone.conf')
        default = ['plugin_dirs = %s' % ','.join(
            _plugin_dirs() + list(plugin_dirs))]
        if environments:
            default.append('environment_dir = %s' % _environment_dir(
                directory, environments))
        with open(local, 'w') as f:
            f.write('\n'.join(['[DEFAULT]'] + default +
                              keystone.heat_settings() + [
                # Heat's default pipeline, with keystonemiddleware's
                # auth_token, instead of write_heat_conf's noauth one.
                '[paste_deploy]',
                'flavor =',
                # oslo.policy's default: with real roles, the new
                # defaults hold (member may act in its own project).
                '[oslo_policy]',
                'enforce_new_defaults = true',
            ] + list(settings)) + '\n')
        self.args += ['--config-file', local]
        self.engine = self.api = None
        self._token = None
        self._synced = False

    def endpoint(self, project='a'):
        """heat-api's URL for *project*, as Keystone's catalog has it."""
        return 'http://127.0.0.1:%d/v1/%s' % (
            self.api_port, self.keystone.projects[project]['id'])

    def sync_db(self):
        """heat-manage db_sync: Heat's tables in its database."""
        manage = [os.path.join(BIN, 'heat-manage')] + self.args
        subprocess.run(manage + ['db_sync'], check=True,
                       capture_output=True, timeout=120)
        self._synced = True

    def start(self):
        if not self._synced:
            self.sync_db()
        self.engine_log = os.path.join(self.dir, 'heat-engine.log')
        self.start_engine()
        gunicorn_conf = os.path.join(self.dir, 'gunicorn.conf.py')
        self.api_log = os.path.join(self.dir, 'heat-api.log')
        # What heat-api itself logs (gunicorn's own log is api_log).
        self.api_app_log = os.path.join(self.dir, 'heat-api-app.log')
        with open(gunicorn_conf, 'w') as f:
            # heat.wsgi.api parses sys.argv for its own options.
            f.write('import sys\n'
                    'sys.argv[1:] = %r\n'
                    'wsgi_app = "heat.wsgi.api:application"\n'
                    'bind = "127.0.0.1:%d"\n'
                    'workers = 1\n'
                    'worker_class = "gthread"\n'
                    'threads = 4\n'
                    'errorlog = %r\n' % (
                        self.args + ['--log-file', self.api_app_log],
                        self.api_port, self.api_log))
        self.api = subprocess.Popen(
            [os.path.join(BIN, 'gunicorn'), '-c', gunicorn_conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait(self._api_ready, 'heat-api', 60, self.api, self.api_log)
        self.wait_for_engine()
        return self

    def start_engine(self):
        engine = [os.path.join(BIN, 'heat-engine')] + self.args
        self.engine = subprocess.Popen(
            engine + ['--log-file', self.engine_log],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def wait_for_engine(self):
        _wait(self._engine_ready, 'heat-engine', 90, self.engine,
              self.engine_log)

    def kill_engine(self):
        """Send SIGKILL to heat-engine's processes, as an OOM kill would.

        Its launcher forks the engine itself, so both get it; as with a
        lost host, there is no shutdown and no chance to record anything.
        """
        pids = _descendants(self.engine.pid)
        self.engine.kill()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.engine.wait()
        _wait(lambda: not any(os.path.exists('/proc/%d' % pid)
                              for pid in pids), 'the end of heat-engine', 10)

    def _api_ready(self):
        try:
            return requests.get('http://127.0.0.1:%d/' % self.api_port,
                                timeout=2).status_code < 500
        except requests.RequestException:
            return False

    def _engine_ready(self):
        # The API answers a list of resource types only through the engine.
        try:
            if self._token is None:
                self._token = self.keystone.token()
            resp = requests.get(self.endpoint() + '/resource_types',
                                headers={'X-Auth-Token': self._token},
                                timeout=10)
            return resp.ok
        except requests.RequestException:
            return False

    def stop(self):
        _stop(self.api)
        _stop(self.engine)


class Cloud(object):
    """Everything the functional tests talk to, started in order.

    What a test module of further resource types may add to heat-engine:
    *plugin_dirs* (after heat-esi's own and the Contrail stand-ins'),
    *environments* (Heat environment files every stack gets, as in
    /etc/heat/environment.d) and *heat_settings* (heat.conf lines, read
    last). *worker_environment* is the [heat_worker] environment file of the
    workers that start_worker starts (default: the stand-ins').
    """

    def __init__(self, directory, plugin_dirs=(), environments=(),
                 heat_settings=(), worker_environment=None):
        self.dir = directory
        self.plugin_dirs = list(plugin_dirs)
        self.environments = list(environments)
        self.heat_settings = list(heat_settings)
        self.worker_environment = worker_environment
        self.etcd = esi_fixtures.EtcdServer()
        self.rabbit = RabbitMQ(os.path.join(directory, 'rabbit'))
        os.makedirs(self.rabbit.dir, exist_ok=True)
        self.db = MariaDB(os.path.join(directory, 'mariadb'))
        os.makedirs(self.db.dir, exist_ok=True)
        self.keystone = None
        self.heat = None
        self.worker = None
        self._workers = []

    def start(self):
        # Each part is kept before it starts, so that stop() ends what
        # started even when a start fails half-way. What does not depend
        # on another part starts beside it (RabbitMQ's Erlang node and
        # Heat's db_sync while Keystone's database is made): most of the
        # time of each is spent waiting on its own process.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            rabbit = pool.submit(self.rabbit.start)
            self.etcd.start()
            self.db.start()
            self.keystone = Keystone(self.dir, self.db.create_database(
                'keystone'))
            self.heat = Heat(self.dir, self.rabbit.url, self.etcd.client(),
                             self.db.url, self.keystone,
                             plugin_dirs=self.plugin_dirs,
                             environments=self.environments,
                             settings=self.heat_settings)
            heat_db = pool.submit(self.heat.sync_db)
            self.keystone.start()
            self.keystone.register(self.heat.api_port)
            heat_db.result()
            rabbit.result()
        self.heat.start()
        self.worker = esi_fixtures.WorkerProcess(
            self.dir, self.etcd.port, name='esi-worker',
            etcd_reader_retry_interval=0.2, etcd_reader_timeout=5)
        self.worker.start()
        return self

    def worker_sections(self, environment=None):
        """{group: {option: value}} of a worker's [heat_worker].

        The Keystone page's [heat_worker] block (doc/source/admin/
        keystone.rst), then this Keystone's address and the worker's
        password; *environment* defaults to the Contrail stand-ins'
        environment file when heat-esi has one.
        """
        options = {}
        for kind, block in doc_blocks.ini_blocks():
            if kind == 'heat_worker':
                parser = configparser.ConfigParser(interpolation=None)
                parser.read_string(block)
                options.update(parser['heat_worker'])
        options.update(self.keystone.worker_auth)
        if environment is None:
            environment = self.worker_environment
        if environment is None and os.path.exists(SIMULATED_ENVIRONMENT):
            environment = SIMULATED_ENVIRONMENT
        if environment:
            options['environment'] = environment
        return {'heat_worker': options}

    def start_worker(self, handlers=('monitoring_worker', 'heat_worker'),
                     name='heat-worker', environment=None, sections=None,
                     wait=True, **worker):
        """A further esi-worker running *handlers*, stopped with the cloud.

        Its [heat_worker] is worker_sections(environment); *sections* add
        groups (or replace options), *worker* are [worker] options.
        """
        groups = self.worker_sections(environment)
        for group, options in (sections or {}).items():
            groups.setdefault(group, {}).update(options)
        options = dict(etcd_reader_retry_interval=0.2,
                       etcd_reader_timeout=5,
                       enabled_handlers=','.join(handlers))
        options.update(worker)
        process = esi_fixtures.WorkerProcess(
            self.dir, self.etcd.port, name=name, sections=groups, **options)
        self._workers.append(process)
        return process.start(wait=wait)

    def stop(self):
        for part in self._workers + [self.worker, self.heat, self.keystone]:
            if part is not None:
                part.stop()
        self.rabbit.stop()
        self.db.stop()
        self.etcd.cleanup()

    def openstack(self, *args, project='a', check=True, timeout=180):
        """Run the openstack CLI as *project*'s user, password auth."""
        tenant = self.keystone.projects[project]
        env = dict(os.environ, OS_AUTH_TYPE='password',
                   OS_AUTH_URL=self.keystone.auth_url,
                   OS_IDENTITY_API_VERSION='3',
                   OS_USERNAME=tenant['username'],
                   OS_PASSWORD=tenant['password'],
                   OS_PROJECT_NAME=tenant['name'],
                   OS_USER_DOMAIN_NAME=Keystone.DOMAIN,
                   OS_PROJECT_DOMAIN_NAME=Keystone.DOMAIN,
                   OS_REGION_NAME=Keystone.REGION,
                   OS_INTERFACE='public')
        for var in ('OS_CLOUD', 'OS_ENDPOINT', 'OS_TOKEN', 'OS_PROJECT_ID',
                    'OS_TENANT_NAME', 'OS_TENANT_ID'):
            env.pop(var, None)
        command = [os.path.join(BIN, 'openstack')] + list(args)
        result = subprocess.run(command, env=env, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError('openstack %s failed (%s):\n%s\n%s' % (
                ' '.join(args), result.returncode, result.stdout,
                result.stderr))
        return result

    def stack_create(self, name, *extra, template=HA_ROUTER, check=True,
                     timeout=180, project='a'):
        """openstack stack create --wait: (its result, seconds it took)."""
        start = time.monotonic()
        result = self.openstack('stack', 'create', '--wait', '-t', template,
                                name, *extra, check=check, timeout=timeout,
                                project=project)
        return result, time.monotonic() - start

    def resource_id(self, stack, resource='ha_router', project='a'):
        """The physical resource id (the id in ESI) of *resource*."""
        out = self.openstack('stack', 'resource', 'show', stack, resource,
                             '-f', 'json', project=project).stdout
        return json.loads(out)['physical_resource_id']

    def show_stack(self, name, project='a'):
        """(openstack stack show as JSON, {output key: output value})."""
        show = json.loads(self.openstack('stack', 'show', name, '-f',
                                         'json', project=project).stdout)
        return show, {o['output_key']: o['output_value']
                      for o in show['outputs']}

"""Real OpenStack services for the functional tests, on loopback only.

RabbitMQ (Debian's rabbitmq-server), MariaDB (Debian's mariadb-server),
heat-engine (its console script), heat-api (heat.wsgi.api under gunicorn)
with the noauth flavor, etcd and esi-worker, each its own process, each
stopped by its process id. heat-engine and heat-api read the heat.conf
blocks of the operator guide (doc/source) first, then the test's own
settings.
"""

import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import requests

from heat_esi.demo import heat as heat_bootstrap
from tests import doc_blocks
from tests import esi_fixtures

BIN = os.path.dirname(sys.executable)
HOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                   'templates', 'hot')
HA_ROUTER = os.path.join(HOT, 'ha_router.yaml')
PROJECT = '0b576f6f4cbf414f829cd12f008bf08f'
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

    def _sql(self, statements):
        return subprocess.run(
            ['mariadb', '--no-defaults', '-S', self.socket, '-u', 'root',
             '-e', statements], capture_output=True, timeout=30
        ).returncode == 0

    def stop(self):
        _stop(self.proc)


class Heat(object):
    """heat-engine and heat-api as separate processes, without keystone."""

    def __init__(self, directory, transport_url, etcd_client, database):
        self.dir = directory
        self.api_port = esi_fixtures.free_port()
        self.endpoint = 'http://127.0.0.1:%d/v1/%s' % (
            self.api_port, PROJECT)
        self.args = []
        for i, (kind, block) in enumerate(doc_blocks.ini_blocks()):
            if kind == 'heat':
                path = os.path.join(directory, 'doc-heat-%d.conf' % i)
                with open(path, 'w') as f:
                    f.write(block)
                self.args += ['--config-file', path]
        self.conf = heat_bootstrap.write_heat_conf(
            directory, transport_url, etcd_client,
            ['num_engine_workers = 1', 'debug = true'], database=database)
        self.args += ['--config-file', self.conf]
        self.engine = self.api = None

    def start(self):
        manage = [os.path.join(BIN, 'heat-manage')] + self.args
        subprocess.run(manage + ['db_sync'], check=True,
                       capture_output=True, timeout=120)
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
            resp = requests.get(self.endpoint + '/resource_types',
                                headers={'X-Auth-Token': 'x'}, timeout=10)
            return resp.ok
        except requests.RequestException:
            return False

    def stop(self):
        _stop(self.api)
        _stop(self.engine)


class Cloud(object):
    """Everything the functional tests talk to, started in order."""

    def __init__(self, directory):
        self.dir = directory
        self.etcd = esi_fixtures.EtcdServer()
        self.rabbit = RabbitMQ(os.path.join(directory, 'rabbit'))
        os.makedirs(self.rabbit.dir, exist_ok=True)
        self.db = MariaDB(os.path.join(directory, 'mariadb'))
        os.makedirs(self.db.dir, exist_ok=True)
        self.heat = None
        self.worker = None

    def start(self):
        self.etcd.start()
        self.db.start()
        self.rabbit.start()
        self.heat = Heat(self.dir, self.rabbit.url, self.etcd.client(),
                         self.db.url).start()
        self.worker = esi_fixtures.WorkerProcess(
            self.dir, self.etcd.port, name='esi-worker',
            etcd_reader_retry_interval=0.2, etcd_reader_timeout=5).start()
        return self

    def stop(self):
        for part in (self.worker, self.heat):
            if part is not None:
                part.stop()
        self.rabbit.stop()
        self.db.stop()
        self.etcd.cleanup()

    def openstack(self, *args, check=True, timeout=180):
        env = dict(os.environ, OS_AUTH_TYPE='none',
                   OS_ENDPOINT=self.heat.endpoint)
        for var in ('OS_CLOUD', 'OS_AUTH_URL', 'OS_USERNAME',
                    'OS_PASSWORD', 'OS_PROJECT_NAME'):
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
                     timeout=180):
        """openstack stack create --wait: (its result, seconds it took)."""
        start = time.monotonic()
        result = self.openstack('stack', 'create', '--wait', '-t', template,
                                name, *extra, check=check, timeout=timeout)
        return result, time.monotonic() - start

    def resource_id(self, stack, resource='ha_router'):
        """The physical resource id (the id in ESI) of *resource*."""
        out = self.openstack('stack', 'resource', 'show', stack, resource,
                             '-f', 'json').stdout
        return json.loads(out)['physical_resource_id']

    def show_stack(self, name):
        """(openstack stack show as JSON, {output key: output value})."""
        show = json.loads(self.openstack('stack', 'show', name, '-f',
                                         'json').stdout)
        return show, {o['output_key']: o['output_value']
                      for o in show['outputs']}

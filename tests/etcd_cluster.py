"""Production-shaped etcd for the tests.

A cluster of real members, RBAC, TLS with generated certificates, and a
TCP relay that can go half-open.

Everything listens on 127.0.0.1 only; every process is stopped by its pid.
"""

import base64
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import requests

from heat_esi.demo.etcd import etcd_binary
from heat_esi.demo.etcd import free_port
from heat_esi import etcd


class Member(object):
    """One etcd process of a cluster."""

    def __init__(self, name, directory, scheme='http'):
        self.name = name
        self.dir = directory
        self.port = free_port()
        self.peer_port = free_port()
        self.url = '%s://127.0.0.1:%d' % (scheme, self.port)
        self.peer_url = 'http://127.0.0.1:%d' % self.peer_port
        self.proc = None
        self.log = None

    def start(self, initial_cluster, args):
        self.log = open(os.path.join(self.dir, '%s.log' % self.name), 'ab')
        self.proc = subprocess.Popen(
            [etcd_binary(), '--name', self.name,
             '--data-dir', os.path.join(self.dir, self.name),
             '--listen-client-urls', self.url,
             '--advertise-client-urls', self.url,
             '--listen-peer-urls', self.peer_url,
             '--initial-advertise-peer-urls', self.peer_url,
             '--initial-cluster', initial_cluster] + list(args),
            stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum):
        self.proc.send_signal(signum)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()


class EtcdCluster(object):
    """*size* etcd members on loopback with quick elections.

    Progress notifications come every second, so that a silent watch is
    noticed within seconds.
    """

    ELECTION = ['--heartbeat-interval', '50', '--election-timeout', '500',
                '--experimental-watch-progress-notify-interval', '1s']

    def __init__(self, size=3, args=(), tls=None):
        self.dir = tempfile.mkdtemp(prefix='esi-etcd-cluster-')
        self.tls = tls
        scheme = 'https' if tls else 'http'
        self.members = [Member('m%d' % i, self.dir, scheme)
                        for i in range(size)]
        self.args = self.ELECTION + list(args)
        if tls:
            self.args += ['--cert-file', tls.server_cert,
                          '--key-file', tls.server_key,
                          '--trusted-ca-file', tls.ca_cert,
                          '--client-cert-auth']
        self.initial = ','.join('%s=%s' % (m.name, m.peer_url)
                                for m in self.members)

    @property
    def endpoints(self):
        return [m.url for m in self.members]

    def start(self):
        for member in self.members:
            member.start(self.initial, self.args)
        for member in self.members:
            self.wait_healthy(member)
        return self

    def restart(self, index):
        member = self.members[index]
        member.start(self.initial, self.args)
        self.wait_healthy(member)

    def _get(self, member, path, **kwargs):
        kwargs.setdefault('timeout', 1)
        if self.tls:
            kwargs.update(verify=self.tls.ca_cert,
                          cert=(self.tls.client_cert, self.tls.client_key))
        return requests.get(member.url + path, **kwargs)

    def post(self, member, path, body, token=None):
        kwargs = {'timeout': 5}
        if self.tls:
            kwargs.update(verify=self.tls.ca_cert,
                          cert=(self.tls.client_cert, self.tls.client_key))
        headers = {'Authorization': token} if token else {}
        resp = requests.post(member.url + '/v3/' + path, json=body,
                             headers=headers, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def wait_healthy(self, member, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self._get(member, '/health').json().get('health') == \
                        'true':
                    return
            except (requests.RequestException, ValueError):
                pass
            if not member.alive():
                break
            time.sleep(0.05)
        raise RuntimeError('etcd member %s is not healthy; see %s/%s.log'
                           % (member.name, self.dir, member.name))

    def status(self, member):
        return self.post(member, 'maintenance/status', {})

    def leader(self):
        """Index of the current leader, once there is one."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for i, member in enumerate(self.members):
                if not member.alive():
                    continue
                try:
                    status = self.status(member)
                except requests.RequestException:
                    continue
                if status.get('leader') and \
                        status['leader'] == status['header']['member_id']:
                    return i
            time.sleep(0.05)
        raise AssertionError('no etcd leader')

    def make_leader(self, index):
        """Move the leadership to member *index*."""
        current = self.leader()
        if current == index:
            return
        target = self.status(self.members[index])['header']['member_id']
        self.post(self.members[current], 'maintenance/transfer-leadership',
                  {'targetID': target})
        deadline = time.monotonic() + 10
        while self.leader() != index:
            assert time.monotonic() < deadline, 'leadership did not move'
            time.sleep(0.05)

    def client(self, **kwargs):
        kwargs.setdefault('timeout', 2)
        kwargs.setdefault('endpoint_cooldown', 1)
        kwargs.setdefault('watch_progress_interval', 1)
        if self.tls:
            kwargs.setdefault('ca_file', self.tls.ca_cert)
            kwargs.setdefault('cert_file', self.tls.client_cert)
            kwargs.setdefault('key_file', self.tls.client_key)
        return etcd.Etcd(endpoints=self.endpoints, **kwargs)

    def esi_etcd_options(self, **extra):
        """The [esi_etcd] options of a worker or heat-engine using it."""
        options = {'endpoints': ','.join(self.endpoints), 'timeout': 2,
                   'endpoint_cooldown': 1, 'watch_progress_interval': 1}
        if self.tls:
            options.update(ca_file=self.tls.ca_cert,
                           cert_file=self.tls.client_cert,
                           key_file=self.tls.client_key)
        options.update(extra)
        return options

    def cleanup(self):
        for member in self.members:
            member.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- authentication -------------------------------------------------------

def _b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def _prefix_end(prefix):
    raw = bytearray(prefix.encode('utf-8'))
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode('ascii')


# The least-privilege roles of doc/source/admin/etcd.rst:
# {role: [(permType, prefix)]}.
ROLES = {
    'heat-engine': [
        ('READ', '/config/'),
        ('READWRITE', '/config/v2.0/ha_routers/'),
        ('READWRITE', '/config/v2.0/edge_routers/'),
        ('READWRITE', '/jobs/all/'),
        ('READ', '/jobs/working/'),
        ('READWRITE', '/state/'),
        ('READ', '/monitoring/'),
        # Which workers and monitors are alive (worker_wait, stack check),
        # and the check's poll requests.
        ('READ', '/esi-worker/members/'),
        ('READ', '/esi-worker/monitors/'),
        ('READWRITE', '/esi-worker/poll/'),
    ],
    'esi-worker': [
        ('READ', '/config/'),
        ('READWRITE', '/jobs/'),
        ('READWRITE', '/state/'),
        ('READWRITE', '/esi-worker/'),
        ('READWRITE', '/monitoring/'),
    ],
    'esi-templates': [
        ('READWRITE', '/config/v2.0/heat_templates/'),
    ],
}


def enable_auth(cluster, users, root_password='root-secret'):
    """Create *users* with the ROLES and turn authentication on.

    :param users: {name: (password, [role, ...])}
    :returns: root's password.
    """
    member = next(m for m in cluster.members if m.alive())
    post = cluster.post
    post(member, 'auth/user/add', {'name': 'root',
                                   'password': root_password})
    post(member, 'auth/user/grant', {'user': 'root', 'role': 'root'})
    for role, perms in ROLES.items():
        post(member, 'auth/role/add', {'name': role})
        for perm_type, prefix in perms:
            post(member, 'auth/role/grant', {'name': role, 'perm': {
                'permType': perm_type, 'key': _b64(prefix),
                'range_end': _prefix_end(prefix)}})
    for name, (password, roles) in users.items():
        add_user(cluster, name, password, roles)
    post(member, 'auth/enable', {})
    return root_password


def add_user(cluster, name, password, roles, token=None):
    member = next(m for m in cluster.members if m.alive())
    cluster.post(member, 'auth/user/add', {'name': name,
                                           'password': password}, token)
    for role in roles:
        cluster.post(member, 'auth/user/grant', {'user': name, 'role': role},
                     token)


def token_of(cluster, name, password):
    member = next(m for m in cluster.members if m.alive())
    return cluster.post(member, 'auth/authenticate',
                        {'name': name, 'password': password})['token']


# --- TLS --------------------------------------------------------------------

class Certificates(object):
    """Test certificates, generated into *directory* with cryptography.

    A CA, a server certificate for 127.0.0.1 and a client certificate.
    """

    def __init__(self, directory, name='test'):
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives import serialization
        from cryptography import x509
        from cryptography.x509.oid import ExtendedKeyUsageOID
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.timezone.utc)

        def key_pair():
            return ec.generate_private_key(ec.SECP256R1())

        def write(filename, data):
            path = os.path.join(directory, filename)
            with open(path, 'wb') as f:
                f.write(data)
            return path

        def pem_key(key):
            return key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())

        def subject(cn):
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

        def build(cn, key, issuer, issuer_key, ca=False, usage=None,
                  san=None):
            builder = (x509.CertificateBuilder()
                       .subject_name(subject(cn)).issuer_name(issuer)
                       .public_key(key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(hours=1))
                       .not_valid_after(now + datetime.timedelta(days=1))
                       .add_extension(x509.BasicConstraints(ca=ca,
                                                            path_length=None),
                                      critical=True))
            if usage:
                builder = builder.add_extension(
                    x509.ExtendedKeyUsage(usage), critical=False)
            if san:
                builder = builder.add_extension(
                    x509.SubjectAlternativeName(san), critical=False)
            return builder.sign(issuer_key, hashes.SHA256())

        ca_key = key_pair()
        ca_name = subject('%s CA' % name)
        ca = build('%s CA' % name, ca_key, ca_name, ca_key, ca=True)
        self.ca_cert = write('%s-ca.pem' % name,
                             ca.public_bytes(serialization.Encoding.PEM))
        server_key = key_pair()
        server = build('etcd', server_key, ca_name, ca_key,
                       usage=[ExtendedKeyUsageOID.SERVER_AUTH,
                              ExtendedKeyUsageOID.CLIENT_AUTH],
                       san=[x509.IPAddress(
                           ipaddress.ip_address("127.0.0.1")),
                           x509.DNSName('localhost')])
        self.server_cert = write('%s-server.pem' % name, server.public_bytes(
            serialization.Encoding.PEM))
        self.server_key = write('%s-server-key.pem' % name,
                                pem_key(server_key))
        client_key = key_pair()
        client = build('heat-esi', client_key, ca_name, ca_key,
                       usage=[ExtendedKeyUsageOID.CLIENT_AUTH])
        self.client_cert = write('%s-client.pem' % name, client.public_bytes(
            serialization.Encoding.PEM))
        self.client_key = write('%s-client-key.pem' % name,
                                pem_key(client_key))


# --- a relay that can go half-open ------------------------------------------

class TcpRelay(object):
    """Forwards 127.0.0.1:port to *target_port*.

    freeze() stops forwarding on every open connection, in both
    directions, without closing either side: to both ends the connection
    looks alive and silent, like one whose packets a middlebox drops. New
    connections are forwarded as usual.
    """

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self._lock = threading.Lock()
        self._connections = []          # [(client, upstream, frozen event)]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(
                    ('127.0.0.1', self.target_port))
            except OSError:
                client.close()
                continue
            frozen = threading.Event()
            with self._lock:
                self._connections.append((client, upstream, frozen))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump,
                                 args=(src, dst, frozen),
                                 daemon=True).start()

    @staticmethod
    def _pump(src, dst, frozen):
        src.settimeout(0.1)
        while not frozen.is_set():
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if frozen.is_set():
                return           # swallowed: the connection is black-holed
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        if not frozen.is_set():
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def freeze(self):
        """Black-hole every open connection; how many there were."""
        # The sockets stay referenced in _connections, so that nothing
        # closes them until close().
        with self._lock:
            for _, _, frozen in self._connections:
                frozen.set()
            return len(self._connections)

    def close(self):
        self._closed = True
        self.listener.close()
        with self._lock:
            for client, upstream, frozen in self._connections:
                frozen.set()
                client.close()
                upstream.close()

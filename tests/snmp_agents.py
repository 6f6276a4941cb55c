"""SNMP agents on loopback addresses, for the tests.

SnmpAgent is a real one (Debian's snmpd). The agents snmpd cannot be (a
JUNOS router's interfaces, a hostile device, a swarm of thousands) are
modules of tests/ run as processes: they share Responder, the BER of an
SNMP v2c agent's answers, and AgentProcess, which starts and stops them.
"""

import collections
import functools
import os
import shutil
import socket
import subprocess
import sys
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


# --- SNMP v2c in BER, for the agents run as processes ---------------------

GET, GETNEXT, RESPONSE, GETBULK = 0xa0, 0xa1, 0xa2, 0xa5
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
IF_OPER_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
NO_SUCH_INSTANCE = b'\x81\x00'
END_OF_MIB_VIEW = b'\x82\x00'


def ber(tag, body):
    """The BER element *tag* of *body* (definite length)."""
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes((tag, 0x80 | len(size))) + size + body


def integer(n, tag=0x02):
    """An INTEGER (or, by *tag*, an application integer) of *n*."""
    return ber(tag, n.to_bytes((n.bit_length() + 8) // 8 or 1, 'big',
                               signed=n < 0))


def octets(value):
    """An OCTET STRING of *value* (bytes)."""
    return ber(0x04, value)


def timeticks(n):
    """TimeTicks (unsigned, [APPLICATION 3]) of *n* hundredths."""
    return integer(n, tag=0x43)


# Cached, as is _arcs: a swarm is asked the same OIDs all the time.
@functools.lru_cache(maxsize=4096)
def oid(arcs):
    """The OBJECT IDENTIFIER of *arcs*, a tuple of ints."""
    body = bytearray()
    for arc in (arcs[0] * 40 + arcs[1],) + tuple(arcs[2:]):
        # Base 128, most significant first, bit 8 set but on the last.
        septets = [arc & 0x7f]
        while arc > 0x7f:
            arc >>= 7
            septets.insert(0, 0x80 | (arc & 0x7f))
        body += bytes(septets)
    return ber(0x06, bytes(body))


def _element(data, pos):
    """(tag, start, end) of the BER element at *pos* of *data*."""
    tag, length = data[pos], data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7f
        length = int.from_bytes(data[start:start + count], 'big')
        start += count
    if start + length > len(data):
        raise ValueError('truncated')
    return tag, start, start + length


@functools.lru_cache(maxsize=4096)
def _arcs(body):
    first, arcs, arc = True, [], 0
    for byte in body:
        arc = (arc << 7) | (byte & 0x7f)
        if not byte & 0x80:
            if first:
                arcs += [min(arc // 40, 2), arc - 40 * min(arc // 40, 2)]
                first = False
            else:
                arcs.append(arc)
            arc = 0
    return tuple(arcs)


# kind: GET, GETNEXT or GETBULK; oids: tuples; the raw parts are echoed in
# the response as they came.
Request = collections.namedtuple(
    'Request', 'kind oids max_repetitions version community request_id')


def parse(data):
    """The Request in the datagram *data*, or None if it is not one."""
    try:
        tag, start, _end = _element(data, 0)
        _, _, vend = _element(data, start)                  # version
        tag_c, cstart, cend = _element(data, vend)          # community
        kind, pstart, _pend = _element(data, cend)
        if tag != 0x30 or tag_c != 0x04 or \
                kind not in (GET, GETNEXT, GETBULK):
            return None
        _, _, rend = _element(data, pstart)                 # request id
        _, _, nend = _element(data, rend)     # error status, non-repeaters
        _, mstart, mend = _element(data, nend)  # error index, repetitions
        _, bstart, bend = _element(data, mend)
        oids = []
        pos = bstart
        while pos < bend:
            _, vb_start, vb_end = _element(data, pos)
            tag_o, ostart, oend = _element(data, vb_start)
            if tag_o != 0x06:
                return None
            oids.append(_arcs(data[ostart:oend]))
            pos = vb_end
    except (IndexError, ValueError):
        return None
    return Request(kind, oids, int.from_bytes(data[mstart:mend], 'big'),
                   data[start:vend], data[vend:cend], data[pstart:rend])


class Responder(object):
    """An SNMP v2c agent's answers, in BER built by hand.

    pyasn1 would cost an agent half a millisecond a request, which would
    make a swarm of devices, not the monitor measured, the bottleneck of a
    burst. A subclass says what to answer: varbinds(request) gives
    [(oid tuple, value)], each value the BER of one (integer(), octets(),
    timeticks(), NO_SUCH_INSTANCE, END_OF_MIB_VIEW).
    """

    def __init__(self, community):
        self.community = octets(community.encode())
        self.started = time.monotonic()

    def uptime(self):
        """sysUpTime, growing as a real agent's does."""
        return timeticks(int((time.monotonic() - self.started) * 100) + 1)

    def varbinds(self, request):
        raise NotImplementedError

    def respond(self, data):
        """(Request, its encoded response) of the datagram *data*, or None.

        None for anything but a v2c GET, GETNEXT or GETBULK of the
        community: a wrong community is dropped, as net-snmp does.
        """
        request = parse(data)
        if request is None or request.community != self.community:
            return None
        binds = b''.join(ber(0x30, oid(name) + value)
                         for name, value in self.varbinds(request))
        pdu = ber(RESPONSE, request.request_id + integer(0) + integer(0) +
                  ber(0x30, binds))
        return request, ber(0x30, request.version + request.community + pdu)


class AgentProcess(object):
    """An agent module of tests/ as a process of the test (``python -m``).

    The module prints "listening" once its sockets are open; start() waits
    for that line.
    """

    name = 'SNMP agent'     # in the error of a start that failed

    def __init__(self, module, *args):
        self.argv = [sys.executable, '-m', module] + [str(a) for a in args]
        self.proc = None

    def start(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen(self.argv, cwd=root,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline()
        if b'listening' not in line:
            self.stop()
            raise RuntimeError('%s did not start: %r' % (self.name, line))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

"""A hostile SNMP v2c agent for the tests: a device that misbehaves.

Run as its own process (``python -m tests.hostile_snmp --host H --port P
...``), so that its work never competes with the test's own threads; it
prints "listening" once its port is open. What it does, by option:

- ``--row-delay S``: the ifName table never ends: each GETNEXT/GETBULK
  under ifName is answered with the next row, S seconds later (each answer
  within the worker's request_timeout, so no request ever times out);
- ``--get-delay S``: each GET is answered S seconds late;
- ``--value-size N``: every ifName value is N bytes long;
- ``--huge-uptime``: sysUpTime is a long string instead of TimeTicks.

sysUpTime otherwise grows like a real agent's, so the device looks alive.
"""

import argparse
import heapq
import select
import socket
import sys
import time

from pyasn1.codec.ber import decoder
from pyasn1.codec.ber import encoder
from pysnmp.proto import api
from pysnmp.proto import rfc1902

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_OPER_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


class Hostile(object):

    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.pending = []       # heap of (due, seq, datagram, address)
        self.seq = 0

    def uptime(self):
        if self.args.huge_uptime:
            return rfc1902.OctetString(b'9' * 60000)
        return rfc1902.TimeTicks(
            int((time.monotonic() - self.started) * 100) + 1)

    def row(self, index):
        name = ('ge-0/0/%d' % index).encode()
        if self.args.value_size:
            name = (name * (self.args.value_size // len(name) + 1))[
                :self.args.value_size]
        return IF_NAME + (index,), rfc1902.OctetString(name)

    def answer(self, pdu):
        """Return ([(oid, value)], delay) answering a request PDU."""
        found = []
        delay = 0.0
        for oid, _ in V2C.apiPDU.get_varbinds(pdu):
            oid = tuple(oid)
            if pdu.isSameTypeWith(V2C.GetRequestPDU()):
                delay = self.args.get_delay
                if oid == SYS_UPTIME:
                    found.append((oid, self.uptime()))
                elif oid[:len(IF_OPER_STATUS)] == IF_OPER_STATUS:
                    found.append((oid, rfc1902.Integer(2)))     # down(2)
                else:
                    found.append((oid, V2C.NoSuchInstance()))
                continue
            # GETNEXT and GETBULK: the next ifName rows, forever.
            delay = self.args.row_delay
            if oid[:len(IF_NAME)] == IF_NAME and len(oid) > len(IF_NAME):
                index = oid[len(IF_NAME)] + 1
            else:
                index = 1
            count = 1
            if pdu.isSameTypeWith(V2C.GetBulkRequestPDU()):
                # As many as fit one datagram, as an agent does.
                count = max(1, min(
                    int(V2C.apiBulkPDU.get_max_repetitions(pdu)), 50,
                    60000 // (self.args.value_size + 40)))
            if oid < IF_NAME or oid[:len(IF_NAME)] == IF_NAME:
                found += [self.row(index + i) for i in range(count)]
            else:
                found.append((oid, V2C.EndOfMibView()))
        return found, delay

    def handle(self, data, address, sock):
        try:
            message, _ = decoder.decode(data, asn1Spec=V2C.Message())
        except Exception:
            return
        if bytes(V2C.apiMessage.get_community(message)) != \
                self.args.community.encode():
            return          # as net-snmp does: a wrong community is dropped
        pdu = V2C.apiMessage.get_pdu(message)
        found, delay = self.answer(pdu)
        response = V2C.apiMessage.get_response(message)
        reply = V2C.apiMessage.get_pdu(response)
        V2C.apiPDU.set_varbinds(reply, found)
        out = encoder.encode(response)
        self.seq += 1
        heapq.heappush(self.pending, (time.monotonic() + delay, self.seq,
                                      out, address))

    def serve(self):
        family = socket.AF_INET6 if ':' in self.args.host else \
            socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((self.args.host, self.args.port))
        print('listening', flush=True)
        while True:
            timeout = None
            if self.pending:
                timeout = max(0.0, self.pending[0][0] - time.monotonic())
            readable, _, _ = select.select([sock], [], [], timeout)
            if readable:
                data, address = sock.recvfrom(65535)
                self.handle(data, address, sock)
            while self.pending and self.pending[0][0] <= time.monotonic():
                _, _, out, address = heapq.heappop(self.pending)
                try:
                    sock.sendto(out, address)
                except OSError:
                    pass        # a value too big for one datagram


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.9')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--community', required=True)
    parser.add_argument('--row-delay', type=float, default=0.5)
    parser.add_argument('--get-delay', type=float, default=0.0)
    parser.add_argument('--value-size', type=int, default=0)
    parser.add_argument('--huge-uptime', action='store_true')
    Hostile(parser.parse_args(argv)).serve()


class HostileAgent(object):
    """The hostile agent as a process of the test, on *host*:*port*."""

    def __init__(self, host, port, community, **options):
        self.host, self.port = host, port
        self.argv = [sys.executable, '-m', 'tests.hostile_snmp',
                     '--host', host, '--port', str(port),
                     '--community', community]
        for name, value in sorted(options.items()):
            flag = '--' + name.replace('_', '-')
            self.argv += [flag] if value is True else [flag, str(value)]
        self.proc = None

    def start(self):
        import os
        import subprocess
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen(self.argv, cwd=root,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline()
        if b'listening' not in line:
            self.stop()
            raise RuntimeError('hostile agent did not start: %r' % line)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


if __name__ == '__main__':
    main()

"""An SNMP v2c agent with the interfaces of a JUNOS router, for the tests.

snmpd shows this host's interfaces (lo, eth0); a VPN gateway's checks ask
for a router's own names, logical units included (``ge-0/0/1.122``,
``ae0.1025``, a ToR switch's ``xe-0/0/3.1025``). This agent answers, on a
UDP port of one or more loopback addresses, sysUpTime (growing as a real
agent's) and the IF-MIB ifName and ifOperStatus rows of the names it is
given, all up; GET, GETNEXT and GETBULK walk them as snmpd's would.

Run as its own process (``python -m tests.router_snmp --host H [--host H2]
--port P --community C --interface NAME ...``); it prints "listening" once
its ports are open.
"""

import argparse
import bisect
import os
import select
import socket
import subprocess
import sys
import time

from pyasn1.codec.ber import decoder
from pyasn1.codec.ber import encoder
from pysnmp.proto import api
from pysnmp.proto import rfc1902

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
IF_OPER_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


class Agent(object):

    def __init__(self, interfaces, community):
        self.community = community.encode()
        self.started = time.monotonic()
        self.mib = {}
        for index, name in enumerate(interfaces, 1):
            self.mib[IF_NAME + (index,)] = rfc1902.OctetString(name.encode())
            self.mib[IF_OPER_STATUS + (index,)] = rfc1902.Integer(1)
        self.mib[SYS_UPTIME] = None         # computed when asked
        self.oids = sorted(self.mib)

    def value(self, oid):
        if oid == SYS_UPTIME:
            return rfc1902.TimeTicks(
                int((time.monotonic() - self.started) * 100) + 1)
        return self.mib[oid]

    def next(self, oid):
        at = bisect.bisect_right(self.oids, oid)
        if at == len(self.oids):
            return oid, V2C.EndOfMibView()
        found = self.oids[at]
        return found, self.value(found)

    def answer(self, pdu):
        found = []
        for oid, _ in V2C.apiPDU.get_varbinds(pdu):
            oid = tuple(oid)
            if pdu.isSameTypeWith(V2C.GetRequestPDU()):
                found.append((oid, self.value(oid) if oid in self.mib
                              else V2C.NoSuchInstance()))
            elif pdu.isSameTypeWith(V2C.GetBulkRequestPDU()):
                count = max(1, min(
                    int(V2C.apiBulkPDU.get_max_repetitions(pdu)), 50))
                for _ in range(count):
                    oid, value = self.next(oid)
                    found.append((oid, value))
                    if isinstance(value, type(V2C.EndOfMibView())):
                        break
            else:
                found.append(self.next(oid))
        return found

    def handle(self, data, address, sock):
        try:
            message, _ = decoder.decode(data, asn1Spec=V2C.Message())
        except Exception:
            return
        if bytes(V2C.apiMessage.get_community(message)) != self.community:
            return          # as net-snmp does: a wrong community is dropped
        response = V2C.apiMessage.get_response(message)
        reply = V2C.apiMessage.get_pdu(response)
        V2C.apiPDU.set_varbinds(reply, self.answer(
            V2C.apiMessage.get_pdu(message)))
        sock.sendto(encoder.encode(response), address)

    def serve(self, hosts, port):
        socks = []
        for host in hosts:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((host, port))
            socks.append(sock)
        print('listening', flush=True)
        while True:
            for sock in select.select(socks, [], [])[0]:
                data, address = sock.recvfrom(65535)
                self.handle(data, address, sock)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', action='append', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--community', required=True)
    parser.add_argument('--interface', action='append', default=[])
    args = parser.parse_args(argv)
    Agent(args.interface, args.community).serve(args.host, args.port)


class RouterAgent(object):
    """The agent as a process of the test: *hosts* on UDP *port*."""

    def __init__(self, hosts, port, community, interfaces):
        self.hosts, self.port = hosts, port
        self.argv = [sys.executable, '-m', 'tests.router_snmp',
                     '--port', str(port), '--community', community]
        for host in hosts:
            self.argv += ['--host', host]
        for name in interfaces:
            self.argv += ['--interface', name]
        self.proc = None

    def start(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen(self.argv, cwd=root,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline()
        if b'listening' not in line:
            self.stop()
            raise RuntimeError('router agent did not start: %r' % line)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


if __name__ == '__main__':
    main()

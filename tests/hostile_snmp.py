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
import time

from tests import snmp_agents

SYS_UPTIME = snmp_agents.SYS_UPTIME
IF_NAME = snmp_agents.IF_NAME
IF_OPER_STATUS = snmp_agents.IF_OPER_STATUS


class Hostile(snmp_agents.Responder):

    def __init__(self, args):
        super(Hostile, self).__init__(args.community)
        self.args = args
        self.pending = []       # heap of (due, seq, datagram, address)
        self.seq = 0

    def uptime(self):
        if self.args.huge_uptime:
            return snmp_agents.octets(b'9' * 60000)
        return super(Hostile, self).uptime()

    def row(self, index):
        name = ('ge-0/0/%d' % index).encode()
        if self.args.value_size:
            name = (name * (self.args.value_size // len(name) + 1))[
                :self.args.value_size]
        return IF_NAME + (index,), snmp_agents.octets(name)

    def varbinds(self, request):
        """[(oid, value)] answering *request*."""
        found = []
        for oid in request.oids:
            if request.kind == snmp_agents.GET:
                if oid == SYS_UPTIME:
                    found.append((oid, self.uptime()))
                elif oid[:len(IF_OPER_STATUS)] == IF_OPER_STATUS:
                    found.append((oid, snmp_agents.integer(2)))  # down(2)
                else:
                    found.append((oid, snmp_agents.NO_SUCH_INSTANCE))
                continue
            # GETNEXT and GETBULK: the next ifName rows, forever.
            if oid[:len(IF_NAME)] == IF_NAME and len(oid) > len(IF_NAME):
                index = oid[len(IF_NAME)] + 1
            else:
                index = 1
            count = 1
            if request.kind == snmp_agents.GETBULK:
                # As many as fit one datagram, as an agent does.
                count = max(1, min(request.max_repetitions, 50,
                                   60000 // (self.args.value_size + 40)))
            if oid < IF_NAME or oid[:len(IF_NAME)] == IF_NAME:
                found += [self.row(index + i) for i in range(count)]
            else:
                found.append((oid, snmp_agents.END_OF_MIB_VIEW))
        return found

    def handle(self, data, address, sock):
        answered = self.respond(data)
        if answered is None:
            return
        request, out = answered
        delay = (self.args.get_delay if request.kind == snmp_agents.GET
                 else self.args.row_delay)
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


class HostileAgent(snmp_agents.AgentProcess):
    """The hostile agent as a process of the test, on *host*:*port*."""

    name = 'hostile agent'

    def __init__(self, host, port, community, **options):
        args = ['--host', host, '--port', port, '--community', community]
        for name, value in sorted(options.items()):
            flag = '--' + name.replace('_', '-')
            args += [flag] if value is True else [flag, value]
        super(HostileAgent, self).__init__('tests.hostile_snmp', *args)
        self.host, self.port = host, port


if __name__ == '__main__':
    main()

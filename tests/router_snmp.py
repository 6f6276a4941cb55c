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
import select
import socket

from tests import snmp_agents

SYS_UPTIME = snmp_agents.SYS_UPTIME
IF_OPER_STATUS = snmp_agents.IF_OPER_STATUS
IF_NAME = snmp_agents.IF_NAME


class Agent(snmp_agents.Responder):

    def __init__(self, interfaces, community):
        super(Agent, self).__init__(community)
        self.mib = {}
        for index, name in enumerate(interfaces, 1):
            self.mib[IF_NAME + (index,)] = snmp_agents.octets(name.encode())
            self.mib[IF_OPER_STATUS + (index,)] = snmp_agents.integer(1)
        self.mib[SYS_UPTIME] = None         # computed when asked
        self.oids = sorted(self.mib)

    def value(self, oid):
        if oid == SYS_UPTIME:
            return self.uptime()
        return self.mib[oid]

    def next(self, oid):
        at = bisect.bisect_right(self.oids, oid)
        if at == len(self.oids):
            return oid, snmp_agents.END_OF_MIB_VIEW
        found = self.oids[at]
        return found, self.value(found)

    def varbinds(self, request):
        found = []
        for oid in request.oids:
            if request.kind == snmp_agents.GET:
                found.append((oid, self.value(oid) if oid in self.mib
                              else snmp_agents.NO_SUCH_INSTANCE))
            elif request.kind == snmp_agents.GETBULK:
                for _ in range(max(1, min(request.max_repetitions, 50))):
                    oid, value = self.next(oid)
                    found.append((oid, value))
                    if value == snmp_agents.END_OF_MIB_VIEW:
                        break
            else:
                found.append(self.next(oid))
        return found

    def handle(self, data, address, sock):
        answered = self.respond(data)
        if answered is not None:
            sock.sendto(answered[1], address)

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


class RouterAgent(snmp_agents.AgentProcess):
    """The agent as a process of the test: *hosts* on UDP *port*."""

    name = 'router agent'

    def __init__(self, hosts, port, community, interfaces):
        args = ['--port', port, '--community', community]
        for host in hosts:
            args += ['--host', host]
        for name in interfaces:
            args += ['--interface', name]
        super(RouterAgent, self).__init__('tests.router_snmp', *args)
        self.hosts, self.port = hosts, port


if __name__ == '__main__':
    main()

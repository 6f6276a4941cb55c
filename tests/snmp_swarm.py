"""Many simulated SNMP v2c devices on one UDP socket, for the monitor's bench.

snmpd cannot be 10,000 devices; this process is. Run it on its own
(``python -m tests.snmp_swarm --port P --community C``): it prints
"listening" once its socket is open. It answers GET sysUpTime (growing like
a real agent's) for every IPv4 loopback address 127.x.y.z on the port,
and replies *from* that address (IP_PKTINFO), as a device of its own would.

An address whose last two octets, as a number, are a multiple of
``--silent-every`` never answers: a device that is down.
"""

import argparse
import socket
import struct

from tests import snmp_agents

IP_PKTINFO = getattr(socket, 'IP_PKTINFO', 8)


def silent(address, every):
    """Whether the device at *address* (dotted IPv4) is down."""
    if not every:
        return False
    octets = [int(part) for part in address.split('.')]
    return (octets[2] * 256 + octets[3]) % every == 0


class Swarm(snmp_agents.Responder):
    """The agent's answers: sysUpTime to a GET, nothing else.

    In BER built by hand (snmp_agents.Responder): pyasn1 would make the
    swarm, not the monitor measured, the bottleneck of a burst.
    """

    def __init__(self, args):
        super(Swarm, self).__init__(args.community)
        self.args = args

    def varbinds(self, request):
        return [(oid, self.uptime() if oid == snmp_agents.SYS_UPTIME
                 else snmp_agents.NO_SUCH_INSTANCE) for oid in request.oids]

    def answer(self, data):
        """The encoded response to the GET request *data*, or None."""
        answered = self.respond(data)
        if answered is None or answered[0].kind != snmp_agents.GET:
            return None     # only GET
        return answered[1]

    def serve(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_IP, IP_PKTINFO, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind(('0.0.0.0', self.args.port))
        print('listening', flush=True)
        space = socket.CMSG_SPACE(12)
        while True:
            data, ancillary, _, peer = sock.recvmsg(65535, space)
            to = None
            for level, kind, value in ancillary:
                if level == socket.SOL_IP and kind == IP_PKTINFO:
                    # struct in_pktinfo: ifindex, spec_dst, addr
                    to = socket.inet_ntoa(value[8:12])
            if to is None or silent(to, self.args.silent_every):
                continue
            out = self.answer(data)
            if out is None:
                continue
            info = struct.pack('=I4s4s', 0, socket.inet_aton(to),
                               socket.inet_aton(to))
            try:
                sock.sendmsg([out], [(socket.SOL_IP, IP_PKTINFO, info)],
                             0, peer)
            except OSError:
                pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--community', required=True)
    parser.add_argument('--silent-every', type=int, default=0)
    Swarm(parser.parse_args(argv)).serve()


class SwarmAgent(snmp_agents.AgentProcess):
    """The swarm as a process of the caller, on 127.0.0.0/8:*port*."""

    name = 'SNMP swarm'

    def __init__(self, port, community, silent_every=0):
        super(SwarmAgent, self).__init__(
            'tests.snmp_swarm', '--port', port, '--community', community,
            '--silent-every', silent_every)
        self.port = port


if __name__ == '__main__':
    main()

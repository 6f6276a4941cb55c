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
import sys
import time

IP_PKTINFO = getattr(socket, 'IP_PKTINFO', 8)


def silent(address, every):
    """Whether the device at *address* (dotted IPv4) is down."""
    if not every:
        return False
    octets = [int(part) for part in address.split('.')]
    return (octets[2] * 256 + octets[3]) % every == 0


def _tlv(data, pos):
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


def _wrap(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes((tag, 0x80 | len(size))) + size + body


class Swarm(object):
    """The agent's answers, in BER built by hand.

    pyasn1 would cost the agent half a millisecond per request, which
    would make it, not the monitor measured, the bottleneck of a burst.
    """

    UPTIME_OID = bytes((0x06, 8, 0x2b, 6, 1, 2, 1, 1, 3, 0))

    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.community = args.community.encode()

    def answer(self, data):
        """The encoded response to the GET request *data*, or None."""
        try:
            tag, start, end = _tlv(data, 0)
            _, vstart, vend = _tlv(data, start)          # version
            version = data[start:vend]
            tag_c, cstart, cend = _tlv(data, vend)       # community
            if tag_c != 0x04 or data[cstart:cend] != self.community:
                return None     # as net-snmp does: a wrong community
            community = data[vend:cend]
            tag_p, pstart, pend = _tlv(data, cend)
            if tag != 0x30 or tag_p != 0xa0:
                return None     # only GET
            _, _, rend = _tlv(data, pstart)              # request id
            request_id = data[pstart:rend]
            _, _, eend = _tlv(data, rend)
            _, _, iend = _tlv(data, eend)
            _, bstart, bend = _tlv(data, iend)
            binds = b''
            pos = bstart
            while pos < bend:
                _, vb_start, vb_end = _tlv(data, pos)
                _, _, oend = _tlv(data, vb_start)
                oid = data[vb_start:oend]
                if oid == self.UPTIME_OID:
                    ticks = int((time.monotonic() - self.started) * 100) + 1
                    value = _wrap(0x43, ticks.to_bytes(
                        (ticks.bit_length() + 8) // 8, 'big'))
                else:
                    value = b'\x81\x00'        # noSuchInstance
                binds += _wrap(0x30, oid + value)
                pos = vb_end
        except (IndexError, ValueError):
            return None
        pdu = _wrap(0xa2, request_id + b'\x02\x01\x00\x02\x01\x00' +
                    _wrap(0x30, binds))
        return _wrap(0x30, version + community + pdu)

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


class SwarmAgent(object):
    """The swarm as a process of the caller, on 127.0.0.0/8:*port*."""

    def __init__(self, port, community, silent_every=0):
        self.port = port
        self.argv = [sys.executable, '-m', 'tests.snmp_swarm',
                     '--port', str(port), '--community', community,
                     '--silent-every', str(silent_every)]
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
            raise RuntimeError('SNMP swarm did not start: %r' % line)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


if __name__ == '__main__':
    main()

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

"""SNMP v2c requests on asyncio: one UDP socket per event loop and family.

The SNMP plugins read sysUpTime, ifName and ifOperStatus with community
v2c, and a monitor keeps thousands of such reads in flight. pysnmp's v3arch
engine costs 4 to 20 ms of CPU per request there, more as it sees more
devices (each target becomes rows of its SNMP-TARGET-MIB, looked up on
every request); this client costs a fraction of a millisecond, the same
at any number of devices: the request is a few bytes of BER built here,
the answer is decoded by pyasn1 against pysnmp's v2c message, and a
request waiting for its answer is an entry in a dict and a timer of the
loop, never a thread or a poll.

An answer counts only when it comes from the address and port asked, with
the request's id and community: anything else on the socket is dropped.
"""

import asyncio
import os
import socket
import weakref

from pyasn1.codec.ber import decoder
from pysnmp.proto import api

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
GET, GETBULK = 0xa0, 0xa5
# The socket's receive buffer: the answers of a burst of requests wait
# there while the loop is busy, rather than being dropped by the kernel.
RECEIVE_BUFFER = 4 << 20
MAX_DATAGRAM = 65535

_CLIENTS = weakref.WeakKeyDictionary()


class SendFailed(Exception):
    """The request could not be sent (no route to the device, say)."""


class RequestTimedOut(Exception):
    """No answer within the timeout, after every retry.

    Named as pysnmp's error indication is: heat_esi's messages go by it.
    """


def client():
    """The Client of the running event loop, made on its first use."""
    loop = asyncio.get_running_loop()
    found = _CLIENTS.get(loop)
    if found is None:
        found = _CLIENTS[loop] = Client(loop)
    return found


def _length(n):
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes((0x80 | len(body),)) + body


def _tlv(tag, body):
    return bytes((tag,)) + _length(len(body)) + body


def _integer(n):
    return _tlv(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), 'big',
                                 signed=True))


def _oid(dotted):
    arcs = [int(arc) for arc in dotted.strip('.').split('.')]
    if len(arcs) < 2 or arcs[0] > 2 or min(arcs) < 0:
        raise ValueError('not an OID: %s' % dotted)
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7f]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7f))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def encode(community, kind, request_id, oids, non_repeaters=0,
           max_repetitions=0):
    """The BER of a v2c request (GET or GETBULK) of *oids*."""
    binds = b''.join(_tlv(0x30, _oid(oid) + b'\x05\x00') for oid in oids)
    pdu = _tlv(kind, _integer(request_id) + _integer(non_repeaters) +
               _integer(max_repetitions) + _tlv(0x30, binds))
    return _tlv(0x30, _integer(1) + _tlv(0x04, community.encode('utf-8')) +
                pdu)


class Client(object):
    """The requests in flight on one event loop.

    The socket is read by a reader of the loop that drains it, every
    datagram waiting, at each call: asyncio's datagram transport reads one
    per turn of the loop, so that with thousands of polls under way the
    answers would wait in the socket past their timeouts. A timeout, too,
    drains the socket first: an answer already there counts.
    """

    def __init__(self, loop):
        # Not the loop itself: _CLIENTS would then keep every loop alive.
        self._loop = weakref.ref(loop)
        self._sockets = {}          # family -> socket
        # Closed with the loop's end, when a job's own loop ends.
        weakref.finalize(loop, _close_all, self._sockets)
        self._pending = {}          # request id -> (peer, community, future)
        self._next = int.from_bytes(os.urandom(4), 'big') & 0x3fffffff

    def _socket(self, family):
        sock = self._sockets.get(family)
        if sock is None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                RECEIVE_BUFFER)
            except OSError:
                pass        # the system's maximum, then
            sock.setblocking(False)
            sock.bind(('::' if family == socket.AF_INET6 else '0.0.0.0', 0))
            self._loop().add_reader(sock.fileno(), self._drain, sock)
            self._sockets[family] = sock
        return sock

    def _drain(self, sock=None):
        for one in [sock] if sock is not None else \
                list(self._sockets.values()):
            while True:
                try:
                    data, peer = one.recvfrom(MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break       # an ICMP error: that request times out
                self.received(data, peer)

    def _request_id(self):
        while True:
            self._next = (self._next + 1) & 0x7fffffff or 1
            if self._next not in self._pending:
                return self._next

    def received(self, data, peer):
        try:
            message, _ = decoder.decode(data, asn1Spec=V2C.Message())
            pdu = V2C.apiMessage.get_pdu(message)
            if not pdu.isSameTypeWith(V2C.ResponsePDU()):
                return
            request_id = int(V2C.apiPDU.get_request_id(pdu))
            community = bytes(V2C.apiMessage.get_community(message))
        except Exception:
            return          # not SNMP v2c: dropped, as a stray datagram
        waiting = self._pending.get(request_id)
        if waiting is None or waiting[0] != tuple(peer[:2]) or \
                waiting[1] != community:
            return
        if not waiting[2].done():
            waiting[2].set_result(pdu)

    async def request(self, address, port, community, kind, oids, timeout,
                      retries, non_repeaters=0, max_repetitions=0):
        """Send a request; return its answer's (status, index, binds).

        *binds* are pyasn1 (ObjectName, value) pairs, as pysnmp's are.

        :param address: an ipaddress.ip_address.
        :raises RequestTimedOut: no answer within *timeout*, each of
            1 + *retries* times.
        """
        sock = self._socket(socket.AF_INET6 if address.version == 6
                            else socket.AF_INET)
        request_id = self._request_id()
        data = encode(community, kind, request_id, oids, non_repeaters,
                      max_repetitions)
        peer = (str(address), port)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending[request_id] = (peer, community.encode('utf-8'),
                                     future)
        try:
            for _ in range(retries + 1):
                try:
                    sock.sendto(data, peer)
                except (BlockingIOError, InterruptedError):
                    pass        # as if lost: the next try sends it again
                except OSError as exc:
                    raise SendFailed(str(exc))
                timer = loop.call_later(timeout, self._expire, future)
                try:
                    pdu = await future
                    break
                except RequestTimedOut:
                    future = loop.create_future()
                    self._pending[request_id] = (
                        peer, community.encode('utf-8'), future)
                finally:
                    timer.cancel()
            else:
                raise RequestTimedOut()
        finally:
            self._pending.pop(request_id, None)
        return (V2C.apiPDU.get_error_status(pdu),
                V2C.apiPDU.get_error_index(pdu),
                V2C.apiPDU.get_varbinds(pdu))

    def _expire(self, future):
        if not future.done():
            self._drain()       # its answer may be there, not yet read
        if not future.done():
            future.set_exception(RequestTimedOut())


def _close_all(sockets):
    for sock in sockets.values():
        sock.close()
    sockets.clear()

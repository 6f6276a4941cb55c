"""The v2c client: its BER, its matching of answers, its timeouts."""

import asyncio
import gc
import ipaddress
import socket
import time

from pyasn1.codec.ber import decoder
from pyasn1.codec.ber import encoder
import pytest

from heat_esi.worker.plugins import v2c

V2C = v2c.V2C
UPTIME = '1.3.6.1.2.1.1.3.0'


def _pysnmp_request(community, pdu, request_id, oids):
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_varbinds(pdu, [(oid, V2C.Null('')) for oid in oids])
    V2C.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


@pytest.mark.parametrize('request_id', [1, 127, 128, 255, 65536, 2 ** 31 - 1])
def test_get_is_encoded_as_pysnmp_encodes_it(request_id):
    oids = [UPTIME, '1.3.6.1.2.1.31.1.1.1.1.4294967295']
    assert v2c.encode('s3cr\u00e9t', v2c.GET, request_id, oids) == \
        _pysnmp_request('s3cr\u00e9t'.encode(), V2C.GetRequestPDU(),
                        request_id, oids)


def test_getbulk_is_encoded_as_pysnmp_encodes_it():
    pdu = V2C.GetBulkRequestPDU()
    V2C.apiBulkPDU.set_defaults(pdu)
    V2C.apiBulkPDU.set_max_repetitions(pdu, 25)
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, 'c')
    V2C.apiBulkPDU.set_request_id(pdu, 7)
    V2C.apiBulkPDU.set_varbinds(pdu, [('1.3.6.1.2.1.31.1.1.1.1',
                                       V2C.Null(''))])
    V2C.apiMessage.set_pdu(message, pdu)
    assert v2c.encode('c', v2c.GETBULK, 7, ['1.3.6.1.2.1.31.1.1.1.1'], 0,
                      25) == encoder.encode(message)


class Agent(asyncio.DatagramProtocol):
    """Answers sysUpTime = 42; *drop* first requests go unanswered.

    *reply_from*, a socket, sends the answers instead of the agent's own.
    """

    def __init__(self, drop=0, community=None, reply_from=None):
        self.drop, self.community = drop, community
        self.reply_from = reply_from
        self.seen = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, peer):
        self.seen += 1
        if self.seen <= self.drop:
            return
        message, _ = decoder.decode(data, asn1Spec=V2C.Message())
        if self.community is not None:
            V2C.apiMessage.set_community(message, self.community)
        response = V2C.apiMessage.get_response(message)
        V2C.apiPDU.set_varbinds(V2C.apiMessage.get_pdu(response), [
            (UPTIME, V2C.TimeTicks(42))])
        out = encoder.encode(response)
        if self.reply_from is not None:
            self.reply_from.sendto(out, peer)
        else:
            self.transport.sendto(out, peer)


async def _ask(agent, timeout=0.3, retries=0, host='127.0.0.1'):
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: agent, local_addr=(host, 0))
    try:
        port = transport.get_extra_info('sockname')[1]
        return await v2c.client().request(
            ipaddress.ip_address(host), port, 'pub', v2c.GET, [UPTIME],
            timeout, retries)
    finally:
        transport.close()


def test_answer():
    status, index, binds = asyncio.run(_ask(Agent()))
    assert not status and int(index) == 0
    assert str(binds[0][0]) == UPTIME and int(binds[0][1]) == 42


def test_a_lost_request_is_sent_again():
    agent = Agent(drop=1)
    binds = asyncio.run(_ask(agent, retries=1))[2]
    assert int(binds[0][1]) == 42 and agent.seen == 2


def test_no_answer_within_the_timeout_of_each_try():
    agent = Agent(drop=10)
    started = time.monotonic()
    with pytest.raises(v2c.RequestTimedOut):
        asyncio.run(_ask(agent, timeout=0.2, retries=1))
    assert agent.seen == 2
    assert 0.4 <= time.monotonic() - started < 2


def test_an_answer_with_another_community_is_dropped():
    with pytest.raises(v2c.RequestTimedOut):
        asyncio.run(_ask(Agent(community='other'), timeout=0.3))


def test_an_answer_from_another_address_is_dropped():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(('127.0.0.2', 0))
        with pytest.raises(v2c.RequestTimedOut):
            asyncio.run(_ask(Agent(reply_from=other), timeout=0.3))


def test_garbage_on_the_socket_is_dropped():
    async def ask():
        loop = asyncio.get_running_loop()
        agent = Agent()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: agent, local_addr=('127.0.0.1', 0))
        port = transport.get_extra_info('sockname')[1]
        client = v2c.client()
        mine = client._socket(socket.AF_INET).getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b'\x30\x03\x02\x01', ('127.0.0.1', mine))
        try:
            return await client.request(
                ipaddress.ip_address('127.0.0.1'), port, 'pub', v2c.GET,
                [UPTIME], 1.0, 0)
        finally:
            transport.close()
    assert int(asyncio.run(ask())[2][0][1]) == 42


def test_many_requests_in_flight_share_one_socket():
    async def ask():
        loop = asyncio.get_running_loop()
        agent = Agent()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: agent, local_addr=('127.0.0.1', 0))
        port = transport.get_extra_info('sockname')[1]
        try:
            answers = await asyncio.gather(*[v2c.client().request(
                ipaddress.ip_address('127.0.0.1'), port, 'pub', v2c.GET,
                [UPTIME], 2.0, 0) for _ in range(200)])
        finally:
            transport.close()
        client = v2c.client()
        return answers, list(client._sockets.values()), client._pending
    answers, sockets, pending = asyncio.run(ask())
    assert len(answers) == 200 and len(sockets) == 1 and not pending
    gc.collect()
    # The loop is gone: so is its socket.
    assert sockets[0].fileno() == -1

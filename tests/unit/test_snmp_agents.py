"""The test agents' BER (tests/snmp_agents.Responder), read by pyasn1.

The requests are the worker's (heat_esi.worker.plugins.v2c.encode) or
pysnmp's (GETNEXT); each answer is decoded against pysnmp's v2c message,
as the worker decodes it.
"""

import argparse

from pyasn1.codec.ber import decoder
from pyasn1.codec.ber import encoder
import pytest

from heat_esi.worker.plugins import v2c
from tests import hostile_snmp
from tests import router_snmp
from tests import snmp_agents
from tests import snmp_swarm

V2C = v2c.V2C
COMMUNITY = 'c0mmunity'
UPTIME = '1.3.6.1.2.1.1.3.0'
IF_NAME = '1.3.6.1.2.1.31.1.1.1.1'
IF_OPER_STATUS = '1.3.6.1.2.1.2.2.1.8'


def getnext(request_id, oids, community=COMMUNITY):
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    pdu = V2C.GetNextRequestPDU()
    V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_varbinds(pdu, [(oid, V2C.Null('')) for oid in oids])
    V2C.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def decoded(out):
    """(request id, [(dotted oid, pyasn1 value)]) of a response."""
    message, rest = decoder.decode(out, asn1Spec=V2C.Message())
    assert rest == b''
    assert bytes(V2C.apiMessage.get_community(message)) == \
        COMMUNITY.encode()
    pdu = V2C.apiMessage.get_pdu(message)
    assert pdu.isSameTypeWith(V2C.ResponsePDU())
    assert int(V2C.apiPDU.get_error_status(pdu)) == 0
    return (int(V2C.apiPDU.get_request_id(pdu)),
            [(str(oid), value) for oid, value in
             V2C.apiPDU.get_varbinds(pdu)])


def router():
    return router_snmp.Agent(['ge-0/0/1.122', 'ae0.1025'], COMMUNITY)


@pytest.mark.parametrize('arcs', [(1, 3, 6, 1, 2, 1, 1, 3, 0),
                                  (1, 3, 6, 1, 4, 1, 2636, 2 ** 32 - 1),
                                  (2, 999, 3), (0, 39)])
def test_an_oid_is_encoded_as_pyasn1_encodes_it(arcs):
    encoded = snmp_agents.oid(arcs)
    assert encoded == encoder.encode(V2C.ObjectIdentifier(arcs))
    assert snmp_agents._arcs(encoded[2:]) == arcs


def test_get_answers_the_mib_and_no_such_instance_for_the_rest():
    out = router().respond(v2c.encode(
        COMMUNITY, v2c.GET, 2 ** 31 - 1,
        [UPTIME, IF_NAME + '.2', IF_OPER_STATUS + '.1', IF_NAME + '.3']))[1]
    request_id, binds = decoded(out)
    assert request_id == 2 ** 31 - 1
    assert [oid for oid, _ in binds] == [
        UPTIME, IF_NAME + '.2', IF_OPER_STATUS + '.1', IF_NAME + '.3']
    assert isinstance(binds[0][1], V2C.TimeTicks) and int(binds[0][1]) > 0
    assert bytes(binds[1][1]) == b'ae0.1025'
    assert int(binds[2][1]) == 1
    assert isinstance(binds[3][1], V2C.NoSuchInstance)


def test_getnext_and_getbulk_walk_the_mib_to_its_end():
    agent = router()
    _, binds = decoded(agent.respond(getnext(5, [IF_NAME]))[1])
    assert [(oid, bytes(value)) for oid, value in binds] == [
        (IF_NAME + '.1', b'ge-0/0/1.122')]
    _, binds = decoded(agent.respond(v2c.encode(
        COMMUNITY, v2c.GETBULK, 6, [IF_OPER_STATUS], 0, 10))[1])
    assert [oid for oid, _ in binds] == [
        IF_OPER_STATUS + '.1', IF_OPER_STATUS + '.2', IF_NAME + '.1',
        IF_NAME + '.2', IF_NAME + '.2']
    assert isinstance(binds[-1][1], V2C.EndOfMibView)


@pytest.mark.parametrize('data', [
    v2c.encode('wrong', v2c.GET, 1, [UPTIME]),
    v2c.encode(COMMUNITY, v2c.GET, 1, [UPTIME])[:-3],
    b'', b'\x30\x03\x02\x01', b'garbage'])
def test_a_wrong_community_or_garbage_is_dropped(data):
    assert router().respond(data) is None


def hostile(**options):
    args = dict(host='127.0.0.9', port=1, community=COMMUNITY,
                row_delay=0.5, get_delay=0.25, value_size=0,
                huge_uptime=False)
    return hostile_snmp.Hostile(argparse.Namespace(**dict(args, **options)))


def test_the_hostile_agents_rows_never_end_and_come_late():
    agent = hostile(value_size=100)
    agent.handle(v2c.encode(COMMUNITY, v2c.GETBULK, 3,
                            [IF_NAME + '.7'], 0, 3), 'peer', None)
    agent.handle(v2c.encode(COMMUNITY, v2c.GET, 4,
                            [IF_OPER_STATUS + '.1']), 'peer', None)
    (bulk_due, _, bulk, _), (get_due, _, get, _) = sorted(
        agent.pending, key=lambda item: item[1])
    assert round(bulk_due - get_due, 1) == 0.2      # 0.5 s against 0.25 s
    _, binds = decoded(bulk)
    assert [oid for oid, _ in binds] == [IF_NAME + '.%d' % i
                                         for i in (8, 9, 10)]
    assert [len(bytes(value)) for _, value in binds] == [100] * 3
    _, binds = decoded(get)
    assert int(binds[0][1]) == 2        # down


def test_the_hostile_agents_uptime_can_be_a_huge_string():
    agent = hostile(huge_uptime=True)
    agent.handle(v2c.encode(COMMUNITY, v2c.GET, 4, [UPTIME]), 'peer', None)
    _, binds = decoded(agent.pending[0][2])
    assert bytes(binds[0][1]) == b'9' * 60000


def test_the_swarm_answers_get_only():
    swarm = snmp_swarm.Swarm(argparse.Namespace(community=COMMUNITY))
    _, binds = decoded(swarm.answer(v2c.encode(COMMUNITY, v2c.GET, 9,
                                               [UPTIME, IF_NAME + '.1'])))
    assert isinstance(binds[0][1], V2C.TimeTicks)
    assert isinstance(binds[1][1], V2C.NoSuchInstance)
    assert swarm.answer(getnext(9, [UPTIME])) is None

"""The test agents run as processes, asked by the worker's own v2c client.

snmp_agents.AgentProcess starts each; over UDP: the router agent of the
functional VPN tests, the hostile device and the monitor bench's swarm.
"""

import asyncio
import ipaddress

import pytest

from heat_esi.worker.plugins import v2c
from tests import hostile_snmp
from tests import router_snmp
from tests import snmp_agents
from tests import snmp_swarm

UPTIME = '1.3.6.1.2.1.1.3.0'
IF_NAME = '1.3.6.1.2.1.31.1.1.1.1'


def ask(host, port, kind, oids, max_repetitions=0):
    """[(dotted oid, value)] of the answer to one request."""
    async def request():
        return await v2c.client().request(
            ipaddress.ip_address(host), port, snmp_agents.COMMUNITY, kind,
            oids, timeout=2, retries=0, max_repetitions=max_repetitions)
    status, _index, binds = asyncio.run(request())
    assert int(status) == 0
    return [(str(oid), value) for oid, value in binds]


@pytest.fixture
def started():
    """started(agent): the agent, started; all are stopped at the end."""
    agents = []

    def start(agent):
        agents.append(agent)
        return agent.start()
    yield start
    for agent in agents:
        agent.stop()


def test_the_router_agent_answers_on_each_of_its_hosts(started):
    port = snmp_agents.free_udp_port('127.0.0.2')
    started(router_snmp.RouterAgent(['127.0.0.2', '127.0.0.3'], port,
                                    snmp_agents.COMMUNITY,
                                    ['ge-0/0/1.122', 'ae0.1025']))
    for host in ('127.0.0.2', '127.0.0.3'):
        binds = ask(host, port, v2c.GETBULK, [IF_NAME], 5)
        assert [bytes(value) for _, value in binds[:2]] == [
            b'ge-0/0/1.122', b'ae0.1025']
        assert isinstance(binds[-1][1], v2c.V2C.EndOfMibView)


def test_the_hostile_agent_and_the_swarm_answer_sysuptime(started):
    port = snmp_agents.free_udp_port('127.0.0.9')
    started(hostile_snmp.HostileAgent('127.0.0.9', port,
                                      snmp_agents.COMMUNITY, get_delay=0))
    (oid, value), = ask('127.0.0.9', port, v2c.GET, [UPTIME])
    assert oid == UPTIME and int(value) > 0
    port = snmp_agents.free_udp_port('127.0.0.1')
    started(snmp_swarm.SwarmAgent(port, snmp_agents.COMMUNITY))
    for host in ('127.0.5.1', '127.0.5.2'):
        (oid, value), = ask(host, port, v2c.GET, [UPTIME])
        assert oid == UPTIME and int(value) > 0


def test_an_agent_that_cannot_start_says_which(started):
    with pytest.raises(RuntimeError) as err:
        started(hostile_snmp.HostileAgent('127.0.0.9', 'not-a-port',
                                          snmp_agents.COMMUNITY))
    assert str(err.value).startswith('hostile agent did not start')

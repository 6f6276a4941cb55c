"""Fixtures shared by the integration tests."""

import pytest

from tests import snmp_agents


@pytest.fixture
def agents(tmp_path):
    """Two SNMP agents on 127.0.0.2 and 127.0.0.3, the same UDP port."""
    port = snmp_agents.free_udp_port('127.0.0.2')
    started = [snmp_agents.SnmpAgent(str(tmp_path), host, port).start()
               for host in ('127.0.0.2', '127.0.0.3')]
    yield started
    for agent in started:
        agent.stop()

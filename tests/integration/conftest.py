"""Fixtures shared by the integration tests."""

import threading

import pytest

from tests import esi_fixtures
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


@pytest.fixture
def agent6(tmp_path):
    """An SNMP agent on [::1]."""
    port = snmp_agents.free_udp_port('::1')
    started = snmp_agents.SnmpAgent(str(tmp_path), '::1', port).start()
    yield started
    started.stop()


@pytest.fixture
def stand_in(etcd_client):
    """Start stand-ins for the worker: stand_in(fail=None, error='').

    Each answers every job written after it started (see
    esi_fixtures.answer_jobs); all stop at the end of the test.
    """
    stop = threading.Event()
    threads = []

    def start(**kwargs):
        threads.append(esi_fixtures.answer_jobs(etcd_client, stop, **kwargs))
    yield start
    stop.set()
    for thread in threads:
        thread.join(10)

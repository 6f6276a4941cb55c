"""Fixtures shared by the integration tests."""

import threading

import pytest

from tests import esi_fixtures
from tests import snmp_agents


@pytest.fixture
def heat_engine_on(loaded, etcd_server):
    """Set the in-process Heat engine up on the test etcd; yield the client.

    Heat retries a failed create 5 times by default, with back-off; here an
    action fails at its first error, and the tests of retries set
    action_retry_limit themselves.
    """
    from oslo_config import cfg

    from tests import heat_engine
    heat_engine.setup(etcd_server.port)
    cfg.CONF.set_override('action_retry_limit', 0)
    yield loaded
    cfg.CONF.clear_override('action_retry_limit')


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
def snmp_workers(workers, agents):
    """Start workers that check and monitor the agents.

    snmp_workers(count=1, check_timeout=5, **worker options): their
    [snmp] and [monitor] sections are snmp_agents.worker_sections.
    """
    def start(count=1, check_timeout=5, **worker):
        return workers(count, sections=snmp_agents.worker_sections(
            agents[0].port, check_timeout=check_timeout), **worker)
    return start


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

"""An ESE device and its port monitored by a real esi-worker over SNMP.

A ToR stack (ESI::EseDevice and ESI::EsePhysicalPort) is created through
the real Heat engine; a stand-in finishes the heat_worker jobs (their
stacks are heat_worker's, tested with it), and a real esi-worker running
monitoring_worker checks the switch and its port on a real snmpd, then
keeps polling them: the seeds' state_monitoring (points (5)/(6)) and
/monitoring (point (7)).
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json

import pytest

from heat_esi import keys
from tests import esi_fixtures
from tests import snmp_agents

DEVICE_IP = '127.0.0.2'
# An interface every test host has, standing in for the switch's xe-0/0/3.
PORT = 'lo'


@pytest.fixture
def heat_jobs_done(heat_engine_on):
    """A stand-in for heat_worker: each heat job finishes at once."""
    heat = heat_engine_on

    def finish(_revision, value):
        handler, job = value[:2]
        if handler == 'heat_worker':
            heat.delete(keys.job(job['id']))
    with esi_fixtures.jobs_watched(heat, finish):
        yield heat


@pytest.fixture
def agent(tmp_path):
    port = snmp_agents.free_udp_port(DEVICE_IP)
    started = snmp_agents.SnmpAgent(str(tmp_path), DEVICE_IP, port).start()
    yield started
    started.stop()


def tor():
    return {
        'heat_template_version': '2018-08-31',
        'resources': {
            'device': {'type': 'ESI::EseDevice', 'properties': {
                'name': 'QFX-NW02', 'hostname': 'QFX-NW02',
                'existing': 'existing', 'management_ip_address': DEVICE_IP,
                'username': 'esi', 'password': 'password'}},
            'port': {'type': 'ESI::EsePhysicalPort', 'properties': {
                'name': PORT, 'ese_device_id': {'get_resource': 'device'},
                'connected_port_owner': 'mx_downlink'}},
        }}


def test_a_switch_and_its_port_are_checked_and_monitored(
        heat_jobs_done, workers, agent):
    heat = heat_jobs_done
    sections = snmp_agents.worker_sections(agent.port)
    sections['snmp']['communities'] = 'ESE_NODE_COMMUNITY:%s' % \
        snmp_agents.COMMUNITY
    sections['monitor']['resource_types'] = 'ese_device,ese_physical_port'
    workers(1, sections=sections)
    stk = heat_engine.stack(tor())
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    for name, esi_type, element in (('device', 'ese_device', 'switch'),
                                    ('port', 'ese_physical_port', 'port')):
        rid = stk[name].resource_id
        state = esi_fixtures.state_of(heat, rid, esi_type)
        assert state['state']['worker_state'] == 'CREATE_COMPLETED'
        assert json.loads(state['state']['state_monitoring']) == {
            element: 'ACTIVE'}
        assert esi_fixtures.wait_until(
            lambda: esi_fixtures.monitoring_of(heat, rid, esi_type),
            timeout=20, message='/monitoring of %s' % esi_type) == {
            element: 'UP', 'version': 1}
        assert stk[name].FnGetAtt('state_monitoring') == {element: 'UP'}

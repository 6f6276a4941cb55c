"""The monitoring elements of a gw_interface's ports and ESE logical ports.

ESI's port_monitoring and ese_logical_port_monitoring templates, rendered
as a job renders them: a port's ``vmi`` element reads its port's stack
record in a real etcd (no element before the port is attached, as ESI's
version 1); a logical port's ``logical_port`` element is checked and
polled over SNMP against a real snmpd.
"""

import json
import threading

import pytest

from heat_esi import exceptions
from heat_esi.worker import elements
from heat_esi.worker.plugins import snmp
from heat_esi.worker.plugins import vmi
from tests import gw_seeds
from tests.integration import test_network_plugins as network_plugins

NEVER = threading.Event()
PORT = gw_seeds.PORT_ID
FQ_NAME = 'default-domain:admin:%s' % PORT
template = network_plugins.template
agent = network_plugins.agent
snmp_conf = network_plugins.snmp_conf


def test_a_logical_port_is_checked_by_its_unit_name(snmp_conf):
    params = {p['param']: p['value'] for p in gw_seeds.jobs(
        'CreateGwInterface_03.md')['monitoring_worker']['params']}
    params.update(device_ip='127.0.0.2')
    rendered = elements.render(template('ese_logical_port_monitoring'),
                               params)
    assert rendered == {'logical_port': {
        'type': 'logical_port', 'community_name': 'ESE_NODE_COMMUNITY',
        'device_ip': '127.0.0.2', 'name': 'xe-0/0/3.1025'}}
    plugin = snmp.LogicalPort(None, snmp_conf)
    props = dict(rendered['logical_port'], timeout=0.5)
    assert plugin.poll(props, NEVER) == (
        'DOWN', '127.0.0.2: no interface named xe-0/0/3.1025')
    with pytest.raises(exceptions.JobFailed,
                       match='no interface named xe-0/0/3.1025'):
        plugin.check(props, NEVER)
    assert plugin.where(props) == \
        "logical interface 'xe-0/0/3.1025' of '127.0.0.2'"
    # snmpd's loopback stands for a unit that is up.
    assert plugin.check(dict(props, name='lo'), NEVER) == 'ACTIVE'
    assert plugin.poll(dict(props, name='lo'), NEVER) == ('UP', '')


def record(status='CREATE_COMPLETE', port_id=PORT):
    """The port's heat_stacks record (CreateGwInterface_02 point (3))."""
    (_key, value), = gw_seeds.points('CreateGwInterface_02.md')['(3)']
    value = gw_seeds.with_ids(value, [(PORT, port_id)])
    value.update(stack_id='port_%s' % PORT, id='port:%s' % PORT,
                 stack_status=status)
    return value


def port_elements(attached):
    params = {p['param']: p['value'] for p in gw_seeds.jobs(
        'CreateGwInterface_02.md')['monitoring_worker']['params']}
    params.update(attached=attached, vmi_uuid=PORT, vmi_fq_name=FQ_NAME)
    return elements.render(template('port_monitoring'), params)


def test_a_port_has_no_element_until_it_is_attached():
    assert port_elements(False) == {}
    assert port_elements(True) == {'vmi': {
        'type': 'vmi', 'uuid': PORT, 'fq_name': FQ_NAME, 'timeout': 120}}


def test_an_attached_port_is_active_once_its_stack_made_its_vmi(
        etcd_client):
    plugin = vmi.VirtualMachineInterface(etcd_client,
                                         network_plugins.worker_conf())
    props = dict(port_elements(True)['vmi'], timeout=0.5)
    key = '/esi-worker/heat_stacks/v2.0/ports/%s' % PORT
    assert plugin.keys(props) == (key,)
    state, why = plugin.poll(props, NEVER)
    assert (state, why) == ('DOWN', 'port %s has no stack record (%s)'
                            % (PORT, key))
    etcd_client.put(key, json.dumps(record(
        port_id='4f3e2d1c-0000-4000-8000-000000000000')))
    with pytest.raises(exceptions.JobFailed) as err:
        plugin.check(props, NEVER)
    assert 'the stack of port %s made the virtual machine interface ' \
        '\'4f3e2d1c' % PORT in str(err.value)
    for status in ('CREATE_COMPLETE', 'UPDATE_COMPLETE'):
        etcd_client.put(key, json.dumps(record(status)))
        assert plugin.check(props, NEVER) == 'ACTIVE'
        assert plugin.poll(props, NEVER) == ('UP', '')

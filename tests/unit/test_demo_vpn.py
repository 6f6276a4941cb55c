"""demo --vpn: what it shows, and what it keeps to itself."""

import argparse
import json
import shutil
from unittest import mock

import pytest

from heat_esi.cmd import manage
from heat_esi.demo import vpn
from heat_esi import keys

GW = 'fbd7d07e-9e84-4ad7-ab85-36d46adb9435'
PORT = '33907bcb-8689-425d-a700-fe8acfd94aed'
LPORT = 'ef450536-01c9-4380-a34d-a1ae56e0447e'


@pytest.fixture
def demo():
    demo = vpn.VpnDemo(argparse.Namespace(etcd_url=None, vpn=True))
    yield demo
    shutil.rmtree(demo.dir, ignore_errors=True)


def test_vpn_is_one_demo_among_the_others(capsys):
    args = manage.parser().parse_args(['demo', '--vpn'])
    assert args.vpn and not args.network and not args.gateway
    for other in ('--network', '--gateway'):
        with pytest.raises(SystemExit):
            manage.parser().parse_args(['demo', '--vpn', other])
        assert 'not allowed with argument' in capsys.readouterr().err


def test_hidden_parameters_are_masked_where_the_command_is_shown(
        demo, capsys):
    heat = mock.Mock()
    heat.stacks.create.return_value = {'stack': {'id': 'sid'}}
    heat.stacks.get.return_value.outputs = [
        {'output_key': 'ids', 'output_value': {}}]
    with mock.patch.object(demo, 'wait',
                           return_value=('CREATE_COMPLETE', 1.0)):
        demo.create(heat, 'vpn_gateway.yaml', 'vpn', {
            'bgp_md5': demo.bgp_md5, 'name': 'blue'}, hidden=('bgp_md5',))
    out = capsys.readouterr().out
    assert '--parameter bgp_md5=****** --parameter name=blue vpn' in out
    assert demo.bgp_md5 not in out
    # Heat itself gets the value.
    sent = heat.stacks.create.call_args.kwargs['parameters']
    assert sent['bgp_md5'] == demo.bgp_md5
    # And the stack is deleted at the end, whatever happens next.
    assert demo.stacks == [['sid', 'vpn', []]]


def test_a_stack_that_fails_says_why(demo):
    heat = mock.Mock()
    heat.stacks.create.return_value = {'stack': {'id': 'sid'}}
    heat.stacks.get.return_value.stack_status_reason = 'device said no'
    with mock.patch.object(demo, 'wait',
                           return_value=('CREATE_FAILED', 1.0)):
        with pytest.raises(RuntimeError, match='CREATE_FAILED: device said'):
            demo.create(heat, 'vpn_gateway.yaml', 'vpn', {})
    assert demo.stacks == [['sid', 'vpn', []]]


def test_the_gateway_interface_is_followed_by_what_it_brought():
    outputs = {'ids': {'vpn_gateway': 'g', 'vpn_interface': 'i',
                       'network': 'n', 'subnet': 's', 'gw_interface': GW,
                       'static_route': 'r'},
               'gw_interface_ports': {'ports': [PORT, 'p2'],
                                      'ese_logical_ports': [LPORT, 'l2']}}
    assert vpn.VpnDemo.parts(outputs) == [
        ('vpn_gateway', 'g'), ('vpn_interface', 'i'), ('network', 'n'),
        ('subnet', 's'), ('gw_interface', GW), ('port', PORT),
        ('port', 'p2'), ('ese_logical_port', LPORT),
        ('ese_logical_port', 'l2'), ('static_route', 'r')]


def test_points_as_the_documents_number_them(demo, capsys):
    rid = '0bea303d-b6eb-4edc-83ef-e32f915d3047'
    job_id = 'create:heat_worker:vpn_interface:%s:1:abcde' % rid
    later = 'create:monitoring_worker:vpn_interface:%s:2:fghij' % rid
    heat_outputs = {'heat_outputs': []}
    monitored = {'state_monitoring': {'primary': 'ESTABLISHED'},
                 'heat_outputs': []}
    written = {
        keys.config('vpn_interface', rid): [json.dumps({'version': 1}),
                                            json.dumps({'version': 2})],
        keys.JOBS_ALL + job_id: [json.dumps(['heat_worker', {}, 0])],
        keys.JOBS_ALL + later: [json.dumps(['monitoring_worker', {}, 0])],
        # Then the later version's jobs write it again.
        keys.job_state('vpn_interface', rid): [
            json.dumps(heat_outputs), json.dumps(monitored),
            json.dumps({'heat_outputs': ['of-version-2']})],
    }
    demo.print_points('vpn_interface', rid, written)
    out = capsys.readouterr().out
    points = out.split('### Checking stored data at the point of ')[1:]
    assert [p.split(' ', 1)[0] for p in points] == [
        '(1)', '(2)', '(3)', '(4)', '(5)', '(6)', '(7)']
    assert '"version": 1' in points[0]
    # Only the version-1 jobs.
    assert job_id in points[1] and later not in points[1]
    assert '(not written)' in points[2]
    assert json.loads(points[3].split('\n', 2)[2]) == heat_outputs
    assert '"primary": "ESTABLISHED"' in points[4]
    assert '(not written)' in points[6]
    # The later version's /config is shown after the points.
    later_config = out.split('### Later version of vpn_interface %s' % rid)
    assert json.loads(later_config[1].split('\n', 2)[2]) == {'version': 2}


def test_secrets_are_found_wherever_they_are(demo):
    assert demo.secrets_shown([('a', 'nothing'), ('b', 'here')]) == []
    assert demo.secrets_shown([('a', 'x%sx' % demo.bgp_md5), ('b', ''),
                               ('c', demo.bgp_md5)]) == [
        'bgp_md5 in a', 'bgp_md5 in c']
    assert demo.secrets_shown([('log', demo.password)]) == [
        'the routers\' password in log']


def test_the_workers_environment_selects_both_implementations():
    import yaml
    registry = {}
    for path in vpn.environment():
        with open(path) as f:
            registry.update(yaml.safe_load(f)['resource_registry'])
    assert registry['OS::Contrail::NetconfNamedConfigs'] == \
        'ESI::Netconf::NamedConfigs'
    assert registry['OS::Contrail::VirtualNetwork'].startswith(
        'ESI::Simulated::Contrail::')

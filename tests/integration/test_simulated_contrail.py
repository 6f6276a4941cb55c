"""The simulated Contrail (heat_esi/simulated) under the real Heat engine.

ESI's own network and subnet templates (templates/heat_templates, as a
heat_worker job renders them) are created with the environment file
etc/heat-esi/simulated-contrail.yaml, with the params of the seeds' jobs:
the stacks complete and their outputs are Contrail-shaped.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import os
import uuid

import pytest
import yaml

from heat_esi import simulated
from heat_esi.simulated import contrail
from heat_esi import templates
from tests import network_seeds

ENVIRONMENT = os.path.join(os.path.dirname(__file__), '..', '..', 'etc',
                           'heat-esi', 'simulated-contrail.yaml')


def test_the_environment_file_is_found():
    assert os.path.samefile(simulated.environment_file(), ENVIRONMENT)


@pytest.fixture(scope='module')
def engine():
    """The in-process engine, with the stand-ins loaded as plugin_dirs do."""
    heat_engine.setup(0)
    from heat.engine import resources
    env = resources.global_env()
    for name, cls in contrail.resource_mapping().items():
        env.register_class(name, cls)
    with open(ENVIRONMENT) as f:
        return yaml.safe_load(f)


def hot(name):
    """The HOT of heat_template *name*: its template_file, no Jinja in it."""
    with open(os.path.join(templates.default_dir(), name + '.yaml')) as f:
        text = yaml.safe_load(f)['template_file']
    assert '{{' not in text and '{%' not in text
    return text


def values(params, outputs=None):
    """Stack parameters of job *params*; output_key ones from *outputs*."""
    found = {}
    for param in params:
        if param['type'] == 'output_key':
            found[param['param']] = outputs[param['value']['output_key']]
        else:
            found[param['param']] = param['value']
    return found


def create(environment, name, parameters, stack_name=None):
    stk = heat_engine.stack(hot(name), name=stack_name, params=dict(
        environment, parameters=parameters))
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    return stk


def outputs(stk):
    """{output_key: output_value} as heat-api shows a stack's outputs."""
    from heat.engine import api
    from heat.engine import stack as stack_mod
    loaded = stack_mod.Stack.load(stk.context, stack_id=stk.id)
    # As heat-engine's show_output does.
    loaded._update_all_resource_data(for_resources=False, for_outputs=True)
    shown = api.format_stack_outputs(loaded.outputs, resolve_value=True)
    return {out['output_key']: out['output_value'] for out in shown}


def test_the_environment_maps_every_stand_in(engine):
    registry = engine['resource_registry']
    assert registry == {
        'OS::Contrail::%s' % n: 'ESI::Simulated::Contrail::%s' % n
        for n in ('ExistingResource', 'PhysicalRouter', 'PhysicalInterface',
                  'VirtualNetwork', 'VnSubnet', 'VirtualMachineInterface',
                  'InstanceIp', 'LogicalInterface')}
    assert os.path.isfile(os.path.join(simulated.plugin_dir(),
                                       'contrail.py'))


def test_network_and_subnet_create_with_contrail_shaped_outputs(engine):
    net_id = str(uuid.uuid4())
    net_params = network_seeds.with_id(
        network_seeds.jobs('network')['heat_worker']['params'],
        network_seeds.config('network')[0], net_id)
    network = create(engine, 'network', values(net_params),
                     stack_name='network_%s' % net_id)
    net_out = outputs(network)
    project = network.context.project_name or network.context.project_id
    assert net_out == {
        'id': net_id, 'name': net_id,
        'fq_name': 'default-domain:%s:%s' % (project, net_id),
        'route_targets': '[]'}
    assert network['network'].resource_id == net_id

    subnet_id = str(uuid.uuid4())
    seed = network_seeds.jobs('subnet')['heat_worker']['params']
    seed = network_seeds.with_id(seed, network_seeds.config('subnet')[0],
                                 subnet_id)
    subnet = create(engine, 'subnet', values(seed, net_out))
    sub_out = outputs(subnet)
    assert sub_out['name'] == subnet_id
    assert sub_out['network_id'] == net_id
    assert sub_out['ip_prefix'] == '172.16.101.0/24'
    assert sub_out['default_gateway'] == '172.16.101.1'
    # Contrail's ids: the subnet's own, and its IPAM's.
    assert uuid.UUID(sub_out['id']) and sub_out['id'] != subnet_id
    assert uuid.UUID(sub_out['ipam'])
    subnet.delete()
    network.delete()
    assert network.state == ('DELETE', 'COMPLETE')


def test_a_device_and_its_port_create(engine):
    _rid, body = network_seeds.config('ese_device')
    device = create(engine, 'ese_device_existing',
                    {'hostname': body['hostname'], 'name': body['name']})
    dev_out = outputs(device)
    assert dev_out['fq_name'] == ['default-global-system-config',
                                  'QFX-NW02']
    assert dev_out['name'] == 'QFX-NW02'
    # The same switch is the same Contrail object, stack after stack.
    again = create(engine, 'ese_device_existing',
                   {'hostname': body['hostname'], 'name': body['name']})
    assert outputs(again)['id'] == dev_out['id']
    new = create(engine, 'ese_device_new', {
        'name': 'QFX-NW03', 'management_ip': '10.161.0.35'})
    assert outputs(new)['fq_name'] == ['default-global-system-config',
                                       'QFX-NW03']
    port = create(engine, 'ese_physical_port_new', {
        'physical_port_name': 'xe-0/0/3', 'physical_device': dev_out['id']})
    assert outputs(port)['name'] == 'xe-0/0/3'
    assert uuid.UUID(outputs(port)['id'])
    fetched = create(engine, 'ese_physical_port_existing', {
        'physical_port_name': 'xe-0/0/4',
        'physical_device_hostname': 'QFX-NW02'})
    assert outputs(fetched)['name'] == 'xe-0/0/4'


def test_a_stand_in_told_to_fail_fails_its_stack_saying_why(engine):
    stk = heat_engine.stack(hot('ese_device_existing'), params=dict(
        engine, parameters={'hostname': 'fail-QFX', 'name': 'x'}))
    stk.create()
    assert stk.state == ('CREATE', 'FAILED')
    assert 'simulated Contrail refused the OS::Contrail::ExistingResource ' \
        'fail-QFX: its fq_name starts with "fail-", which makes a stand-in ' \
        'fail on purpose' in stk.status_reason


def test_a_network_updates_in_place_and_a_refusal_says_why(engine):
    from heat.engine import environment
    from heat.engine import stack as stack_mod
    from heat.engine import template as template_mod
    net_id = str(uuid.uuid4())
    params = {'uuid': net_id, 'name': net_id, 'admin_state_up': True}
    network = create(engine, 'network', params)

    def update(**changes):
        env = environment.Environment(dict(
            engine, parameters=dict(params, **changes)))
        new = stack_mod.Stack(network.context, network.name,
                              template_mod.Template(
                                  template_format_parse(hot('network')),
                                  env=env))
        network.update(new)

    update(admin_state_up=False)
    assert network.state == ('UPDATE', 'COMPLETE'), network.status_reason
    assert network['network'].resource_id == net_id
    assert network['network'].FnGetAtt('admin_state_up') is False
    update(name='fail-%s' % net_id)
    assert network.state == ('UPDATE', 'FAILED')
    assert 'simulated Contrail refused the ' \
        'OS::Contrail::VirtualNetwork fail-%s' % net_id in \
        network.status_reason


def template_format_parse(text):
    from heat.common import template_format
    return template_format.parse(text)


def rendered(name, values_):
    """(HOT text, stack parameters) of heat_template *name*, as heat_worker.

    Its template_file rendered with the jinja_* values, the others split
    off as the stack's parameters (heat_esi.worker.handlers.heat).
    """
    from heat_esi.worker.handlers import heat as heat_handler
    with open(os.path.join(templates.default_dir(), name + '.yaml')) as f:
        template = yaml.safe_load(f)
    parameters, context, _timeout = heat_handler.split_params(values_, 10)
    return heat_handler.render(template, context), parameters


def test_a_gw_interface_port_and_its_logical_port_create(engine):
    from tests import gw_seeds
    net_id, port_id = str(uuid.uuid4()), str(uuid.uuid4())
    network = create(engine, 'network', {'uuid': net_id, 'name': net_id,
                                         'admin_state_up': True})
    net_out = outputs(network)
    subnet_contrail_id = str(uuid.uuid4())
    params = network_seeds.with_id(gw_seeds.jobs(
        'CreateGwInterface_02.md')['heat_worker']['params'],
        gw_seeds.PORT_ID, port_id)
    found = {}
    for param in params:
        if param['type'] == 'output_key':
            found[param['param']] = net_out['id']
        elif param['type'] == 'list':
            found[param['param']] = [subnet_contrail_id
                                     for _ in param['value']]
        else:
            found[param['param']] = param['value']
    text, parameters = rendered('port', found)
    port = heat_engine.stack(text, params=dict(engine,
                                               parameters=parameters))
    port.create()
    assert port.state == ('CREATE', 'COMPLETE'), port.status_reason
    port_out = outputs(port)
    project = port.context.project_name or port.context.project_id
    assert port_out['id'] == port_id
    assert port_out['fq_name'] == 'default-domain:%s:%s' % (project,
                                                            port_id)
    assert port_out['mac_address'] == ['fa:16:3e:ef:15:a2']
    assert port_out['virtual_network'] == [net_id]
    # One instance ip per fixed ip, on the subnet's Contrail id.
    ips = sorted((res.properties['ip_address'], res.properties['subnet_id'])
                 for res in port.resources.values()
                 if res.type() == 'OS::Contrail::InstanceIp')
    assert ips == [('172.16.101.151', subnet_contrail_id),
                   ('172.16.101.152', subnet_contrail_id)]

    physical = create(engine, 'ese_physical_port_new', {
        'physical_port_name': 'xe-0/0/3',
        'physical_device': str(uuid.uuid4())})
    lport_params = {p['param']: p['value'] for p in gw_seeds.jobs(
        'CreateGwInterface_03.md')['heat_worker']['params']}
    lport_params.update(physical_port_id=outputs(physical)['id'],
                        virtual_machine_interface_ids=[port_id])
    text, parameters = rendered('ese_logical_port', lport_params)
    lport = heat_engine.stack(text, params=dict(engine,
                                                parameters=parameters))
    lport.create()
    assert lport.state == ('CREATE', 'COMPLETE'), lport.status_reason
    lport_out = outputs(lport)
    assert lport_out['name'] == 'xe-0/0/3.1025'
    assert uuid.UUID(lport_out['id'])
    unit = lport['logical_interface']
    assert (unit.properties['vlan'], unit.properties['type'],
            unit.properties['virtual_machine_interfaces']) == (
                1025, 'L2', [port_id])

"""The stacks the heat_worker makes of the VPN jobs, rendered as it does.

Heat refuses a stack parameter its template does not declare: each
template declares exactly its job's parameters, and gives
NetconfNamedConfigs the device's address and port only (interfaces.md
item 1: the device's login stays in the edge router's /config).
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

from heat.common import template_format
import json

import pytest

from heat_esi import template_mappings
from heat_esi import templates
from heat_esi.worker.handlers import heat as heat_handler
from tests import vpn_seeds


@pytest.fixture
def store(monkeypatch):
    # heat_engine.setup: Heat's options, which template_format reads.
    with vpn_seeds.fake_etcd(monkeypatch, vpn_seeds.put_world,
                             vpn_seeds.put_gateway) as fake:
        yield fake


def rendered(store, esi_type):
    """(stack parameters, HOT, timeout) of the seed's heat_worker job."""
    _rid, body = vpn_seeds.config(esi_type)
    name = template_mappings.template_name('heat_worker', esi_type, body)
    template = templates.fetch(store, name)
    params = templates.build_params(template, esi_type, body, 1,
                                    templates.config_lookup(store))
    # As the worker resolves them: a secret is a reference to /config.
    values = {p['param']: '%(resource_type)s/%(resource_id)s/%(field)s'
              % p['value'] if p['type'] == 'secret' else p['value']
              for p in params}
    parameters, context, timeout = heat_handler.split_params(values, 10)
    return parameters, template_format.parse(
        heat_handler.render(template, context)), timeout


@pytest.mark.parametrize('esi_type', ['vpn_gateway', 'vpn_interface'])
def test_the_stack_declares_exactly_the_jobs_parameters(store, esi_type):
    parameters, hot, timeout = rendered(store, esi_type)
    assert sorted(hot['parameters']) == sorted(parameters)
    assert timeout == 60
    for props in vpn_seeds.netconf_properties(hot).values():
        assert not {'username', 'password', 'port'} & set(props)


def test_the_md5_reaches_the_stack_as_a_reference_only(store):
    rid, body = vpn_seeds.config('vpn_interface')
    parameters, hot, _timeout = rendered(store, 'vpn_interface')
    assert parameters['md5'] == 'vpn_interface/%s/bgp_md5' % rid
    assert hot['parameters']['md5']['hidden'] is True
    for device in ('primary', 'secondary'):
        props = hot['resources']['netconf_configure_%s' % device][
            'properties']
        # NamedConfigs reads the value when it applies the configuration.
        assert props['secrets'] == {'$BGP_MD5': {'get_param': 'md5'}}
        bgp = props['configs'][1]['config']['str_replace']
        assert '$KEY' not in bgp['params']
        assert 'neighbor $NEIGHBOR_IP authentication-key $BGP_MD5;' in \
            bgp['template']
    assert 'local-address  192.168.8.2 ;' in hot['resources'][
        'netconf_configure_primary']['properties']['configs'][1]['config'][
        'str_replace']['template']
    assert body['bgp_md5'] not in json.dumps(hot)


def test_the_gateways_units_are_on_its_vlans(store):
    parameters, hot, _timeout = rendered(store, 'vpn_gateway')
    assert (parameters['downlink_vlan'], parameters['uplink_vlan']) == (
        '1025', '122')
    assert (parameters['input_filter_name'],
            parameters['output_filter_name']) == ('FILTER_10M-GA-UP-VPN',
                                                  'FILTER_10M-GA-DOWN-VPN')
    props = hot['resources']['netconf_configure_secondary']['properties']
    assert props['on_update'] == 'merge'
    assert [step['tag'] for step in props['configs'][1]['path']] == [
        'routing-instances', 'instance']

"""ESI::GwInterface on a VPN gateway and VPN interface made by their types.

One stack of ESI::VpnGateway, ESI::VpnInterface and ESI::GwInterface (which
depends on the VPN interface: it is refused before it) on the seeds' HA
infrastructure, the ToR ports cabled to the downlink interfaces, and the
network with its subnet: the gw_interface's jobs take the gateway's derived
fields as its type wrote them (the downlink VLAN, the VRF, the logical
interface names) and the VPN interface it connected; a delete of the
stack removes the five in dependency order before the gateway goes.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json

import pytest

from heat_esi import gw_interface_parts as gw_parts
from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures
from tests import gw_seeds
from tests.integration import test_vpn_gateway as gateways
from tests import vpn_seeds

stand_in = gateways.stand_in


@pytest.fixture
def heat(heat_engine_on):
    """The seeds' HA world and catalog, cabled to the seeds' ToR ports."""
    vpn_seeds.put_world(heat_engine_on)
    tor = gw_seeds.world()
    for rid, port in ((vpn_seeds.PRIMARY_DOWN, gw_seeds.PRIMARY_TOR),
                      (vpn_seeds.SECONDARY_DOWN, gw_seeds.SECONDARY_TOR)):
        body = dict(vpn_seeds.world()[('er_physical_interface', rid)],
                    tenant_id=vpn_seeds.PROJECT, connected_ese_port_id=port)
        heat_engine_on.put(keys.config('er_physical_interface', rid),
                           records.config(body, 1))
    for esi_type in ('ese_device', 'ese_physical_port', 'network', 'subnet'):
        for (kind, rid), body in tor.items():
            if kind == esi_type:
                heat_engine_on.put(keys.config(kind, rid),
                                   records.config(body, 1))
    return heat_engine_on


def test_a_gw_interface_on_the_types_gateway_and_vpn_interface(
        heat, stand_in):
    since = heat.revision() + 1
    stk = heat_engine.stack({
        'heat_template_version': '2018-08-31',
        'resources': {
            'gw': {'type': 'ESI::VpnGateway',
                   'properties': vpn_seeds.SEED_PROPERTIES['vpn_gateway']},
            'vi': {'type': 'ESI::VpnInterface',
                   'properties': dict(
                       vpn_seeds.SEED_PROPERTIES['vpn_interface'],
                       vpn_gw_id={'get_resource': 'gw'})},
            'gi': {'type': 'ESI::GwInterface',
                   'depends_on': 'vi',
                   'properties': dict(gw_seeds.PROPERTIES,
                                      vpn_gw_id={'get_resource': 'gw'})}}})
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    gw, vi, gi = (stk[name].resource_id for name in ('gw', 'vi', 'gi'))
    jobs = {}
    for event in esi_fixtures.history(heat, keys.JOBS_ALL, since):
        if event.kv.version == 1 and ':gw_interface:%s:' % gi in event.kv.key:
            job = json.loads(event.kv.value)[1]
            jobs[job['handler']] = {p['param']: p['value']
                                    for p in job['params']}
    heat_params = jobs['heat_worker']
    assert heat_params['jinja_force_dependency'] == vi
    assert (heat_params['downlink_vlan_id'], heat_params['vrf_name'],
            heat_params['local_as']) == (
        '1025', 'vrf_gw_sample-ha-router-downlink_1025', '65101')
    assert jobs['monitoring_worker']['primary_logical_interface_name'] == \
        'ae0.1025'
    lport = esi_fixtures.json_at(heat, keys.config(
        'ese_logical_port', gw_parts.logical_port_id(gi, 'primary')))
    assert (lport['body']['name'], lport['body']['vlan_id']) == (
        'xe-0/0/3.1025', 1025)

    stk.delete()
    assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    for esi_type, rid in gw_parts.parts(gi) + [('gw_interface', gi),
                                               ('vpn_gateway', gw)]:
        assert heat.get(keys.config(esi_type, rid)) is None

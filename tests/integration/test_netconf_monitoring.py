"""A BGP session checked and monitored by a real esi-worker over NETCONF.

An edge router is created through the real Heat engine, its monitoring
heat_template holding a bgp_session element (as vpn_interface_monitoring
does); a real esi-worker checks it against a NETCONF test router, with the
login and password of the edge router's /config, then keeps polling it:
the session going down turns /monitoring DOWN, and up again ESTABLISHED.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json

from tests import esi_fixtures
from tests import netconf_devices
from tests import snmp_agents

INTERVAL = snmp_agents.MONITOR_INTERVAL
TEMPLATE = '''session:
  type: bgp_session
  device_ip: {{ device_ip }}
  peer_ip: 192.0.2.1
  instance: vrf1
  timeout: 20
  time_between_retries: 0.2
'''


def test_a_bgp_session_going_down_turns_monitoring_down(
        heat_engine_on, workers, tmp_path):
    heat = heat_engine_on
    device = netconf_devices.start('mx1', host='127.0.0.2')
    try:
        device.load_running(
            'routing-instances { instance vrf1 { protocols { bgp { '
            'group g { peer-as 65000; neighbor 192.0.2.1; } } } } }')
        esi_fixtures.put_template(heat, 'edge_router_monitoring',
                                  template_file=TEMPLATE)
        known = netconf_devices.known_hosts(tmp_path / 'known_hosts',
                                            device)
        sections = netconf_devices.netconf_section(known)
        sections['monitor'] = {'interval': INTERVAL}
        procs = workers(1, sections=sections)
        stk = heat_engine.stack({
            'heat_template_version': '2018-08-31',
            'resources': {'router': {
                'type': 'ESI::EdgeRouter',
                'properties': {
                    'name': 'mx1', 'ip': device.host,
                    'ssh_port': device.port, 'login': 'esi',
                    'password': netconf_devices.PASSWORD}}}})
        stk.create()
        assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
        rid = stk['router'].resource_id
        # The seed's state_monitoring is a JSON string.
        assert json.loads(esi_fixtures.state_of(heat, rid, 'edge_router')[
            'state']['state_monitoring']) == {'session': 'ESTABLISHED'}
        esi_fixtures.wait_until(
            lambda: esi_fixtures.monitoring_of(heat, rid) == {
                'session': 'ESTABLISHED', 'version': 1},
            timeout=3 * INTERVAL + 10, message='/monitoring ESTABLISHED')
        device.set_bgp_peer('192.0.2.1', 'Active', instance='vrf1')
        esi_fixtures.wait_until(
            lambda: (esi_fixtures.monitoring_of(heat, rid) or {}).get(
                'session') == 'DOWN',
            timeout=3 * INTERVAL + 10, message='/monitoring DOWN')
        stk.check()
        assert stk.state == ('CHECK', 'FAILED')
        assert 'session DOWN' in stk.status_reason, stk.status_reason
        assert "is 'Active'" in stk.status_reason
        device.set_bgp_peer('192.0.2.1', 'Established', instance='vrf1')
        esi_fixtures.wait_until(
            lambda: (esi_fixtures.monitoring_of(heat, rid) or {}).get(
                'session') == 'ESTABLISHED',
            timeout=3 * INTERVAL + 10, message='/monitoring ESTABLISHED')
        stk.check()
        assert stk.state == ('CHECK', 'COMPLETE'), stk.status_reason
        logs = ''.join(p.log() for p in procs)
        assert netconf_devices.PASSWORD not in logs
        stk.delete()
        assert stk.state == ('DELETE', 'COMPLETE'), stk.status_reason
    finally:
        device.stop()

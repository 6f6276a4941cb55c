#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Simulated devices for `heat-esi demo --gateway` and --vpn.

- SNMP: the SNMP plugins themselves, with their probe replaced, always
  up: jobs and the monitor run exactly as with real devices (templates
  rendered, elements checked, /state and /monitoring written), but no
  packet leaves the machine.
- NETCONF (--vpn): the edge routers are NETCONF test devices
  (heat_esi.simulated.netconf_device), real NETCONF servers over SSH on
  loopback addresses, which keep a configuration but route nothing.

The demo says so when it uses them.
"""

from heat_esi.worker.plugins import snmp


class _Up(object):
    """A plugin's probe replaced: the device answers up, no packet sent."""

    async def probe_async(self, props, abort):
        return True


class Router(_Up, snmp.Router):
    """The router plugin over a simulated router whose uptime grows."""


class PhysicalPort(_Up, snmp.PhysicalPort):
    """The physical_port plugin over a simulated interface that is up."""


class Switch(_Up, snmp.Switch):
    """The switch plugin over a simulated ToR switch whose uptime grows."""


class LogicalPort(_Up, snmp.LogicalPort):
    """The logical_port plugin over a simulated VLAN unit that is up."""


# Element type -> simulated plugin class.
PLUGINS = {'router': Router, 'physical_port': PhysicalPort,
           'switch': Switch, 'logical_port': LogicalPort}


def simulate(plugins, client, conf):
    """Replace, in the worker's {type: plugin}, the device plugins."""
    for name, cls in PLUGINS.items():
        plugins[name] = cls(client, conf)


# What the routers hold before any gateway: their uplink and downlink,
# tagged (a gateway adds VLAN units to them), and the QoS option's
# filters, which ESI's templates name and never create.
OPERATOR_CONFIG = """
interfaces {
    interface ge-0/0/1 {
        vlan-tagging;
    }
    interface ae0 {
        vlan-tagging;
    }
}
firewall {
    family inet {
        filter FILTER_10M-GA-UP-VPN {
            term all {
                then accept;
            }
        }
        filter FILTER_10M-GA-DOWN-VPN {
            term all {
                then accept;
            }
        }
    }
}
"""


class NetconfRouter(object):
    """One edge router: a NETCONF test device on a loopback address.

    It starts with the operator's own configuration (OPERATOR_CONFIG).
    """

    def __init__(self, role, host, login, password):
        from heat_esi.simulated import netconf_device
        self.role, self.host = role, host
        self.device = netconf_device.NetconfDevice(
            username=login, password=password, host=host, name=role)
        self.port = None

    def start(self):
        self.port = self.device.start()
        self.device.load_running(OPERATOR_CONFIG)
        return self

    def known_hosts_line(self):
        return self.device.known_hosts_line()

    def running(self):
        """The running configuration, as ``show configuration`` prints it.

        Secrets (the BGP keys) show as SECRET-DATA, as JUNOS shows them.
        """
        return self.device.running_text()

    def stop(self):
        self.device.stop()

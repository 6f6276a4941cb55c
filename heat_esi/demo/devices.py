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

"""Simulated devices for `heat-esi demo --gateway`: always up, never asked.

The SNMP plugins themselves, with their probe replaced: jobs and the
monitor run exactly as with real devices (templates rendered, elements
checked, /state and /monitoring written), but no packet leaves the
machine. The demo says so when it uses them.
"""

from heat_esi.worker.plugins import snmp


class Router(snmp.Router):
    """The router plugin over a simulated router whose uptime grows."""

    async def probe_async(self, props, abort):
        return True


class PhysicalPort(snmp.PhysicalPort):
    """The physical_port plugin over a simulated interface that is up."""

    async def probe_async(self, props, abort):
        return True


# Element type -> simulated plugin class.
PLUGINS = {'router': Router, 'physical_port': PhysicalPort}


def simulate(plugins, client, conf):
    """Replace, in the worker's {type: plugin}, the device plugins."""
    for name, cls in PLUGINS.items():
        plugins[name] = cls(client, conf)

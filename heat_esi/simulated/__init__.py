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

"""Simulated Contrail: stand-ins of the OS::Contrail:: types ESI's stacks use.

ESI's heat_templates create Contrail objects (OS::Contrail::VirtualNetwork,
VnSubnet, PhysicalInterface, ExistingResource...), which exist only where
Contrail's Heat plugins run. For the demo and the tests, this package holds
Heat resource plugins with the same properties and Contrail-shaped
attributes, named ``ESI::Simulated::Contrail::<Name>``; the environment
file etc/heat-esi/simulated-contrail.yaml maps each OS::Contrail:: type to
its stand-in, and esi-worker passes it with every stack (``[heat_worker]
environment``). No template is edited, and production, with Contrail, sets
no environment.

Not in heat_esi/resources, which every production heat-engine loads: a
heat-engine that should run the stand-ins lists plugin_dir() in its
plugin_dirs too.
"""

import os
import sys

ENVIRONMENT = 'simulated-contrail.yaml'


def plugin_dir():
    """The directory to add to heat-engine's plugin_dirs for the stand-ins."""
    return os.path.dirname(os.path.abspath(__file__))


def environment_file():
    """The path of the environment that selects the stand-ins.

    etc/heat-esi/simulated-contrail.yaml of a source checkout, else the
    installed copy (setup.cfg installs etc/ under <prefix>/etc/heat-esi).
    """
    here = os.path.dirname(os.path.dirname(plugin_dir()))
    candidates = (os.path.join(here, 'etc', 'heat-esi', ENVIRONMENT),
                  os.path.join(sys.prefix, 'etc', 'heat-esi', 'heat-esi',
                               ENVIRONMENT),
                  os.path.join(sys.prefix, 'etc', 'heat-esi', ENVIRONMENT))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError('%s is neither beside the package nor under %s'
                            % (ENVIRONMENT, os.path.join(sys.prefix, 'etc',
                                                         'heat-esi')))

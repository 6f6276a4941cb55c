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

"""vmi: a port is ACTIVE when its stack made its virtual machine interface.

In ESI this element (virtual_machine_interface) asked Contrail's API for
the port's interface by uuid. heat-esi talks to no Contrail: as the
virtual_network element does for a network, it reads what the port's own
stack reported, the record heat_worker keeps at
/esi-worker/heat_stacks/v2.0/ports/<id>. The port template gives the
interface the port's id as its uuid, so the element's ``uuid`` (the
stack's ``id`` output) is the port's id: the port is ACTIVE (and UP) when
that stack is CREATE_COMPLETE or UPDATE_COMPLETE and made that interface
(and its ``fq_name`` output is the element's ``fq_name``, when both say
one). Its timeout and interval are the etcd_reader's.
"""

from heat_esi.worker.plugins import virtual_network


class VirtualMachineInterface(virtual_network.VirtualNetwork):
    """ACTIVE (UP) when the port's stack is complete and made its VMI."""

    esi_type = 'port'
    what = 'port'
    made = 'the virtual machine interface'

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

"""Custom constraints for Heat (entry point namespace heat.constraints)."""

from heat.engine import constraints

from heat_esi import esi_resource
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records


class NotFound(exceptions.EsiError):
    """A referenced ESI resource does not exist (or is being deleted)."""


class EsiResourceConstraint(constraints.BaseCustomConstraint):
    """The value names an ESI resource of esi_type in etcd."""

    esi_type = None
    expected_exceptions = (exceptions.EsiError,)

    def validate_with_client(self, client, value):
        key = keys.config(self.esi_type, value)
        kv = esi_resource.client().get(key)
        if kv is None:
            raise NotFound('%s %s does not exist in ESI (no %s)'
                           % (self.esi_type, value, key))
        _, _, marked = records.parse_config(key, kv.value)
        if marked:
            raise NotFound('%s %s is being deleted' % (self.esi_type,
                                                       value))


class EdgeRouterConstraint(EsiResourceConstraint):
    esi_type = 'edge_router'

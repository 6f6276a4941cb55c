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

"""One entry per option in oslo.config's ``show-options`` of namespaces.

heat-engine's namespace (``heat_esi``) and esi-worker's
(``heat_esi.worker``) both list the ``[esi_etcd]`` group, as each program
reads it. oslo.config's generator merges such a group for the sample
files; its Sphinx extension does not, and two targets of one option are an
error. This keeps the first listing of each (group, option) for the
documentation build only (the sample files are generated elsewhere).
"""

from oslo_config import generator

_list_opts = generator._list_opts


def _list_opts_once(namespaces):
    seen = set()
    found = []
    for namespace, groups in _list_opts(namespaces):
        kept = []
        for group, opts in groups:
            name = getattr(group, 'name', group)
            fresh = [opt for opt in opts if (name, opt.dest) not in seen]
            seen.update((name, opt.dest) for opt in fresh)
            if fresh:
                kept.append((group, fresh))
        found.append((namespace, kept))
    return found


def setup(app):
    generator._list_opts = _list_opts_once
    return {'parallel_read_safe': True, 'parallel_write_safe': True}

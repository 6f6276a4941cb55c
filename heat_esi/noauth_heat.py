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

"""heat.conf for a Heat without keystone, with heat-esi's plugins.

Used by `heat-esi demo` and the functional tests. What openstack-heat 27
needs there: deferred_auth_method password (trusts need keystone), the
noauth paste flavor, and the old default policies (noauth gives every
caller the role admin, which the new defaults refuse).
"""

import os
import shutil
import sys


# Where the demo's and the functional tests' edge routers may be: their SNMP
# agents answer on loopback addresses only.
LOOPBACK_NETWORKS = ('127.0.0.0/8', '::1/128')


def write_heat_conf(directory, transport_url, etcd_client, extra=(),
                    database=None, management_networks=LOOPBACK_NETWORKS):
    """Write heat.conf (and its api-paste.ini) in *directory*; its path.

    *database* is an SQLAlchemy URL; without one, sqlite in *directory*,
    which is enough for a create and a delete, not for in-place updates.
    """
    from heat_esi import resources
    heat_etc = os.path.join(sys.prefix, 'etc', 'heat')
    paste = os.path.join(directory, 'api-paste.ini')
    shutil.copy(os.path.join(heat_etc, 'api-paste.ini'), paste)
    path = os.path.join(directory, 'heat.conf')
    lines = [
        '[DEFAULT]',
        'transport_url = %s' % transport_url,
        'plugin_dirs = %s' % os.path.dirname(resources.__file__),
        'environment_dir = %s' % os.path.join(heat_etc, 'environment.d'),
        'template_dir = %s' % os.path.join(heat_etc, 'templates'),
        'deferred_auth_method = password',
        'action_retry_limit = 0',
    ] + list(extra) + [
        '[database]',
        # sqlite lets one writer in at a time; the API and engine threads of
        # one process wait up to a minute for each other rather than fail
        # with "database is locked" on a loaded machine.
        'connection = %s' % (database or 'sqlite:///%s?timeout=60' % (
            os.path.join(directory, 'heat.sqlite'))),
        '[paste_deploy]',
        'flavor = noauth',
        'api_paste_config = %s' % paste,
        '[oslo_policy]',
        'enforce_new_defaults = false',
        '[esi_etcd]',
        'endpoints = %s' % ','.join(etcd_client.endpoints),
        '[esi]',
        'management_networks = %s' % ','.join(management_networks),
    ]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path

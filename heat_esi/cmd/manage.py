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

"""heat-esi: operator commands.

  heat-esi templates load [--dir DIR]   store the heat_templates in etcd
  heat-esi plugin-dir                   print the directory for plugin_dirs
  heat-esi demo [--gateway|--network|--vpn]
                                        run the whole create path once
  heat-esi status [--watch]             workers, backlog, failures
  heat-esi jobs list|show|retry|purge   the jobs in etcd

etcd is found through --etcd-url, or the [esi_etcd] group of the files
given with --config-file (for instance heat.conf).
"""

import argparse
import os
import sys

from oslo_config import cfg

from heat_esi.cmd import jobs
from heat_esi.cmd import output
from heat_esi.cmd import status
from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import templates


def _client(args):
    if args.etcd_url:
        return etcd.Etcd.from_url(args.etcd_url)
    config = cfg.ConfigOpts()
    conf.register_etcd_opts(config)
    conf.parse(config, [], 'heat-esi',
               default_config_files=args.config_file)
    return etcd.Etcd.from_conf(config)


def templates_load(args):
    found = templates.load_dir(args.dir)
    outcome = templates.store(_client(args), found)
    for name, what in sorted(outcome.items()):
        print('%-40s %s' % (name, what))
    return 0


def plugin_dir(args):
    from heat_esi import resources
    print(os.path.dirname(os.path.abspath(resources.__file__)))
    return 0


def demo(args):
    # The demo is the extra heat-esi[demo]: imported only here, and only
    # once its dependencies are known to be there.
    from heat_esi import demo as demo_pkg
    absent = demo_pkg.missing(own_etcd=not args.etcd_url)
    if absent:
        print('heat-esi demo needs %s: %s' % (', '.join(absent),
                                              demo_pkg.EXTRA),
              file=sys.stderr)
        return 1
    from heat_esi.demo import run
    return run.run(args)


def parser():
    top = argparse.ArgumentParser(prog='heat-esi', description=__doc__,
                                  formatter_class=argparse.
                                  RawDescriptionHelpFormatter)
    top.add_argument('--config-file', action='append', default=[],
                     help='oslo.config file with an [esi_etcd] group.')
    top.add_argument('--etcd-url',
                     help='etcd endpoint, such as http://127.0.0.1:2379; '
                          'overrides [esi_etcd].')
    sub = top.add_subparsers(dest='command', required=True)
    tmpl = sub.add_parser('templates', help='manage the heat_templates')
    tmpl_sub = tmpl.add_subparsers(dest='action', required=True)
    load = tmpl_sub.add_parser('load', help='store templates/heat_templates '
                               'in etcd; unchanged ones are left alone')
    load.add_argument('--dir', help='directory of *.yaml heat_templates '
                      '(default: the ones shipped with heat-esi)')
    load.set_defaults(func=templates_load)
    sub.add_parser('plugin-dir', help='print the directory to add to '
                   'heat-engine\'s plugin_dirs').set_defaults(func=plugin_dir)
    dem = sub.add_parser('demo', help='start etcd, Heat and a worker, '
                         'create and delete one HA router stack')
    # Also after the subcommand, as `tox -e demo -- --etcd-url URL` passes
    # it; SUPPRESS keeps a value given before the subcommand.
    dem.add_argument('--etcd-url', default=argparse.SUPPRESS,
                     help='use this etcd instead of starting one; only the '
                          'demo\'s own keys are written there, and removed')
    which = dem.add_mutually_exclusive_group()
    which.add_argument('--gateway', action='store_true',
                       help='create the whole HA gateway of '
                            'templates/hot/ha_gateway.yaml (nine resources, '
                            'simulated devices) instead of one HA router')
    which.add_argument('--network', action='store_true',
                       help='create the tenant network of '
                            'templates/hot/tenant_network.yaml (a network '
                            'and its subnet) through the heat_worker, '
                            'Contrail simulated, instead of one HA router')
    which.add_argument('--vpn', action='store_true',
                       help='create a whole VPN gateway of '
                            'templates/hot/vpn_gateway.yaml on an HA '
                            'gateway, its JUNOS configuration applied over '
                            'NETCONF to two simulated routers, instead of '
                            'one HA router')
    dem.set_defaults(func=demo)
    status.add_parser(sub)
    jobs.add_parser(sub)
    return top


def main(argv=None, client=None):
    """Run one command; *client* replaces the one its options name."""
    args = parser().parse_args(argv)
    try:
        if getattr(args, 'needs_client', False):
            return args.func(args, client or _client(args))
        return args.func(args)
    except exceptions.EsiError as exc:
        # The message may quote keys and values read from etcd.
        output.say('heat-esi: error: %s' % exc, sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())

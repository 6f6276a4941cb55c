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

"""heat-esi demo --network: a tenant network through both handlers.

The stack of templates/hot/tenant_network.yaml (ESI::Network and
ESI::Subnet) in the demo's Heat; the demo's worker runs the
monitoring_worker and the heat_worker, which creates each resource's own
stack (``network_<id>``, ``subnet_<id>``) through the same heat-api. It
prints each resource's points as ESI's documents number them, the Heat
stacks the worker made, deletes the stack and shows that nothing is left.

Contrail's virtual network and subnet are SIMULATED: heat-engine loads
heat-esi's stand-ins (heat_esi/simulated) and the worker sends the
environment file that maps OS::Contrail::* onto them with every stack.

The worker reaches the demo's heat-api without Keystone: keystoneauth1's
``none`` auth_type and the endpoint of the demo's project (worker_auth()).
That heat-api runs Heat's noauth middleware, which takes every request as
the demo's project; nothing in a deployment runs that way.
"""

import json
import time

from keystoneauth1 import loading as ks_loading

from heat_esi import conf
from heat_esi.demo import run as demo_run
from heat_esi import etcd
from heat_esi import keys
from heat_esi import simulated
from heat_esi.worker import elements

say = demo_run.say

STACK_NAME = 'tenant-network-demo'
TEMPLATE = 'tenant_network.yaml'
HANDLERS = ('monitoring_worker', 'heat_worker')
# Seconds between two reads of a worker's stack: short, as the stand-ins
# answer at once.
POLL_INTERVAL = 0.2
# The points of ESI's documents (CreateNetwork_01, CreateSubnet_01):
# (point, what key, which of its values: the first or the last written,
# or the first with a given field; see _chosen).
# A network's job_state is written by each of its two jobs: (4) after the
# heat_worker's, (5) after the monitoring_worker's.
POINTS = {
    'network': (('(1)', 'config', 'first'), ('(2)', 'jobs', 'all'),
                ('(3)', 'heat_stack', 'first'),
                ('(4)', 'job_state', 'first'),
                ('(5)', 'job_state', 'last'), ('(6)', 'state', 'first'),
                ('(7)', 'monitoring', 'first')),
    'subnet': (('(1)', 'config', 'first'), ('(2)', 'jobs', 'all'),
               ('(3)', 'heat_stack', 'first'),
               ('(4)', 'job_state', 'first'), ('(5)', 'state', 'first')),
}
# The parts of the template, in the order they are shown: (output that
# names the resource, ESI type).
PARTS = (('network_id', 'network'), ('subnet_id', 'subnet'))


def worker_auth(endpoint):
    """{[heat_worker] option: value} to reach *endpoint* without Keystone.

    For the demo and the tests only: keystoneauth1's ``none`` plugin sends
    no token and calls *endpoint* (heat-api's URL of one project,
    http://host:port/v1/<project>) whatever the project of the job; a
    heat-api behind Heat's noauth middleware accepts that.
    """
    return {'auth_type': 'none', 'endpoint': endpoint}


def configure_worker(wconf, endpoint, poll_interval=POLL_INTERVAL):
    """Set a worker's [heat_worker] for the demo's Heat at *endpoint*."""
    group = conf.HEAT_WORKER_GROUP
    # The plugin's own options (endpoint) are registered when the handler
    # loads it; registered here first so that they can be set.
    wconf.register_opts(ks_loading.get_auth_plugin_conf_options('none'),
                        group=group)
    for name, value in worker_auth(endpoint).items():
        wconf.set_override(name, value, group=group)
    wconf.set_override('environment', simulated.environment_file(),
                       group=group)
    wconf.set_override('poll_interval', poll_interval, group=group)


def _chosen(values, which):
    """The value of a point among the *values* of its key, in a list.

    *which*: 'first' or 'last' written, or the name of a field: the first
    value that has it. An empty list when none is.
    """
    if which == 'first':
        return values[:1]
    if which == 'last':
        return values[-1:]
    return [v for v in values if which in json.loads(v)][:1]


class NetworkDemo(demo_run.Demo):
    """The demo of a tenant network: Heat first, then a two-handler worker.

    The worker's heat_worker needs heat-api's address when it loads.
    """

    # The points of each type that print_points shows.
    points = POINTS

    def start_heat(self):
        super(NetworkDemo, self).start_heat(simulated=True,
                                            sections=self.heat_sections())
        say(self.contrail_said())

    def heat_sections(self):
        """Further heat.conf groups of the demo's Heat: none."""
        return None

    def contrail_said(self):
        """What the demo says of Contrail once Heat runs."""
        return ('Contrail: SIMULATED. No Contrail runs here: heat-engine '
                'loads stand-ins of OS::Contrail::VirtualNetwork and '
                'VnSubnet (heat_esi/simulated) and the worker selects them '
                'with %s; their uuids and fq_names are made up, no network '
                'exists.' % simulated.environment_file())

    def worker_conf(self):
        """The worker's options: [heat_worker] for the demo's Heat."""
        wconf = demo_run.worker_conf()
        configure_worker(wconf, self.endpoint)
        return wconf

    def start_worker(self):
        wconf = self.worker_conf()
        plugins = elements.load_plugins(self.client, wconf)
        self.start_handlers(wconf, plugins, HANDLERS)
        say('esi-worker: started (in this process) with %s; its heat_worker '
            'calls %s without Keystone ([heat_worker] auth_type none: demo '
            'only)' % (' and '.join(HANDLERS), self.endpoint))
        self.start_monitor(plugins, ['network'])

    def history(self, start_revision, rids):
        """{key: [values written, in order]} of the keys of *rids*.

        The jobs and job_state are gone once the stack completes; etcd's
        history still has them.
        """
        found = {}
        for ev in self.client.watch('/', start_revision, timeout=0.5):
            if ev.type == etcd.PUT and \
                    not ev.kv.key.startswith(keys.JOBS_WORKING) and \
                    demo_run.keys_rid(ev.kv.key) in rids:
                found.setdefault(ev.kv.key, []).append(ev.kv.value)
        return found

    def print_points(self, rtype, rid, written):
        """Print the points of *rid* as ESI's documents number them.

        From self.points[rtype] (see POINTS): each point's key and the
        value it names, among *written* ({key: [values written, in order]},
        see history()). The jobs are the version-1 create jobs; a resource
        written again later (a VPN gateway once its VPN interface exists,
        a port once attached) has its last /config shown after the points.
        """
        where = {'config': keys.config(rtype, rid),
                 'heat_stack': keys.heat_stack(rtype, rid),
                 'job_state': keys.job_state(rtype, rid),
                 'state': keys.state(rtype, rid),
                 'monitoring': keys.monitoring(rtype, rid)}
        jobs = [k for k in written
                if k.startswith(keys.JOBS_ALL + 'create:') and
                demo_run.keys_rid(k) == rid and
                keys.parse_job_id(k.rsplit('/', 1)[1])['version'] == 1]
        for point, what, which in self.points[rtype]:
            say()
            say('### Checking stored data at the point of %s in etcd'
                % point)
            if what == 'jobs':
                shown = [(k, written[k][0]) for k in jobs]
            else:
                shown = [(where[what], value) for value in
                         _chosen(written.get(where[what], []), which)]
            if not shown:
                say('(not written)')
            for key, value in shown:
                if what == 'jobs':
                    say('* Jobs for %s' % json.loads(value)[0])
                say(key)
                say(json.dumps(json.loads(value), indent=4))
                if what == 'config' and json.loads(value)['version'] > 1:
                    # A gateway interface's port: its /config is written
                    # attached already, in the interface's transaction.
                    say('(written as version %d at once: version 1 is the '
                        'resource_input of its jobs at (2))'
                        % json.loads(value)['version'])
        configs = written.get(where['config'], [])
        if len(configs) > 1:
            say()
            say('### Later version of %s %s' % (rtype, rid))
            say(where['config'])
            say(json.dumps(json.loads(configs[-1]), indent=4))

    def show_stacks(self, heat, title):
        """Print the project's Heat stacks; their names."""
        stacks = sorted((s.stack_name, s.stack_status)
                        for s in heat.stacks.list())
        say()
        say('openstack stack list   # %s' % title)
        for name, status in stacks:
            say('  %-50s %s' % (name, status))
        if not stacks:
            say('  (no stack)')
        return [name for name, _ in stacks]

    def run_network(self):
        heat = self.heat_client()
        start_revision = self.client.revision() + 1
        stack_id, outputs = self.create(heat, TEMPLATE, STACK_NAME)
        say('outputs: %s' % json.dumps(outputs, indent=4, sort_keys=True))
        rids = {rtype: outputs[output] for output, rtype in PARTS}
        self.wait_for_monitoring([keys.monitoring('network',
                                                  rids['network'])],
                                 start_revision)
        written = self.history(start_revision, set(rids.values()))
        for _, rtype in PARTS:
            say()
            say('## %s %s' % (rtype, rids[rtype]))
            self.print_points(rtype, rids[rtype], written)
        worker_stacks = ['%s_%s' % (rtype, rid)
                         for rtype, rid in sorted(rids.items())]
        names = self.show_stacks(heat, 'the demo\'s stack and the '
                                 'worker\'s, one per resource')
        missing = [n for n in worker_stacks if n not in names]
        if missing:
            say('the worker\'s stacks %s are missing' % ', '.join(missing))
            return 1
        outcome = self.delete(heat, stack_id, STACK_NAME,
                              list(rids.values()))
        left = self.wait_no_stacks(heat)
        say('Heat stacks left: %s' % (', '.join(left) or 'none'))
        return 1 if left else outcome

    def wait_no_stacks(self, heat, timeout=30):
        """The stacks left in the project once none is left, or timeout."""
        deadline = time.monotonic() + timeout
        left = self.show_stacks(heat, 'after the delete')
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [s.stack_name for s in heat.stacks.list()]
        return left


def run(args):
    demo = NetworkDemo(args)
    try:
        demo.start_etcd()
        demo.load_templates()
        demo.start_heat()
        demo.start_worker()
        return demo.run_network()
    finally:
        demo.cleanup()

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

"""heat-esi demo: the whole create path, in one command.

Starts a private etcd (or uses --etcd-url), an esi-worker, and Heat (API and
engine in this process, on oslo.messaging's in-memory transport), creates a
stack through python-heatclient, prints what landed in etcd in the seed's
layout, deletes the stack and cleans up everything it started or wrote.

- By default, the HA router stack of templates/hot/ha_router.yaml, over two
  simulated edge routers registered in etcd: points (1) to (4).
- With --gateway, the whole HA gateway of templates/hot/ha_gateway.yaml
  (two edge routers, four physical interfaces, the HA router and its two HA
  interfaces), its devices simulated by the worker (heat_esi.demo.devices):
  points (1) to (5) of every resource.
- With --network, the tenant network of templates/hot/tenant_network.yaml
  through both handlers, Contrail simulated: heat_esi.demo.network.
- With --vpn, a whole VPN gateway of templates/hot/vpn_gateway.yaml on an
  HA gateway, its configuration applied over NETCONF to two test devices:
  heat_esi.demo.vpn.

On a shared etcd (--etcd-url) it touches nothing it did not create: its
stacks run in a project of their own, its worker takes only that project's
jobs, and it loads only the heat_templates that are missing. It runs no
device monitor there: a monitor polls every device in the etcd, not only
the demo's, so point (5) is not written.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import uuid

from oslo_config import cfg

from heat_esi.cmd import worker as worker_cmd
from heat_esi import conf
from heat_esi.demo import devices
from heat_esi.demo import etcd as demo_etcd
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import templates
from heat_esi.worker import elements
from heat_esi.worker.monitor import Monitor
from heat_esi.worker import service

# A project of its own for every run, so that the demo's worker can tell
# the demo's jobs from any other in a shared etcd.
PROJECT = 'heat-esi-demo-%s' % uuid.uuid4().hex[:12]
ROUTERS = (('792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198', 'vMX-router-02',
            '10.79.5.185'),
           ('3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e', 'vMX-router-01',
            '10.79.5.184'))

# The parts of templates/hot/ha_gateway.yaml, in the order they are shown:
# (resource name, ESI resource type).
GATEWAY_PARTS = (
    ('primary_router', 'edge_router'),
    ('secondary_router', 'edge_router'),
    ('primary_uplink', 'er_physical_interface'),
    ('primary_downlink', 'er_physical_interface'),
    ('secondary_uplink', 'er_physical_interface'),
    ('secondary_downlink', 'er_physical_interface'),
    ('ha_router', 'ha_router'),
    ('uplink', 'ha_interface'),
    ('downlink', 'ha_interface'),
)
# The gateway's simulated devices: loopback addresses, inside the
# management networks of the demo's Heat, and never sent a packet.
GATEWAY_PARAMETERS = {'primary_ip': '127.0.0.2', 'secondary_ip': '127.0.0.3'}
# The resource types whose devices the monitor polls into /monitoring.
MONITORED = ('edge_router', 'er_physical_interface')
# Seconds between two polls of a simulated device.
MONITOR_INTERVAL = 1.0


def say(text=''):
    print(text, flush=True)


def worker_conf():
    """A worker's options, as esi-worker reads them with no file."""
    wconf = cfg.ConfigOpts()
    conf.register_worker_opts(wconf)
    wconf([], project='heat-esi')
    return wconf


def hot_dir():
    here = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    for candidate in (os.path.join(here, 'templates', 'hot'),
                      os.path.join(sys.prefix, 'share', 'heat-esi', 'hot')):
        if os.path.isdir(candidate):
            return candidate
    raise RuntimeError('templates/hot not found')


class Demo(object):

    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix='heat-esi-demo-')
        self.etcd_server = None
        self.client = None
        self.worker = None
        self.monitor = None
        self.heat = None
        self.endpoint = None
        self.written = []          # keys the demo wrote outside a stack
        self.created_templates = []
        self.events_seen = set()

    # --- services -----------------------------------------------------------

    def start_etcd(self):
        if self.args.etcd_url:
            self.client = etcd.Etcd.from_url(self.args.etcd_url)
            self.client.revision()
            say('etcd: using %s (only the demo\'s own keys are written, and '
                'removed at the end)' % self.client.endpoint)
            return
        self.etcd_server = demo_etcd.EtcdServer().start()
        self.client = self.etcd_server.client()
        say('etcd: started %s (data in %s)'
            % (self.etcd_server.url, self.etcd_server.dir))

    def load_templates(self):
        # An existing heat_template is someone's configuration: used as it
        # is, never replaced.
        outcome = templates.store(self.client, templates.load_dir(),
                                  keep_existing=True)
        self.created_templates = [name for name, what in outcome.items()
                                  if what == 'created']
        say('heat_templates: %s' % ', '.join(
            '%s (%s)' % kv for kv in sorted(outcome.items())))

    def register_routers(self):
        say('edge routers: two SIMULATED routers reporting ACTIVE (no '
            'device is contacted):')
        for rid, name, ip in ROUTERS:
            body = {'status': 'ACTIVE', 'name': name, 'ip': ip,
                    'tenant_id': PROJECT, 'id': rid,
                    'description': 'simulated by heat-esi demo'}
            config_key = keys.config('edge_router', rid)
            state_key = keys.state('edge_router', rid)
            ok, _ = self.client.txn(
                [etcd.absent(config_key), etcd.absent(state_key)],
                [etcd.put(config_key, records.config(body, 1)),
                 etcd.put(state_key, records.state(
                     states.completed(records.CREATE), 1,
                     {'router': 'ACTIVE'}))])
            if not ok:
                raise RuntimeError('edge_router %s already exists in this '
                                   'etcd; the demo will not overwrite it'
                                   % rid)
            self.written += [config_key, state_key]
            say('  %s %s (%s)' % (rid, name, ip))

    def start_worker(self, simulated=False):
        wconf = worker_conf()
        # Loaded once, as esi-worker does: the job handler and the monitor
        # run the same plugins (the simulated ones, with --gateway).
        plugins = elements.load_plugins(self.client, wconf)
        if simulated:
            devices.simulate(plugins, self.client, wconf)
        self.start_handlers(wconf, plugins, ['monitoring_worker'])
        say('esi-worker: started (in this process)')
        if not simulated:
            return
        say('devices: SIMULATED, always up (the router and physical_port '
            'plugins answer without sending a packet)')
        if self.etcd_server is None:
            say('monitor: not started on a shared etcd (it would poll '
                'devices that are not the demo\'s), so no point (5)')
            return
        self.start_monitor(plugins, MONITORED)

    def start_handlers(self, wconf, plugins, names):
        """Start the demo's worker, in this process, with handlers *names*.

        It takes only the demo's jobs (own_job); a handler that refuses
        its credentials stops the demo at once, as it stops esi-worker.
        """
        handlers = worker_cmd.load_handlers(list(names), self.client,
                                            wconf, plugins)
        problem = worker_cmd.check_credentials(handlers)
        if problem:
            raise RuntimeError(problem)
        self.worker = service.Worker(self.client, handlers,
                                     shutdown_grace=5, accept=self.own_job)
        self.worker.start()

    def start_monitor(self, plugins, resource_types):
        """Poll the devices of *resource_types* in this process.

        Every MONITOR_INTERVAL, as a member of the demo's worker.
        """
        self.monitor = Monitor(self.client, plugins,
                               lambda: self.worker.lease_id,
                               interval=MONITOR_INTERVAL,
                               resource_types=list(resource_types),
                               member_id=self.worker.member_id,
                               member_value=self.worker.member_value)
        self.monitor.start()
        say('monitor: polling %s every %s s (in this process)'
            % (', '.join(resource_types), MONITOR_INTERVAL))

    def own_job(self, job_id):
        """Whether *job_id* is a job of the demo's project.

        The demo's worker runs nothing else; the resource's /config names
        the project.
        """
        parts = keys.parse_job_id(job_id)
        if parts is None:
            return False
        key = keys.config(parts['resource_type'], parts['resource_id'])
        kv = self.client.get(key)
        if kv is None:
            return False
        try:
            body = records.parse_config(key, kv.value)[0]
        except exceptions.MalformedValue:
            return False
        return body.get('tenant_id') == PROJECT

    def start_heat(self, simulated=False, sections=None):
        """Start heat-api and heat-engine in this process.

        *simulated*: with heat-esi's stand-ins of Contrail's types;
        *sections*: further heat.conf groups (see demo.heat.InProcessHeat).
        """
        from heat_esi.demo import heat as demo_heat
        self.heat = demo_heat.InProcessHeat(self.dir, self.client, PROJECT,
                                            simulated=simulated,
                                            sections=sections).start()
        self.endpoint = self.heat.endpoint
        say('heat: heat-api and heat-engine started at %s (noauth, '
            'in-memory messaging; log in %s)' % (self.endpoint,
                                                 self.heat.log))

    # --- the stack ---------------------------------------------------------

    def heat_client(self):
        from heatclient import client as heat_client
        return heat_client.Client('1', endpoint=self.endpoint, token='demo')

    def show_events(self, heat, stack_id, elapsed):
        try:
            events = heat.events.list(stack_id, sort_dir='asc')
        except Exception:
            return      # the stack is gone
        for ev in events:
            if ev.id not in self.events_seen:
                self.events_seen.add(ev.id)
                say('  %6.2f s  %-18s %-20s %s' % (
                    elapsed, ev.resource_name, ev.resource_status,
                    ev.resource_status_reason or ''))

    def wait(self, heat, stack_id, action, timeout=120):
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                stack = heat.stacks.get(stack_id)
                status = stack.stack_status
            except Exception:
                if action != 'DELETE':
                    raise
                status = 'DELETE_COMPLETE'      # gone: deleted
            elapsed = time.monotonic() - start
            # Events after the status, so that the last ones are shown too.
            self.show_events(heat, stack_id, elapsed)
            if not status.endswith('IN_PROGRESS'):
                return status, elapsed
            time.sleep(0.2)
        raise RuntimeError('stack %s did not finish %s within %s s'
                           % (stack_id, action, timeout))

    def create(self, heat, template_name, stack_name, parameters=None):
        """Create the stack; (its id, {output key: value})."""
        with open(os.path.join(hot_dir(), template_name)) as f:
            template = f.read()
        say()
        say('openstack stack create --wait -t templates/hot/%s %s%s'
            % (template_name, ''.join('--parameter %s=%s ' % kv for kv in
                                      sorted((parameters or {}).items())),
               stack_name))
        created = heat.stacks.create(stack_name=stack_name,
                                     template=template,
                                     parameters=parameters or {})
        stack_id = created['stack']['id']
        status, elapsed = self.wait(heat, stack_id, 'CREATE')
        say('stack %s: %s in %.2f s' % (stack_name, status, elapsed))
        if status != 'CREATE_COMPLETE':
            raise RuntimeError('the stack did not complete: %s' % status)
        outputs = {o['output_key']: o['output_value'] for o in
                   heat.stacks.get(stack_id).outputs}
        return stack_id, outputs

    def delete(self, heat, stack_id, stack_name, rids):
        """Delete the stack; 0 when no key of *rids* is left, else 1."""
        say()
        say('openstack stack delete --wait %s' % stack_name)
        heat.stacks.delete(stack_id)
        status, elapsed = self.wait(heat, stack_id, 'DELETE')
        say('stack %s: %s in %.2f s' % (stack_name, status, elapsed))
        left = [kv.key for kv in self.client.get_prefix('/')[0]
                if any(rid in kv.key for rid in rids)]
        say('keys of %s left in etcd: %s' % (', '.join(rids),
                                             left or 'none'))
        return 0 if status == 'DELETE_COMPLETE' and not left else 1

    def run_stack(self):
        heat = self.heat_client()
        start_revision = self.client.revision() + 1
        stack_id, outputs = self.create(heat, 'ha_router.yaml',
                                        'ha-router-demo')
        rid = outputs['ha_router_id']
        say('outputs: %s' % json.dumps(outputs, sort_keys=True))
        self.print_points('ha_router', rid, self.first_values(
            start_revision, [rid]))
        return self.delete(heat, stack_id, 'ha-router-demo', [rid])

    def run_gateway(self):
        heat = self.heat_client()
        start_revision = self.client.revision() + 1
        stack_id, outputs = self.create(heat, 'ha_gateway.yaml',
                                        'ha-gateway-demo',
                                        GATEWAY_PARAMETERS)
        ids = outputs['ids']
        say('outputs: %s' % json.dumps(outputs, indent=4, sort_keys=True))
        rids = [ids[name] for name, _ in GATEWAY_PARTS]
        if self.monitor is not None:
            self.wait_for_monitoring(
                [keys.monitoring(rtype, ids[name])
                 for name, rtype in GATEWAY_PARTS if rtype in MONITORED],
                start_revision)
        first = self.first_values(start_revision, rids)
        for name, rtype in GATEWAY_PARTS:
            say()
            say('## %s: %s %s' % (name, rtype, ids[name]))
            self.print_points(rtype, ids[name], first,
                              monitored=rtype in MONITORED)
        return self.delete(heat, stack_id, 'ha-gateway-demo', rids)

    def wait_for_monitoring(self, wanted, start_revision, timeout=30):
        """Wait until the monitor wrote every key of *wanted*.

        It polls the devices of created resources every MONITOR_INTERVAL;
        the wait follows etcd's watch, not a sleep.
        """
        missing = set(wanted)
        revision = start_revision
        deadline = time.monotonic() + timeout
        while missing and time.monotonic() < deadline:
            for ev in self.client.watch(keys.MONITORING, revision,
                                        timeout=0.5):
                revision = ev.kv.mod_revision + 1
                if ev.type == etcd.PUT:
                    missing.discard(ev.kv.key)
        if missing:
            say('monitor: no /monitoring within %s s for %s'
                % (timeout, ', '.join(sorted(missing))))

    def first_values(self, start_revision, rids):
        """{key: first value written} for the keys of *rids*, from history.

        The job and job_state are already gone once the stack completes;
        etcd's history still has them.
        """
        first = {}
        for ev in self.client.watch('/', start_revision, timeout=0.5):
            if ev.type == etcd.PUT and ev.kv.key not in first and \
                    not ev.kv.key.startswith(keys.JOBS_WORKING) and \
                    any(keys_rid(ev.kv.key) == rid for rid in rids):
                first[ev.kv.key] = ev.kv.value
        return first

    def print_points(self, rtype, rid, first, monitored=False):
        """Print points (1) to (4), and (5) when *monitored*, of *rid*."""
        job_prefix = keys.JOBS_ALL + 'create:'
        points = [('(1)', keys.config(rtype, rid)),
                  ('(2)', next((k for k in first
                                if k.startswith(job_prefix) and
                                keys_rid(k) == rid), None)),
                  ('(3)', keys.job_state(rtype, rid)),
                  ('(4)', keys.state(rtype, rid))]
        if monitored:
            points.append(('(5)', keys.monitoring(rtype, rid)))
        for point, key in points:
            say()
            say('### Checking stored data at the point of %s in etcd' % point)
            if key is None or key not in first:
                say('(not written)')
                continue
            say(key)
            say(json.dumps(json.loads(first[key]), indent=4))

    # --- clean-up ----------------------------------------------------------

    def cleanup(self):
        if self.monitor is not None:
            self.monitor.stop()
        if self.worker is not None:
            self.worker.stop()
        if self.heat is not None:
            self.heat.stop()
        if self.client is not None and self.etcd_server is None:
            for key in self.written + [keys.heat_template(n) for n in
                                       self.created_templates]:
                self.client.delete(key)
        if self.etcd_server is not None:
            self.etcd_server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)
        say('cleaned up: everything the demo started or wrote is gone')


def keys_rid(key):
    """The resource id a seed key names: its last part, or a job id's.

    /config/v2.0/ha_routers/<id> and the like end with the id; a job key
    ends with the job id, which names it.
    """
    last = key.rsplit('/', 1)[-1]
    parts = keys.parse_job_id(last)
    return parts['resource_id'] if parts else last


def run(args):
    if getattr(args, 'network', False):
        # Its own module: the worker's second handler and Heat's stand-ins.
        from heat_esi.demo import network
        return network.run(args)
    if getattr(args, 'vpn', False):
        # Its own module: NETCONF devices, and the operator's stacks first.
        from heat_esi.demo import vpn
        return vpn.run(args)
    demo = Demo(args)
    gateway = getattr(args, 'gateway', False)
    try:
        demo.start_etcd()
        demo.load_templates()
        if not gateway:
            demo.register_routers()
        demo.start_worker(simulated=gateway)
        demo.start_heat()
        return demo.run_gateway() if gateway else demo.run_stack()
    finally:
        demo.cleanup()

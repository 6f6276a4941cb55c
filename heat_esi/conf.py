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

"""Configuration options of heat-esi, in one place.

``[esi_etcd]`` is read both by heat-engine (from heat.conf) and by esi-worker
(from its own file); ``[esi]`` only by heat-engine; ``[worker]``,
``[snmp]``, ``[monitor]`` and ``[heat_worker]`` only by esi-worker;
``[netconf]`` by both (heat-engine applies ESI::Netconf::NamedConfigs, the
worker's bgp_session and vrrp_session plugins ask the routers).
"""

import ipaddress
import re

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from heat_esi import exceptions

ETCD_GROUP = 'esi_etcd'
ESI_GROUP = 'esi'
WORKER_GROUP = 'worker'

etcd_opts = [
    cfg.ListOpt('endpoints', default=[],
                help='URLs of the members of the etcd cluster, such as '
                     'https://192.0.2.10:2379,https://192.0.2.11:2379. '
                     'heat-esi stays on one member until it fails, then '
                     'moves on to the next. When empty, host, port and '
                     'protocol name the one endpoint.'),
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address of the etcd server that holds the ESI '
                            'configuration, jobs and states (when endpoints '
                            'is empty).'),
    cfg.PortOpt('port', default=2379,
                help='Client port of the etcd server (when endpoints is '
                     'empty).'),
    cfg.StrOpt('protocol', default='http', choices=['http', 'https'],
               help='Protocol used to reach the etcd gRPC gateway (when '
                    'endpoints is empty).'),
    cfg.StrOpt('ca_file',
               help='CA certificate used to verify the etcd servers of '
                    'https endpoints. When unset, the system\'s CA store '
                    'is used.'),
    cfg.StrOpt('cert_file',
               help='Client certificate presented to etcd over https; '
                    'needs key_file.'),
    cfg.StrOpt('key_file',
               help='Private key of the client certificate; needs '
                    'cert_file.'),
    cfg.StrOpt('username',
               help='etcd user to authenticate as, when etcd has '
                    'authentication enabled. The token etcd issues is '
                    'renewed whenever etcd rejects it.'),
    cfg.StrOpt('password', secret=True,
               help='Password of the etcd user.'),
    cfg.FloatOpt('timeout', default=5.0, min=0.1,
                 help='Seconds to wait for an answer from one etcd member. '
                      'A read that gets none is tried on the next member; '
                      'a write reports that its outcome is unknown, and '
                      'its caller reads back whether it landed.'),
    cfg.FloatOpt('endpoint_cooldown', default=5.0, min=0.0,
                 help='Seconds a member that failed is passed over while '
                      'another one is available.'),
    cfg.FloatOpt('watch_progress_interval', default=60.0, min=0.1,
                 help='Seconds between the progress notifications etcd '
                      'sends on an idle watch; set it like etcd\'s '
                      '--experimental-watch-progress-notify-interval. A '
                      'watch that hears nothing for three times this long '
                      'is taken for a dead connection and re-opened from '
                      'where it stopped (on the next member if this one '
                      'does not answer).'),
]

esi_opts = [
    cfg.IntOpt('worker_wait', default=180, min=0,
               help='Seconds a create, update or delete of an ESI resource '
                    'waits while no esi-worker is alive (none registered in '
                    'etcd) before it fails saying so. The wait is shown in '
                    'the resource\'s status reason from its first seconds; '
                    'a worker that starts meanwhile takes the job.'),
    cfg.FloatOpt('check_wait', default=30.0, min=1.0,
                 help='Seconds a stack check waits for the esi-worker that '
                      'monitors a device to poll it and answer.'),
    cfg.ListOpt('management_networks', default=[],
                help='Networks (CIDRs, such as 192.0.2.0/24 or '
                     '2001:db8::/64) where the management addresses of '
                     'edge routers may be. heat-engine refuses an '
                     'ESI::EdgeRouter whose ip is outside them, since the '
                     'workers send the SNMP community to that address. '
                     'Empty (the default) refuses every edge router.'),
]

worker_opts = [
    cfg.IntOpt('job_slots', default=8, min=1,
               help='How many jobs this worker runs at the same time. A job '
                    'is claimed only when a slot is free, so the remaining '
                    'jobs stay available to other workers.'),
    cfg.IntOpt('max_jobs_per_project', default=0, min=0,
               help='The most jobs of one project (the tenant_id of the '
                    'job\'s resource) this worker runs at the same time. '
                    '0 (the default) means job_slots - 1 (at least 1): '
                    'one project\'s backlog of slow jobs always leaves a '
                    'slot for the other projects. Whatever the limit, a '
                    'free slot goes to the project with the fewest jobs '
                    'running, so a project\'s backlog delays another '
                    'project\'s job by at most about one job. Jobs that '
                    'name no project count as one project. Set it to '
                    'job_slots to let one project use every slot.'),
    cfg.IntOpt('claim_ttl', default=60, min=2,
               help='Seconds of the etcd lease that binds this worker\'s '
                    'claims. If the worker stops refreshing it (crash, '
                    'pause), its claims expire after this time and other '
                    'workers take the jobs.'),
    cfg.IntOpt('max_attempts', default=3, min=1,
               help='How many times a job may be claimed. A job whose '
                    'earlier claims all expired this many times fails with '
                    'an error instead of being run again.'),
    cfg.ListOpt('enabled_handlers', default=['monitoring_worker'],
                help='Job handlers this worker runs, by their name in the '
                     'heat_esi.handlers entry-point namespace. Jobs for other '
                     'handlers are left to other workers.'),
    cfg.IntOpt('shutdown_grace', default=30, min=0,
               help='Seconds a stopping worker waits for running jobs to '
                    'finish before it releases them to other workers.'),
    cfg.FloatOpt('job_timeout', default=300.0, min=0.1,
                 help='Seconds a claimed job may run. A job still running '
                      'then fails with an error that says so, and its slot '
                      'takes the next job. A template element overrides it '
                      'with its own "job_timeout" (the job then gets the '
                      'largest one among its elements).'),
    cfg.FloatOpt('etcd_reader_timeout', default=30.0, min=0.0,
                 help='Default seconds an etcd_reader element waits for the '
                      'resource it reads to become ACTIVE. A template '
                      'element overrides it with its own "timeout".'),
    cfg.FloatOpt('etcd_reader_retry_interval', default=1.0, min=0.01,
                 help='Default seconds between two reads of an etcd_reader '
                      'element. A template element overrides it with '
                      '"time_between_retries".'),
    cfg.HostAddressOpt('metrics_address', default='127.0.0.1',
                       help='Address of the HTTP server that serves '
                            'Prometheus metrics at /metrics and the health '
                            'checks /healthz and /readyz. Loopback by '
                            'default: expose it on purpose.'),
    cfg.PortOpt('metrics_port',
                help='Port of that HTTP server. Unset (the default), the '
                     'server is not started.'),
    cfg.IntOpt('metrics_max_connections', default=32, min=1,
               help='Connections that HTTP server holds open at most. Past '
                    'that, a new connection closes the oldest one that has '
                    'not sent its request yet (or is itself closed when '
                    'every open one is being answered): an idle flood '
                    'costs at most this many open files and no thread, '
                    'and a probe still gets in. Keep it well under the '
                    'process\'s open files limit (LimitNOFILE): the worker '
                    'warns at start when it is more than half of it.'),
    cfg.FloatOpt('metrics_timeout', default=5.0, min=0.1,
                 help='Seconds a client of that HTTP server has to send '
                      'its whole request, and again to take the answer. A '
                      'connection that sends nothing or trickles is closed '
                      'then, without an answer.'),
]


SNMP_GROUP = 'snmp'
MONITOR_GROUP = 'monitor'

snmp_opts = [
    cfg.PortOpt('port', default=161,
                help='UDP port of the devices\' SNMP agents.'),
    cfg.DictOpt('communities', default={}, secret=True,
                help='SNMP v2c communities by the name a template uses, '
                     'such as EDGE_ROUTER_COMMUNITY:secret. The names are '
                     'in etcd; the secrets only here, and never logged.'),
    cfg.ListOpt('allowed_networks', default=[],
                help='Networks (CIDRs, IPv4 or IPv6) where the devices\' '
                     'SNMP agents are: the management networks. The worker '
                     'sends SNMP, and with it the community in clear, only '
                     'to addresses inside them; a job or a poll for any '
                     'other address fails without sending anything. Empty '
                     '(the default): no address is allowed.'),
    cfg.FloatOpt('request_timeout', default=1.0, min=0.1,
                 help='Seconds to wait for one SNMP answer.'),
    cfg.IntOpt('retries', default=0, min=0,
               help='SNMP retransmissions of one request.'),
    cfg.FloatOpt('check_timeout', default=10.0, min=0.0,
                 help='Default seconds a router, switch or physical_port '
                      'element of a job keeps trying before the job fails. '
                      'A template element overrides it with "timeout".'),
    cfg.FloatOpt('uptime_interval', default=1.0, min=0.1,
                 help='Seconds between the two sysUpTime reads of a '
                      'router or switch.'),
    cfg.IntOpt('max_walk_rows', default=10000, min=1,
               help='Rows a walk of a device\'s table (its ifName, to find '
                    'an interface by name) may return. A device whose '
                    'table goes on past this many rows counts as not '
                    'answering, with that reason; a walk also ends at the '
                    'deadline of what it is for: the element\'s timeout '
                    'in a job, [monitor] poll_timeout in a poll.'),
]

monitor_opts = [
    cfg.BoolOpt('enabled', default=True,
                help='Keep polling the devices of created resources and '
                     'write /monitoring when their state changes.'),
    cfg.FloatOpt('interval', default=60.0, min=0.5,
                 help='Seconds between two polls of one device.'),
    cfg.ListOpt('resource_types',
                default=['edge_router', 'er_physical_interface',
                         'ese_device', 'ese_physical_port', 'network',
                         'vpn_interface', 'gw_interface', 'port',
                         'ese_logical_port'],
                help='Resource types whose devices are polled: edge '
                     'routers (the router element), their physical '
                     'interfaces (the interface element), ESE devices '
                     '(the switch element), their ports (the port '
                     'element), networks (the virtual_network element, '
                     'from the network\'s stack), VPN interfaces (their '
                     'BGP sessions, over NETCONF), gateway interfaces '
                     '(their VRRP sessions, over NETCONF), ports (the vmi '
                     'element, once attached) and ESE logical ports (the '
                     'logical_port element). A VPN gateway is not polled: '
                     'ESI kept no /monitoring for it.'),
    cfg.FloatOpt('poll_timeout', default=10.0, min=0.5,
                 help='Seconds one poll of one resource (every element of '
                      'its template) may take. A device still polled then '
                      'counts as not answering: DOWN in /monitoring, and '
                      'a stack check is told that it did not answer '
                      'within poll_timeout. The other devices never wait '
                      'for it: each is polled on its own.'),
    cfg.IntOpt('threads', default=4, min=1,
               help='Threads of the monitor for the etcd reads and writes '
                    'of its cycles, as many for those of stack checks\' '
                    'poll requests (which then never queue behind a '
                    'cycle\'s), and as many for the polls of resource '
                    'plugins that cannot poll asynchronously (the SNMP '
                    'ones can, and need none). One resource holds at most '
                    'one of the latter at a time.'),
    cfg.IntOpt('max_polls', default=200, min=1,
               help='Periodic polls in flight at once, at most. A poll in '
                    'flight costs no thread (the SNMP plugins poll '
                    'asynchronously), but each has a request on the wire; '
                    'beyond this many, the next devices are polled as '
                    'earlier polls end. A router\'s poll holds its slot '
                    'for [snmp] uptime_interval at least, so a cycle of '
                    '10,000 routers in a 60 s interval needs about 400. '
                    'The polls of stack checks do not count: they never '
                    'wait for a cycle\'s.'),
]

HEAT_WORKER_GROUP = 'heat_worker'
# The keystoneauth1 plugin whose options the sample configuration lists.
DEFAULT_AUTH_TYPE = 'password'

heat_worker_opts = [
    cfg.StrOpt('region_name',
               help='Region of heat-api in the Keystone catalog. Unset: '
                    'the catalog\'s only orchestration endpoint.'),
    cfg.StrOpt('interface', default='public',
               choices=['public', 'internal', 'admin'],
               help='Which of heat-api\'s catalog endpoints the worker '
                    'calls.'),
    cfg.ListOpt('environment', default=[],
                help='Paths of Heat environment files (YAML), comma '
                     'separated, sent with every stack the heat_worker '
                     'creates or updates, read once at start and merged in '
                     'order as "openstack stack create -e a -e b" merges '
                     'them (a later file overrides an earlier one). A '
                     'single path, as before, is a list of one. Empty (the '
                     'default) in production with Contrail; the demo and '
                     'the tests name etc/heat-esi/simulated-contrail.yaml '
                     '(OS::Contrail::* mapped to simulated stand-ins) and '
                     'etc/heat-esi/netconf.yaml '
                     '(OS::Contrail::NetconfNamedConfigs over NETCONF).'),
    cfg.FloatOpt('poll_interval', default=1.0, min=0.05,
                 help='Seconds between two reads of a stack\'s status '
                      'while it is being created, updated or deleted.'),
    cfg.IntOpt('default_timeout_mins', default=10, min=1,
               help='Timeout of a stack, in minutes, when its job has no '
                    'heat_timeout param. The job\'s deadline is extended '
                    'to it once heat-api has accepted the stack.'),
]


def heat_worker_auth_opts():
    """keystoneauth1's options of [heat_worker], for the sample file.

    Those of the password plugin, the usual choice for a service user; the
    options of the configured auth_type are registered when it is loaded.
    """
    opts = (ks_loading.get_auth_common_conf_options()
            + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_plugin_conf_options(DEFAULT_AUTH_TYPE))
    seen, unique = set(), []
    for opt in opts:
        if opt.dest not in seen:
            seen.add(opt.dest)
            unique.append(opt)
    return unique


def parse_networks(values, option):
    """The networks of a list-of-CIDRs option, such as management_networks.

    :raises ValueError: naming *option* and the entry that is not a network.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(),
                                                 strict=False))
        except ValueError:
            raise ValueError('%s has an entry that is not a network in CIDR '
                             'notation: %r' % (option, value))
    return networks


NETCONF_GROUP = 'netconf'

netconf_opts = [
    cfg.BoolOpt('hostkey_verify', default=True,
                help='Whether a NETCONF session checks the router\'s SSH '
                     'host key against known_hosts_file (and the user\'s '
                     '~/.ssh/known_hosts). A router whose key is unknown or '
                     'different is refused. Turn it off only where the '
                     'management network itself is trusted.'),
    cfg.StrOpt('known_hosts_file',
               help='An OpenSSH known_hosts file with the routers\' host '
                    'keys (entries "[ip]:port keytype key" for a port other '
                    'than 22), read in addition to ~/.ssh/known_hosts.'),
    cfg.FloatOpt('timeout', default=30.0, min=1.0,
                 help='Seconds to connect to a router over NETCONF, and to '
                      'wait for each of its answers.'),
    cfg.ListOpt('roles', default=['esi_netconf'],
                help='heat-engine only: the roles of which a stack\'s user '
                     'needs one to create or update an '
                     'ESI::Netconf::NamedConfigs (OS::Contrail::'
                     'NetconfNamedConfigs), which writes configuration to '
                     'the operator\'s routers with their credentials. Give '
                     'it to the esi-worker\'s service user in the projects '
                     'where it creates stacks; never to tenants. An admin '
                     'context may always.'),
]


def register_etcd_opts(conf):
    conf.register_opts(etcd_opts, group=ETCD_GROUP)


def register_engine_opts(conf):
    """Options of heat-engine (heat.conf)."""
    register_etcd_opts(conf)
    conf.register_opts(esi_opts, group=ESI_GROUP)
    conf.register_opts(netconf_opts, group=NETCONF_GROUP)


def register_worker_opts(conf):
    register_etcd_opts(conf)
    conf.register_opts(worker_opts, group=WORKER_GROUP)
    conf.register_opts(snmp_opts, group=SNMP_GROUP)
    conf.register_opts(monitor_opts, group=MONITOR_GROUP)
    conf.register_opts(heat_worker_opts, group=HEAT_WORKER_GROUP)
    conf.register_opts(netconf_opts, group=NETCONF_GROUP)
    # keystoneauth's own registration: the auth plugin's options follow
    # from auth_type when the heat_worker loads it.
    ks_loading.register_auth_conf_options(conf, HEAT_WORKER_GROUP)
    ks_loading.register_session_conf_options(conf, HEAT_WORKER_GROUP)


def list_opts():
    """Options read by heat-engine from heat.conf."""
    return [(ETCD_GROUP, etcd_opts), (ESI_GROUP, esi_opts),
            (NETCONF_GROUP, netconf_opts)]


def list_worker_opts():
    """Options read by esi-worker from its own configuration file."""
    return [(ETCD_GROUP, etcd_opts), (WORKER_GROUP, worker_opts),
            (SNMP_GROUP, snmp_opts), (MONITOR_GROUP, monitor_opts),
            (HEAT_WORKER_GROUP, heat_worker_opts + heat_worker_auth_opts()),
            (NETCONF_GROUP, netconf_opts)]


# oslo.config names the file of a bad value only inside its message.
_BAD_VALUE = re.compile(r"Value for option (?P<opt>\S+) from "
                        r"LocationInfo\(.*detail='(?P<file>[^']*)'\) is not "
                        r"valid: (?P<why>.*)", re.S)


def parse(conf, argv, prog, **kwargs):
    """Parse *argv* into *conf* and read every option once.

    oslo.config checks a value only when it is first read, so a bad one
    would otherwise surface later as a traceback. Every problem becomes a
    ConfigError whose one-line message names the option and the file.
    """
    try:
        conf(argv, project='heat-esi', prog=prog, **kwargs)
    except cfg.Error as exc:
        raise exceptions.ConfigError(_one_line(exc))
    for name in list(conf):
        try:
            value = conf[name]
            if isinstance(value, cfg.ConfigOpts.GroupAttr):
                for opt in list(value):
                    try:
                        value[opt]
                    except cfg.Error as exc:
                        raise exceptions.ConfigError(
                            _bad_value(exc, name, opt))
        except cfg.Error as exc:
            raise exceptions.ConfigError(_bad_value(exc, 'DEFAULT', name))


def _one_line(exc):
    return ' '.join(line.strip() for line in str(exc).splitlines())


def _bad_value(exc, group, opt):
    found = _BAD_VALUE.match(str(exc))
    if not found:
        return '[%s] %s: %s' % (group, opt, _one_line(exc))
    why = _one_line(found.group('why'))
    message = '[%s] %s in %s: %s' % (group, opt, found.group('file'), why)
    if '#' in why:
        message += (' (a comment must be on a line of its own: oslo.config '
                    'keeps "# ..." after a value as part of it)')
    return message

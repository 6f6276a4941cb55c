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

"""SNMP resource plugins: router, switch and physical_port.

A template element names its community by *name* (``community_name``, for
instance EDGE_ROUTER_COMMUNITY); the secret itself comes from the worker's
``[snmp] communities`` option, so it is never in etcd, a job or a log.

The community goes in clear to the device, so a worker sends SNMP only to
addresses inside ``[snmp] allowed_networks`` (the management networks): an
address comes from a resource that a project wrote, and must not turn the
worker into a scanner of other networks or a leak of the community.
"""

import asyncio
from concurrent import futures
import ipaddress
import threading

from oslo_log import log as logging

from heat_esi import conf as esi_conf
from heat_esi import exceptions
from heat_esi import states
from heat_esi.worker import plugins
from heat_esi.worker.plugins import base
from heat_esi.worker.plugins import v2c

LOG = logging.getLogger(__name__)

SYS_UPTIME = '1.3.6.1.2.1.1.3.0'
IF_NAME = '1.3.6.1.2.1.31.1.1.1.1'
IF_OPER_STATUS = '1.3.6.1.2.1.2.2.1.8'
# Rows asked for in one request of a walk (GETBULK max-repetitions): 25
# ifName rows fit one datagram well below a typical MTU.
WALK_BULK = 25
# Seconds a job waits past its read's deadline for the SNMP loop.
LOOP_GRACE = 5.0


class NoAnswer(exceptions.EsiError):
    """The device did not answer, or answered with an SNMP error."""


class Overrun(NoAnswer):
    """The device did not finish answering by the deadline."""


class InterfaceMissing(exceptions.JobFailed):
    """The device answers, but has no interface of that name."""


class AuthError(NoAnswer):
    """The agent reported an authentication error (a wrong community)."""


# What pysnmp reports when an agent refuses our credentials. A v2c agent
# that drops a wrong community silently (net-snmp does) looks dead instead.
_AUTH_INDICATIONS = ('UnknownCommunityName', 'AuthenticationError',
                     'AuthenticationFailure', 'UnknownUserName',
                     'UnknownSecurityName', 'WrongDigest', 'NotInTimeWindow')
_AUTH_STATUSES = ('authorizationError', 'noAccess')


_JOBS_LOOP = []
_JOBS_LOOP_LOCK = threading.Lock()


def _jobs_loop():
    """The event loop of the jobs' SNMP reads, in a thread of its own.

    Started once per process: the job slots hand it their reads and wait,
    so that they share its socket (v2c.client) rather than open one per
    read.
    """
    with _JOBS_LOOP_LOCK:
        if not _JOBS_LOOP:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run():
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()
            threading.Thread(target=run, name='snmp', daemon=True).start()
            ready.wait()
            _JOBS_LOOP.append(loop)
        return _JOBS_LOOP[0]


def failure(where, timeout, err, status):
    """Return the NoAnswer (or AuthError) of a pysnmp error or status."""
    if err is not None and type(err).__name__ == 'RequestTimedOut':
        return NoAnswer('no SNMP answer from %s within %s s (the agent is '
                        'down or unreachable, or silently drops a wrong '
                        'community)' % (where, timeout))
    if (err is not None and type(err).__name__ in _AUTH_INDICATIONS) or (
            not err and status and status.prettyPrint() in _AUTH_STATUSES):
        return AuthError('SNMP authentication error from %s: %s (wrong '
                         'community?)' % (where, err or status.prettyPrint()))
    return NoAnswer('SNMP error from %s: %s'
                    % (where, err or status.prettyPrint()))


class Snmp(object):
    """SNMP v2c reads on asyncio (v2c.Client: one socket per event loop).

    The coroutines (get_async, find_async) run on the caller's event loop,
    many at once on the monitor's; get() and find() run one in a loop of
    their own, for a job's thread. Every read is bounded: a GET by
    request_timeout, a walk by [snmp] max_walk_rows, and either by the
    deadline of what it is for.
    """

    def __init__(self, conf):
        self.port = conf.snmp.port
        self.timeout = conf.snmp.request_timeout
        self.retries = conf.snmp.retries
        self.max_walk_rows = conf.snmp.max_walk_rows
        self._communities = conf.snmp.communities or {}
        self.allowed = allowed_networks(conf)

    def community(self, name):
        if not isinstance(name, str):
            raise exceptions.JobFailed('"community_name" must be a string, '
                                       'not %s' % exceptions.short(name))
        if name not in self._communities:
            raise exceptions.JobFailed(
                'no SNMP community named %s in [snmp] communities'
                % (name if name.isprintable() and len(name) <= 60
                   else exceptions.short(name)))
        return self._communities[name]

    def address(self, host):
        """*host* as an ip_address, when the worker may send SNMP to it.

        :raises JobFailed: it is not an IP address, or it is outside
            [snmp] allowed_networks.
        """
        try:
            if not isinstance(host, str):
                raise ValueError()
            address = ipaddress.ip_address(host)
        except ValueError:
            raise exceptions.JobFailed('%s is not an IP address'
                                       % exceptions.short(host))
        if not self.allowed:
            raise exceptions.JobFailed(
                'SNMP to %s refused: [snmp] allowed_networks is empty, so '
                'the worker sends SNMP nowhere; set it to the CIDRs of the '
                'management networks in the esi-worker configuration '
                '(for instance allowed_networks = 192.0.2.0/24,2001:db8::/64)'
                % address)
        if not any(address in net for net in self.allowed):
            raise exceptions.JobFailed(
                'SNMP to %s refused: the address is outside [snmp] '
                'allowed_networks (%s)' % (address, ', '.join(
                    str(net) for net in self.allowed)))
        return address

    def run(self, coroutine, deadline, what):
        """Run *coroutine* on the jobs' SNMP loop, until *deadline*.

        For a job's thread, which waits for the outcome.

        :raises Overrun: the deadline passed first (naming *what*).
        """
        async def bounded():
            try:
                return await asyncio.wait_for(coroutine, deadline.left())
            except asyncio.TimeoutError:
                raise Overrun(deadline.missed(what))
        future = asyncio.run_coroutine_threadsafe(bounded(), _jobs_loop())
        try:
            # bounded() ends by the deadline; this wait is bounded too, in
            # case the loop itself is stuck.
            return future.result(deadline.left() + LOOP_GRACE)
        except futures.TimeoutError:
            future.cancel()
            raise Overrun(deadline.missed(what) + ' (the SNMP loop is '
                                                  'stuck)')

    def get(self, host, community, oid, deadline):
        """GET *oid*, for a job's thread; see get_async."""
        address = self.address(host)
        return self.run(self.get_async(address, community, oid), deadline,
                        'SNMP GET from %s' % address)

    async def get_async(self, address, community, oid):
        """The value of *oid* on the device at *address* (an ip_address).

        :raises NoAnswer: no answer within request_timeout, or an error.
        """
        status, binds = await self._request(address, community, v2c.GET,
                                            oid)
        if status:
            raise failure('%s:%s' % (address, self.port), self.timeout,
                          None, status)
        return binds[0][1]

    async def _request(self, address, community, kind, oid, repetitions=0):
        """(error status, binds) of one request to the device."""
        try:
            status, _, binds = await v2c.client().request(
                address, self.port, community, kind, [oid], self.timeout,
                self.retries, 0, repetitions)
        except (v2c.RequestTimedOut, v2c.SendFailed) as exc:
            raise failure('%s:%s' % (address, self.port), self.timeout,
                          exc, None)
        if not status and not binds:
            raise NoAnswer('SNMP error from %s:%s: an answer without '
                           'values' % (address, self.port))
        return status, binds

    async def find_async(self, address, community, oid, match):
        """The first (oid, value) of the table *oid* whose value *match*es.

        Only that row is kept: a table of huge values costs its reading,
        not its memory. None when the table has no such row.

        :raises NoAnswer: no answer, an error, or the table goes on past
            [snmp] max_walk_rows.
        """
        table = tuple(int(arc) for arc in oid.split('.'))
        rows = 0
        after = table
        while True:
            # GETBULK: a tenth of the requests, and of the CPU per row, of
            # a GETNEXT walk, which matters for a table of thousands of
            # rows.
            status, binds = await self._request(
                address, community, v2c.GETBULK, '.'.join(map(str, after)),
                WALK_BULK)
            if status:
                raise failure('%s:%s' % (address, self.port), self.timeout,
                              None, status)
            for name, value in binds:
                name_arcs = tuple(name)
                if name_arcs[:len(table)] != table or \
                        isinstance(value, v2c.V2C.EndOfMibView):
                    return None         # past the table's last row
                if name_arcs <= after:
                    raise NoAnswer('SNMP error from %s:%s: OIDs not '
                                   'increasing in the walk of %s'
                                   % (address, self.port, oid))
                after = name_arcs
                rows += 1
                if match(value):
                    return str(name), value
                if rows >= self.max_walk_rows:
                    raise NoAnswer(
                        'the walk of %s on %s went on past %d rows '
                        '([snmp] max_walk_rows)'
                        % (oid, address, self.max_walk_rows))


def _integer(value, what):
    """*value* as an int; a device that sends anything else is broken."""
    try:
        return int(value)
    except (TypeError, ValueError):
        text = str(value)
        raise NoAnswer('%s is not an integer: %s' % (
            what, exceptions.short(text[:80])))


class SnmpPlugin(base.Plugin):
    """A device element over SNMP.

    check() answers a job, retrying until the element's timeout; poll()
    and poll_async() answer the monitor once, UP or DOWN and why. One probe
    (probe_async) does the reads of both.
    """

    def __init__(self, client, conf):
        self.snmp = Snmp(conf)
        self.check_timeout = conf.snmp.check_timeout
        self.uptime_interval = conf.snmp.uptime_interval
        self.poll_timeout = conf.monitor.poll_timeout

    async def probe_async(self, props, abort):
        """Whether the element is up; raises NoAnswer when it cannot say."""
        raise NotImplementedError()

    def where(self, props):
        raise NotImplementedError()

    def address(self, props):
        """Return the device's address, for messages."""
        return props.get('ip') or props.get('device_ip') or '?'

    def _props(self, props, *names):
        """(ip_address, community, *names' values) of the element.

        :raises JobFailed: a property is missing or wrong.
        """
        try:
            host = props[names[0]]
            community = self.snmp.community(props['community_name'])
            rest = [props[name] for name in names[1:]]
        except KeyError as exc:
            raise exceptions.JobFailed('missing property %s' % exc)
        return (self.snmp.address(host), community) + tuple(rest)

    async def poll_async(self, props, abort):
        """Return (UP or DOWN, why it is DOWN), from one probe."""
        try:
            if await self.probe_async(props, abort):
                return states.UP, ''
            return states.DOWN, '%s answers but is not up' % self.where(props)
        except (NoAnswer, InterfaceMissing) as exc:
            return states.DOWN, str(exc)

    def poll(self, props, abort):
        """poll_async in a loop of its own, within [monitor] poll_timeout."""
        deadline = base.Deadline(self.poll_timeout, '[monitor] poll_timeout')
        try:
            return self.snmp.run(self.poll_async(props, abort), deadline,
                                 'the poll of %s' % self.where(props))
        except NoAnswer as exc:
            return states.DOWN, str(exc)

    def check(self, props, clock, read=None):
        """Return 'ACTIVE' once a probe finds the device up.

        Each probe ends by the element's timeout and the job's deadline,
        whichever comes first, however the device answers.

        :raises JobFailed: it is not up within the element's timeout.
        """
        timeout = plugins.seconds(props, 'timeout', self.check_timeout)
        deadline = base.Deadline(timeout, 'the element\'s timeout').sooner(
            base.Deadline.of_job(clock))
        why = None
        while True:
            try:
                if self.snmp.run(self.probe_async(props, clock), deadline,
                                 'SNMP from %s' % self.where(props)):
                    return states.ACTIVE
                why = 'it answers but is not up'
            except Overrun as exc:
                # A probe cut short says less than the one before it.
                why = why or str(exc)
            except NoAnswer as exc:
                why = str(exc)
            if deadline.left() <= 0:
                try:
                    if clock.wait(0):
                        raise exceptions.JobInterrupted()
                except exceptions.JobTimedOut as exc:
                    # Past the job's own deadline: its clock says so, and
                    # this says what the device did meanwhile.
                    raise exceptions.JobTimedOut('%s; %s: %s' % (
                        exc, self.where(props), why))
                raise exceptions.JobFailed(
                    '%s is not UP after %s s: %s'
                    % (self.where(props), timeout, why))
            if clock.wait(min(1.0, deadline.left())):
                raise exceptions.JobInterrupted()


def allowed_networks(conf):
    """Return [snmp] allowed_networks as ip_network objects.

    :raises ValueError: naming the entry that is not a CIDR.
    """
    return esi_conf.parse_networks(conf.snmp.allowed_networks or [],
                                   '[snmp] allowed_networks')


class Router(SnmpPlugin):
    """UP when sysUpTime grows between two reads a moment apart."""

    def __init__(self, client, conf):
        super().__init__(client, conf)
        longest = self.uptime_interval + 2 * self.snmp.timeout * (
            self.snmp.retries + 1)
        if type(self) is Router and self.poll_timeout < longest:
            # Said once, at start: otherwise each slow but healthy router
            # would only show up as DOWN.
            LOG.warning('[monitor] poll_timeout (%s s) is shorter than a '
                        'router\'s poll may take (uptime_interval + two '
                        'reads of request_timeout x (retries + 1): %s s): '
                        'routers that answer slowly will be reported DOWN',
                        self.poll_timeout, longest)

    def where(self, props):
        return 'router %s' % (props.get('ip'),)

    async def probe_async(self, props, abort):
        address, community = self._props(props, 'ip')
        first = _integer(await self.snmp.get_async(address, community,
                                                   SYS_UPTIME),
                         'sysUpTime of %s' % address)
        await asyncio.sleep(self.uptime_interval)
        if abort.is_set():
            raise exceptions.JobInterrupted()
        second = _integer(await self.snmp.get_async(address, community,
                                                    SYS_UPTIME),
                          'sysUpTime of %s' % address)
        return second > first


class Switch(Router):

    def where(self, props):
        return 'switch %s' % (props.get('ip'),)


class PhysicalPort(SnmpPlugin):
    """UP when the interface named ``name`` has ifOperStatus up(1)."""

    def where(self, props):
        return 'interface %s of %s' % (
            exceptions.short(props.get('name')),
            exceptions.short(props.get('device_ip')))

    async def probe_async(self, props, abort):
        address, community, name = self._props(props, 'device_ip', 'name')
        wanted = str(name)
        found = await self.snmp.find_async(
            address, community, IF_NAME,
            lambda value: str(value) == wanted)
        if found is None:
            raise InterfaceMissing('%s: no interface named %s' % (
                address, wanted if wanted.isprintable() and len(wanted) <= 60
                else exceptions.short(wanted)))
        index = found[0].rsplit('.', 1)[1]
        status = await self.snmp.get_async(
            address, community, '%s.%s' % (IF_OPER_STATUS, index))
        return _integer(status, 'ifOperStatus of %s' % address) == 1


class LogicalPort(PhysicalPort):
    """UP when the logical interface ``name`` has ifOperStatus up(1).

    A VLAN unit of a switch port, such as xe-0/0/3.1025 (an ESE logical
    port): JunOS lists each unit in ifName as an interface of its own.
    """

    def where(self, props):
        return 'logical interface %s of %s' % (
            exceptions.short(props.get('name')),
            exceptions.short(props.get('device_ip')))

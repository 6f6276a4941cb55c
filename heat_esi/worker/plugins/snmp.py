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
import ipaddress
import time

from oslo_log import log as logging

from heat_esi import conf as esi_conf
from heat_esi import exceptions
from heat_esi import states
from heat_esi.worker import plugins
from heat_esi.worker.plugins import base

LOG = logging.getLogger(__name__)

SYS_UPTIME = '1.3.6.1.2.1.1.3.0'
IF_NAME = '1.3.6.1.2.1.31.1.1.1.1'
IF_OPER_STATUS = '1.3.6.1.2.1.2.2.1.8'


class NoAnswer(exceptions.EsiError):
    """The device did not answer, or answered with an SNMP error."""


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
    """SNMP v2c reads with pysnmp's asyncio API, from a worker thread."""

    def __init__(self, conf):
        self.port = conf.snmp.port
        self.timeout = conf.snmp.request_timeout
        self.retries = conf.snmp.retries
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

    def get(self, host, community, oid):
        address = self.address(host)
        return asyncio.run(self._get(address, community, oid))

    def walk(self, host, community, oid):
        address = self.address(host)
        return asyncio.run(self._walk(address, community, oid))

    async def _target(self, address):
        from pysnmp.hlapi.v3arch import asyncio as hlapi
        transport = (hlapi.Udp6TransportTarget if address.version == 6
                     else hlapi.UdpTransportTarget)
        return await transport.create(
            (str(address), self.port), timeout=self.timeout,
            retries=self.retries)

    async def _get(self, host, community, oid):
        from pysnmp.hlapi.v3arch import asyncio as hlapi
        engine = hlapi.SnmpEngine()
        try:
            err, status, index, binds = await hlapi.get_cmd(
                engine, hlapi.CommunityData(community, mpModel=1),
                await self._target(host), hlapi.ContextData(),
                hlapi.ObjectType(hlapi.ObjectIdentity(oid)))
        finally:
            engine.close_dispatcher()
        if err or status:
            raise failure('%s:%s' % (host, self.port), self.timeout, err,
                          status)
        return binds[0][1]

    async def _walk(self, host, community, oid):
        from pysnmp.hlapi.v3arch import asyncio as hlapi
        engine = hlapi.SnmpEngine()
        found = []
        try:
            async for err, status, index, binds in hlapi.walk_cmd(
                    engine, hlapi.CommunityData(community, mpModel=1),
                    await self._target(host), hlapi.ContextData(),
                    hlapi.ObjectType(hlapi.ObjectIdentity(oid)),
                    lexicographicMode=False):
                if err or status:
                    raise failure('%s:%s' % (host, self.port),
                                  self.timeout, err, status)
                found += [(str(name), value) for name, value in binds]
        finally:
            engine.close_dispatcher()
        return found


class SnmpPlugin(base.Plugin):
    """A device element over SNMP.

    check() answers a job, retrying until the element's timeout; poll()
    answers the monitor once, UP or DOWN and why.
    """

    def __init__(self, client, conf):
        self.snmp = Snmp(conf)
        self.check_timeout = conf.snmp.check_timeout
        self.uptime_interval = conf.snmp.uptime_interval

    def _probe(self, props, abort):
        raise NotImplementedError()

    def where(self, props):
        raise NotImplementedError()

    def address(self, props):
        """Return the device's address, for messages."""
        return props.get('ip') or props.get('device_ip') or '?'

    def poll(self, props, abort):
        """Return (UP or DOWN, why it is DOWN), from one probe."""
        try:
            if self._probe(props, abort):
                return states.UP, ''
            return states.DOWN, '%s answers but is not up' % self.where(props)
        except NoAnswer as exc:
            return states.DOWN, str(exc)
        except InterfaceMissing as exc:
            return states.DOWN, str(exc)

    def check(self, props, abort, read=None):
        """Return 'ACTIVE' once a probe finds the device up.

        :raises JobFailed: it is not up within the element's timeout.
        """
        timeout = plugins.seconds(props, 'timeout', self.check_timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._probe(props, abort):
                    return states.ACTIVE
                why = 'it answers but is not up'
            except NoAnswer as exc:
                why = str(exc)
            if time.monotonic() >= deadline:
                raise exceptions.JobFailed(
                    '%s is not UP after %s s: %s'
                    % (self.where(props), timeout, why))
            if abort.wait(min(1.0, max(0, deadline - time.monotonic()))):
                raise exceptions.JobInterrupted()


def allowed_networks(conf):
    """Return [snmp] allowed_networks as ip_network objects.

    :raises ValueError: naming the entry that is not a CIDR.
    """
    return esi_conf.parse_networks(conf.snmp.allowed_networks or [],
                                   '[snmp] allowed_networks')


class Router(SnmpPlugin):
    """UP when sysUpTime grows between two reads a moment apart."""

    def where(self, props):
        return 'router %s' % (props.get('ip'),)

    def _probe(self, props, abort):
        try:
            host = props['ip']
            community = self.snmp.community(props['community_name'])
        except KeyError as exc:
            raise exceptions.JobFailed('missing property %s' % exc)
        first = int(self.snmp.get(host, community, SYS_UPTIME))
        if abort.wait(self.uptime_interval):
            raise exceptions.JobInterrupted()
        second = int(self.snmp.get(host, community, SYS_UPTIME))
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

    def _probe(self, props, abort):
        try:
            host, name = props['device_ip'], props['name']
            community = self.snmp.community(props['community_name'])
        except KeyError as exc:
            raise exceptions.JobFailed('missing property %s' % exc)
        for oid, value in self.snmp.walk(host, community, IF_NAME):
            if str(value) == name:
                index = oid.rsplit('.', 1)[1]
                status = self.snmp.get(host, community,
                                       '%s.%s' % (IF_OPER_STATUS, index))
                return int(status) == 1
        raise InterfaceMissing('%s: no interface named %s' % (host, name))

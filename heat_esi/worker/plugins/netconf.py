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

"""NETCONF resource plugins: bgp_session and vrrp_session.

They ask the edge router, as ESI's plugins did, with JUNOS's RPCs:

``bgp_session`` (get-bgp-summary-information): ESTABLISHED when the BGP
session with the peer is Established. Properties:

- ``device_ip`` (or ESI's ``host``): the router's management address;
- ``device_port`` (or ESI's ``port``): its NETCONF port, optional (the
  edge router's ssh_port);
- ``peer_ip`` (or ESI's ``peer_address``): the BGP neighbor;
- ``instance``: the routing instance (vrf_name), optional;
- ``timeout`` (seconds a job keeps asking, default 300, ESI's) and
  ``time_between_retries`` (default 5).

``vrrp_session`` (get-vrrp-information): the wanted state when the VRRP
group on the logical interface is in it. Properties:

- ``device_ip``/``host``, ``device_port``/``port`` as above;
- ``interface``: the logical interface (ae0.1025);
- ``group`` (or ESI's ``vrid``): the VRRP group;
- ``wanted_status``: master (default) or backup;
- ``timeout``, ``time_between_retries`` as above.

A job's check answers ``ESTABLISHED``, or ``master``/``backup`` as wanted
(what ESI's state_monitoring shows); a poll answers ``ESTABLISHED``,
``MASTER`` or ``BACKUP`` (what ESI's /monitoring shows), or DOWN and why.

The login and password are the edge router's, read from its /config by
the address (heat_esi.netconf.credentials): a template's ``login`` and
``password`` properties, which ESI's templates had, are not used.
"""

import time

from heat_esi import exceptions
from heat_esi import netconf
from heat_esi import states
from heat_esi.worker import plugins
from heat_esi.worker.plugins import base

DEFAULT_TIMEOUT = 300.0
DEFAULT_INTERVAL = 5.0
MIN_INTERVAL = 0.05


def _first(props, *names, **kwargs):
    for name in names:
        value = props.get(name)
        if value not in (None, ''):
            return value
    if kwargs.get('required', True):
        raise exceptions.JobFailed('missing property %s' % ' or '.join(
            '"%s"' % n for n in names))
    return None


class NetconfPlugin(base.Plugin):
    """An element a router answers over NETCONF."""

    def __init__(self, client, conf):
        self.client = client
        self.conf = conf
        self.timeout = conf.netconf.timeout
        self.poll_timeout = conf.monitor.poll_timeout

    def address(self, props):
        return props.get('device_ip') or props.get('host')

    def _device(self, props, timeout):
        host = _first(props, 'device_ip', 'host')
        port = _first(props, 'device_port', 'port', required=False)
        try:
            device = netconf.device_for(self.client, self.conf, str(host),
                                        port)
        except exceptions.NetconfError as exc:
            raise exceptions.JobFailed(str(exc))
        device.timeout = min(device.timeout, timeout)
        return device

    def state(self, props, timeout):
        """(state for a job, state for a poll) now, or (None, why)."""
        raise NotImplementedError()

    def check(self, props, clock, read=None):
        """Return the element's healthy state once the router says so.

        :raises JobFailed: not so within the element's timeout.
        """
        timeout = plugins.seconds(props, 'timeout', DEFAULT_TIMEOUT)
        interval = max(plugins.seconds(props, 'time_between_retries',
                                       DEFAULT_INTERVAL), MIN_INTERVAL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                found, why = self.state(props, min(self.timeout, max(
                    1.0, deadline - time.monotonic())))
            except exceptions.NetconfError as exc:
                found, why = None, str(exc)
            if found is not None:
                return found[0]
            if time.monotonic() + interval > deadline:
                raise exceptions.JobFailed('%s after %g s' % (why, timeout))
            if clock.wait(interval):
                raise exceptions.JobInterrupted()

    def poll(self, props, abort):
        """Return (ESTABLISHED|MASTER|BACKUP, '') or (DOWN, why)."""
        try:
            found, why = self.state(props, self.poll_timeout)
        except exceptions.NetconfError as exc:
            return states.DOWN, str(exc)
        if found is None:
            return states.DOWN, why
        return found[1], ''


class BgpSession(NetconfPlugin):
    """ESTABLISHED when the router's BGP session with the peer is."""

    def state(self, props, timeout):
        peer = str(_first(props, 'peer_ip', 'peer_address')).strip()
        instance = _first(props, 'instance', required=False)
        device = self._device(props, timeout)
        request = '<get-bgp-summary-information>%s' \
                  '</get-bgp-summary-information>' % (
                      '<instance>%s</instance>' % _xml(instance)
                      if instance else '')
        info = device.rpc(request)
        for entry in info.iter('bgp-peer'):
            address = (entry.findtext('peer-address') or '').strip()
            # JUNOS writes an address with its port as 192.0.2.1+179.
            if address.split('+')[0] != peer:
                continue
            state = (entry.findtext('peer-state') or '').strip()
            if state == 'Established':
                return (states.ESTABLISHED, states.ESTABLISHED), ''
            return None, 'the BGP session of %s with %s is %s' % (
                device.where, peer, exceptions.short(state))
        return None, '%s has no BGP peer %s%s' % (
            device.where, peer, ' in instance %s' % instance
            if instance else '')


class VrrpSession(NetconfPlugin):
    """master or backup, as wanted, when the router's VRRP group is."""

    def state(self, props, timeout):
        interface = str(_first(props, 'interface')).strip()
        group = str(_first(props, 'group', 'vrid')).strip()
        wanted = str(props.get('wanted_status') or 'master').strip().lower()
        if wanted not in ('master', 'backup'):
            raise exceptions.JobFailed('"wanted_status" must be master or '
                                       'backup, not %s'
                                       % exceptions.short(wanted))
        device = self._device(props, timeout)
        info = device.rpc('<get-vrrp-information/>')
        for entry in info.iter('vrrp-interface'):
            if ((entry.findtext('interface') or '').strip() != interface or
                    (entry.findtext('group') or '').strip() != group):
                continue
            state = (entry.findtext('vrrp-state') or '').strip().lower()
            if state == wanted:
                return (wanted, wanted.upper()), ''
            return None, 'VRRP group %s on %s of %s is %s, not %s' % (
                group, interface, device.where, exceptions.short(state),
                wanted)
        return None, '%s has no VRRP group %s on %s' % (
            device.where, group, interface)


def _xml(text):
    return (str(text).replace('&', '&amp;').replace('<', '&lt;')
            .replace('>', '&gt;'))

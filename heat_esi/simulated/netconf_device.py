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

"""A NETCONF test device: a JUNOS-like router's NETCONF server on loopback.

A real NETCONF server over SSH (paramiko, subsystem ``netconf``) that keeps
a candidate and a running configuration rooted at ``<configuration>`` as
JUNOS does, for the tests and the demo of ESI::Netconf::NamedConfigs and
of the bgp_session / vrrp_session monitoring plugins:

- hello with base:1.0 and base:1.1 (end-of-message framing ``]]>]]>``, then
  chunked framing when both sides speak 1.1) and :candidate;
- lock/unlock of the candidate, edit-config to the candidate (merge by
  default; ``operation="delete"|"replace"|"merge"|"create"`` on elements),
  commit, discard-changes, get-config (running or candidate, optional
  subtree filter), close-session;
- JUNOS's get-bgp-summary-information and get-vrrp-information, answering
  with the sessions of the BGP neighbors and VRRP groups of the running
  configuration, in states a test sets (set_bgp_peer, set_vrrp);
- refusals as JUNOS answers them (rpc-error with an error-message): the next
  commit (refuse_next_commit) or any commit of a configuration holding the
  refuse marker.

Each session runs in a thread of a pool: several clients at once, and two
devices are two routers. The host key is generated at each start.

``python -m heat_esi.simulated.netconf_device --port N --username U
--password P`` runs one until interrupted (it prints "ready" once it
listens).

This module sits in the simulated plugin directory, which heat-engine
imports: it defines no resource and starts nothing on import.
"""

import argparse
from concurrent import futures
import copy
import hmac
import itertools
import signal
import socket
import sys
import threading
import time

from lxml import etree
import paramiko

from heat_esi import junos

BASE_NS = 'urn:ietf:params:xml:ns:netconf:base:1.0'
BASE_10 = 'urn:ietf:params:netconf:base:1.0'
BASE_11 = 'urn:ietf:params:netconf:base:1.1'
CAPABILITIES = (
    BASE_10, BASE_11,
    'urn:ietf:params:netconf:capability:candidate:1.0',
    'urn:ietf:params:netconf:capability:validate:1.0',
    'http://xml.juniper.net/netconf/junos/1.0',
)
EOM = b']]>]]>'
# A prefix, not the default namespace: the router's own elements inside a
# reply (<configuration>, <bgp-information>) are in no namespace.
NSMAP = {'nc': BASE_NS}
BGP_STATES = ('Established', 'Active', 'Connect', 'Idle', 'OpenSent',
              'OpenConfirm')
VRRP_STATES = ('master', 'backup', 'init', 'idle')
# Bytes a message may have: a test device must not be made to eat memory.
MAX_MESSAGE = 4 * 1024 * 1024
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True,
                          remove_blank_text=True, huge_tree=False)


def _q(tag):
    return '{%s}%s' % (BASE_NS, tag)


def _local(element):
    return etree.QName(element).localname


def _child(element, name):
    """The child of *element* whose local name is *name*, or None.

    Clients differ in whether they qualify the elements inside an
    operation with the base namespace; JUNOS takes both.
    """
    for child in element:
        if isinstance(child.tag, str) and _local(child) == name:
            return child
    return None


class RpcError(Exception):
    """An rpc-error to answer, as JUNOS words it."""

    def __init__(self, message, tag='operation-failed', kind='application',
                 info=None):
        super().__init__(message)
        self.message = message
        self.tag = tag
        self.kind = kind
        self.info = info or {}

    def element(self):
        error = etree.Element(_q('rpc-error'))
        etree.SubElement(error, _q('error-type')).text = self.kind
        etree.SubElement(error, _q('error-tag')).text = self.tag
        etree.SubElement(error, _q('error-severity')).text = 'error'
        etree.SubElement(error, _q('error-message')).text = self.message
        if self.info:
            info = etree.SubElement(error, _q('error-info'))
            for name, value in self.info.items():
                etree.SubElement(info, _q(name)).text = str(value)
        return error


class _Server(paramiko.ServerInterface):
    """One SSH connection: password login, one netconf subsystem."""

    def __init__(self, device):
        self.device = device
        self.subsystem = threading.Event()
        self.user = None

    def get_allowed_auths(self, username):
        return 'password'

    def check_auth_password(self, username, password):
        if (hmac.compare_digest(username.encode(),
                                self.device.username.encode()) and
                hmac.compare_digest(password.encode(),
                                    self.device.password.encode())):
            self.user = username
            return paramiko.AUTH_SUCCESSFUL
        self.device._count('auth_failures')
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == 'session':
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel, name):
        if name == 'netconf':
            self.subsystem.set()
            return True
        return False


class _Framing(object):
    """Reads and writes NETCONF messages on a channel (RFC 6242)."""

    def __init__(self, channel):
        self.channel = channel
        self.buffer = b''
        self.chunked = False

    def _more(self):
        data = self.channel.recv(65536)
        if not data:
            raise EOFError()
        self.buffer += data
        if len(self.buffer) > MAX_MESSAGE:
            raise EOFError()

    def read(self):
        if not self.chunked:
            while EOM not in self.buffer:
                self._more()
            message, self.buffer = self.buffer.split(EOM, 1)
            return message
        parts = []
        while True:
            while True:
                if len(self.buffer) >= 2 and \
                        not self.buffer.startswith(b'\n#'):
                    raise EOFError()
                end = self.buffer.find(b'\n', 2)
                if end != -1:
                    break
                if len(self.buffer) > 16:
                    raise EOFError()
                self._more()
            header = self.buffer[2:end]
            if header == b'#':
                self.buffer = self.buffer[end + 1:]
                return b''.join(parts)
            if not header.isdigit() or int(header) > MAX_MESSAGE:
                raise EOFError()
            size = int(header)
            while len(self.buffer) < end + 1 + size:
                self._more()
            parts.append(self.buffer[end + 1:end + 1 + size])
            self.buffer = self.buffer[end + 1 + size:]

    def write(self, element):
        data = etree.tostring(element, xml_declaration=True,
                              encoding='UTF-8')
        if self.chunked:
            data = b'\n#%d\n%s\n##\n' % (len(data), data)
        else:
            data += EOM
        self.channel.sendall(data)


class NetconfDevice(object):
    """A NETCONF test router on loopback; see the module docstring."""

    def __init__(self, username='esi', password='esiesi0000',
                 host='127.0.0.1', port=0, name='router', workers=8,
                 refuse_marker='REFUSED-BY-TEST-DEVICE',
                 bgp_default='Established'):
        self.username = username
        self.password = password
        self.host = host
        self.port = port
        self.name = name
        self.refuse_marker = refuse_marker
        self.bgp_default = bgp_default
        self.counts = {'sessions': 0, 'commits': 0, 'auth_failures': 0,
                       'refused': 0}
        self.host_key = None
        self._data = threading.Lock()
        self._running = etree.Element('configuration')
        self._candidate = etree.Element('configuration')
        self._lock_owner = None
        self._refusals = []
        self._bgp = {}      # (instance or None, peer ip) -> state
        self._vrrp = {}     # (logical interface, group) -> state
        self._session_ids = itertools.count(1)
        self._sock = None
        self._pool = None
        self._accepting = None
        self._transports = set()
        self._stopping = threading.Event()

    # --- the test's API ----------------------------------------------------

    def start(self):
        """Listen, and return the port."""
        self.host_key = paramiko.ECDSAKey.generate()
        self._stopping.clear()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, self.port))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._pool = futures.ThreadPoolExecutor(
            max_workers=8, thread_name_prefix='netconf-%s' % self.name)
        self._accepting = threading.Thread(
            target=self._accept, name='netconf-accept-%s' % self.name,
            daemon=True)
        self._accepting.start()
        return self.port

    def stop(self):
        """Close the port and every session; wait for their threads."""
        self._stopping.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        for transport in list(self._transports):
            transport.close()
        if self._accepting is not None:
            self._accepting.join(10)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._sock = self._pool = self._accepting = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def known_hosts_line(self):
        """This device's line for an OpenSSH known_hosts file."""
        return '[%s]:%d %s %s\n' % (self.host, self.port,
                                    self.host_key.get_name(),
                                    self.host_key.get_base64())

    def running(self):
        """A copy of the running configuration (<configuration>)."""
        with self._data:
            return copy.deepcopy(self._running)

    def candidate(self):
        with self._data:
            return copy.deepcopy(self._candidate)

    def running_text(self):
        """The running configuration as ``show configuration`` prints it."""
        return junos.to_text(self.running())

    def load_running(self, configuration):
        """Replace both configurations (the router's own, before a test)."""
        if isinstance(configuration, str):
            root = etree.Element('configuration')
            for element in junos.parse_text(configuration):
                root.append(element)
            configuration = root
        with self._data:
            self._running = copy.deepcopy(configuration)
            self._candidate = copy.deepcopy(configuration)

    def set_bgp_peer(self, peer_ip, state, instance=None):
        """Set the state of the BGP session with *peer_ip*."""
        if state not in BGP_STATES:
            raise ValueError('BGP state must be one of %s' % (BGP_STATES,))
        with self._data:
            self._bgp[(instance, peer_ip)] = state

    def set_vrrp(self, interface, group, state):
        """Set the state of VRRP *group* on logical *interface* (ae0.1025)."""
        if state not in VRRP_STATES:
            raise ValueError('VRRP state must be one of %s' % (VRRP_STATES,))
        with self._data:
            self._vrrp[(interface, str(group))] = state

    def refuse_next_commit(self, message):
        """The next commit fails with *message*, as JUNOS's would."""
        with self._data:
            self._refusals.append(message)

    def _count(self, what):
        with self._data:
            self.counts[what] += 1

    # --- sessions ----------------------------------------------------------

    def _accept(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            try:
                self._pool.submit(self._serve, conn)
            except RuntimeError:
                conn.close()
                return

    def _serve(self, conn):
        transport = paramiko.Transport(conn)
        self._transports.add(transport)
        session_id = next(self._session_ids)
        try:
            transport.add_server_key(self.host_key)
            server = _Server(self)
            try:
                transport.start_server(server=server)
            except (paramiko.SSHException, EOFError, OSError):
                return
            channel = self._opened(transport, server)
            if channel is None:
                return
            self._count('sessions')
            try:
                self._session(channel, session_id)
            except (EOFError, OSError, socket.timeout):
                pass
            finally:
                with self._data:
                    if self._lock_owner == session_id:
                        # JUNOS discards a lock holder's uncommitted changes
                        # when its session ends.
                        self._lock_owner = None
                        self._candidate = copy.deepcopy(self._running)
                channel.close()
        finally:
            self._transports.discard(transport)
            transport.close()

    def _opened(self, transport, server, patience=20.0):
        """The channel of the netconf subsystem, or None.

        In short waits: a client that failed to log in leaves the transport
        open, and stop() must not wait for it.
        """
        deadline = time.monotonic() + patience
        channel = None
        while channel is None or not server.subsystem.is_set():
            if (self._stopping.is_set() or not transport.is_active() or
                    time.monotonic() > deadline):
                return None
            if channel is None:
                channel = transport.accept(0.2)
            else:
                server.subsystem.wait(0.2)
        return channel

    def _session(self, channel, session_id):
        framing = _Framing(channel)
        hello = etree.Element(_q('hello'), nsmap=NSMAP)
        caps = etree.SubElement(hello, _q('capabilities'))
        for cap in CAPABILITIES:
            etree.SubElement(caps, _q('capability')).text = cap
        etree.SubElement(hello, _q('session-id')).text = str(session_id)
        framing.write(hello)
        theirs = etree.fromstring(framing.read(), _PARSER)
        offered = [(c.text or '').strip() for c in theirs.iter(
            _q('capability'))]
        framing.chunked = BASE_11 in offered
        while not self._stopping.is_set():
            try:
                rpc = etree.fromstring(framing.read(), _PARSER)
            except etree.XMLSyntaxError:
                reply = etree.Element(_q('rpc-reply'), nsmap=NSMAP)
                reply.append(RpcError('malformed XML', 'malformed-message',
                                      'rpc').element())
                framing.write(reply)
                continue
            reply = etree.Element(_q('rpc-reply'), nsmap=NSMAP)
            for name, value in rpc.attrib.items():
                reply.set(name, value)
            operation = next(iter(rpc), None)
            closing = operation is not None and _local(operation) in (
                'close-session',)
            try:
                if operation is None:
                    raise RpcError('empty rpc', 'missing-element', 'rpc')
                for element in self._operate(operation, session_id):
                    reply.append(element)
            except RpcError as exc:
                reply.append(exc.element())
            framing.write(reply)
            if closing:
                return

    # --- operations --------------------------------------------------------

    def _operate(self, operation, session_id):
        name = _local(operation)
        handler = getattr(self, '_op_' + name.replace('-', '_'), None)
        if handler is None:
            raise RpcError('syntax error, expecting <rpc> operation: %s is '
                           'not supported by this device' % name,
                           'operation-not-supported', 'protocol')
        with self._data:
            return handler(operation, session_id)

    @staticmethod
    def _ok():
        return [etree.Element(_q('ok'))]

    @staticmethod
    def _target(operation, what='target'):
        target = _child(operation, what)
        if target is None or len(target) != 1:
            raise RpcError('<%s> missing' % what, 'missing-element', 'rpc')
        return _local(target[0])

    def _held_by_other(self, session_id):
        if self._lock_owner not in (None, session_id):
            raise RpcError('configuration database locked by session %s'
                           % self._lock_owner, 'in-use', 'protocol',
                           {'session-id': self._lock_owner})

    def _op_lock(self, operation, session_id):
        if self._target(operation) != 'candidate':
            raise RpcError('only the candidate can be locked',
                           'operation-not-supported', 'protocol')
        if self._lock_owner is not None:
            raise RpcError('configuration database locked by session %s'
                           % self._lock_owner, 'lock-denied', 'protocol',
                           {'session-id': self._lock_owner})
        if self._candidate_changed():
            raise RpcError('configuration database modified',
                           'lock-denied', 'protocol',
                           {'session-id': 0})
        self._lock_owner = session_id
        return self._ok()

    def _candidate_changed(self):
        return etree.tostring(self._candidate) != etree.tostring(
            self._running)

    def _op_unlock(self, operation, session_id):
        if self._lock_owner != session_id:
            raise RpcError('configuration database not locked by this '
                           'session', 'operation-failed', 'protocol')
        self._lock_owner = None
        return self._ok()

    def _op_edit_config(self, operation, session_id):
        if self._target(operation) != 'candidate':
            raise RpcError('edit-config supports the candidate only',
                           'operation-not-supported', 'protocol')
        self._held_by_other(session_id)
        default = _child(operation, 'default-operation')
        default = 'merge' if default is None else (default.text or '').strip()
        if default not in ('merge', 'replace', 'none'):
            raise RpcError('bad default-operation %s' % default,
                           'invalid-value', 'protocol')
        config = _child(operation, 'config')
        if config is None:
            raise RpcError('<config> missing', 'missing-element', 'rpc')
        roots = [c for c in config if _local(c) == 'configuration']
        if len(roots) != 1:
            raise RpcError('<config> must hold one <configuration>',
                           'bad-element', 'application')
        work = copy.deepcopy(self._candidate)
        if default == 'replace':
            work = etree.Element('configuration')
        _merge(work, roots[0], default)
        self._candidate = work
        return self._ok()

    def _op_commit(self, operation, session_id):
        self._held_by_other(session_id)
        if self._refusals:
            self.counts['refused'] += 1
            raise RpcError(self._refusals.pop(0))
        if self.refuse_marker and self.refuse_marker.encode() in \
                etree.tostring(self._candidate):
            self.counts['refused'] += 1
            raise RpcError('configuration check-out failed: %s is not '
                           'allowed here' % self.refuse_marker)
        self._running = copy.deepcopy(self._candidate)
        self.counts['commits'] += 1
        return self._ok()

    def _op_discard_changes(self, operation, session_id):
        self._held_by_other(session_id)
        self._candidate = copy.deepcopy(self._running)
        return self._ok()

    def _op_get_config(self, operation, session_id):
        source = self._target(operation, 'source')
        if source not in ('running', 'candidate'):
            raise RpcError('no %s datastore' % source, 'invalid-value',
                           'protocol')
        config = self._running if source == 'running' else self._candidate
        flt = _child(operation, 'filter')
        data = etree.Element(_q('data'))
        if flt is None or len(flt) == 0:
            data.append(copy.deepcopy(config))
        else:
            for top in flt:
                if _local(top) == 'configuration':
                    data.append(_subtree(config, top))
        return [data]

    def _op_close_session(self, operation, session_id):
        return self._ok()

    def _op_get_bgp_summary_information(self, operation, session_id):
        wanted = operation.findtext('instance')
        info = etree.Element('bgp-information')
        peers = self._bgp_peers(wanted)
        etree.SubElement(info, 'peer-count').text = str(len(peers))
        etree.SubElement(info, 'down-peer-count').text = str(
            sum(1 for p in peers if p[2] != 'Established'))
        for instance, address, state, peer_as in peers:
            peer = etree.SubElement(info, 'bgp-peer')
            etree.SubElement(peer, 'peer-address').text = address
            etree.SubElement(peer, 'peer-as').text = peer_as or ''
            etree.SubElement(peer, 'peer-state').text = state
            if instance:
                etree.SubElement(peer, 'peer-instance').text = instance
        return [info]

    def _bgp_peers(self, wanted):
        """(instance, address, state, peer-as) of each configured peer."""
        peers = []
        seen = set()
        for instance_el in self._running.iterfind(
                'routing-instances/instance'):
            instance = instance_el.findtext('name')
            for group in instance_el.iterfind('protocols/bgp/group'):
                for neighbor in group.iterfind('neighbor'):
                    address = (neighbor.findtext('name') or '').strip()
                    peers.append((instance, address, group.findtext(
                        'peer-as')))
        for group in self._running.iterfind('protocols/bgp/group'):
            for neighbor in group.iterfind('neighbor'):
                peers.append((None, neighbor.findtext('name'),
                              group.findtext('peer-as')))
        for (instance, address), state in self._bgp.items():
            if not any(p[1] == address and (instance is None or
                                            p[0] == instance)
                       for p in peers):
                peers.append((instance, address, None))
        result = []
        for instance, address, peer_as in peers:
            if wanted and instance != wanted:
                continue
            if (instance, address) in seen:
                continue
            seen.add((instance, address))
            state = self._bgp.get((instance, address),
                                  self._bgp.get((None, address),
                                                self.bgp_default))
            result.append((instance, address, state, peer_as))
        return result

    def _op_get_vrrp_information(self, operation, session_id):
        info = etree.Element('vrrp-information')
        for interface, group, state, vip in self._vrrp_groups():
            entry = etree.SubElement(info, 'vrrp-interface')
            etree.SubElement(entry, 'interface').text = interface
            etree.SubElement(entry, 'interface-state').text = 'up'
            etree.SubElement(entry, 'group').text = group
            etree.SubElement(entry, 'vrrp-state').text = state
            etree.SubElement(entry, 'vrrp-mode').text = 'Active'
            if vip:
                etree.SubElement(entry, 'virtual-ip-address').text = vip
        return [info]

    def _vrrp_groups(self):
        """(interface, group, state, vip) of each configured VRRP group.

        A group's state is what the test set, else master when its priority
        is above 100 (VRRP's default) and backup otherwise.
        """
        found = {}
        for interface in self._running.iterfind('interfaces/interface'):
            for unit in interface.iterfind('unit'):
                logical = '%s.%s' % (interface.findtext('name'),
                                     unit.findtext('name'))
                for group in unit.iterfind('family/inet/address/vrrp-group'):
                    number = (group.findtext('name') or '').strip()
                    try:
                        priority = int(group.findtext('priority') or 100)
                    except ValueError:
                        priority = 100
                    found[(logical, number)] = (
                        'master' if priority > 100 else 'backup',
                        group.findtext('virtual-address'))
        for (logical, number), state in self._vrrp.items():
            found.setdefault((logical, number), (state, None))
        return [(logical, number,
                 self._vrrp.get((logical, number), state), vip)
                for (logical, number), (state, vip) in sorted(found.items())]


def _operation(element):
    for name in (_q('operation'), 'operation'):
        value = element.get(name)
        if value is not None:
            return value
    return None


def _plain(element):
    """*element* without the operation attributes, deeply."""
    copy_ = copy.deepcopy(element)
    for node in copy_.iter():
        for name in (_q('operation'), 'operation'):
            if name in node.attrib:
                del node.attrib[name]
    etree.cleanup_namespaces(copy_)
    return copy_


def _find(parent, element):
    wanted = junos.key(element)
    for child in parent:
        if isinstance(child.tag, str) and junos.key(child) == wanted:
            return child
    return None


def _merge(target, source, default):
    """Apply edit-config *source*'s children to *target* (RFC 6241 7.2).

    Returns whether something was deleted: a container that a delete left
    empty goes too, as on JUNOS, where an empty container is no statement.
    """
    deleted = False
    for element in source:
        if not isinstance(element.tag, str):
            continue
        op = _operation(element) or default
        existing = _find(target, element)
        where = '/'.join(str(part) for part in junos.key(element))
        if op in ('delete', 'remove'):
            if existing is None:
                if op == 'delete':
                    raise RpcError('statement not found: %s' % where,
                                   'data-missing', 'application')
                continue
            target.remove(existing)
            deleted = True
        elif op == 'replace':
            if existing is not None:
                target.replace(existing, _plain(element))
            else:
                target.append(_plain(element))
        elif op == 'create' and existing is not None:
            raise RpcError('statement exists: %s' % where, 'data-exists',
                           'application')
        elif op in ('merge', 'create', 'none'):
            if existing is None:
                if op == 'none':
                    _merge(etree.Element(element.tag), element, 'none')
                    continue
                existing = etree.SubElement(target, element.tag)
            children = [c for c in element if isinstance(c.tag, str)]
            if not children:
                if element.text is not None and element.text.strip():
                    existing.text = element.text.strip()
            elif _merge(existing, element,
                        'merge' if op != 'none' else 'none'):
                deleted = True
                if len(existing) == 0 and not (existing.text or '').strip():
                    target.remove(existing)
        else:
            raise RpcError('bad operation %s' % op, 'bad-attribute',
                           'application')
    return deleted


def _subtree(data, flt):
    """The part of *data* that subtree filter *flt* selects (RFC 6241 6)."""
    result = etree.Element(data.tag)
    for node in flt:
        if not isinstance(node.tag, str):
            continue
        children = [c for c in node if isinstance(c.tag, str)]
        matches = [d for d in data if isinstance(d.tag, str) and
                   d.tag == node.tag]
        if not children:
            text = (node.text or '').strip()
            for match in matches:
                if not text or (match.text or '').strip() == text:
                    result.append(copy.deepcopy(match))
            continue
        content = [c for c in children if len(c) == 0 and
                   (c.text or '').strip()]
        others = [c for c in children if c not in content]
        for match in matches:
            if not all((match.findtext(c.tag) or '').strip() ==
                       c.text.strip() for c in content):
                continue
            if not others:
                result.append(copy.deepcopy(match))
                continue
            inner = etree.Element(node.tag)
            for other in others:
                inner.append(copy.deepcopy(other))
            sub = _subtree(match, inner)
            for c in content:
                sub.insert(0, copy.deepcopy(match.find(c.tag)))
            if len(sub):
                result.append(sub)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='A NETCONF test device (JUNOS-like) on loopback.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--username', default='esi')
    parser.add_argument('--password', default='esiesi0000')
    parser.add_argument('--name', default='router')
    args = parser.parse_args(argv)
    device = NetconfDevice(args.username, args.password, args.host,
                           args.port, args.name)
    port = device.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    print('ready %s:%d' % (args.host, port), flush=True)
    try:
        done.wait()
    finally:
        device.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())

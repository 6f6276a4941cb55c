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

"""NETCONF to the edge routers: the one module behind which ncclient lives.

Device applies configuration as JUNOS wants it from an automaton: lock the
candidate, edit-config (merge), commit, unlock; and on any failure
discard-changes and unlock, so that a refused configuration leaves nothing
behind in the candidate. ncclient's and paramiko's errors become
heat_esi.exceptions (NetconfError and its kinds) here, naming the device
and what it answered, never the password.

The routers' logins and passwords are in the edge routers' /config only:
credentials() finds them there by the router's address.
"""

import contextlib
import logging as std_logging
import time

from lxml import etree
from oslo_log import log as logging

from heat_esi import exceptions
from heat_esi import junos
from heat_esi import keys
from heat_esi import records

LOG = logging.getLogger(__name__)
# ncclient logs at INFO each RPC it sends and each answer: the whole
# configuration, BGP keys included. heat-engine and esi-worker log INFO;
# only ncclient's warnings and errors are theirs to show.
std_logging.getLogger('ncclient').setLevel(std_logging.WARNING)

BASE_NS = 'urn:ietf:params:xml:ns:netconf:base:1.0'
# Seconds between two tries of a lock another session holds.
LOCK_RETRY = (0.1, 1.0)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True,
                          huge_tree=False)


class HostKeyPolicy(object):
    """How a session checks the router's SSH host key ([netconf])."""

    def __init__(self, verify=True, known_hosts_file=None):
        self.verify = verify
        self.known_hosts_file = known_hosts_file

    @classmethod
    def from_conf(cls, conf):
        return cls(conf.netconf.hostkey_verify,
                   conf.netconf.known_hosts_file)


class Device(object):
    """One router over NETCONF (SSH); a session per operation."""

    def __init__(self, host, port, username, password, hostkey_policy=None,
                 timeout=30.0):
        self.host = host
        self.port = int(port)
        self.username = username
        self._password = password
        self.hostkey_policy = hostkey_policy or HostKeyPolicy()
        self.timeout = timeout

    def __repr__(self):
        return 'Device(%s:%s, user %s)' % (
            self.host, self.port, self.username)

    @property
    def where(self):
        return '%s:%s' % (self.host, self.port)

    # --- errors ------------------------------------------------------------

    def _clean(self, text):
        """*text* without the password, should a library have put it in."""
        text = str(text)
        if self._password and self._password in text:
            text = text.replace(self._password, '***')
        return text

    def _error(self, exc):
        """The NetconfError of an ncclient, paramiko or socket error."""
        from ncclient import operations
        from ncclient import transport
        if isinstance(exc, exceptions.NetconfError):
            return exc
        if isinstance(exc, operations.RPCError):
            message = (exc.message or exc.tag or str(exc) or '').strip()
            return exceptions.NetconfRefused(
                self.where, self._clean(message or 'rpc-error'))
        if isinstance(exc, transport.AuthenticationError):
            return exceptions.NetconfAuthFailed(
                self.where, 'the router refused the login %s and its '
                'password (the edge router\'s login and password in its '
                '/config)' % self.username)
        if isinstance(exc, transport.SSHUnknownHostError):
            return exceptions.NetconfAuthFailed(
                self.where, 'the router\'s SSH host key is not known (%s); '
                'add it to [netconf] known_hosts_file'
                % self._clean(exc))
        if isinstance(exc, operations.TimeoutExpiredError):
            return exceptions.NetconfUnreachable(
                self.where, 'no answer within %s s ([netconf] timeout)'
                % self.timeout)
        return exceptions.NetconfUnreachable(
            self.where, '%s: %s' % (type(exc).__name__,
                                    self._clean(exc) or 'connection failed'))

    @contextlib.contextmanager
    def _translated(self):
        try:
            yield
        except exceptions.NetconfError:
            raise
        except Exception as exc:
            if not _is_transport_error(exc):
                raise
            raise self._error(exc) from None

    # --- sessions ----------------------------------------------------------

    def _connect(self):
        from ncclient import manager
        from ncclient import transport
        handler = manager.make_device_handler({'name': 'default'})
        session = transport.SSHSession(handler)
        policy = self.hostkey_policy
        if policy.verify and policy.known_hosts_file:
            session.load_known_hosts(policy.known_hosts_file)
        session.connect(self.host, self.port, timeout=self.timeout,
                        username=self.username, password=self._password,
                        hostkey_verify=policy.verify, allow_agent=False,
                        look_for_keys=False)
        return manager.Manager(session, handler, timeout=self.timeout)

    @contextlib.contextmanager
    def session(self):
        """A connected ncclient Manager, closed afterwards."""
        with self._translated():
            mgr = self._connect()
        try:
            with self._translated():
                yield mgr
        finally:
            try:
                mgr.close_session()
            except Exception as exc:
                # Closing is a courtesy; the result is already known.
                LOG.debug('NETCONF close of %s: %s', self.where,
                          self._clean(exc))

    def _lock(self, mgr, lock_timeout):
        """Lock the candidate, retrying while another session holds it."""
        from ncclient import operations
        deadline = time.monotonic() + (lock_timeout or 0)
        pause = LOCK_RETRY[0]
        while True:
            try:
                mgr.lock('candidate')
                return
            except operations.RPCError as exc:
                if exc.tag not in ('lock-denied', 'in-use') or \
                        time.monotonic() + pause > deadline:
                    raise exceptions.NetconfRefused(
                        self.where, 'the candidate configuration stays '
                        'locked (%s) after %s s (lock_timeout)'
                        % (self._clean(exc.message or exc.tag).strip(),
                           lock_timeout or 0))
            time.sleep(pause)
            pause = min(LOCK_RETRY[1], pause * 2)

    @contextlib.contextmanager
    def _locked(self, mgr, lock_timeout):
        """The candidate locked; discarded and unlocked on any failure."""
        self._lock(mgr, lock_timeout)
        try:
            yield
        except BaseException:
            try:
                mgr.discard_changes()
            except Exception as exc:
                LOG.warning('NETCONF discard-changes on %s failed: %s',
                            self.where, self._clean(exc))
            raise
        finally:
            try:
                mgr.unlock('candidate')
            except Exception as exc:
                # The session's end releases the lock anyway.
                LOG.debug('NETCONF unlock of %s: %s', self.where,
                          self._clean(exc))

    @staticmethod
    def _config(elements):
        config = etree.Element('{%s}config' % BASE_NS, nsmap={None: BASE_NS})
        configuration = etree.SubElement(config, 'configuration')
        for element in elements:
            configuration.append(etree.fromstring(etree.tostring(element)))
        return config

    # --- operations --------------------------------------------------------

    def apply(self, configs, lock_timeout=None, remove=()):
        """Merge *configs* into the running configuration, in one commit.

        :param configs: JUNOS XML elements, children of <configuration>.
        :param remove: chains (see junos.removal_chains) deleted in the
            same commit, where they exist.
        :raises NetconfError: nothing was committed.
        """
        with self.session() as mgr:
            with self._locked(mgr, lock_timeout):
                deletes = self._existing(mgr, remove) if remove else []
                if deletes:
                    mgr.edit_config(target='candidate',
                                    config=self._config(deletes))
                mgr.edit_config(target='candidate',
                                config=self._config(configs),
                                default_operation='merge')
                mgr.commit()

    def remove(self, chains, lock_timeout=None):
        """Delete what *chains* name, where it exists; True if any did.

        Each chain is a top statement down to the one element to delete
        (junos.removal_chains). Gone already counts as done.
        """
        with self.session() as mgr:
            with self._locked(mgr, lock_timeout):
                deletes = self._existing(mgr, chains)
                if not deletes:
                    return False
                mgr.edit_config(target='candidate',
                                config=self._config(deletes))
                mgr.commit()
                return True

    def _existing(self, mgr, chains):
        """The chains whose target is in the candidate, marked delete."""
        flt = etree.Element('configuration')
        for chain in chains:
            flt.append(etree.fromstring(etree.tostring(chain)))
        reply = mgr.get_config('candidate', filter=('subtree', flt))
        configuration = _configuration(reply.data_xml)
        found = []
        for chain in chains:
            if _has(configuration, chain):
                marked = etree.fromstring(etree.tostring(chain))
                junos.chain_target(marked).set('{%s}operation' % BASE_NS,
                                               'delete')
                found.append(marked)
        return found

    def get_config(self, source='running'):
        """The <configuration> of *source* (running or candidate)."""
        with self.session() as mgr:
            reply = mgr.get_config(source)
            return _configuration(reply.data_xml)

    def rpc(self, element):
        """Send an RPC (JUNOS get-bgp-summary-information...); its answer.

        :returns: the first element of the rpc-reply, or the rpc-reply
            itself when it holds none.
        """
        if isinstance(element, str):
            element = etree.fromstring(element.encode(), _PARSER)
        with self.session() as mgr:
            reply = mgr.dispatch(element)
            answer = _plain(etree.fromstring(reply.xml.encode(), _PARSER))
        for child in answer:
            if isinstance(child.tag, str):
                return child
        return answer


def _plain(element):
    """*element* with every tag in no namespace, as JUNOS's are read.

    Routers qualify their elements differently (JUNOS's own namespaces, the
    base namespace inherited by default); configuration is compared by the
    statements' names only.
    """
    for node in element.iter():
        if isinstance(node.tag, str):
            node.tag = etree.QName(node).localname
    etree.cleanup_namespaces(element)
    return element


def _configuration(data_xml):
    """The <configuration> of a get-config's <data>, without namespaces."""
    data = _plain(etree.fromstring(data_xml.encode(), _PARSER))
    found = data.find('configuration')
    return found if found is not None else etree.Element('configuration')


def _is_transport_error(exc):
    """Whether *exc* comes from the session (not from a bug of ours)."""
    import ncclient
    import paramiko
    return isinstance(exc, (ncclient.NCClientError, paramiko.SSHException,
                            OSError, EOFError, etree.XMLSyntaxError))


def _has(configuration, chain):
    """Whether the element *chain* leads to is in *configuration*.

    A filtered answer may hold the same statement more than once (one per
    chain of the filter): every match is looked into.
    """
    wanted = junos.key(chain)
    inner = [c for c in chain if c.tag != 'name']
    for child in configuration:
        if isinstance(child.tag, str) and junos.key(child) == wanted:
            if not inner or _has(child, inner[0]):
                return True
    return False


def credentials(client, host, port=None):
    """(login, password, ssh_port) of the edge router at *host* (and port).

    They are in that router's /config only: jobs and templates carry the
    address, never the password.

    :raises NetconfError: no edge router, or several, have that address.
    """
    prefix = keys.config_prefix('edge_router')
    kvs, _ = client.get_prefix(prefix)
    found = []
    for kv in kvs:
        try:
            body, _, marked = records.parse_config(kv.key, kv.value)
        except exceptions.MalformedValue as exc:
            LOG.warning('NETCONF credentials: %s skipped', exc)
            continue
        if str(body.get('ip')) != str(host):
            continue
        ssh_port = body.get('ssh_port') or 830
        if port not in (None, '') and str(ssh_port) != str(port):
            continue
        found.append((body.get('login'), body.get('password'),
                      int(ssh_port), kv.key))
    where = '%s%s' % (host, '' if port in (None, '') else ':%s' % port)
    if not found:
        raise exceptions.NetconfError(
            where, 'no edge router with ip %s%s in %s: its login and '
            'password come from there' % (
                host, '' if port in (None, '') else ' and ssh_port %s' % port,
                prefix))
    if len(found) > 1:
        raise exceptions.NetconfError(
            where, 'several edge routers have that address (%s)' % ', '.join(
                f[3] for f in found))
    login, password, ssh_port, key = found[0]
    if not login or not password:
        raise exceptions.NetconfError(
            where, '%s has no login and password' % key)
    return login, password, ssh_port


def device_for(client, conf, host, port=None):
    """A Device for the edge router at *host*, with its credentials."""
    login, password, ssh_port = credentials(client, host, port)
    return Device(host, ssh_port, login, password,
                  HostKeyPolicy.from_conf(conf), conf.netconf.timeout)

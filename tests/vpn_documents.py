"""ESI's VPN gateway documents, and what a run must match in them.

The documents (tests/fixtures/CreateVpnService_01.md ...
CreateStaticRoute_01.md) hold ESI's ids, tenant and devices. A run has its
own: compare() holds a run's values to a document's with its ids swapped
one for one (Ids), learned where the document has an id and checked to be
the same everywhere else, so that a value pointing at the wrong resource
still fails. What else differs by design is put right in the document
first (expected_job): the device password and username params, which
heat-esi never puts in a job, and bgp_md5, which a job names by reference.
"""

import json
import os
import re

from tests import esi_fixtures

PROJECT = '0b576f6f4cbf414f829cd12f008bf08f'
# The document's edge routers: (role, id, management address).
ROUTERS = (('primary', '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198', '10.79.5.185'),
           ('secondary', '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e',
            '10.79.5.184'))
SEED_SSH_PORT = 830
# The ToR switch's management address (CreateEseDevice_01), in the
# logical ports' monitoring jobs.
SEED_SWITCH_IP = '10.161.0.34'
# The documents, by what they show.
DOCUMENTS = {
    'vpn_service': 'CreateVpnService_01.md',
    'qos_option': 'CreateQosOption_01.md',
    'vpn_gateway': 'CreateVpnGateway_01.md',
    'vpn_interface': 'CreateVpnInterface_01.md',
    'gw_interface': 'CreateGwInterface_01.md',
    'port': 'CreateGwInterface_02.md',
    'ese_logical_port': 'CreateGwInterface_03.md',
    'static_route': 'CreateStaticRoute_01.md',
}
# CreateGwInterface_03's point (5) shows the other logical port's key
# (esi-vpn-gateway.md section 0): it is this document's own.
GLITCHES = {'ese_logical_port': ['ebee8782-4803-4dd6-a4bd-82e27758707d']}

UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                  r'[0-9a-f]{12}')
MAC = re.compile(r'(?:[0-9a-f]{2}:){5}[0-9a-f]{2}')
# A job id's random suffix: create:heat_worker:port:<id>:1:6zudv.
JOB_SUFFIX = re.compile(r'(:\d+:)[a-z0-9]{5}\b')


def points(esi_type):
    """[(point, key, value)] of the document, in its order."""
    with open(os.path.join(esi_fixtures.FIXTURES,
                           DOCUMENTS[esi_type])) as f:
        text = f.read()
    found = []
    parts = re.split(r'### Checking stored data at the point of (\(\d\)) '
                     r'in etcd', text)
    for point, section in zip(parts[1::2], parts[2::2]):
        for block in re.findall(r'```\n(.*?)```', section, re.S):
            key, _, value = block.strip().partition('\n')
            found.append((point, key.strip(), json.loads(value)))
    return found


def seed_id(esi_type):
    """The id of the document's own resource."""
    return points(esi_type)[0][1].rsplit('/', 1)[1]


def _id_pattern(text):
    """A regex of *text* in which each id may be any id."""
    parts, at = [], 0
    for match in UUID.finditer(text):
        parts += [re.escape(text[at:match.start()]),
                  '(%s)' % UUID.pattern]
        at = match.end()
    return ''.join(parts + [re.escape(text[at:])])


class Ids(object):
    """A one-to-one map of a document's ids (and values) onto a run's.

    *known*: {document's value: the run's}, such as the tenant, the
    routers' addresses, the ids the test knows; *aliases* are more of the
    document's ids for the same resource (its glitches).
    """

    def __init__(self, known, aliases=()):
        self.map = dict(known)
        self.aliases = set(aliases)

    def bind(self, seed, ours, where):
        if seed in self.map:
            assert self.map[seed] == ours, (
                '%s: the document\'s %s is %s elsewhere, %s here'
                % (where, seed, self.map[seed], ours))
            return
        others = [s for s, o in self.map.items() if o == ours and
                  s not in self.aliases]
        assert not others or seed in self.aliases, (
            '%s: %s stands for both %s and %s of the document'
            % (where, ours, others[0], seed))
        self.map[seed] = ours

    def learn(self, seed, ours, where=''):
        """Bind each id of *seed* to what *ours* has in its place.

        An id inside a text (a job id, a port's name "Port for : <id>") is
        learned where the rest of the text is the same.
        """
        if isinstance(seed, str) and isinstance(ours, str):
            if UUID.fullmatch(seed) or MAC.fullmatch(seed):
                self.bind(seed, ours, where)
                return
            inner = UUID.findall(seed)
            found = inner and re.fullmatch(_id_pattern(seed), ours)
            if found:
                for old, new in zip(inner, found.groups()):
                    self.bind(old, new, where)
        elif isinstance(seed, dict) and isinstance(ours, dict):
            for name, value in seed.items():
                if name in ours:
                    self.learn(value, ours[name], '%s.%s' % (where, name))
        elif isinstance(seed, list) and isinstance(ours, list):
            for i, (a, b) in enumerate(zip(seed, ours)):
                self.learn(a, b, '%s[%d]' % (where, i))

    def swap(self, value):
        """*value* with every bound id and value replaced by the run's."""
        text = json.dumps(value)
        for seed in sorted(self.map, key=len, reverse=True):
            ours = self.map[seed]
            if isinstance(ours, str):
                text = text.replace(seed, ours)
            else:
                # A number of the run in place of the document's string.
                text = text.replace(json.dumps(seed), json.dumps(ours))
        return json.loads(text)


# /state holds these as JSON text: compared as the values they spell.
JSON_TEXT_FIELDS = ('state_monitoring', 'heat_outputs')


def normal(value):
    """*value* with job ids' random suffixes blanked, params by name.

    The JSON text of a /state's state_monitoring and heat_outputs is read,
    so that the order of its keys does not count.
    """
    value = json.loads(JOB_SUFFIX.sub(r'\1*', json.dumps(value)))

    def walk(v):
        if isinstance(v, dict):
            v = {k: walk(json.loads(x) if (
                k in JSON_TEXT_FIELDS and isinstance(x, str)) else x)
                for k, x in v.items()}
            if isinstance(v.get('params'), list):
                v['params'] = sorted(v['params'], key=lambda p: p['param'])
            return v
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v
    return walk(value)


def expected_job(esi_type, job, device_ports):
    """The document's *job* as heat-esi writes it.

    No device username or password param (the credentials stay in the
    edge routers' /config); bgp_md5 as a reference to the VPN interface's
    /config and out of resource_input; the routers' NETCONF ports as the
    run's (*device_ports*: {role: port}).
    """
    handler, fields, count = job
    fields = dict(fields)
    params = []
    for param in fields['params']:
        name = param['param']
        if name.endswith(('_device_password', '_device_username',
                          '_device_login')):
            continue
        param = dict(param)
        for role in device_ports:
            if name == '%s_device_port' % role:
                param['value'] = device_ports[role]
        if esi_type == 'vpn_interface' and name == 'md5':
            param['type'] = 'secret'
            param['value'] = {'resource_type': 'vpn_interface',
                              'resource_id': fields['resource_id'],
                              'field': 'bgp_md5'}
        params.append(param)
    fields['params'] = params
    fields['resource_input'] = {
        k: v for k, v in fields['resource_input'].items() if k != 'bgp_md5'}
    return [handler, fields, count]


def differences(expected, ours, path=''):
    """['path: expected X, got Y'] where *ours* is not *expected*."""
    if isinstance(expected, dict) and isinstance(ours, dict):
        found = []
        for name in sorted(set(expected) | set(ours)):
            here = '%s.%s' % (path, name)
            if name not in ours:
                found.append('%s: missing (expected %r)' % (
                    here, expected[name]))
            elif name not in expected:
                found.append('%s: not expected (got %r)' % (here,
                                                            ours[name]))
            else:
                found += differences(expected[name], ours[name], here)
        return found
    if isinstance(expected, list) and isinstance(ours, list) and \
            len(expected) == len(ours):
        return [d for i, (a, b) in enumerate(zip(expected, ours))
                for d in differences(a, b, '%s[%d]' % (path, i))]
    if expected != ours:
        return ['%s: expected %r, got %r' % (path, expected, ours)]
    return []


def compare(ids, seed, ours, where):
    """Assert *ours* is *seed* with the run's ids; learns them first."""
    ids.learn(normal(seed), normal(ours), where)
    expected = normal(ids.swap(seed))
    found = differences(expected, normal(ours))
    assert not found, '%s:\n  %s' % (where, '\n  '.join(found[:20]))

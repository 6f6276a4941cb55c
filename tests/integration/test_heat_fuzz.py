"""Generated property values for ESI::HaRouter and ESI::EdgeRouter.

They go through the in-process Heat engine against a real etcd.

Each value is either refused with a Heat error that names where it is
wrong, or accepted; a refused one writes nothing to etcd, and an accepted
one is written as values a worker can read. Never a traceback.

ESI_FUZZ_EXAMPLES sets the number of examples per resource type (CI keeps
the default small).
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import json
import os
import uuid

from hypothesis import event
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from heat.common import exception as heat_exc

from heat_esi import keys
from heat_esi import records
from tests import esi_fixtures

EXAMPLES = int(os.environ.get('ESI_FUZZ_EXAMPLES', '120'))
OTHER = 'c0ffee00000000000000000000000001'
THEIRS = '6a0f7e10-0000-4000-8000-0000000000b1'
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Any code point, lone surrogates and control characters included.
ANY_CHAR = st.characters(codec=None, categories=None)
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.text(ANY_CHAR, max_size=3).map(lambda t: t * 30000),   # huge
    st.sampled_from(['', ' ', '\n', 'null', '010', '1_000', '{{ x }}',
                     '"quoted"', 'a\nrouter:\n  ip: 192.0.2.1']))
WRONG_TYPES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.recursive(st.integers(), lambda inner: st.lists(inner, max_size=2),
                 max_leaves=30))
VALUE = st.one_of(TEXT, WRONG_TYPES)
IDS = st.one_of(
    st.sampled_from([esi_fixtures.PRIMARY, esi_fixtures.SECONDARY, THEIRS,
                     'no-such-router']),
    VALUE)
IPS = st.one_of(
    st.sampled_from(['127.0.0.2', '::1', '192.0.2.1', '2001:db8::1', '::',
                     '0.0.0.0', '127.0.0.1%lo', '::ffff:127.0.0.1',
                     '255.255.255.255']),
    st.ip_addresses().map(str), VALUE)
INTEGERS = st.one_of(st.integers(), st.integers(-2, 70000), VALUE)


def props(valid, hostile):
    """Generate valid properties with some replaced by hostile values.

    None, one or several of them are replaced by (or left out for) a
    generated hostile value: accepted stacks, and their writes, are tested
    as well as refused ones.
    """
    def merge(args):
        base, changes = args
        merged = dict(base)
        for name, value in changes:
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return merged
    change = st.sampled_from(sorted(hostile)).flatmap(
        lambda name: st.tuples(st.just(name),
                               st.one_of(st.none(), hostile[name])))
    return st.tuples(st.fixed_dictionaries(valid),
                     st.lists(change, max_size=3)).map(merge)


PLAIN = st.text(max_size=40)            # any text but lone surrogates
HA_ROUTER = props(
    {'primary_router_id': st.just(esi_fixtures.PRIMARY),
     'secondary_router_id': st.just(esi_fixtures.SECONDARY),
     'name': PLAIN, 'description': PLAIN,
     'maximum_gateways': st.integers(1, 100000)},
    {'primary_router_id': IDS, 'secondary_router_id': IDS, 'name': VALUE,
     'description': VALUE, 'maximum_gateways': INTEGERS})
EDGE_ROUTER = props(
    {'ip': st.sampled_from(['127.0.0.2', '127.0.0.3', '::1']),
     'name': PLAIN, 'description': PLAIN,
     'ssh_port': st.integers(1, 65535),
     'autonomous_system': st.integers(1, 4294967295),
     'login': PLAIN, 'password': PLAIN},
    {'ip': IPS, 'name': VALUE, 'description': VALUE, 'ssh_port': INTEGERS,
     'autonomous_system': INTEGERS, 'login': VALUE, 'password': VALUE})


@pytest.fixture
def heat(heat_engine_on):
    esi_fixtures.register_edge_routers(heat_engine_on)
    esi_fixtures.register_edge_routers(heat_engine_on, THEIRS, project=OTHER)
    return heat_engine_on


def try_create(client, resource_type, props):
    """Validate a stack of one resource with *props*; create it if valid.

    The resource is created when the stack is valid.

    :returns: the keys written.
    """
    name = 'ha' if resource_type == 'ESI::HaRouter' else 'er'
    template = {'heat_template_version': '2018-08-31',
                'resources': {name: {'type': resource_type,
                                     'properties': props}}}
    before = client.revision()
    try:
        # (hypothesis seeds random: Heat's random stack names repeat)
        stk = heat_engine.stack(template, name='fuzz-' + uuid.uuid4().hex)
        stk.validate()
    except heat_exc.HeatException as exc:
        message = str(exc)
        assert message.strip()
        assert 'Traceback' not in message
        assert 'resources.%s' % name in message or any(
            prop in message for prop in props), message
        assert client.revision() == before, 'a refused stack wrote to etcd'
        event('refused')
        return []
    assert client.revision() == before, 'validation wrote to etcd'
    event('accepted')
    res = stk[name]
    res.handle_create()
    written = [kv for kv in client.get_prefix('/')[0]
               if kv.mod_revision > before]
    assert written, 'an accepted create wrote nothing'
    for kv in written:       # what a worker reads back
        if kv.key.startswith('/config/'):
            body, version, _ = records.parse_config(kv.key, kv.value)
            assert body['id'] == res.resource_id and version == 1
        else:
            assert kv.key.startswith(keys.JOBS_ALL), kv.key
            _, job = records.parse_job(kv.key, kv.value)
            assert job['resource_id'] == res.resource_id
        json.loads(kv.value)
    for kv in written:
        client.delete(kv.key)
    return written


@FUZZ
@given(props=HA_ROUTER)
def test_ha_router_property_values(heat, props):
    try_create(heat, 'ESI::HaRouter', props)


@FUZZ
@given(props=EDGE_ROUTER)
def test_edge_router_property_values(heat, props):
    try_create(heat, 'ESI::EdgeRouter', props)

"""heat-engine's client plugin for ESI's etcd, its constraint, its events.

Against an etcd in memory: what the plugin reads, how often, and what a
project is told about an id that is not its own.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import importlib
from importlib import metadata
import inspect
import json
import pkgutil

from oslo_config import cfg
import pytest

from heat.common import context as heat_context
from heat.common import exception
from heat.common import identifier
from heat.engine import clients
from heat.engine import event
from heat.engine import resource

from heat_esi import client
from heat_esi import constraints
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
import heat_esi.resources
from heat_esi.resources import edge_router
from heat_esi.resources import ha_router
from heat_esi import templates
from heat_esi import tenant_errors
from tests import fakes

PROJECT, OTHER = 'project-a', 'project-b'
ROUTER = '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'


@pytest.fixture
def fake(monkeypatch):
    store = fakes.FakeEtcd()
    monkeypatch.setattr(client, 'etcd_client', lambda: store)
    monkeypatch.setattr(client, '_templates', {})
    clients.initialise()
    return store


def context(project=PROJECT, is_admin=False):
    return heat_context.RequestContext(project_id=project, is_admin=is_admin)


def router(store, rid=ROUTER, project=PROJECT, marked=False,
           value=None):
    store.put(keys.config('edge_router', rid), value or records.config(
        {'id': rid, 'tenant_id': project, 'password': 'secret'}, 1,
        marked))
    del store.requests[:]


def refusal(value, ctx):
    """The constraint's message for *value*, or None when it accepts it."""
    constraint = constraints.EdgeRouterConstraint()
    if constraint.validate(value, ctx):
        return None
    return constraint.error(value)


def not_found_text(rid, project=PROJECT):
    return ('edge_router %s does not exist in ESI (no %s of project %s)'
            % (rid, keys.config('edge_router', rid), project))


# --- the plugin as Heat finds it --------------------------------------------

def test_heat_finds_the_plugin_by_its_entry_point_once_per_context(fake):
    ctx, other = context(), context()
    plugin = ctx.clients.client_plugin('esi')
    assert isinstance(plugin, client.EsiClientPlugin)
    assert ctx.clients.client_plugin('esi') is plugin
    assert other.clients.client_plugin('esi') is not plugin
    # Every context reaches etcd through the one shared client.
    assert plugin.client() is fake
    assert other.clients.client('esi') is fake


def test_one_etcd_client_per_etcd_settings(monkeypatch):
    monkeypatch.setattr(client, '_clients', {})
    port = cfg.CONF.esi_etcd.port
    first = client.etcd_client()
    assert client.etcd_client() is first
    cfg.CONF.set_override('port', port + 100, group='esi_etcd')
    try:
        moved = client.etcd_client()
        assert moved is not first
        assert moved.endpoint.endswith(':%d' % (port + 100))
    finally:
        cfg.CONF.set_override('port', port, group='esi_etcd')
    assert client.etcd_client() is first


def test_every_esi_constraint_names_the_plugin_and_one_of_its_getters(
        fake):
    plugin = context().clients.client_plugin('esi')
    found = [ep for ep in metadata.entry_points(group='heat.constraints')
             if ep.name.startswith('esi.')]
    assert 'esi.edge_router' in [ep.name for ep in found]
    for ep in found:
        constraint = ep.load()
        if ep.name == 'esi.printable_text':
            continue        # reads nothing: checks the value itself
        assert constraint.resource_client_name == client.CLIENT_NAME
        assert callable(getattr(plugin, constraint.resource_getter_name)), \
            ep.name


def test_every_esi_resource_type_reaches_etcd_through_the_plugin():
    types = {}
    for found in pkgutil.iter_modules(heat_esi.resources.__path__):
        module = importlib.import_module('heat_esi.resources.' + found.name)
        types.update(module.resource_mapping())
    assert 'ESI::EdgeRouter' in types and 'ESI::HaRouter' in types
    for name, cls in types.items():
        assert cls.default_client_name == client.CLIENT_NAME, name


# --- the constraint ---------------------------------------------------------

def test_an_own_router_is_accepted_and_read_once_per_request(fake):
    router(fake)
    ctx = context()
    assert refusal(ROUTER, ctx) is None
    assert refusal(ROUTER, ctx) is None
    assert fake.requests == [('get', keys.config('edge_router', ROUTER))]
    # Another request reads again: the router may be gone by now.
    assert refusal(ROUTER, context()) is None
    assert len(fake.requests) == 2


def test_a_foreign_router_is_refused_in_the_words_of_a_missing_one(fake):
    router(fake, project=OTHER)
    missing = 'a-router-that-is-not-there'
    assert refusal(ROUTER, context()).endswith(not_found_text(ROUTER))
    assert refusal(missing, context()).endswith(not_found_text(missing))
    assert OTHER not in refusal(ROUTER, context())


def test_an_admin_may_use_another_projects_router(fake):
    router(fake, project=OTHER)
    assert refusal(ROUTER, context(is_admin=True)) is None


def test_a_router_being_deleted_is_refused_and_said_so_to_its_owner(fake):
    router(fake, marked=True)
    assert refusal(ROUTER, context()).endswith(
        'edge_router %s is being deleted' % ROUTER)
    # Not to another project, which is told it does not exist.
    assert refusal(ROUTER, context(OTHER)).endswith(
        not_found_text(ROUTER, OTHER))


@pytest.mark.parametrize('value, why', [
    ('', 'an ESI id must be a non-empty string'),
    ('x' * 256, 'an ESI id has at most 255 characters'),
    ('a\udcffb', 'an ESI id must be valid Unicode text (a lone surrogate '
                 'at position 1)'),
])
def test_an_invalid_id_is_refused_without_reading_etcd(fake, value, why):
    assert refusal(value, context()).endswith(why)
    assert fake.requests == []


def test_an_unreadable_config_is_missing_to_a_project_and_named_to_admin(
        fake):
    router(fake, value='{not json')
    assert refusal(ROUTER, context()).endswith(not_found_text(ROUTER))
    told = refusal(ROUTER, context(is_admin=True))
    assert keys.config('edge_router', ROUTER) in told and 'not JSON' in told


def test_an_etcd_failure_is_refused_without_the_endpoint_and_not_kept(
        fake, caplog):
    router(fake)
    fake.fail(fakes.UNAVAILABLE)
    ctx = context()
    told = refusal(ROUTER, ctx)
    assert 'the ESI store (etcd) is unreachable' in told
    assert 'fake-etcd' not in told
    assert 'fake-etcd' in caplog.text       # the operator's log has it
    assert refusal(ROUTER, ctx) is None     # read again, now it answers


def test_prefetch_reads_every_router_in_one_request(fake):
    second = '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e'
    router(fake)
    router(fake, rid=second)
    ctx = context()
    ctx.clients.client_plugin('esi').prefetch([
        ('edge_router', ROUTER), ('edge_router', second),
        ('edge_router', ''), ('edge_router', None)])
    assert fake.requests == [('txn', min(keys.config('edge_router', rid)
                                         for rid in (ROUTER, second)))]
    assert refusal(ROUTER, ctx) is None and refusal(second, ctx) is None
    assert refusal('missing', ctx) is not None
    assert len(fake.requests) == 2      # only the one not prefetched


def test_the_getter_is_a_not_found_for_heat(fake):
    plugin = context().clients.client_plugin('esi')
    with pytest.raises(client.NotFound) as info:
        plugin.get_edge_router(ROUTER)
    assert plugin.is_not_found(info.value)
    assert plugin.is_client_exception(info.value)
    assert not plugin.is_not_found(ValueError())


# --- reads of the resources -------------------------------------------------

def test_read_config_and_ownership(fake):
    router(fake, project=OTHER)
    plugin = context().clients.client_plugin('esi')
    kv, (body, version, marked) = plugin.read_config('edge_router', ROUTER)
    assert (body['tenant_id'], version, marked) == (OTHER, 1, False)
    assert kv.key == keys.config('edge_router', ROUTER)
    assert plugin.read_config('edge_router', 'missing') == (None, None)
    assert not plugin.owns(body)
    assert not plugin.is_own('edge_router', ROUTER)
    assert context(OTHER).clients.client_plugin('esi').is_own(
        'edge_router', ROUTER)
    assert context(is_admin=True).clients.client_plugin('esi').is_own(
        'edge_router', ROUTER)
    router(fake, value='[]')
    assert not context(is_admin=True).clients.client_plugin(
        'esi').is_own('edge_router', ROUTER)


def test_the_template_is_read_once_for_every_request_until_refreshed(fake):
    name = templates.monitoring_template_name('edge_router')
    body = templates.load_dir()[name]
    fake.put(keys.heat_template(name), records.config(body, 1))
    revision = fake.get(keys.heat_template(name)).mod_revision
    del fake.requests[:]
    first = context().clients.client_plugin('esi')
    assert first.template('edge_router') == (name, body, revision)
    assert fake.requests == [('get', keys.heat_template(name))]
    del fake.requests[:]
    assert context().clients.client_plugin('esi').template(
        'edge_router')[2] == revision
    assert fake.requests == []
    fake.put(keys.heat_template(name), records.config(body, 2))
    del fake.requests[:]
    assert first.template('edge_router', refresh=True)[2] == revision + 1
    assert fake.requests == [('get', keys.heat_template(name))]


def test_etcd_failures_reach_the_tenant_without_the_endpoint(caplog):
    key = '/config/v2.0/edge_routers/x'
    for exc, said in [
            (exceptions.EtcdAuthFailed('http://10.9.8.7:2379', 'heat', 'no'),
             'refused heat-engine\'s credentials: authentication failed '
             'for user heat'),
            (exceptions.EtcdUnavailable('http://10.9.8.7:2379', key, 'no'),
             'is unreachable (key %s)' % key),
            (exceptions.EtcdOutcomeUnknown('http://10.9.8.7:2379', key,
                                           'no'),
             'did not say whether a write on key %s was applied' % key),
            (exceptions.EtcdError('http://10.9.8.7:2379', key, 'no'),
             'refused the request on key %s' % key)]:
        error = tenant_errors.etcd_failure(exc, 'router')
        assert isinstance(error, exception.Error)
        assert said in str(error) and '10.9.8.7' not in str(error)
    assert '10.9.8.7' in caplog.text


# --- events: what EsiResource._add_event relies on in Heat ------------------

class _Stack(object):
    def __init__(self):
        self.dispatched = []

    def identifier(self):
        return identifier.HeatIdentifier(PROJECT, 'stk', 'stack-id')

    def dispatch_event(self, ev):
        self.dispatched.append(ev)


def _event(resource_class, add_event, monkeypatch):
    """The event *add_event* stores for a *resource_class* with a secret."""
    stored = []
    monkeypatch.setattr(event.Event, 'store', lambda ev: stored.append(ev))
    res = object.__new__(resource_class)
    stack = res.stack = _Stack()      # Resource keeps a weak reference
    res.context = context()
    res.resource_id, res.name = ROUTER, 'router'
    res.type = lambda: 'ESI::EdgeRouter'
    # What Heat sets from the stored resource (Resource.__init__/_load_data).
    res._rsrc_prop_data_id = 7
    res._stored_properties_data = {'ip': '192.0.2.1', 'password': 'secret'}
    add_event(res, 'CREATE', 'IN_PROGRESS', 'waiting')
    assert len(stored) == 1 and stack.dispatched == stored
    return stored[0]


def test_heat_still_refers_its_events_to_the_stored_properties(monkeypatch):
    """Why EsiResource overrides _add_event at all.

    When this fails, Heat no longer puts the properties in events: drop
    the override (EsiResource._add_event).
    """
    ev = _event(edge_router.EdgeRouter, resource.Resource._add_event,
                monkeypatch)
    assert ev.rsrc_prop_data_id == 7
    # What event sinks receive, and `openstack stack event show` prints.
    assert 'secret' in json.dumps(ev.resource_properties)


def test_an_event_of_a_type_with_secrets_is_heats_without_properties(
        monkeypatch):
    """EsiResource._add_event stores what Heat's would, properties aside.

    When this fails, Heat changed what an event holds: the override must
    follow, or go if Heat gained a way to keep properties out of events.
    """
    heats = vars(_event(edge_router.EdgeRouter, resource.Resource._add_event,
                        monkeypatch))
    ours = vars(_event(edge_router.EdgeRouter,
                       edge_router.EdgeRouter._add_event, monkeypatch))
    assert ours.pop('rsrc_prop_data_id') is None
    assert ours.pop('resource_properties') == {}
    heats.pop('rsrc_prop_data_id')
    heats.pop('resource_properties')
    ours.pop('context'), heats.pop('context')
    assert ours == heats


def test_a_type_without_secrets_keeps_heats_events(monkeypatch):
    assert not ha_router.HaRouter.secret_properties
    ev = _event(ha_router.HaRouter, ha_router.HaRouter._add_event,
                monkeypatch)
    assert ev.rsrc_prop_data_id == 7


def test_heat_calls_add_event_as_the_override_takes_it():
    """Heat's Resource._add_event and Event take what the override gives.

    Their signatures changed between Heat releases (Event gained
    resource_prop_data_id in Pike); this fails before a stack does.
    """
    assert list(inspect.signature(resource.Resource._add_event).parameters
                ) == ['self', 'action', 'status', 'reason']
    params = inspect.signature(event.Event.__init__).parameters
    assert list(params)[:6] == ['self', 'context', 'stack', 'action',
                                'status', 'reason']
    assert {'physical_resource_id', 'resource_prop_data_id',
            'resource_properties', 'resource_name',
            'resource_type'} <= set(params)
    # Every event of a resource goes through _add_event.
    assert 'self._add_event(' in inspect.getsource(resource.Resource.state_set)

"""The element pipeline and the plugin contract, against fakes."""

import asyncio
from concurrent import futures
import logging
import threading

from oslo_config import cfg
import pytest

from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import templates
from heat_esi.worker import elements
from heat_esi.worker.handlers import monitoring
from heat_esi.worker import monitor
from heat_esi.worker.plugins import base
from heat_esi.worker.plugins import etcd_reader
from heat_esi.worker import service
from tests import fakes

RID = '0e000000-0000-0000-0000-000000000001'
NEVER = threading.Event()


# A plugin that answers what it is told (shared with test_handlers).
Fixed = fakes.FixedPlugin


class Unpollable(Fixed):
    pollable = False


def template(text, name='ha_router_monitoring'):
    """A heat_template *name* whose template_file is *text*."""
    return dict(templates.load_dir()[name], template_file=text)


def rendered(text, rtype='ha_router'):
    name = templates.monitoring_template_name(rtype)
    return elements.Elements(name, rtype, RID,
                             elements.render(template(text, name), {}))


TWO = 'a:\n  type: one\nb:\n  type: two\n'


def fake_pipeline(plugins):
    """Return a Pipeline of *plugins* ({type: plugin}) on an empty etcd."""
    return elements.Pipeline(fakes.FakeEtcd(), plugins)


def test_the_base_plugin_declares_defaults_and_the_two_calls():
    plugin = base.Plugin()
    assert plugin.pollable is True
    assert plugin.keys({'type': 'x'}) == ()
    assert plugin.address({'type': 'x'}) is None
    with pytest.raises(NotImplementedError):
        plugin.check({}, NEVER)
    with pytest.raises(NotImplementedError):
        plugin.poll({}, NEVER)


def test_every_installed_plugin_keeps_the_contract():
    config = cfg.ConfigOpts()
    conf.register_worker_opts(config)
    config([])
    found = elements.load_plugins(fakes.FakeEtcd(), config)
    assert sorted(found) == ['bgp_session', 'etcd_reader', 'logical_port',
                             'physical_port', 'router', 'switch',
                             'virtual_network', 'vmi', 'vrrp_session']
    for name, plugin in found.items():
        assert isinstance(plugin, base.Plugin), name
        assert plugin.pollable, name


def test_a_plugin_that_cannot_start_stops_the_worker_at_start():
    config = cfg.ConfigOpts()
    conf.register_worker_opts(config)
    config([])
    config.set_override('allowed_networks', ['10.0.0.0/33'], group='snmp')
    with pytest.raises(exceptions.ConfigError, match='resource plugin '):
        elements.load_plugins(fakes.FakeEtcd(), config)


# --- jobs: check -------------------------------------------------------------

def test_check_runs_each_element_with_its_plugin_and_what_was_read():
    one, two = Fixed(), Fixed(state='SOMETHING')
    pipeline = fake_pipeline({'one': one, 'two': two})
    read = {'/k': None}
    clock = service.JobClock(NEVER, 300)
    assert pipeline.check(rendered(TWO), clock, read) == {
        'a': 'ACTIVE', 'b': 'SOMETHING'}
    assert one.calls == [('check', 'one', read)]
    assert two.calls == [('check', 'two', read)]


def test_an_element_error_names_template_element_type_and_resource():
    first, bad, never = Fixed(), Fixed(error=exceptions.JobFailed(
        'device 192.0.2.1 is not UP')), Fixed()
    pipeline = fake_pipeline({'one': first, 'two': bad, 'three': never})
    with pytest.raises(elements.ElementError) as err:
        pipeline.check(rendered(TWO + 'c:\n  type: three\n'),
                       service.JobClock(NEVER, 300))
    assert str(err.value) == (
        'heat_template ha_router_monitoring, element b (two), ha_router '
        '%s: device 192.0.2.1 is not UP' % RID)
    # Recorded per element: the one before, and this one DOWN.
    assert err.value.outcome == {'state_monitoring': {'a': 'ACTIVE',
                                                      'b': 'DOWN'}}
    assert (err.value.element, err.value.reason) == (
        'b', 'device 192.0.2.1 is not UP')
    assert never.calls == []


def test_a_malformed_value_is_an_element_error_too():
    bad = Fixed(error=exceptions.MalformedValue('/state/x', 'not JSON'))
    pipeline = fake_pipeline({'one': Fixed(), 'two': bad})
    with pytest.raises(elements.ElementError,
                       match=r'element b \(two\), ha_router %s: malformed '
                       'value at /state/x: not JSON' % RID):
        pipeline.check(rendered(TWO), service.JobClock(NEVER, 300))


def test_an_unknown_type_names_the_known_ones_and_runs_nothing_more():
    pipeline = fake_pipeline({'one': Fixed(), 'zeta': Fixed()})
    with pytest.raises(elements.ElementError) as err:
        pipeline.check(rendered(TWO), service.JobClock(NEVER, 300))
    assert str(err.value).endswith(
        'element b (two), ha_router %s: unknown plugin type two (known: '
        'one, zeta)' % RID)
    assert err.value.outcome == {'state_monitoring': {'a': 'ACTIVE'}}


def test_a_plugin_crash_fails_the_element_and_is_logged_once(caplog):
    bad = Fixed(error=RuntimeError('plugin bug'))
    pipeline = fake_pipeline({'one': Fixed(), 'two': bad})
    with caplog.at_level(logging.ERROR):
        with pytest.raises(elements.ElementError) as err:
            pipeline.check(rendered(TWO), service.JobClock(NEVER, 300))
    assert str(err.value).endswith(
        'element b (two), ha_router %s: internal error in plugin two: '
        'RuntimeError: plugin bug' % RID)
    assert err.value.logged
    assert err.value.outcome['state_monitoring'] == {'a': 'ACTIVE',
                                                     'b': 'DOWN'}
    assert ('cannot check ha_router %s: element b (two) failed '
            '(heat_template ha_router_monitoring)' % RID) in caplog.text
    assert 'plugin bug' in caplog.text      # the traceback


@pytest.mark.parametrize('error', [
    exceptions.JobInterrupted(),
    exceptions.EtcdError('http://etcd', '/k', 'refused'),
])
def test_a_shutdown_or_etcd_failure_is_not_the_elements(error):
    # The worker releases the job, or runs it again once etcd answers.
    pipeline = fake_pipeline({'one': Fixed(error=error), 'two': Fixed()})
    with pytest.raises(type(error)):
        pipeline.check(rendered(TWO), service.JobClock(NEVER, 300))


def test_job_timeouts_set_the_deadline_and_a_past_one_names_the_element():
    clock = service.JobClock(NEVER, 300)
    found = rendered('a:\n  type: one\n  job_timeout: 5\n'
                     'b:\n  type: one\n  job_timeout: 0.5\n')
    pipeline = fake_pipeline({'one': Fixed()})
    pipeline.check(found, clock)
    assert (clock.timeout, clock.source) == (
        5, 'job_timeout of heat_template ha_router_monitoring')
    clock = service.JobClock(NEVER, 0)
    with pytest.raises(elements.ElementError) as err:
        pipeline.check(rendered(TWO), clock)
    assert 'element a (one), ha_router %s: job deadline passed' % RID in \
        str(err.value)
    assert err.value.outcome == {'state_monitoring': {}}


def test_a_bad_job_timeout_fails_the_job_naming_the_resource():
    pipeline = fake_pipeline({'one': Fixed()})
    with pytest.raises(exceptions.JobFailed, match=(
            'ha_router %s: heat_template ha_router_monitoring: element a: '
            'job_timeout must be a positive number' % RID)):
        pipeline.check(rendered('a:\n  type: one\n  job_timeout: -1\n'),
                       service.JobClock(NEVER, 300))


# --- jobs: template, params, prefetch ---------------------------------------

def job(rid=RID, **params):
    job_id, value = records.job(
        records.CREATE, 'monitoring_worker', 'ha_router', rid, 1,
        [{'param': k, 'value': v} for k, v in params.items()], {})
    return value[1]


def stored(client, text):
    """Store heat_template ha_router_monitoring; return its KV."""
    key = keys.heat_template('ha_router_monitoring')
    client.put(key, records.config(template(text), 1))
    return client.get(key)


def test_a_job_renders_with_its_params_and_the_template_read_with_it():
    client = fakes.FakeEtcd()
    kv = stored(client, 'a:\n  type: one\n  id: "{{ p }}"\n')
    pipeline = elements.Pipeline(client, {'one': Fixed()})
    found = pipeline.for_job(job(p='010'), {kv.key: kv})
    assert found.items == {'a': {'type': 'one', 'id': '010'}}
    assert (found.template, found.resource) == (
        'ha_router_monitoring', 'ha_router %s' % RID)
    assert client.requests[-1] == ('get', kv.key)   # the claim had read it


def counted(monkeypatch, module, name):
    """Count the calls of module.name; return the list of their args."""
    calls, real = [], getattr(module, name)

    def counting(*args):
        calls.append(args)
        return real(*args)
    monkeypatch.setattr(module, name, counting)
    return calls


def test_prefetch_reads_the_template_then_what_the_elements_read(
        monkeypatch):
    client = fakes.FakeEtcd()
    kv = stored(client, 'a:\n  type: one\nb:\n  type: two\n')
    pipeline = elements.Pipeline(client, {
        'one': Fixed(prefetch=('/x', '/y')), 'two': Fixed(prefetch=('/y',))})
    first = job()
    # No copy of the template yet: only the template itself.
    assert pipeline.prefetch(first) == (kv.key,)
    pipeline.for_job(first, {kv.key: kv})
    second = job(rid='0e000000-0000-0000-0000-000000000002')
    assert pipeline.prefetch(second) == (kv.key, '/x', '/y')
    # The render made for the prefetch serves the run.
    renders = counted(monkeypatch, elements, 'render')
    found = pipeline.for_job(second, {kv.key: kv})
    assert found.resource_id == second['resource_id']
    assert renders == []
    # A delete has nothing to check: the handler reads nothing for it.
    handler = monitoring.MonitoringHandler(client, None, pipeline.plugins)
    assert handler.prefetch(dict(second, action=records.DELETE)) == ()


def test_a_template_is_parsed_once_per_revision(monkeypatch):
    client = fakes.FakeEtcd()
    kv = stored(client, 'a:\n  type: one\n')
    newer = stored(client, 'b:\n  type: one\n')
    pipeline = elements.Pipeline(client, {'one': Fixed()})
    parsed = counted(monkeypatch, templates, 'validate')
    pipeline.for_job(job(), {kv.key: kv})
    pipeline.for_job(job(), {kv.key: kv})
    assert len(parsed) == 1
    assert list(pipeline.for_job(job(), {kv.key: newer}).items) == ['b']
    assert len(parsed) == 2


@pytest.mark.parametrize('text, expected', [
    (None, 'heat_template ha_router_monitoring is not in etcd'),
    ('a: {{ nowhere }}\n', "'nowhere' is undefined"),
    ('a:\n  id: 1\n', 'element a has no "type"'),
])
def test_a_template_that_fails_names_the_resource(text, expected):
    client = fakes.FakeEtcd()
    kv = stored(client, text) if text else None
    pipeline = elements.Pipeline(client, {})
    with pytest.raises(exceptions.JobFailed) as err:
        pipeline.for_job(job(), {keys.heat_template(
            'ha_router_monitoring'): kv})
    assert str(err.value).startswith('ha_router %s: ' % RID)
    assert expected in str(err.value)


def test_a_resource_renders_from_its_config_as_its_job_did():
    client = fakes.FakeEtcd()
    client.put(keys.heat_template('edge_router_monitoring'), records.config(
        templates.load_dir()['edge_router_monitoring'], 1))
    pipeline = elements.Pipeline(client, {})
    found = pipeline.for_config('edge_router', RID, {'ip': '192.0.2.7'}, 3)
    assert found.items == {'router': {
        'type': 'router', 'community_name': 'EDGE_ROUTER_COMMUNITY',
        'ip': '192.0.2.7', 'mibs': []}}
    with pytest.raises(exceptions.JobFailed,
                       match='edge_router %s: ' % RID):
        pipeline.for_config('edge_router', RID, {}, 3)


# --- the monitor: poll -------------------------------------------------------

def test_poll_gives_states_why_and_addresses():
    pipeline = fake_pipeline({
        'one': Fixed(polled=(states.UP, ''), address='192.0.2.2'),
        'two': Fixed(polled=(states.DOWN, 'no SNMP answer'),
                     address='192.0.2.1'),
        'three': Fixed(polled=(states.UP, ''))})
    polled = pipeline.poll(rendered(TWO + 'c:\n  type: three\n'), NEVER)
    assert polled == elements.Polled(
        {'a': 'UP', 'b': 'DOWN', 'c': 'UP'}, {'b': 'no SNMP answer'},
        '192.0.2.1, 192.0.2.2')


def test_a_template_with_an_unpollable_element_is_not_polled_at_all():
    one = Fixed()
    pipeline = fake_pipeline({'one': one, 'two': Unpollable()})
    with pytest.raises(elements.ElementError) as err:
        pipeline.poll(rendered(TWO), NEVER)
    assert str(err.value).endswith(
        'element b (two), ha_router %s: type two cannot be polled' % RID)
    assert one.calls == []


def test_a_poll_error_names_the_element_and_a_crash_is_logged(caplog):
    pipeline = fake_pipeline({'one': Fixed(
        error=exceptions.JobFailed("['x'] is not an IP address"))})
    with pytest.raises(elements.ElementError) as err:
        pipeline.poll(rendered('a:\n  type: one\n'), NEVER)
    assert (err.value.reason, err.value.where) == (
        "['x'] is not an IP address",
        'heat_template ha_router_monitoring, element a (one)')
    assert not err.value.logged
    pipeline = fake_pipeline({'one': Fixed(
        error=ValueError('plugin bug'))})
    with caplog.at_level(logging.ERROR):
        with pytest.raises(elements.ElementError) as err:
            pipeline.poll(rendered('a:\n  type: one\n'), NEVER)
    assert err.value.logged
    assert ('cannot monitor ha_router %s: element a (one) failed' % RID) \
        in caplog.text


# --- etcd_reader -------------------------------------------------------------

@pytest.fixture
def reader():
    config = cfg.ConfigOpts()
    conf.register_worker_opts(config)
    config([])
    client = fakes.FakeEtcd()
    return client, etcd_reader.EtcdReader(client, config)


PROPS = {'type': 'etcd_reader', 'etcd_type': 'edge_router', 'etcd_id': RID}


def test_etcd_reader_polls_up_when_the_referenced_resource_is_healthy(
        reader):
    client, plugin = reader
    assert plugin.poll(PROPS, NEVER) == (
        'DOWN', 'edge_router %s is not ACTIVE (no monitoring state)' % RID)
    client.put(keys.state('edge_router', RID),
               records.state('CREATE_COMPLETED', 1, {'router': 'ACTIVE'}))
    assert plugin.poll(PROPS, NEVER) == ('UP', '')
    # The monitor's /monitoring wins over /state, as for a job's check.
    client.put(keys.monitoring('edge_router', RID),
               {'router': 'DOWN', 'version': 1})
    assert plugin.poll(PROPS, NEVER) == (
        'DOWN', 'edge_router %s is not ACTIVE (router DOWN)' % RID)
    assert plugin.address(PROPS) is None


@pytest.mark.parametrize('props, expected', [
    ({'etcd_type': 'edge_router'}, "missing property 'etcd_id'"),
    (dict(PROPS, etcd_type='Edge'), '"etcd_type" must be a resource type'),
    (dict(PROPS, etcd_id='a/b'), '"etcd_id" must be a resource id'),
])
def test_etcd_reader_refuses_bad_properties_alike_on_check_and_poll(
        reader, props, expected):
    _, plugin = reader
    assert plugin.keys(props) == ()
    for call in (plugin.poll, plugin.check):
        with pytest.raises(exceptions.JobFailed, match=expected):
            call(props, NEVER)


def test_etcd_reader_check_uses_what_the_claim_read(reader):
    client, plugin = reader
    read_keys = plugin.keys(PROPS)
    assert read_keys == states.keys_of('edge_router', RID)
    client.put(keys.state('edge_router', RID), records.state(
        'CREATE_COMPLETED', 1, {'router': 'ACTIVE'}))
    kv = client.get(keys.state('edge_router', RID))
    del client.requests[:]
    assert plugin.check(PROPS, NEVER, {read_keys[0]: None,
                                       read_keys[1]: kv}) == 'ACTIVE'
    assert client.requests == []


# --- the monitor: every future read, every error named ----------------------

def test_a_monitor_poll_error_is_logged_with_element_and_resource(caplog):
    client = fakes.FakeEtcd()
    client.put(keys.heat_template('edge_router_monitoring'), records.config(
        templates.load_dir()['edge_router_monitoring'], 1))
    mon = monitor.Monitor(client, {'router': Fixed(
        error=exceptions.JobFailed("['x'] is not an IP address"))},
        lambda: 1, member_id='m')
    try:
        with caplog.at_level(logging.WARNING):
            assert asyncio.run(mon._poll(
                monitor._Device(), None, 'edge_router', 'p2', {'ip': ['x']},
                1, 5, None)) is None
    finally:
        mon.stop()
    assert ("cannot monitor edge_router p2: ['x'] is not an IP address "
            "(heat_template edge_router_monitoring, element router "
            "(router))") in caplog.text


@pytest.mark.parametrize('error, level, text', [
    (exceptions.EtcdError('http://etcd', '/k', 'refused'), 'WARNING',
     'cannot answer the poll request for edge_router r1: etcd at '
     'http://etcd failed on key /k: refused'),
    (KeyError('bug'), 'ERROR', 'cannot answer the poll request for '
     'edge_router r1: unexpected error'),
])
def test_every_future_of_the_monitor_is_read(caplog, error, level, text):
    future = futures.Future()
    future.set_exception(error)
    with caplog.at_level(logging.WARNING):
        monitor._outcome('answer the poll request for', 'edge_router',
                         'r1', future)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (level, text)]


def test_a_resource_whose_template_uses_etcd_reader_can_be_monitored(
        reader):
    # Not monitored by default ([monitor] resource_types): possible.
    client, plugin = reader
    primary, secondary = 'e1', 'e2'
    for rid in (primary, secondary):
        client.put(keys.state('edge_router', rid), records.state(
            'CREATE_COMPLETED', 1, {'router': 'ACTIVE'}))
    client.put(keys.monitoring('edge_router', secondary),
               {'router': 'DOWN', 'version': 1})
    client.put(keys.heat_template('ha_router_monitoring'), records.config(
        templates.load_dir()['ha_router_monitoring'], 1))
    client.put(keys.config('ha_router', RID), records.config(
        {'id': RID, 'primary_router_id': primary,
         'secondary_router_id': secondary}, 2))
    client.put(keys.state('ha_router', RID),
               records.state('CREATE_COMPLETED', 2))
    lease = client.grant_lease(30)
    mon = monitor.Monitor(client, {'etcd_reader': plugin}, lambda: lease,
                          resource_types=('ha_router',), member_id='m')
    try:
        mon.cycle()
    finally:
        mon.stop()
    assert etcd.loads('', client.get(keys.monitoring('ha_router', RID))
                      .value) == {'primary': 'UP', 'secondary': 'DOWN',
                                  'version': 2}

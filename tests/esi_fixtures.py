"""Real services for the tests: an etcd server and esi-worker processes.

Shared by every conftest; nothing here mocks etcd, Heat or a worker.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

from heat_esi.demo.etcd import EtcdServer  # noqa: F401
from heat_esi.demo.etcd import free_port  # noqa: F401
from heat_esi import etcd
from heat_esi import keys
from heat_esi import records
from heat_esi import states
from heat_esi import templates

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, 'fixtures')
SEED = os.path.join(FIXTURES, 'CreateHaRouter_01.md')


def write_worker_conf(path, etcd_port, debug=True, sections=None,
                      **worker):
    """Write a worker's config file at *path*.

    *worker* options go to [worker], *sections* is {group: {option: value}}
    for the others.
    """
    lines = ['[DEFAULT]', 'debug = %s' % str(debug).lower(), '',
             '[esi_etcd]', 'host = 127.0.0.1', 'port = %d' % etcd_port, '',
             '[worker]']
    lines += ['%s = %s' % kv for kv in sorted(worker.items())]
    for group, options in sorted((sections or {}).items()):
        lines += ['', '[%s]' % group]
        lines += ['%s = %s' % kv for kv in sorted(options.items())]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


class WorkerProcess(object):
    """A real esi-worker process with its own config and log file."""

    def __init__(self, directory, etcd_port, name='worker', **options):
        self.name = name
        self.conf = write_worker_conf(
            os.path.join(directory, '%s.conf' % name), etcd_port, **options)
        self.log_path = os.path.join(directory, '%s.log' % name)
        self.proc = None

    def start(self, wait=True):
        exe = os.path.join(os.path.dirname(sys.executable), 'esi-worker')
        self.proc = subprocess.Popen(
            [exe, '--config-file', self.conf, '--log-file', self.log_path],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if wait:
            self.wait_for_log('esi-worker started')
        return self

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_for_log(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                raise RuntimeError('%s exited %s:\n%s'
                                   % (self.name, self.proc.returncode,
                                      self.log()[-3000:]))
            time.sleep(0.05)
        raise AssertionError('%s never logged %r:\n%s'
                             % (self.name, text, self.log()[-3000:]))

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def seed_blocks(document=None):
    """{'(1)': (key, value), ...} of a seed document, parsed from it.

    :param document: a file name in tests/fixtures (default: the HA
        router's, CreateHaRouter_01.md).
    """
    with open(os.path.join(FIXTURES, document) if document else SEED) as f:
        text = f.read()
    found = {}
    for point, block in re.findall(
            r'point of (\(\d\)) in etcd\s*\n.*?```\n(.*?)```', text, re.S):
        key, _, value = block.strip().partition('\n')
        found[point] = (key.strip(), json.loads(value))
    return found


def seed_points(document):
    """{'(1)': [(key, value), ...], ...}: every block of each point.

    :param document: a file name in tests/fixtures. Unlike seed_blocks,
        a point that shows several keys keeps each of them.
    """
    with open(os.path.join(FIXTURES, document)) as f:
        text = f.read()
    found = {}
    parts = re.split(r'### Checking stored data at the point of (\(\d\)) '
                     r'in etcd', text)
    for point, section in zip(parts[1::2], parts[2::2]):
        for block in re.findall(r'```\n(.*?)```', section, re.S):
            key, _, value = block.strip().partition('\n')
            found.setdefault(point, []).append((key.strip(),
                                                json.loads(value)))
    return found


def operator_fields(job_value):
    """Take heat-esi's own fields out of a /jobs/all value read as JSON.

    Those are records.OPERATOR_FIELDS; without them the value compares with
    the seed. They are returned, checked for their shape.
    """
    body = job_value[1]
    extra = {f: body.pop(f) for f in records.OPERATOR_FIELDS if f in body}
    assert isinstance(extra['created_at'], float), extra
    assert abs(extra['created_at'] - time.time()) < 3600, extra
    if 'request_id' in extra:
        assert re.match(r'^req-[0-9a-f-]{36}$', extra['request_id']), extra
    return extra


def wait_until(predicate, timeout=10, interval=0.02, message='condition'):
    """Poll *predicate* until it returns something true, and return that.

    The deadline only decides when to give up: the wait ends as soon as the
    condition holds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError('timed out waiting for %s' % message)


# In the name of the keys history() writes to learn where etcd's history
# ends. history() deletes each one it writes.
HISTORY_MARK = '~tests-history-end-'


def _history_mark(prefix):
    """Return (watched prefix, mark key) for a history() of *prefix*.

    The mark is a sibling of the prefix's first segment ("/jobs0~..." for
    "/jobs/..."): outside every prefix heat-esi reads or watches, yet in
    one watch range with *prefix*, so that etcd need not send the rest of
    the store.
    """
    if not prefix.startswith('/'):
        raise ValueError('history() reads keys under "/", not %r' % prefix)
    mark = HISTORY_MARK + os.urandom(8).hex()
    top = prefix.split('/')[1] if prefix.count('/') > 1 else ''
    if not top:
        return '/', '/' + mark
    return '/' + top, '/%s0%s' % (top, mark)


def history(client, prefix, start_revision, puts_only=True, timeout=20):
    """Return the events under *prefix* from *start_revision* until now.

    They come from etcd's own history, so a value that was written and then
    deleted is seen too. "Now" is a revision written by this call: a mark
    key put after everything the caller has waited for. etcd sends a
    watch's events in revision order, so every event before the mark has
    arrived once the mark has; no quiet period decides what was written.

    :param timeout: seconds without an event before the read fails.
    """
    watched, mark = _history_mark(prefix)
    client.put(mark, '')
    found = []
    try:
        for event in client.watch(watched, start_revision, timeout=timeout):
            if event.kv.key == mark:
                return found
            if HISTORY_MARK in event.kv.key or \
                    not event.kv.key.startswith(prefix):
                continue
            if event.type == etcd.PUT or not puts_only:
                found.append(event)
    finally:
        client.delete(mark)
    raise AssertionError('the history of %s from revision %d did not reach '
                         'its end mark within %s s' % (prefix, start_revision,
                                                       timeout))


PRIMARY = '792c7a6d-19b5-4d6f-b9f6-1e5b1eb45198'
SECONDARY = '3ca3a59a-4f92-4a8a-9ec1-1c55a97c794e'


# The project of the tests' stacks (tests.heat_engine.context).
PROJECT = '0b576f6f4cbf414f829cd12f008bf08f'


def register_edge_routers(client, *ids, state='ACTIVE', project=PROJECT):
    """Write edge routers of *project* as their own finished jobs leave them.

    That is /config, and /state whose state_monitoring says *state*.
    """
    for rid in ids or (PRIMARY, SECONDARY):
        client.put(keys.config('edge_router', rid), records.config(
            {'id': rid, 'name': 'router-' + rid[:4], 'status': 'ACTIVE',
             'tenant_id': project}, 1))
        client.put(keys.state('edge_router', rid),
                   records.state('CREATE_COMPLETED', 1, {'router': state}))


def routers_active(client, *ids, state='ACTIVE'):
    """Report edge routers as their own finished jobs do in the seed run.

    Only their /state is written, whose state_monitoring says *state*; the
    worker's etcd_reader needs no more.
    """
    for rid in ids or (PRIMARY, SECONDARY):
        client.put(keys.state('edge_router', rid),
                   records.state('CREATE_COMPLETED', 1, {'router': state}))


def ha_router_params(primary=PRIMARY, secondary=SECONDARY):
    """Return the params of an ha_router job over two edge routers.

    They are in the seed's order: the secondary device first.
    """
    return [{'resources': [], 'type': 'value', 'value': secondary,
             'param': 'secondary_device_id'},
            {'resources': [], 'type': 'value', 'value': primary,
             'param': 'primary_device_id'}]


def write_ha_job(client, rid, **job_fields):
    """Write an ha_router's /config and its create job, as Heat does.

    The HA router is over PRIMARY and SECONDARY; *job_fields* replace
    fields of the job's body.

    :returns: the job id.
    """
    body = {'maximum_gateways': 500, 'status': 'PENDING_CREATE',
            'primary_router_id': PRIMARY, 'secondary_router_id': SECONDARY,
            'description': '', 'tenant_id': 't', 'available_gateways': 500,
            'id': rid, 'name': rid}
    job_id, job = records.job('create', 'monitoring_worker', 'ha_router',
                              rid, 1, ha_router_params(), body)
    job[1].update(job_fields)
    client.txn([], [etcd.put(keys.config('ha_router', rid),
                             records.config(body, 1)),
                    etcd.put(keys.job(job_id), job)], key=keys.job(job_id))
    return job_id


# A router that no test registers: a job over it never finds it ACTIVE.
MISSING_ROUTER = '99999999-0000-0000-0000-000000000000'


def job_on_missing_router(client, rid, request_id=None):
    """Write a job whose router never shows up.

    It fails after the worker's etcd_reader_timeout.

    :returns: the job id.
    """
    params = [{'resources': [], 'type': 'value', 'value': MISSING_ROUTER,
               'param': name}
              for name in ('primary_device_id', 'secondary_device_id')]
    body = {'id': rid, 'name': rid, 'status': 'PENDING_CREATE'}
    job_id, job = records.job('create', 'monitoring_worker', 'ha_router',
                              rid, 1, params, body,
                              request_id=request_id)
    client.txn([], [etcd.put(keys.config('ha_router', rid),
                             records.config(body, 1)),
                    etcd.put(keys.job(job_id), job)], key=keys.job(job_id))
    return job_id


# An address on loopback where nothing answers SNMP: a job that checks a
# router there holds its slot until [snmp] check_timeout.
SILENT_DEVICE = '127.0.0.9'


def write_as_heat(client, resource_type, rid, project, **body):
    """Write a create of *project*'s resource as heat-engine does.

    /config and the job in one transaction (heat_esi.actions.write, with
    the stored heat_template), the body carrying the project as its
    tenant_id. Edge routers are at SILENT_DEVICE unless *body* says.

    :returns: the job id.
    """
    from heat_esi import actions
    body = dict({'id': rid, 'name': rid, 'status': 'PENDING_CREATE',
                 'tenant_id': project}, **body)
    if resource_type == 'edge_router':
        body.setdefault('ip', SILENT_DEVICE)
    elif resource_type == 'ha_router':
        body.setdefault('primary_router_id', PRIMARY)
        body.setdefault('secondary_router_id', SECONDARY)
    job_id, = actions.write(
        client, actions.stored_template(client, resource_type),
        resource_type, rid, 'monitoring_worker', 'create', body, 1,
        [etcd.absent(keys.config(resource_type, rid))])
    return job_id


def put_template(client, name, **changes):
    """Store the shipped heat_template *name* with *changes*, at version 2."""
    body = dict(templates.load_dir()[name], **changes)
    client.put(keys.heat_template(name), records.config(body, 2))


def json_at(client, key):
    """Return the value at *key* decoded from JSON, or None when absent."""
    kv = client.get(key)
    return json.loads(kv.value) if kv else None


def state_of(client, rid, resource_type='ha_router'):
    """Return the /state of a resource as JSON, or None when absent."""
    return json_at(client, keys.state(resource_type, rid))


def monitoring_of(client, rid, resource_type='edge_router'):
    """Return the /monitoring of a device as JSON, or None when absent."""
    return json_at(client, keys.monitoring(resource_type, rid))


def resource_keys(client, resource_id):
    """Every key in etcd that belongs to *resource_id*."""
    found = []
    for prefix in ('/config/', '/jobs/', '/esi-worker/', '/state/',
                   '/monitoring/'):
        found += [kv.key for kv in client.get_prefix(prefix)[0]
                  if resource_id in kv.key]
    return found


def _new_jobs(client, start, stop, seen):
    """Call seen(mod_revision, job value) for each job written, until *stop*.

    A job is written when its key under /jobs/all/ is made (its first
    version). Short watches, each resumed where the last one ended: *stop*
    is looked at between two, and no event is skipped.
    """
    revision = start
    while not stop.is_set():
        for event in client.watch(keys.JOBS_ALL, revision, timeout=0.2):
            if stop.is_set():
                return
            revision = event.kv.mod_revision + 1
            if event.type == etcd.PUT and event.kv.version == 1:
                seen(event.kv.mod_revision, json.loads(event.kv.value))


def _watch_new_jobs(client, stop, seen):
    """Start _new_jobs in a thread, from the revision after the current one.

    The revision is read before this returns: a job written as soon as the
    caller goes on is seen.
    """
    thread = threading.Thread(target=_new_jobs, args=(
        client, client.revision() + 1, stop, seen), daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def jobs_watched(client, seen):
    """Call seen(mod_revision, job value) for each job written meanwhile.

    From the revision after the current one, as long as the block runs.
    """
    stop = threading.Event()
    thread = _watch_new_jobs(client, stop, seen)
    try:
        yield
    finally:
        stop.set()
        thread.join()


def answer_jobs(client, stop, fail=None, error=''):
    """Start a stand-in for the worker, for tests of the Heat plugins.

    It answers every job with /state as soon as it appears; jobs of action
    *fail* fail. It runs until *stop* (a threading.Event) is set.

    It watches from the revision read here, before this returns: a job
    written as soon as the caller goes on is in its watch.
    """
    def answer(_revision, value):
        job = value[1]
        failing = job['action'] == fail
        worker_state = (states.failed if failing else
                        states.completed)(job['action'])
        client.put(keys.state(job['resource_type'], job['resource_id']),
                   records.state(worker_state, job['version'],
                                 {'primary': 'ACTIVE', 'secondary': 'ACTIVE'},
                                 error if failing else ''))
    return _watch_new_jobs(client, stop, answer)


def register(client, esi_type, rid, state=None, project=PROJECT, **body):
    """A resource of *project* as its own finished create leaves it.

    /config holds *body* (plus id, status and tenant_id); /state says
    *state* ({element: state}) when it is given.
    """
    from heat_esi import keys
    from heat_esi import records
    body = dict({'status': 'PENDING_CREATE', 'id': rid,
                 'tenant_id': project}, **body)
    client.put(keys.config(esi_type, rid), records.config(body, 1))
    if state is not None:
        client.put(keys.state(esi_type, rid),
                   records.state('CREATE_COMPLETED', 1, state))
    return body


def heat_on(options):
    """Point the in-process Heat engine's [esi_etcd] at *options*.

    :returns: the function that undoes it.
    """
    from oslo_config import cfg

    from tests import heat_engine
    heat_engine.setup(0)
    cfg.CONF.set_override('action_retry_limit', 0)
    for name, value in options.items():
        if name == 'endpoints':
            value = value.split(',')
        cfg.CONF.set_override(name, value, group='esi_etcd')

    def undo():
        cfg.CONF.clear_override('action_retry_limit')
        for name in options:
            cfg.CONF.clear_override(name, group='esi_etcd')
    return undo


# The operator CLI of this venv.
HEAT_ESI = os.path.join(os.path.dirname(sys.executable), 'heat-esi')


def heat_esi(server, *args, stdin=''):
    """Run heat-esi against *server*'s etcd: the CompletedProcess."""
    return subprocess.run([HEAT_ESI, '--etcd-url', server.url] + list(args),
                          input=stdin, capture_output=True, text=True,
                          timeout=60)

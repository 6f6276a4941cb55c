"""etcd with authentication on and a 3-second token TTL.

The plugin and a worker run each with its least-privilege role of
doc/source/admin/etcd.rst.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import contextlib
import threading
import time

import pytest
import requests

from heat_esi import client as esi_client
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import state_watch
from heat_esi import templates
from tests import esi_fixtures
from tests import etcd_cluster

USERS = {'heat': ('heat-pw-1', ['heat-engine']),
         'esi': ('esi-pw-2', ['esi-worker'])}


@pytest.fixture(scope='module')
def secured():
    cluster = etcd_cluster.EtcdCluster(
        size=1, args=['--auth-token-ttl', '3']).start()
    client = cluster.client()
    templates.store(client, templates.load_dir())
    esi_fixtures.register_edge_routers(client)
    root_password = etcd_cluster.enable_auth(cluster, USERS)
    yield cluster, root_password
    cluster.cleanup()


def worker_as(cluster, tmp_path, user, password, name='aw'):
    return esi_fixtures.WorkerProcess(
        str(tmp_path), 0, name=name, claim_ttl=60,
        etcd_reader_retry_interval=0.05, sections={
            'monitor': {'enabled': 'false'},
            'esi_etcd': cluster.esi_etcd_options(username=user,
                                                 password=password)})


def wait_for_token_expiry(cluster):
    """Return once tokens issued now have expired.

    So have all tokens last used before now. Each probe uses a token of its
    own: using one extends its life.
    """
    member = cluster.members[0]
    tokens = [etcd_cluster.token_of(cluster, 'heat', USERS['heat'][0])
              for _ in range(40)]

    def expired():
        resp = requests.post(member.url + '/v3/kv/range',
                             json={'key': 'L3N0YXRlLw=='},
                             headers={'Authorization': tokens.pop()},
                             timeout=2)
        return resp.status_code == 401
    esi_fixtures.wait_until(expired, timeout=12, interval=0.25,
                            message='the tokens to expire')


def create(expect='COMPLETE'):
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.create()
    assert stk.state == ('CREATE', expect), stk.status_reason
    return stk


def routers_template(count):
    one = heat_engine.ha_router_template()['resources']['ha']
    return {'heat_template_version': '2018-08-31',
            'resources': {'ha%d' % i: one for i in range(count)}}


class Creating(object):
    """A stack of *count* HA routers created in a thread of its own."""

    def __init__(self, count):
        self.stack = heat_engine.stack(routers_template(count))
        self.thread = threading.Thread(target=self.stack.create,
                                       daemon=True)

    def start(self):
        self.thread.start()
        return self

    def finish(self, timeout):
        """The stack's state once its create ended within *timeout* s."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), 'the stack create hangs'
        return self.stack.state


def jobs_written(root, count):
    return len(root.get_prefix(keys.JOBS_ALL, keys_only=True)[0]) >= count


def test_worker_and_plugin_keep_working_across_token_expiry(secured,
                                                            tmp_path):
    cluster, root_password = secured
    undo = esi_fixtures.heat_on(cluster.esi_etcd_options(
        username='heat', password=USERS['heat'][0]))
    worker = worker_as(cluster, tmp_path, 'esi', USERS['esi'][0]).start()
    try:
        first = create()
        wait_for_token_expiry(cluster)
        create()
        # Both renewed their token: the plugin in this process, the
        # worker in its log.
        assert worker.log().count('authenticated to etcd') >= 2
        # A user added meanwhile (a new auth revision) breaks nobody.
        root = etcd_cluster.token_of(cluster, 'root', root_password)
        etcd_cluster.add_user(cluster, 'late', 'late-pw', ['esi-worker'],
                              token=root)
        create()
        first.delete()
        assert first.state == ('DELETE', 'COMPLETE'), first.status_reason
        assert USERS['esi'][0] not in worker.log()
    finally:
        worker.stop()
        undo()


def test_a_wrong_password_fails_at_once_and_says_so(secured, tmp_path):
    cluster, _ = secured
    worker = worker_as(cluster, tmp_path, 'esi', 'not-the-password',
                       name='wrong').start(wait=False)
    try:
        assert worker.proc.wait(20) == 1
        log = worker.log()
        assert ('etcd authentication failed for user esi at %s'
                % cluster.members[0].url) in log
        assert 'not-the-password' not in log
    finally:
        worker.stop()
    undo = esi_fixtures.heat_on(cluster.esi_etcd_options(
        username='heat', password='not-the-password'))
    try:
        started = time.monotonic()
        stk = create(expect='FAILED')
        reason = stk['ha'].status_reason
        assert 'authentication failed for user heat' in reason
        assert 'not-the-password' not in reason
        assert time.monotonic() - started < 10
    finally:
        undo()


def test_a_role_without_the_prefix_is_refused_clearly(secured):
    cluster, root_password = secured
    root = etcd_cluster.token_of(cluster, 'root', root_password)
    etcd_cluster.add_user(cluster, 'ops', 'ops-pw', ['esi-templates'],
                          token=root)
    ops = cluster.client(username='ops', password='ops-pw')
    assert set(templates.store(ops, templates.load_dir()).values()) == {
        'unchanged'}
    client = cluster.client(username='esi', password=USERS['esi'][0])
    with pytest.raises(exceptions.EtcdError) as caught:
        client.put('/config/v2.0/ha_routers/x', 'forbidden')
    assert 'permission denied (user esi)' in str(caught.value)


@contextlib.contextmanager
def routers_waiting(secured, count=3):
    """heat-engine as user heat, creating *count* HA routers, no worker yet.

    Yields (cluster, the Creating stack, heat-engine's /state watch, a list
    into which the test puts the workers it starts: they are stopped at
    the end).
    """
    cluster, root_password = secured
    undo = esi_fixtures.heat_on(cluster.esi_etcd_options(
        username='heat', password=USERS['heat'][0]))
    root = cluster.client(username='root', password=root_password)
    workers = []
    try:
        before = len(root.get_prefix(keys.JOBS_ALL, keys_only=True)[0])
        creating = Creating(count).start()
        esi_fixtures.wait_until(lambda: jobs_written(root, before + count),
                                timeout=30, message='the %d jobs' % count)
        yield (cluster, creating, state_watch.of(esi_client.etcd_client()),
               workers)
    finally:
        for worker in workers:
            worker.stop()
        undo()


def test_a_token_that_expires_while_resources_wait(secured, tmp_path):
    # heat-engine's /state stream outlives the token it was opened with:
    # the resources that wait on it get their answers by it, and after a
    # new token (the next write renews it) it is opened again.
    with routers_waiting(secured) as (cluster, creating, watch, workers):
        tokens = watch.client.authentications
        # No worker yet: they wait while heat-engine's token expires.
        wait_for_token_expiry(cluster)
        worker = worker_as(cluster, tmp_path, 'esi', USERS['esi'][0],
                           name='expiry').start()
        workers.append(worker)
        answered = time.monotonic()
        assert creating.finish(60) == ('CREATE', 'COMPLETE'), \
            creating.stack.status_reason
        assert time.monotonic() - answered < 30
        # The next stack's writes renew the token; the stream opened with
        # the old one is opened again, and its checks are answered.
        opened = watch.opened
        wait_for_token_expiry(cluster)
        create()
        assert watch.client.authentications > tokens
        assert watch.opened > opened
        assert USERS['heat'][0] not in worker.log()


def test_etcd_restarted_while_resources_wait(secured, tmp_path):
    # The stream breaks with etcd, and etcd forgets every token: the
    # checks read meanwhile (and fail, then succeed), the stream is opened
    # again with a new token, and the stack completes.
    with routers_waiting(secured) as (cluster, creating, watch, workers):
        opened = watch.opened
        cluster.members[0].stop()
        cluster.restart(0)
        workers.append(worker_as(cluster, tmp_path, 'esi', USERS['esi'][0],
                                 name='restart').start())
        assert creating.finish(90) == ('CREATE', 'COMPLETE'), \
            creating.stack.status_reason
        assert watch.opened > opened
        # Another stack is answered on the new stream.
        create()

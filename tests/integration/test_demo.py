"""`heat-esi demo`, the main job, run as a user runs it."""

import os
import subprocess
import sys

import psutil

DEMO = [os.path.join(os.path.dirname(sys.executable), 'heat-esi')]


def children_of_me():
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_demo_with_its_own_etcd_runs_and_cleans_up():
    before = children_of_me()
    result = subprocess.run(DEMO + ['demo'], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert 'SIMULATED' in out
    for point in ('(1)', '(2)', '(3)', '(4)'):
        assert 'at the point of %s in etcd' % point in out
    assert '"worker_state": "CREATE_COMPLETED"' in out
    assert 'stack ha-router-demo: CREATE_COMPLETE' in out
    assert 'stack ha-router-demo: DELETE_COMPLETE' in out
    assert 'left in etcd: none' in out
    assert children_of_me() == before      # its etcd is stopped


def test_demo_on_an_existing_etcd_leaves_only_what_was_there(
        etcd_client, etcd_server):
    etcd_client.put('/somebody/else', 'keep me')
    result = subprocess.run(DEMO + ['--etcd-url', etcd_server.url, 'demo'],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    kvs, _ = etcd_client.get_prefix('/')
    assert [(kv.key, kv.value) for kv in kvs] == [('/somebody/else',
                                                   'keep me')]

"""The performance suite runs end to end (--quick: small numbers)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_quick_run_measures_every_figure_and_draws_them(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'benchmarks', 'run.py'),
         '--quick', '--output-dir', str(tmp_path)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    with open(tmp_path / 'performance.json') as f:
        results = json.load(f)
    assert results['quick'] is True
    for size in ('1', '10', '100'):
        stack = results['stacks'][size]
        assert stack['esi_s'] > 0 and stack['none_s'] > 0
    net = results['network']
    assert net['esi_s'] > 0 and net['none_s'] > 0
    assert net['esi_delete_s'] > 0 and net['none_delete_s'] > 0
    assert len(net['esi_runs']) == len(net['none_runs']) == 1
    assert net['stacks_left'] == []     # the worker's stacks too
    for n in ('1', '2'):
        for run in results['cpu_per_job'][n]:
            assert run['workers'] == int(n)
            assert run['worker_ms'] > 0 and run['etcd_ms'] >= 0
    assert results['put_unit']['total_ms'] > 0
    assert len(results['latency']['samples']) == 20
    assert [w['jobs'] for w in results['rss']['waiting']] == [200, 1000]
    assert all(w['rss'] > results['rss']['idle_rss'] / 2
               for w in results['rss']['waiting'])
    small, big = results['scale']['20'], results['scale']['400']
    for field in ('claim_ms', 'render_ms', 'etcd_reader_ms', 'job_total_ms',
                  'latency_median_ms', 'monitor_cpu_ms_per_device',
                  'heat_validate_ms', 'heat_create_ms'):
        assert small[field] > 0 and big[field] > 0, field
    assert small['monitor_devices'] > 0 and big['monitor_devices'] > 0
    http = results['http']
    assert http['connections'] == 150 and http['still_open'] == 0
    assert http['worker_alive']
    assert http['cpu_ms_per_connection'] >= 0
    for field in ('healthz_quiet_ms', 'healthz_flood_ms', 'job_quiet_ms',
                  'job_flood_ms'):
        assert http[field] > 0, field
    fair = results['fairness']
    assert (fair['backlog'], fair['slots']) == (20, 2)
    for name in ('turns_only', 'default_limit'):
        assert len(fair[name]['behind_s']) == 2
        assert fair[name]['job_unit_s'] >= 1.0      # check_timeout
        assert fair[name]['added_max_jobs'] >= 0
    dist = results['distributed']
    assert sorted(dist['throughput']) == ['1', '2', '3']
    for n, run in dist['throughput'].items():
        assert run['workers'] == int(n) and run['jobs_per_s'] > 0
        assert run['worker_ms'] > 0 and run['etcd_ms'] > 0
    own = dist['monitor']['ownership']
    assert sum(own['written']) == dist['monitor']['devices']
    assert own['written_twice'] == own['not_the_expected_owner'] == 0
    over = dist['monitor']['failover']
    assert over['taken_over'] == over['owned'] > 0
    assert over['lease_expired_s'] > 0
    # py-spy sampled the draining worker, inside heat_esi's code.
    assert results['profile']['samples'] > 0
    assert results['profile']['in_heat_esi'] > 0

    # The table names each figure and its target.
    for text in ('OS::Heat::None', 'network + subnet stack', 'put-units',
                 'job write -> /state', 'RSS', '400 vs 20 resident', '<= 1.5x',
                 'idle connections on its metrics port',
                 'flat within 10 %', "one project's backlog",
                 '3-member etcd cluster', 'monitor ownership', 'failover'):
        assert text in proc.stdout, text
    with open(tmp_path / 'performance.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'

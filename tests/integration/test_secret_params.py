"""A secret param through a real worker's heat_worker and a real Heat.

tests/integration/secret_stack.py (a child process: heat-api and
heat-engine in process, as the demo runs them) writes a resource whose
job template maps a secret, and a worker running the heat_worker makes
its stack. The stack got a reference to the value as a hidden parameter
(``stack show`` masks it); etcd held the value only in the resource's
/config, in its whole history; the worker's log, at DEBUG, shows the
reference, never the value.
"""

import json
import os
import subprocess
import sys
import uuid

from tests import esi_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_the_stack_gets_the_secret_hidden_and_nothing_else_holds_it(
        etcd_client, etcd_server, tmp_path):
    secret = 'md5-%s' % uuid.uuid4().hex
    since = etcd_client.revision() + 1
    result = subprocess.run(
        [sys.executable, '-m', 'tests.integration.secret_stack',
         etcd_server.url, str(tmp_path), secret],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    rid = shown['rid']
    assert shown['state']['state']['worker_state'] == 'CREATE_COMPLETED', \
        shown['state']
    assert shown['state']['error'] == ''
    assert shown['stack_status'] == 'CREATE_COMPLETE'
    # Heat got the reference, and shows it as a hidden parameter.
    assert shown['parameters']['md5'] == '******'
    assert shown['parameters']['name'] == 'peer-%s' % rid[:8]

    # Every value etcd held since, deleted ones (the job) included.
    holding = sorted({event.kv.key for event in esi_fixtures.history(
        etcd_client, '/', since) if secret in event.kv.value})
    assert holding == ['/config/v2.0/secret_tests/%s' % rid]
    job_values = [event.kv.value for event in esi_fixtures.history(
        etcd_client, '/jobs/all/', since)]
    assert job_values and all(
        '"type": "secret"' in value and '"field": "bgp_md5"' in value
        for value in job_values)

    log = (tmp_path / 'heat.log').read_text()
    # The worker logged the job and, at DEBUG, keystoneauth its request
    # with the stack's parameters: the reference, never the value.
    assert 'secret_test_%s' % rid in log
    requests = [line for line in log.splitlines()
                if 'REQ: curl' in line and 'POST' in line]
    reference = '"md5": "secret_test/%s/bgp_md5@1"' % rid
    assert requests and all(reference in line for line in requests), \
        requests
    assert secret not in log
    assert secret not in result.stdout + result.stderr

"""One request id from `openstack stack create` to the worker's log."""

import json
import os
import re

from heat_esi import keys
from tests import esi_fixtures

REQ = r'req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'


def _size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def _read_from(path, offset):
    with open(path, errors='replace') as f:
        f.seek(offset)
        return f.read()


def test_heat_api_request_id_reaches_every_worker_line_of_the_job(
        cloud, routers):
    api_log, worker_log = cloud.heat.api_app_log, cloud.worker.log_path
    api_start, worker_start = _size(api_log), _size(worker_log)
    cloud.stack_create('request-id')
    rid = cloud.resource_id('request-id')

    # heat-api logs the request that created the stack with its id.
    posts = [line for line in _read_from(api_log, api_start).splitlines()
             if re.search(r'Processing request: POST /v1/\S+/stacks$',
                          line)]
    assert len(posts) == 1, posts
    request_id = re.search(REQ, posts[0]).group(0)

    # The job carried it ...
    jobs = [json.loads(ev.kv.value) for ev in
            esi_fixtures.history(routers, keys.JOBS_ALL, 1)
            if rid in ev.kv.key]
    assert jobs and {job[1]['request_id'] for job in jobs} == {request_id}
    job_id = jobs[0][1]['id']

    # ... and every line the worker logged for the job shows it.
    lines = [line for line in
             _read_from(worker_log, worker_start).splitlines()
             if job_id in line]
    assert len(lines) >= 2, lines       # claimed, finished
    assert any('claimed' in line for line in lines)
    assert any('finished: CREATE_COMPLETED' in line for line in lines)
    for line in lines:
        assert request_id in line, line

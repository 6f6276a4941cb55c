"""Job slots are shared fairly between projects (issue 19, finding 2).

A real esi-worker on a real etcd. One project has a backlog of edge router
creates against an address where nothing answers SNMP, each holding its
slot until [snmp] check_timeout; another project's HA router job (its
routers are ACTIVE: it ends at once) must not wait behind that backlog.
Jobs are written as heat-engine writes them. The tests read the order of
claims and answers from etcd's history, never a duration.
"""

import json

import pytest

from heat_esi import keys
from tests import esi_fixtures
from tests import snmp_agents

BUSY, OTHER = 'project-busy', 'project-other'
# More than a worker's take window (64 jobs): on main, a job written after
# them was not even among those a slot chose from.
BACKLOG = 70


def sections(check_timeout):
    """[snmp] for the silent device (any port: nothing answers there)."""
    found = snmp_agents.worker_sections(161, check_timeout=check_timeout)
    found['monitor'] = {'enabled': 'false'}
    return found


def in_order(client, prefix, start):
    """The keys under *prefix* written since revision *start*, in order."""
    return [ev.kv.key[len(prefix):]
            for ev in esi_fixtures.history(client, prefix, start)]


def claimed(client):
    return len(client.get_prefix(keys.JOBS_WORKING, keys_only=True)[0])


def answer(client, rid):
    """The /state of HA router *rid* once the worker wrote it."""
    kv = esi_fixtures.wait_until(
        lambda: client.get(keys.state('ha_router', rid)), timeout=60,
        message='the answer to %s' % rid)
    return json.loads(kv.value)['state']['worker_state']


def write_backlog(client, count):
    """The busy project's edge router creates, at the silent device."""
    return [esi_fixtures.write_as_heat(client, 'edge_router', 'busy-%d' % i,
                                       BUSY) for i in range(count)]


@pytest.mark.parametrize('found_at_start', [False, True],
                         ids=['through-the-watch', 'found-at-start'])
def test_a_free_slot_goes_to_the_project_with_fewer_jobs_running(
        loaded, workers, found_at_start):
    client = loaded
    esi_fixtures.register_edge_routers(client)
    start = client.revision() + 1
    if found_at_start:
        write_backlog(client, BACKLOG)
        esi_fixtures.write_as_heat(client, 'ha_router', 'other-1', OTHER)
    # No limit per project: the turns alone decide.
    workers(1, job_slots=2, max_jobs_per_project=2, shutdown_grace=0,
            # Long enough that other-1 is written while the first two busy
            # jobs still run, on a loaded machine too (at 2 s, a test
            # process held up for 2 s between the two writes saw a third
            # and a fourth busy job answered first).
            sections=sections(check_timeout=5))
    if not found_at_start:
        write_backlog(client, BACKLOG)
        esi_fixtures.wait_until(lambda: claimed(client) == 2, timeout=30,
                                message='both slots busy')
        esi_fixtures.write_as_heat(client, 'ha_router', 'other-1', OTHER)
    assert answer(client, 'other-1') == 'CREATE_COMPLETED'
    # It waited for at most one busy job per slot (those running when it
    # came), not for the backlog: it was answered before all but those.
    answered = in_order(client, '/state/v2.0/', start)
    before = answered[:answered.index('ha_routers/other-1')]
    assert all(key.startswith('edge_routers/busy-') for key in before), before
    assert len(before) <= 2, before


def test_a_backlog_leaves_a_slot_to_the_other_projects(loaded, workers):
    client = loaded
    esi_fixtures.register_edge_routers(client)
    # The default max_jobs_per_project: job_slots - 1.
    worker, = workers(1, job_slots=3, shutdown_grace=0,
                      sections=sections(check_timeout=5))
    start = client.revision() + 1
    backlog = write_backlog(client, 10)
    esi_fixtures.wait_until(lambda: claimed(client) >= 2, timeout=30,
                            message='the busy project in two slots')
    other = esi_fixtures.write_as_heat(client, 'ha_router', 'other-1',
                                       OTHER)
    assert answer(client, 'other-1') == 'CREATE_COMPLETED'
    # Answered in the free slot while the busy project's two jobs still
    # wait for their silent device.
    answered = in_order(client, '/state/v2.0/', start)
    assert answered[0] == 'ha_routers/other-1', answered
    claims = in_order(client, keys.JOBS_WORKING, start)
    assert claims.index(other) == 2 and set(claims[:2]) <= set(backlog)
    assert 'job slots (at most 2 per project)' in worker.log()

"""Writes whose answer is lost ("outcome unknown"), against a real etcd.

The claim and the fenced writes of a job read back and never apply twice.
"""

import json

import pytest

from heat_esi import exceptions
from heat_esi import keys
from heat_esi.worker import claims
from tests import esi_fixtures


class LostAnswers(object):
    """The real client, except that the next write transactions lose answers.

    'after' applies the write first, 'before' does not (and keeps it, to be
    applied late with land_late()).
    """

    def __init__(self, client):
        self.client = client
        self.plan = []
        self.held = []

    def __getattr__(self, name):
        return getattr(self.client, name)

    def txn(self, compare, success, failure=(), key=None):
        writes = any('request_range' not in op for op in success)
        if writes and self.plan:
            when = self.plan.pop(0)
            if when == 'after':
                self.client.txn(compare, success, failure, key)
            else:
                self.held.append((compare, success, failure, key))
            raise exceptions.EtcdOutcomeUnknown('test', key or '?',
                                                'answer lost')
        return self.client.txn(compare, success, failure, key)

    def land_late(self):
        return self.client.txn(*self.held.pop(0))


@pytest.fixture
def job(loaded):
    rid = 'a0000000-0000-0000-0000-000000000001'
    job_id = esi_fixtures.write_ha_job(loaded, rid)
    return LostAnswers(loaded), job_id


def take(client, job_id, lease):
    kv = client.get(keys.job(job_id))
    handler, body, _ = json.loads(kv.value)
    return claims.claim(client, kv, handler, body, lease)


def test_a_claim_that_landed_unanswered_is_ours(job):
    client, job_id = job
    lease = client.grant_lease(30)
    client.plan = ['after']
    claim = take(client, job_id, lease)
    assert claim is not None and claim.attempts == 0
    assert client.get(keys.working(job_id)).value == claim.claim_id


def test_a_claim_that_did_not_land_is_tried_again(job):
    client, job_id = job
    lease = client.grant_lease(30)
    client.plan = ['before']
    with pytest.raises(exceptions.EtcdError):
        take(client, job_id, lease)
    assert client.get(keys.working(job_id)) is None
    claim = take(client, job_id, lease)
    assert claim.attempts == 0
    # The lost request, arriving now, cannot claim the job a second time.
    ok, _ = client.land_late()
    assert not ok
    assert client.get(keys.working(job_id)).value == claim.claim_id


def test_a_claim_that_lands_late_is_adopted_by_the_retry(job):
    client, job_id = job
    lease = client.grant_lease(30)
    client.plan = ['before']
    with pytest.raises(exceptions.EtcdError):
        take(client, job_id, lease)
    ok, _ = client.land_late()           # the lost request lands after all
    assert ok
    claim = take(client, job_id, lease)
    assert claim is not None and claim.attempts == 0
    assert client.get(keys.working(job_id)).value == claim.claim_id


@pytest.mark.parametrize('when', ['after', 'before'])
def test_a_finish_with_a_lost_answer_records_the_state_once(job, when):
    client, job_id = job
    lease = client.grant_lease(30)
    claim = take(client, job_id, lease)
    start = client.revision() + 1
    client.plan = [when]
    claim.finish('{"state": "done"}')
    assert client.get(keys.job(job_id)) is None
    assert client.get(keys.working(job_id)) is None
    if client.held:
        ok, _ = client.land_late()       # too late: the fence refuses it
        assert not ok
    states = [ev for ev in esi_fixtures.history(client, '/state/', start)]
    assert len(states) == 1

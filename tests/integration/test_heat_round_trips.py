"""How many etcd requests the Heat side makes for one HA router."""

from tests import heat_engine  # noqa: F401  (before any heat import)

import pytest

from heat_esi import client as esi_client
from heat_esi import keys
from tests import esi_fixtures


@pytest.fixture
def heat(heat_engine_on):
    esi_fixtures.register_edge_routers(heat_engine_on)
    return heat_engine_on


@pytest.fixture
def requests_made(monkeypatch):
    """Record every request heat-engine's etcd client sends.

    Each is recorded as (path, key) by a spy on the real client, which
    still sends them.
    """
    made = []
    client = esi_client.etcd_client()
    real = client._post

    def post(path, body, key, *args, **kwargs):
        made.append((path, key))
        return real(path, body, key, *args, **kwargs)
    monkeypatch.setattr(client, '_post', post)
    return made


def test_the_routers_are_read_once_per_stack_operation(
        heat, requests_made, stand_in):
    stand_in()
    stk = heat_engine.stack(heat_engine.ha_router_template())
    stk.validate()
    stk.create()
    assert stk.state == ('CREATE', 'COMPLETE'), stk.status_reason
    router_reads = [(path, key) for path, key in requests_made
                    if key.startswith(keys.config_prefix('edge_router'))]
    # Validation reads both in one request; the checks Heat repeats at
    # create find them read.
    assert router_reads == [('kv/txn', min(
        keys.config('edge_router', rid)
        for rid in (esi_fixtures.PRIMARY, esi_fixtures.SECONDARY)))]


def test_a_missing_router_is_still_refused(heat, requests_made):
    stk = heat_engine.stack(heat_engine.ha_router_template(
        secondary_router_id='no-such-router'))
    with pytest.raises(Exception) as info:
        stk.validate()
    assert 'edge_router no-such-router does not exist in ESI' in str(
        info.value)

"""The etcd steps of a resource's life (heat_esi.lifecycle), on the fake etcd.

No Heat here: the module is driven as any caller of ESI's protocol would.
"""

import subprocess
import sys
import threading

import pytest

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle
from heat_esi import records
from heat_esi import states
from tests import fakes

RID = '11111111-2222-3333-4444-555555555555'
ROUTER = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'
HANDLER = 'monitoring_worker'
MINE, THEIRS = 'p' * 32, 't' * 32


@pytest.fixture
def store():
    store = fakes.FakeEtcd(max_watch_wait=0.05)
    yield store
    store.close()


def put_config(store, esi_type, rid, body, version=1, marked=False):
    store.put(keys.config(esi_type, rid),
              records.config(dict(body, id=rid), version, marked))


def put_job(store, action, esi_type, rid, version):
    job_id, value = records.job(action, HANDLER, esi_type, rid, version, [],
                                {'id': rid})
    store.put(keys.job(job_id), value)
    return job_id


def test_the_module_imports_no_heat():
    code = ('import sys; import heat_esi.lifecycle; '
            'print([m for m in sys.modules if m == "heat" or '
            'm.startswith("heat.")])')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == '[]'


@pytest.mark.parametrize('state, verdict', [
    (None, lifecycle.PENDING),
    ({'version': 1, 'worker_state': 'MODIFY_COMPLETED', 'error': ''},
     lifecycle.PENDING),
    ({'version': 2, 'worker_state': 'MODIFY_COMPLETED', 'error': ''},
     lifecycle.DONE),
    ({'version': 2, 'worker_state': 'MODIFY_FAILED', 'error': 'x'},
     lifecycle.FAILED),
    ({'version': 2, 'worker_state': 'MODIFY_COMPLETED', 'error': 'down'},
     lifecycle.FAILED),
    ({'version': 2, 'worker_state': 'CREATE_COMPLETED', 'error': ''},
     lifecycle.UNEXPECTED),
])
def test_answered(state, verdict):
    assert lifecycle.answered(state, 2, records.MODIFY) == verdict


def test_read_state_waits_for_the_answer_by_watching(store):
    key = keys.state('ha_router', RID)
    store.put(key, records.state('CREATE_COMPLETED', 1))
    assert lifecycle.read_state(store, 'ha_router', RID)['version'] == 1
    started = threading.Event()

    def answer():
        started.wait(5)
        store.put(key, records.state('MODIFY_COMPLETED', 2))

    writer = threading.Thread(target=answer)
    writer.start()
    started.set()
    # Long enough for any loaded machine: the answer ends the wait.
    state = lifecycle.read_state(store, 'ha_router', RID, min_version=2,
                                 wait=30)
    writer.join(5)
    assert state['version'] == 2


def test_read_state_of_a_malformed_value_names_the_key(store):
    store.put(keys.state('ha_router', RID), 'not json')
    with pytest.raises(exceptions.MalformedValue) as caught:
        lifecycle.read_state(store, 'ha_router', RID)
    assert keys.state('ha_router', RID) in str(caught.value)


def test_users_name_the_projects_own_and_hide_the_others(store):
    put_config(store, 'er_physical_interface', 'if-1',
               {'device_id': ROUTER, 'name': 'eth0', 'tenant_id': MINE})
    put_config(store, 'er_physical_interface', 'if-2',
               {'device_id': ROUTER, 'name': 'secret', 'tenant_id': THEIRS})
    put_config(store, 'er_physical_interface', 'if-3',
               {'device_id': ROUTER, 'name': 'gone', 'tenant_id': MINE},
               marked=True)
    put_config(store, 'ha_router', 'ha-1',
               {'primary_router_id': ROUTER, 'secondary_router_id': ROUTER,
                'name': 'pair', 'tenant_id': THEIRS})
    store.put(keys.config('ha_router', 'ha-2'), 'not json')

    users = lifecycle.users(store, 'edge_router', ROUTER,
                            lambda body: body['tenant_id'] == MINE)
    assert users == ['er_physical_interface if-1 (eth0)',
                     'a er_physical_interface of another project',
                     'a ha_router of another project']
    assert lifecycle.users(store, 'ha_interface', 'x', lambda b: True) == []


def test_forget_retries_a_delete_whose_answer_was_lost(store):
    put_config(store, 'ha_router', RID, {'tenant_id': MINE})
    store.put(keys.state('ha_router', RID), records.state('X', 1))
    store.fail(fakes.OUTCOME_UNKNOWN, count=1, only=['txn'])
    lifecycle.forget(store, 'ha_router', RID)
    assert store.get(keys.config('ha_router', RID)) is None
    assert store.get(keys.state('ha_router', RID)) is None


def test_withdraw_leaves_a_claimed_job(store):
    free = put_job(store, records.CREATE, 'ha_router', RID, 1)
    claimed = put_job(store, records.CREATE, 'ha_router', RID, 1)
    store.put(keys.working(claimed), 'worker-1')
    done = dict(lifecycle.withdraw(store, HANDLER, 'ha_router', RID,
                                   {'version': 1,
                                    'action': records.CREATE}))
    assert done == {free: True, claimed: False}
    assert store.get(keys.job(free)) is None
    assert store.get(keys.job(claimed)) is not None


def test_a_create_job_is_written_again_only_when_nothing_answers(store):
    put_config(store, 'ha_router', RID, {'tenant_id': MINE})
    kv = store.get(keys.config('ha_router', RID))
    conditions = lifecycle.create_job_conditions(HANDLER, 'ha_router', RID,
                                                 kv)
    assert store.txn(conditions, [])[0]
    put_job(store, records.CREATE, 'ha_router', RID, 1)
    assert not store.txn(conditions, [])[0]


def test_the_newest_job_in_flight_is_waited_for(store):
    assert lifecycle.newest_job_in_flight(store, HANDLER, 'ha_router',
                                          RID) is None
    put_job(store, records.CREATE, 'ha_router', RID, 1)
    put_job(store, records.MODIFY, 'ha_router', RID, 3)
    newest = lifecycle.newest_job_in_flight(store, HANDLER, 'ha_router', RID)
    assert newest == {'version': 3, 'action': records.MODIFY}


def test_workers_alive(store):
    assert not lifecycle.workers_alive(store)
    store.put(keys.MEMBERS + 'worker-1', '{}')
    assert lifecycle.workers_alive(store)


def test_a_missing_reference_is_found_and_an_invalid_id_left(store):
    def read_config(esi_type, rid):
        kv = store.get(keys.config(esi_type, rid))
        return kv, kv and records.parse_config(kv.key, kv.value)

    put_config(store, 'edge_router', ROUTER, {'tenant_id': MINE})
    body = {'primary_router_id': ROUTER, 'secondary_router_id': 'gone'}
    assert lifecycle.missing_reference(
        read_config, 'ha_router', body, lambda rid: None) == (
            'secondary_router_id', 'edge_router', 'gone')
    assert lifecycle.missing_reference(
        read_config, 'ha_router', body,
        lambda rid: rid == 'gone' and 'invalid') is None


def test_delete_under_way():
    deleted = {'version': 2,
               'worker_state': states.completed(records.LOGICAL_DELETE)}
    assert lifecycle.delete_under_way(2, None)
    assert lifecycle.delete_under_way(2, dict(deleted, version=1))
    assert lifecycle.delete_under_way(2, deleted)
    assert not lifecycle.delete_under_way(
        2, dict(deleted, worker_state='MODIFY_FAILED'))


def test_last_action_problem():
    ok = {'version': 2, 'worker_state': 'MODIFY_COMPLETED', 'error': ''}
    assert lifecycle.last_action_problem(ok, 2) is None
    assert lifecycle.last_action_problem(ok, 3) == 'MODIFY_COMPLETED'
    assert lifecycle.last_action_problem(dict(ok, error='down'), 2) == 'down'
    assert lifecycle.last_action_problem(None, 1) == 'no state'


def test_shown_hides_secrets_and_reads_monitoring_only_once_answered():
    body = {'id': RID, 'password': 'secret', 'status': 'PENDING_CREATE'}
    read = []
    shown = lifecycle.shown(body, 1, False, None, ('password',),
                            lambda: read.append(1) or {})
    assert 'password' not in shown and not read
    assert shown['state_monitoring'] == {} and shown['worker_state'] is None
    shown = lifecycle.shown(
        body, 1, False, {'version': 1, 'worker_state': 'CREATE_COMPLETED',
                         'error': ''}, ('password',),
        lambda: {'router': 'UP'})
    assert shown['state_monitoring'] == {'router': 'UP'}
    assert shown['status'] == 'ACTIVE'

"""Unit tests of heat_esi.states: how /state and /monitoring combine."""

import pytest

from heat_esi import exceptions
from heat_esi import records
from heat_esi import states


def state(worker_state='CREATE_COMPLETED', version=1, parts=None):
    return {'worker_state': worker_state, 'version': version, 'error': '',
            'state_monitoring': parts if parts is not None
            else {'router': 'ACTIVE'}}


def test_worker_states_of_each_action():
    assert states.completed(records.LOGICAL_DELETE) == 'DELETE_COMPLETED'
    assert states.failed(records.MODIFY) == 'MODIFY_FAILED'
    assert states.is_failed('CHECK_FAILED')
    assert not states.is_failed('CREATE_COMPLETED')
    assert not states.is_completed(None)
    assert states.action_of('MODIFY_FAILED') == 'MODIFY'
    assert states.action_of('READ_COMPLETE') is None


def test_monitoring_wins_unless_older_than_the_last_job():
    assert states.combine(state(), {'router': 'DOWN', 'version': 1}) == {
        'router': 'DOWN'}
    # A /monitoring of version 1 says nothing about the job of version 2.
    assert states.combine(state(version=2),
                          {'router': 'DOWN', 'version': 1}) == {
        'router': 'ACTIVE'}
    # The nested form of Era B.
    assert states.combine(None, {'status': {'primary': 'UP'},
                                 'version': 3}) == {'primary': 'UP'}


def test_a_failed_job_is_not_healthy_whatever_the_monitor_said():
    parts = states.combine(state('MODIFY_FAILED', 2),
                           {'router': 'UP', 'version': 2})
    assert parts == {'router': 'ACTIVE', 'worker_state': 'MODIFY_FAILED'}
    assert not states.healthy(parts)


def test_nothing_reported_is_neither_healthy_nor_a_map():
    assert states.combine(None, None) is None
    assert states.combine(state(parts={}), None) is None
    assert not states.healthy(None)


def test_a_monitoring_value_that_is_not_an_object_names_its_key():
    with pytest.raises(exceptions.MalformedValue, match='/monitoring/k'):
        states.combine(None, ['UP'], '/monitoring/k')


def test_status_attribute():
    body = {'status': 'PENDING_CREATE'}
    assert states.status(body, None, None) == 'PENDING_CREATE'
    assert states.status(body, state(), {'router': 'UP'}) == 'ACTIVE'
    assert states.status(body, state(), {'router': 'DOWN'}) == 'DOWN'
    assert states.status(body, state('CREATE_FAILED'), {}) == 'ERROR'
    assert states.shown({'router': 'ACTIVE', 'x': 'DOWN'}) == {
        'router': 'UP', 'x': 'DOWN'}

"""What a stack check asks the monitors, and what it reports.

heat_esi.stack_check against an etcd in memory: the poll requests it
writes, the answers it accepts, and the words of each device not UP.
"""

from tests import heat_engine  # noqa: F401  (before any heat import)

import time

import pytest

from heat.common import exception

from heat_esi import keys
from heat_esi import records
from heat_esi import stack_check
from tests import fakes

PRIMARY = ('primary', 'edge_router', 'router-1')
SECONDARY = ('secondary', 'edge_router', 'router-2')


@pytest.fixture
def fake():
    return fakes.FakeEtcd()


def worker(store, monitor=True):
    store.put(keys.MEMBERS + 'w1', '{}')
    if monitor:
        store.put(keys.MONITORS + 'w1', '{}')


def answer(store, cookie, dependency, state, why=None, address='192.0.2.1',
           token=None):
    """Answer *dependency*'s poll request as the monitor does."""
    key = keys.poll_request(dependency[1], dependency[2])
    store.put(key, {'request': token or cookie['requests'][key]['token'],
                    'answer': {'state': state, 'why': why or {},
                               'address': address}})


def test_no_worker_is_said_before_anything_is_written(fake):
    with pytest.raises(exception.Error) as info:
        stack_check.start(fake, [PRIMARY])
    assert 'no esi-worker is running' in str(info.value)
    assert fake.dump(keys.POLL_REQUESTS) == {}


def test_a_poll_request_per_device_then_their_answers(fake):
    worker(fake)
    cookie = stack_check.start(fake, [PRIMARY, SECONDARY])
    written = fake.dump(keys.POLL_REQUESTS)
    assert sorted(written) == sorted(cookie['requests'])
    assert not stack_check.poll(fake, cookie)        # nobody answered yet
    answer(fake, cookie, PRIMARY, {'router': 'UP'})
    assert not stack_check.poll(fake, cookie)        # one of two
    answer(fake, cookie, SECONDARY, {'router': 'ACTIVE'})
    assert stack_check.poll(fake, cookie)
    assert fake.dump(keys.POLL_REQUESTS) == {}       # requests removed


def test_each_device_not_up_is_named_with_its_address_and_why(fake):
    worker(fake)
    cookie = stack_check.start(fake, [PRIMARY, SECONDARY])
    answer(fake, cookie, PRIMARY, {'router': 'DOWN'},
           why={'router': 'no SNMP answer'})
    answer(fake, cookie, SECONDARY, {'router': 'UP'}, address='192.0.2.2')
    with pytest.raises(exception.Error) as info:
        stack_check.poll(fake, cookie)
    assert str(info.value) == ('edge_router router-1 (primary) at '
                               '192.0.2.1: router DOWN (no SNMP answer)')


def test_an_answer_to_an_older_check_is_not_taken(fake):
    worker(fake)
    cookie = stack_check.start(fake, [PRIMARY])
    cookie['deadline'] = time.monotonic() - 1       # the wait is over
    answer(fake, cookie, PRIMARY, {'router': 'UP'}, token='older')
    with pytest.raises(exception.Error) as info:
        stack_check.poll(fake, cookie)
    assert 'edge_router router-1 (primary): no esi-worker polled it ' \
           'within' in str(info.value)


def test_a_newer_checks_request_is_answered_for_both(fake):
    worker(fake)
    cookie = stack_check.start(fake, [PRIMARY])
    key = keys.poll_request('edge_router', 'router-1')
    fake.put(key, {'request': 'newer'})
    assert not stack_check.poll(fake, cookie)
    answer(fake, cookie, PRIMARY, {'router': 'UP'}, token='newer')
    assert stack_check.poll(fake, cookie)


def test_without_monitors_the_recorded_state_is_reported(fake):
    worker(fake, monitor=False)
    fake.put(keys.state('edge_router', 'router-1'), records.state(
        'CREATE_COMPLETED', 1, {'router': 'ACTIVE'}))
    assert stack_check.start(fake, [PRIMARY]) is None
    fake.put(keys.monitoring('edge_router', 'router-1'), {'router': 'DOWN'})
    with pytest.raises(exception.Error) as info:
        stack_check.start(fake, [PRIMARY, SECONDARY])
    assert str(info.value) == ('edge_router router-1 (primary): router '
                               'DOWN; edge_router router-2 (secondary): '
                               'not monitored')
    assert fake.dump(keys.POLL_REQUESTS) == {}

"""The worker's retry policies (heat_esi.worker.retry), on their own."""

import threading

import pytest

from heat_esi import exceptions
from heat_esi.worker import retry


class Stop(object):
    """A stop event whose waits are recorded, and set on the n-th one."""

    def __init__(self, stop_at=None):
        self.event = threading.Event()
        self.waits = []
        self.stop_at = stop_at

    def wait(self, seconds):
        self.waits.append(seconds)
        if len(self.waits) == self.stop_at:
            self.event.set()
        return self.event.is_set()

    def is_set(self):
        return self.event.is_set()


def failing(times, error):
    """A callable that raises *error* *times* times, then answers 'ok'."""
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= times:
            raise error
        return 'ok'
    call.calls = calls
    return call


def test_an_etcd_step_is_retried_with_doubling_pauses_up_to_the_cap():
    stop, said = Stop(), []
    step = failing(6, exceptions.EtcdError('http://etcd', '/k', 'down'))
    policy = retry.until_stopped(stop, lambda s, e: said.append((s, e)),
                                 delay=(0.2, 1.0))
    assert policy(step) == 'ok'
    assert stop.waits == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert [s for s, _ in said] == stop.waits
    assert all('down' in str(e) for _, e in said)


def test_a_stop_during_a_pause_ends_the_retries_without_another_try():
    stop = Stop(stop_at=2)
    step = failing(10, exceptions.EtcdError('http://etcd', '/k', 'down'))
    with pytest.raises(retry.Stopped):
        retry.until_stopped(stop, lambda s, e: None)(step)
    assert len(step.calls) == 2


def test_other_errors_are_raised_at_once():
    stop = Stop()
    step = failing(1, ValueError('bad value'))
    with pytest.raises(ValueError):
        retry.until_stopped(stop, lambda s, e: None)(step)
    assert stop.waits == []


def test_a_predicate_chooses_what_is_retried():
    stop = Stop()
    step = failing(1, exceptions.EtcdAuthFailed('http://etcd', '/k', 'no'))
    with pytest.raises(exceptions.EtcdAuthFailed):
        retry.until_stopped(
            stop, lambda s, e: None,
            retry_on=lambda e: not isinstance(
                e, exceptions.EtcdAuthFailed))(step)
    assert len(step.calls) == 1


def test_a_write_of_unknown_outcome_is_tried_three_times_then_raised():
    unknown = exceptions.EtcdOutcomeUnknown('http://etcd', '/k', 'lost')
    step = failing(10, unknown)
    with pytest.raises(exceptions.EtcdOutcomeUnknown):
        retry.read_back()(step)
    assert len(step.calls) == retry.READ_BACK_TRIES == 3
    assert retry.read_back()(failing(2, unknown)) == 'ok'

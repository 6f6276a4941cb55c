# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The worker's retry policies, declared once with tenacity.

Two shapes cover the worker's retries:

- until_stopped(): retry an etcd step with exponential backoff for as long
  as a stop event is not set (running or failing a claimed job, starting
  the worker while etcd is not up yet). Its pauses are waits on that
  event, so a stop ends a pause at once and raises Stopped instead of
  trying once more.
- read_back(): a write whose answer was lost is tried again a bounded
  number of times, without a pause (the caller reads back between tries
  whether it landed).

The Retrying objects hold no state shared between threads: each call
builds a fresh one, used by the calling thread only.
"""

import tenacity

from heat_esi import exceptions

# First and longest pause between tries of an etcd step, in seconds.
RECONNECT_DELAY = (0.2, 5.0)
# Tries of a write whose outcome is unknown, the first one included.
READ_BACK_TRIES = 3


class Stopped(Exception):
    """The stop event was set while waiting to try again."""


def _sleep_until(stop, wait):
    def sleep(seconds):
        if wait(seconds):
            raise Stopped()
    return sleep


def until_stopped(stop, on_retry, retry_on=exceptions.EtcdError,
                  delay=RECONNECT_DELAY, wait=None):
    """A Retrying that retries *retry_on* until *stop* is set.

    *retry_on* is an exception class (or tuple), or a predicate on the
    exception. The pause doubles from delay[0] up to delay[1];
    *on_retry(seconds, exc)* says why before each pause (the caller
    logs it). *wait(seconds)*, True when stopped, replaces stop.wait
    (the daemon ticks its health checks meanwhile). Raises Stopped when
    *stop* is set during a pause; any other error is raised as is.
    """
    if isinstance(retry_on, (type, tuple)):
        retry = tenacity.retry_if_exception_type(retry_on)
    else:
        retry = tenacity.retry_if_exception(retry_on)

    def before_sleep(state):
        on_retry(state.next_action.sleep, state.outcome.exception())
    return tenacity.Retrying(
        retry=retry,
        wait=tenacity.wait_exponential(multiplier=delay[0], min=delay[0],
                                       max=delay[1]),
        sleep=_sleep_until(stop, wait or stop.wait),
        before_sleep=before_sleep,
        reraise=True)


def read_back(tries=READ_BACK_TRIES):
    """A Retrying that tries a write again when its outcome is unknown."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(
            exceptions.EtcdOutcomeUnknown),
        stop=tenacity.stop_after_attempt(tries),
        reraise=True)

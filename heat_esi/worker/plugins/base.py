#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""What a resource plugin does: the contract the element pipeline relies on.

A resource plugin handles one kind of heat_template element, the one whose
``type`` is its entry point's name in ``heat_esi.monitoring_plugins``. It is
built once per worker with ``(client, conf)`` (the worker's etcd client and
configuration) and called from every job slot and monitor thread at once,
so it keeps no state between calls.

Every operation on a device is bounded in time: a job's check by the
element's timeout and the job's deadline, a monitor's poll by its Deadline
(``[monitor] poll_timeout``), which the pipeline enforces even on a plugin
that overruns it.
"""

import time


class Plugin(object):
    """A resource plugin: check() for jobs, poll() for the monitor."""

    #: Whether the monitor can poll elements of this type. One that cannot
    #: says so here; a resource whose template has such an element is then
    #: not monitored, and a poll request for it is answered with an error.
    pollable = True

    #: A plugin that can poll without a thread of its own (asyncio)
    #: defines ``async def poll_async(self, props, abort)``, which returns
    #: what poll() does; the monitor then keeps many polls in flight on one
    #: thread. Left None, the monitor runs poll() in one of its threads.
    poll_async = None

    def check(self, props, clock, read=None):
        """Check the element for a job; return its state (ACTIVE).

        It may retry until the element is healthy, within the element's own
        ``timeout`` and the job's deadline.

        :param props: the element's rendered properties.
        :param clock: the job's clock: ``wait(seconds)`` is True when the
            worker shuts down and raises JobTimedOut past the deadline.
        :param read: {key: KV or None} read along with the job's claim: the
            keys() of this element, as of the claim.
        :raises JobFailed: the element is not healthy, or its properties
            are wrong; the message says which and why.
        :raises JobInterrupted: the job was stopped (shutdown) while waiting.
        """
        raise NotImplementedError()

    def poll(self, props, abort):
        """Poll the element once for the monitor; return (UP|DOWN, why).

        *why* says why it is DOWN ('' when UP), for a stack check to show.

        :param abort: an Event set when the monitor stops.
        :raises JobFailed: the element cannot be polled as written (a
            property is wrong); the device is then not monitored.
        :raises JobInterrupted: *abort* was set while waiting.
        """
        raise NotImplementedError()

    def keys(self, props):
        """Return the etcd keys check() reads first.

        The worker reads them in the claim's transaction, one round trip
        less per element, and passes them to check() as *read*.
        """
        return ()

    def address(self, props):
        """Return the address of the element's device, for messages.

        None when the element has no device of its own.
        """
        return None


class Deadline(object):
    """When an operation on a device must be over, and what set that."""

    def __init__(self, seconds, source, at=None):
        self.seconds = seconds
        self.source = source            # the option or element that set it
        self.at = time.monotonic() + seconds if at is None else at

    @classmethod
    def of_job(cls, clock):
        """The deadline of a job's clock (JobClock), or None without one."""
        started = getattr(clock, 'started', None)
        timeout = getattr(clock, 'timeout', None)
        if started is None or timeout is None:
            return None
        return cls(timeout, getattr(clock, 'source', 'the job\'s deadline'),
                   at=started + timeout)

    def sooner(self, other):
        """The earlier of this deadline and *other* (which may be None)."""
        return other if other is not None and other.at < self.at else self

    def left(self):
        """Seconds left, 0 once it has passed."""
        return max(0.0, self.at - time.monotonic())

    def missed(self, what):
        """The reason of an operation that did not end in time."""
        return '%s did not end within %s s (%s)' % (
            what, self.seconds, self.source)

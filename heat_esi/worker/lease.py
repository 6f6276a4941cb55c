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

"""The lease keeper: the lease that binds a worker's claims, and its member.

start() grants the lease and registers the worker's member key under it
(before any job thread exists: a claim needs the lease); run() is the body
of the keeper's thread, which refreshes the lease until the worker aborts
and grants a new one when it expired. The lease id and the time of its
last renewal are the keeper's, under its lock.
"""

import threading
import time

from oslo_log import log as logging

from heat_esi import exceptions
from heat_esi import keys
from heat_esi.worker import metrics

LOG = logging.getLogger(__name__)


class LeaseKeeper(object):
    """The worker's lease: granted, refreshed, renewed, revoked.

    :param member_id: the worker's member key name under keys.MEMBERS.
    :param member_value: callable() -> the value of that key.
    :param stop: the event that ends the refreshes (the worker's abort:
        running jobs keep their claims until then).
    """

    def __init__(self, client, ttl, member_id, member_value, stop):
        self.client = client
        self.ttl = ttl
        self.member_id = member_id
        self.member_value = member_value
        self.stop = stop
        self._lock = threading.Lock()
        self._lease_id = None
        self._renewed = None        # time.monotonic() of the last renewal

    @property
    def lease_id(self):
        """The lease new claims go under; None before start()."""
        with self._lock:
            return self._lease_id

    def start(self):
        """Grant the lease and register the member under it."""
        lease_id = self.client.grant_lease(self.ttl)
        with self._lock:
            self._lease_id = lease_id
            self._renewed = time.monotonic()
        self._register(lease_id)
        return lease_id

    def _register(self, lease_id):
        """Tell heat-engine, the monitors and operators that we are alive.

        The member key is under the lease: it goes when the worker does.
        """
        self.client.put(keys.MEMBERS + self.member_id, self.member_value(),
                        lease=lease_id)

    def problem(self):
        """Why the lease is not known to be held, or None."""
        with self._lock:
            lease_id, renewed = self._lease_id, self._renewed
        if lease_id is None:
            return 'no lease yet'
        late = time.monotonic() - renewed
        if late > self.ttl:
            return 'lease %x not renewed for %.0f s' % (lease_id, late)
        return None

    def run(self):
        """Refresh the lease until *stop*; the keeper thread's body."""
        # Refreshed every third of the TTL, each member given at most that
        # long to answer: a failover to another member still fits in the
        # TTL; a failed refresh is retried sooner.
        interval = max(self.ttl / 3.0, 0.5)
        timeout = min(self.client.timeout, interval)
        wait = interval
        while not self.stop.wait(wait):
            wait = interval
            started, result = time.monotonic(), 'error'
            lease_id = self.lease_id
            try:
                ttl = self.client.refresh_lease(lease_id, timeout=timeout)
                result = 'ok' if ttl > 0 else 'expired'
                if ttl <= 0:
                    # Our claims are void; their fenced writes will be
                    # refused. New claims need a live lease.
                    new = self.client.grant_lease(self.ttl)
                    with self._lock:
                        self._lease_id = new
                    LOG.warning('lease %x expired; claims under it are '
                                'lost, new lease %x', lease_id, new)
                    self._register(new)
                with self._lock:
                    self._renewed = time.monotonic()
            except exceptions.EtcdError as exc:
                LOG.warning('cannot refresh lease %x: %s', lease_id, exc)
                wait = min(interval, 0.5)
            metrics.lease_renewed(result, time.monotonic() - started)

    def revoke(self):
        """End the lease (the worker stops): its claims and member go."""
        lease_id = self.lease_id
        try:
            self.client.revoke_lease(lease_id)
        except exceptions.EtcdError as exc:
            LOG.warning('could not revoke lease %x: %s', lease_id, exc)

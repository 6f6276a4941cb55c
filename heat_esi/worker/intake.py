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

"""One list-then-watch reader of an etcd prefix (jobs, poll requests).

A reader reads everything under its prefix once (*read_all*, which
returns the revision it read at), then follows a watch from the next
revision, giving each event to *on_event*. When the watch falls behind
etcd's compaction it reads everything again; when etcd fails it resumes
from the last revision seen, after a pause that doubles up to a cap and
starts over once events come again.

Threads: run() is the body of one thread, the reader's; it alone writes
``live`` (a bool, read by others without a lock: a stale read only
delays /healthz by one check) and its revision. *read_all* and
*on_event* run in that thread; the state they change is theirs to guard.
"""

from oslo_log import log as logging

from heat_esi import exceptions
from heat_esi.worker import retry

LOG = logging.getLogger(__name__)


class ListThenWatch(object):
    """Everything under *prefix*, then every change to it, until *stop*."""

    def __init__(self, client, prefix, read_all, on_event, stop, name,
                 delay=retry.RECONNECT_DELAY, on_restart=None):
        self.client = client
        self.prefix = prefix
        self.read_all = read_all
        self.on_event = on_event
        self.stop = stop
        self.name = name            # "job watch": what the log calls it
        self.delay = delay
        self.on_restart = on_restart or (lambda why: None)
        self.live = False           # a watch is open (or being opened)

    def run(self):
        revision = None
        delay = self.delay[0]
        while not self.stop.is_set():
            try:
                if revision is None:
                    revision = self.read_all()
                self.live = True
                for event in self.client.watch(self.prefix, revision + 1):
                    revision = event.kv.mod_revision
                    self.on_event(event)
                    delay = self.delay[0]
                    if self.stop.is_set():
                        return
            except exceptions.WatchCompacted as exc:
                self.live = False
                self.on_restart('compacted')
                LOG.warning('%s fell behind compaction (%s); re-reading %s',
                            self.name, exc, self.prefix)
                revision = None
            except exceptions.EtcdError as exc:
                self.live = False
                self.on_restart('error')
                LOG.warning('%s interrupted, resuming from revision %s in '
                            '%.1f s: %s', self.name, revision, delay, exc)
                self.stop.wait(delay)
                delay = min(delay * 2, self.delay[1])
            except Exception:
                self.live = False
                LOG.exception('unexpected error in the %s', self.name)
                self.stop.wait(delay)

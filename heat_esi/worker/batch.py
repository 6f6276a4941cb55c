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

"""Transactions of concurrent job slots, sent to etcd together.

Under load, several slots of a worker claim, record and finish jobs at the
same moment, and each etcd request costs about as much CPU (in the worker
and in etcd) as the work it carries. So a transaction that arrives while
another is on its way waits for it, and is sent together with the others
that arrived meanwhile, as one request of nested transactions: each keeps
its own comparison (its own fence, its own claim) and succeeds or fails on
its own. A lone transaction goes at once, exactly as before, so batching
costs no latency.
"""

import base64
import threading

from heat_esi import exceptions

# etcd refuses a request over 1.5 MiB, or a transaction level of more than
# 128 operations; a batch stays well under both, and a transaction that
# comes near them on its own goes alone.
MAX_BATCH_BYTES = 512 * 1024
MAX_OPS = 64


class _Pending(object):
    __slots__ = ('compare', 'success', 'failure', 'key', 'writes', 'size',
                 'alone', 'result', 'error', 'done', 'wake')

    def __init__(self, compare, success, failure, key):
        self.compare = compare
        self.success = success
        self.failure = failure
        self.key = key
        self.writes = _written(success + failure)
        self.size = _size(compare + success + failure)
        self.alone = (self.size > MAX_BATCH_BYTES // 4 or
                      max(len(compare), len(success), len(failure)) > MAX_OPS)
        self.result = None
        self.error = None
        self.done = False
        # Released, once, when the transaction is done or when its thread
        # is to send the next request. A bare lock: an Event is a Condition
        # in Python, and this is three wake-ups per job.
        self.wake = threading.Lock()
        self.wake.acquire()


def _size(ops):
    """About how many bytes *ops* take in a request."""
    size = 0
    for op in ops:
        size += 64
        for part in op.values():
            if isinstance(part, dict):
                size += len(part.get('value', '')) + len(part.get('key', ''))
    return size


def _written(ops):
    """Return the keys *ops* write.

    etcd refuses a request that writes a key twice, so two transactions
    that write one key never go together.
    """
    found = set()
    for op in ops:
        for kind in ('request_put', 'request_delete_range'):
            if kind in op:
                found.add(op[kind]['key'])
    return found


class Batcher(object):
    """Sends the transactions of several threads as few etcd requests.

    ``txn()`` has the meaning and the result of ``Etcd.txn`` for the
    calling thread; any other attribute is the client's own, so that a
    Batcher stands in for the client of a claim.
    """

    def __init__(self, client, max_batch=32):
        self.client = client
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue = []
        self._sending = False
        self.requests = 0           # etcd requests sent (for the tests)
        self.transactions = 0       # transactions they carried

    def __getattr__(self, name):
        return getattr(self.client, name)

    def txn(self, compare, success, failure=(), key=None):
        mine = _Pending(list(compare), list(success), list(failure), key)
        with self._lock:
            waits = self._sending
            if waits:
                self._queue.append(mine)
            else:
                self._sending = True
        if waits:
            mine.wake.acquire()
            if mine.done:
                return self._result(mine)
        # This thread sends: its own transaction and what is queued.
        with self._lock:
            batch = self._take(mine)
        try:
            self._send(batch)
        finally:
            for item in batch:
                item.done = True
                if item is not mine:
                    item.wake.release()
            with self._lock:
                if self._queue:
                    # The thread of the oldest waiting one sends next.
                    self._queue.pop(0).wake.release()
                else:
                    self._sending = False
        return self._result(mine)

    def _take(self, mine):
        """Take up to max_batch queued transactions, *mine* first.

        None of them writes a key that another one writes.
        """
        batch, written, rest = [mine], set(mine.writes), []
        size = mine.size
        for item in self._queue:
            if item is mine:
                continue
            if (not mine.alone and not item.alone
                    and len(batch) < self.max_batch
                    and size + item.size <= MAX_BATCH_BYTES
                    and not item.writes & written):
                batch.append(item)
                written |= item.writes
                size += item.size
            else:
                rest.append(item)
        self._queue = rest
        return batch

    def _send(self, batch):
        self.requests += 1
        self.transactions += len(batch)
        try:
            if len(batch) == 1:
                item = batch[0]
                results = [self.client.txn(item.compare, item.success,
                                           item.failure, key=item.key)]
            else:
                results = self.client.txn_each(
                    [(item.compare, item.success, item.failure)
                     for item in batch],
                    key=batch[0].key or _first_key(batch[0]))
        except exceptions.EtcdError as exc:
            if type(exc) is exceptions.EtcdError and len(batch) > 1:
                # etcd refused the request, and applied none of it: one
                # transaction must not fail the others, so each goes alone.
                for item in batch:
                    self._send([item])
                return
            for item in batch:
                item.error = exc
        except Exception as exc:
            for item in batch:
                item.error = exc
        else:
            for item, result in zip(batch, results):
                item.result = result

    @staticmethod
    def _result(item):
        if item.error is not None:
            raise item.error
        return item.result


def _first_key(item):
    first = (item.compare + item.success)[0]
    raw = first.get('key') or list(first.values())[0]['key']
    return base64.b64decode(raw).decode('utf-8')

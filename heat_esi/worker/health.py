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

"""The worker's HTTP server: /metrics, /healthz and /readyz.

- /healthz: the process is alive: its main loop ticked recently and none of
  its threads died. A failure here calls for a restart.
- /readyz: the worker can take jobs: etcd answers, the lease that binds its
  claims is held, and the job watch is open. A failure here is usually
  etcd's; restarting the worker does not help.

Either answers 200 with "ok", or 503 with one line per reason.
"""

import collections
import contextlib
import errno
import http
import queue
import re
import resource
import selectors
import socket
import threading
import time

from oslo_log import log as logging

from heat_esi import exceptions
from heat_esi.worker import metrics

LOG = logging.getLogger(__name__)

# The main loop ticks every second; this many seconds without a tick means
# it is stuck.
STALE_AFTER = 10.0


class Health(object):
    """What /healthz and /readyz check, for one worker."""

    def __init__(self, worker, client):
        self.worker = worker
        self.client = client
        self._tick = time.monotonic()
        self.monitor = None     # the worker's Monitor, once it runs

    def tick(self):
        """Called by the main loop: it still runs."""
        self._tick = time.monotonic()

    def alive(self):
        """[reasons the process is not alive].

        The device monitor, when it runs, is part of it: a monitor whose
        cycles stopped completing is stuck (Monitor.stalled).
        """
        reasons = []
        idle = time.monotonic() - self._tick
        if idle > STALE_AFTER:
            reasons.append('main loop stuck for %.0f s' % idle)
        reasons += ['thread %s died' % name
                    for name in self.worker.dead_threads()]
        stalled = self.monitor is not None and self.monitor.stalled()
        if stalled:
            reasons.append(stalled)
        return reasons

    def ready(self):
        """[reasons the worker cannot take jobs now]."""
        reasons = []
        try:
            self.client.revision()
        except exceptions.EtcdError as exc:
            reasons.append('etcd unreachable: %s' % exc)
        lease = self.worker.lease_problem()
        if lease:
            reasons.append(lease)
        if not self.worker.watch_live:
            reasons.append('job watch is not open')
        if self.worker.stopping.is_set():
            reasons.append('stopping')
        return reasons


# The longest request head (request line and headers) read: a probe's or
# a scrape's is a few hundred bytes.
MAX_HEAD = 8192
# Threads that answer complete requests. The checks and a scrape take
# milliseconds; /readyz may wait for etcd, so more than one.
ANSWER_THREADS = 4
# Seconds accept() rests once the process is out of files (or the system
# out of memory): the listener stays readable meanwhile, and retrying at
# once would spin.
ACCEPT_BACKOFF = 1.0
# Seconds between two warnings that accept() fails.
WARN_EVERY = 60.0
# Seconds between two looks at whether the server is to stop.
_STOP_CHECK = 0.5

# accept() errors that last until files or memory are freed.
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS,
                     errno.ENOMEM)
_HEAD_END = re.compile(rb'\r?\n\r?\n')
_TEXT = 'text/plain; charset=utf-8'


class _Connection(object):
    """One client connection, from its accept to its close."""

    __slots__ = ('sock', 'deadline', 'head')

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.head = b''


def _request(head):
    """(method, path) of a request *head*, or (status, why) when it is bad.

    The path is without its query. Only GET and HEAD are served.
    """
    line = head.split(b'\n', 1)[0].rstrip(b'\r')
    parts = line.split()
    if len(parts) != 3 or not parts[2].startswith(b'HTTP/'):
        # The line itself is not echoed: it may hold anything.
        return 400, 'bad request line: expected "GET <path> HTTP/1.x"'
    method, target = parts[0], parts[1]
    if method not in (b'GET', b'HEAD'):
        return 405, 'method not allowed: only GET and HEAD'
    return method.decode('ascii'), target.split(b'?', 1)[0]


class Server(object):
    """The HTTP server of /metrics, /healthz and /readyz.

    Bounded whatever its clients do, so that they cannot stop the worker:

    - one thread reads every request, non-blocking, from sockets that have
      no thread of their own; a few threads answer complete requests, but
      /healthz is answered by the reading thread at once, so that answers
      that wait for etcd (/readyz) never hold a liveness probe;
    - a connection has *timeout* seconds to send its request head (at most
      MAX_HEAD bytes), and as many again to read the answer; one that sends
      nothing or trickles is closed then;
    - at most *max_connections* are open. A new one past that closes the
      oldest that has not sent its request yet (a probe sends at once: an
      idle flood cannot keep it out), or is itself closed when every open
      one is being answered;
    - when accept() fails for lack of files or memory, it rests
      ACCEPT_BACKOFF seconds instead of spinning, and the log says so at
      most once per WARN_EVERY seconds.

    One request per connection (HTTP/1.0, "Connection: close").
    """

    def __init__(self, health, address, port, max_connections, timeout):
        self.health = health
        self.max_connections = max_connections
        self.timeout = timeout
        family = socket.AF_INET6 if ':' in address else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR,
                                   1)
            self.socket.bind((address, port))
            # The kernel's queue, not the default 5: a burst of clients
            # waits there for accept() instead of losing its handshake.
            self.socket.listen(socket.SOMAXCONN)
            self.socket.setblocking(False)
        except OSError:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.socket, selectors.EVENT_READ)
        # Connections still sending their request, oldest first.
        self._reading = collections.OrderedDict()
        self._answers = queue.Queue()
        self._lock = threading.Lock()
        self._answering = 0     # handed to the answer threads, not closed
        self._resume_at = None  # while accept() rests
        self._accept_failures = 0
        self._warned_at = None
        self._stopping = threading.Event()
        self._threads = []

    def start(self):
        """Serve from daemon threads; returns self."""
        self._threads = [threading.Thread(
            target=self.serve_forever, name='http', daemon=True)]
        self._threads += [threading.Thread(
            target=self._answer_forever, name='http-answer-%d' % i,
            daemon=True) for i in range(ANSWER_THREADS)]
        for thread in self._threads:
            thread.start()
        return self

    def shutdown(self):
        """Stop serving, close every connection and the listener."""
        self._stopping.set()
        for _ in range(ANSWER_THREADS):
            self._answers.put(None)
        for thread in self._threads:
            thread.join()

    # --- the reading thread ---------------------------------------------

    def serve_forever(self):
        try:
            while not self._stopping.is_set():
                for key, _ in self._selector.select(self._wait()):
                    try:
                        if key.fileobj is self.socket:
                            self._accept()
                        else:
                            self._read(key.data)
                    except Exception:
                        # One client's surprise must not end the server.
                        LOG.exception('HTTP server: unexpected error')
                        if key.data is not None:
                            self._close_reading(key.data)
                self._expire()
                self._resume_accepting()
        finally:
            for conn in list(self._reading.values()):
                self._close_reading(conn)
            self._selector.close()
            self.socket.close()

    def _wait(self):
        """Seconds select() may wait: until the next thing to do."""
        now = time.monotonic()
        wait = _STOP_CHECK
        if self._reading:
            oldest = next(iter(self._reading.values()))
            wait = min(wait, oldest.deadline - now)
        if self._resume_at is not None:
            wait = min(wait, self._resume_at - now)
        return max(0.0, wait)

    def _accept(self):
        try:
            sock, _ = self.socket.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno in _OUT_OF_RESOURCES:
                self._rest(exc)
            # Otherwise (ECONNABORTED...) that client is gone already.
            return
        if self._open() >= self.max_connections:
            if not self._reading:
                # Every open connection is being answered: no room.
                metrics.http_connection_dropped('refused')
                sock.close()
                return
            oldest = next(iter(self._reading.values()))
            metrics.http_connection_dropped('evicted')
            self._close_reading(oldest)
        sock.setblocking(False)
        conn = _Connection(sock, time.monotonic() + self.timeout)
        self._reading[sock] = conn
        self._selector.register(sock, selectors.EVENT_READ, conn)

    def _open(self):
        with self._lock:
            return len(self._reading) + self._answering

    def _rest(self, exc):
        """Stop accepting for ACCEPT_BACKOFF seconds after *exc*."""
        self._accept_failures += 1
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY:
            LOG.warning('HTTP server cannot accept connections on port %s: '
                        '%s (%d time(s) since the last warning); it retries '
                        'every %.0f s. Raise the open files limit '
                        '(LimitNOFILE) or lower [worker] '
                        'metrics_max_connections.', self.server_address[1],
                        exc.strerror, self._accept_failures,
                        ACCEPT_BACKOFF)
            self._warned_at = now
            self._accept_failures = 0
        self._selector.unregister(self.socket)
        self._resume_at = now + ACCEPT_BACKOFF

    def _resume_accepting(self):
        if self._resume_at is not None and \
                time.monotonic() >= self._resume_at:
            self._resume_at = None
            self._selector.register(self.socket, selectors.EVENT_READ)

    def _read(self, conn):
        try:
            data = conn.sock.recv(MAX_HEAD + 1 - len(conn.head))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        if not data:
            # The client closed (or reset) before its request was whole.
            self._close_reading(conn)
            return
        # Only the new bytes and the 3 before them can complete the end
        # of the head: a trickle does not rescan it all at each byte.
        start = max(0, len(conn.head) - 3)
        conn.head += data
        end = _HEAD_END.search(conn.head, start)
        if end is not None:
            request = _request(conn.head[:end.start()])
            if request[1] == b'/healthz':
                self._answer_at_once(conn, request)
            else:
                self._hand_over(conn, request)
        elif len(conn.head) > MAX_HEAD:
            self._hand_over(conn, (431, 'request head longer than %d bytes'
                                   % MAX_HEAD))

    def _answer_at_once(self, conn, request):
        """Answer from this thread, without waiting.

        For /healthz: its checks do no I/O and its answer fits in any
        socket's send buffer. So a liveness probe waits neither for the
        answer threads (which a hung etcd can hold in /readyz) nor for a
        slow reader.
        """
        self._close_reading(conn, close=False)
        try:
            data = self._answer_bytes(*request)
            if conn.sock.send(data) < len(data):
                metrics.http_connection_dropped('timeout')
        except OSError:
            pass    # the client went away: nothing to answer
        finally:
            _close_answered(conn.sock)

    def _expire(self):
        """Close the connections whose request did not come in time."""
        now = time.monotonic()
        while self._reading:
            oldest = next(iter(self._reading.values()))
            if oldest.deadline > now:
                return
            metrics.http_connection_dropped('timeout')
            self._close_reading(oldest)

    def _close_reading(self, conn, close=True):
        with self._lock:
            self._reading.pop(conn.sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        if close:
            conn.sock.close()

    def _hand_over(self, conn, request):
        """Pass *conn* with its parsed request to the answer threads."""
        self._selector.unregister(conn.sock)
        with self._lock:
            del self._reading[conn.sock]
            self._answering += 1
        # As long again to compute and take the answer.
        conn.deadline = time.monotonic() + self.timeout
        self._answers.put((conn, request))

    # --- the answer threads ---------------------------------------------

    def _answer_forever(self):
        while True:
            item = self._answers.get()
            if item is None:
                return
            conn, request = item
            try:
                if not self._stopping.is_set():
                    self._answer(conn, *request)
            except Exception:
                LOG.exception('HTTP server: unexpected error answering')
            finally:
                _close_answered(conn.sock)
                with self._lock:
                    self._answering -= 1

    def _answer(self, conn, method, path):
        data = self._answer_bytes(method, path)
        remaining = conn.deadline - time.monotonic()
        if remaining <= 0:
            metrics.http_connection_dropped('timeout')
            return
        conn.sock.settimeout(remaining)
        try:
            # Since Python 3.5 the timeout bounds the whole of sendall().
            conn.sock.sendall(data)
        except socket.timeout:
            metrics.http_connection_dropped('timeout')
        except OSError:
            pass    # the client went away: nothing to answer

    def _answer_bytes(self, method, path):
        """The whole answer to a request: see _request() for its parts."""
        if isinstance(method, int):
            status, body = method, (path + '\n').encode()
            content_type = _TEXT
        else:
            status, body, content_type = self._response(path)
        headers = ['HTTP/1.0 %d %s' % (status, http.HTTPStatus(status).phrase),
                   'Content-Type: %s' % content_type,
                   'Content-Length: %d' % len(body),
                   'Connection: close']
        if status == 405:
            headers.append('Allow: GET, HEAD')
        data = ('\r\n'.join(headers) + '\r\n\r\n').encode('ascii')
        if method != 'HEAD':
            data += body
        return data

    def _response(self, path):
        """(status, body, content type) of a GET of *path*."""
        if path == b'/metrics':
            body, content_type = metrics.exposition()
            return 200, body, content_type
        if path == b'/healthz':
            return self._report(self.health.alive())
        if path == b'/readyz':
            return self._report(self.health.ready())
        return 404, b'not found: try /metrics, /healthz or /readyz\n', _TEXT

    @staticmethod
    def _report(reasons):
        if reasons:
            return 503, ('\n'.join(reasons) + '\n').encode(), _TEXT
        return 200, b'ok\n', _TEXT


def _close_answered(sock):
    """Close *sock* so that its client still reads the answer.

    A close with unread bytes (the rest of a request head too long, say)
    resets the connection, and the client may lose the answer: what has
    already arrived is read first, without waiting for more.
    """
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        for _ in range(16):
            if not sock.recv(65536, socket.MSG_DONTWAIT):
                break
    sock.close()


def serve(health, address, port, max_connections, timeout):
    """Start the server in daemon threads; returns the Server.

    :raises OSError: the address cannot be bound.
    """
    files, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if files != resource.RLIM_INFINITY and max_connections > files // 2:
        # Each connection holds a file: a flood would leave the jobs and
        # the etcd client too few.
        LOG.warning('[worker] metrics_max_connections (%d) is more than '
                    'half the open files limit (%d): raise LimitNOFILE or '
                    'lower it.', max_connections, files)
    httpd = Server(health, address, port, max_connections, timeout).start()
    LOG.info('serving /metrics, /healthz and /readyz on %s port %s (at most '
             '%d connections, %s s each)', address, httpd.server_address[1],
             max_connections, timeout)
    return httpd

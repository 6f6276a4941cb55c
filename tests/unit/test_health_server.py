"""The worker's HTTP server (heat_esi.worker.health.Server) on its own.

A real server on a loopback port, with a stand-in for the checks; clients
are raw sockets, so that they can send nothing, trickle or send garbage.
"""

import errno
import logging
import resource
import selectors
import socket
import threading
import time

import pytest

from heat_esi.worker import health
from heat_esi.worker import metrics
from tests import esi_fixtures

WAIT = 10       # seconds before a test gives up on what it waits for


class Checks(object):
    """What the server asks; ready() waits on *gate* when one is set."""

    def __init__(self):
        self.not_ready = []
        self.gate = None

    def alive(self):
        return []

    def ready(self):
        if self.gate is not None:
            self.gate.wait(WAIT)
        return self.not_ready


@pytest.fixture
def checks():
    return Checks()


@pytest.fixture
def serve(checks):
    """serve(max_connections=.., timeout=..): a started Server."""
    started = []

    def start(max_connections=8, timeout=WAIT):
        httpd = health.serve(checks, '127.0.0.1', 0, max_connections,
                             timeout)
        started.append(httpd)
        return httpd

    yield start
    for httpd in started:
        httpd.shutdown()


def connect(httpd):
    return socket.create_connection(('127.0.0.1', httpd.server_address[1]),
                                    timeout=WAIT)


def exchange(httpd, data):
    """Send *data* on a new connection; (status, headers, body) back."""
    with connect(httpd) as sock:
        sock.sendall(data)
        answer = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b'\r\n\r\n')
    lines = head.decode().split('\r\n')
    headers = dict(line.split(': ', 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def get(httpd, path):
    return exchange(httpd, b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n'
                    % path.encode())


def closed(sock, timeout=WAIT):
    """Whether the server closed *sock* (without a word) within *timeout*."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b''
    except ConnectionResetError:
        return True
    except (socket.timeout, BlockingIOError):
        return False


def dropped(reason):
    return metrics.REGISTRY.get_sample_value(
        'esi_worker_http_connections_dropped_total', {'reason': reason})


def test_paths_methods_and_bad_requests(serve, checks):
    httpd = serve()
    status, headers, body = get(httpd, '/healthz?verbose=1')
    assert (status, body) == (200, b'ok\n')
    assert headers['Content-Length'] == '3'
    assert headers['Connection'] == 'close'
    checks.not_ready = ['etcd unreachable: x', 'stopping']
    assert get(httpd, '/readyz')[::2] == (
        503, b'etcd unreachable: x\nstopping\n')
    status, headers, body = get(httpd, '/metrics')
    assert status == 200 and headers['Content-Type'].startswith(
        'text/plain') and b'esi_worker_http_connections_dropped' in body
    assert get(httpd, '/nowhere')[0] == 404
    # HEAD: the headers of a GET, no body.
    status, headers, body = exchange(httpd, b'HEAD /healthz HTTP/1.0\n\n')
    assert (status, headers['Content-Length'], body) == (200, '3', b'')

    # A head that comes in pieces, its end split between two.
    with connect(httpd) as sock:
        sock.sendall(b'GET /healthz HTTP/1.0\r\n\r')
        esi_fixtures.wait_until(lambda: any(
            c.head for c in list(httpd._reading.values())),
            message='the first piece read')
        sock.sendall(b'\n')
        assert sock.recv(65536).startswith(b'HTTP/1.0 200 OK\r\n')

    status, headers, body = exchange(httpd, b'POST /healthz HTTP/1.1\r\n\r\n')
    assert (status, headers['Allow']) == (405, 'GET, HEAD')
    # Garbage is refused without being echoed.
    status, _, body = exchange(httpd, b'\x1b]0;owned\x07 / x\r\n\r\n')
    assert status == 400 and b'owned' not in body
    assert b'GET <path> HTTP/1.x' in body
    status, _, body = exchange(
        httpd, b'GET /healthz HTTP/1.1\r\nX: ' + b'a' * 10000)
    assert (status, body) == (431, b'request head longer than 8192 bytes\n')


def test_a_bound_near_the_open_files_limit_is_warned_about(checks, caplog):
    files, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    caplog.set_level(logging.WARNING, logger='heat_esi.worker.health')
    health.serve(checks, '127.0.0.1', 0, files // 2, WAIT).shutdown()
    assert not caplog.records
    health.serve(checks, '127.0.0.1', 0, files // 2 + 1, WAIT).shutdown()
    [record] = caplog.records
    assert record.getMessage() == (
        '[worker] metrics_max_connections (%d) is more than half the open '
        'files limit (%d): raise LimitNOFILE or lower it.'
        % (files // 2 + 1, files))


def test_ipv6_address(checks):
    httpd = health.serve(checks, '::1', 0, 4, WAIT)
    try:
        with socket.create_connection(('::1', httpd.server_address[1]),
                                      timeout=WAIT) as sock:
            sock.sendall(b'GET /healthz HTTP/1.0\r\n\r\n')
            assert sock.recv(65536).startswith(b'HTTP/1.0 200 OK\r\n')
    finally:
        httpd.shutdown()


def test_a_client_that_trickles_is_dropped_after_the_timeout(serve):
    httpd = serve(timeout=1.0)
    before = dropped('timeout')
    sock = connect(httpd)
    sent = b''
    # A byte every 0.2 s would take 6 s to send this request: each byte
    # comes well within the timeout, the whole does not.
    request = b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
    started = time.monotonic()
    try:
        for byte in request:
            sock.sendall(bytes([byte]))
            sent += bytes([byte])
            if not closed(sock, timeout=0.2):
                continue
            break
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    assert sent != request, 'the trickle got to the end of its request'
    assert time.monotonic() - started < 1.0 + 2.0
    assert dropped('timeout') == before + 1
    # The server answers others meanwhile and after.
    assert get(httpd, '/healthz')[0] == 200


def test_past_the_bound_the_oldest_idle_connection_is_closed_at_once(
        serve):
    httpd = serve(max_connections=4, timeout=60)
    threads = threading.active_count()
    before = dropped('evicted')
    idle = [connect(httpd) for _ in range(10)]
    try:
        # The 6 oldest are closed at once, not after the 60 s timeout...
        assert [closed(s, timeout=WAIT) for s in idle[:6]] == [True] * 6
        # ...the 4 newest stay, and none of them took a thread.
        assert [closed(s, timeout=0) for s in idle[6:]] == [False] * 4
        assert threading.active_count() == threads
        assert dropped('evicted') == before + 6
        # A probe still gets in: it makes room, and sends at once.
        assert get(httpd, '/healthz')[0] == 200
        assert closed(idle[6], timeout=WAIT)
    finally:
        for sock in idle:
            sock.close()


def test_no_room_when_every_connection_is_being_answered(serve, checks):
    httpd = serve(max_connections=2)
    checks.gate = threading.Event()
    before = dropped('refused')
    answers = []

    def ask():
        answers.append(get(httpd, '/readyz')[0])

    askers = [threading.Thread(target=ask) for _ in range(2)]
    for asker in askers:
        asker.start()
    esi_fixtures.wait_until(lambda: httpd._open() == 2 and
                            not httpd._reading, timeout=WAIT,
                            message='two requests being answered')
    with connect(httpd) as third:
        assert closed(third)
    assert dropped('refused') == before + 1
    checks.gate.set()
    for asker in askers:
        asker.join(WAIT)
    assert answers == [200, 200]


def test_healthz_answers_while_every_answer_thread_waits(serve, checks):
    httpd = serve(max_connections=2 * health.ANSWER_THREADS)
    checks.gate = threading.Event()
    answers = []

    def ask():
        answers.append(get(httpd, '/readyz')[0])

    askers = [threading.Thread(target=ask)
              for _ in range(health.ANSWER_THREADS + 1)]
    for asker in askers:
        asker.start()
    try:
        esi_fixtures.wait_until(
            lambda: httpd._answering == len(askers), timeout=WAIT,
            message='every answer thread busy, one request queued')
        assert get(httpd, '/healthz')[::2] == (200, b'ok\n')
        assert answers == []
    finally:
        checks.gate.set()
        for asker in askers:
            asker.join(WAIT)
    assert answers == [200] * len(askers)


def test_accept_rests_when_out_of_files(serve, caplog, monkeypatch):
    monkeypatch.setattr(health, 'ACCEPT_BACKOFF', 0.5)
    httpd = serve()
    tries = []

    class OutOfFiles(socket.socket):
        def accept(self):
            tries.append(time.monotonic())
            raise OSError(errno.EMFILE, 'Too many open files')

    # The listener, as the server registered it, now fails every accept()
    # the way a process out of files does.
    selector, listener = httpd._selector, httpd.socket
    selector.unregister(listener)
    httpd.socket = OutOfFiles(listener.family, listener.type,
                              fileno=listener.detach())
    selector.register(httpd.socket, selectors.EVENT_READ)
    caplog.set_level(logging.WARNING, logger='heat_esi.worker.health')
    with connect(httpd):     # what keeps the listener readable
        esi_fixtures.wait_until(lambda: len(tries) >= 5, timeout=WAIT,
                                message='5 accept() tries')
    # A spin would have made them within microseconds.
    assert tries[4] - tries[0] >= 4 * 0.5 * 0.9
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert 'Too many open files' in warnings[0]
    assert 'LimitNOFILE' in warnings[0]
    # Out of files is no reason to end the server.
    assert httpd._threads[0].is_alive()

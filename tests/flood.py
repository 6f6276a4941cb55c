"""A flood of idle clients on a TCP port of this host: they send nothing.

For esi-worker's metrics/health port, in the tests and the benchmarks.
"""

import os
import selectors
import socket
import time

# Connections opened at once: fewer than the smallest accept queue (5,
# that of Python's socketserver).
BATCH = 4


def open_files(pid):
    """How many files process *pid* holds (to limit it just above)."""
    return len(os.listdir('/proc/%d/fd' % pid))


def accept_queue(port):
    """Connections in the accept queue of the IPv4 listener on *port*."""
    with open('/proc/net/tcp') as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            # For a listener (state 0A), rx_queue is its accept queue.
            if fields[1].endswith(':%04X' % port) and fields[3] == '0A':
                return int(fields[4].split(':')[1], 16)
    return 0


def connections(port, count, timeout=10):
    """Open *count* connections to *port* that never send anything.

    They wait for room in the server's accept queue, as clients spread
    over time would: past a full queue the kernel would drop the
    handshake's end, and the server never see the connection. Once the
    server stops accepting for *timeout* seconds in all, the rest go
    anyway. Non-blocking: a server that stops accepting does not stall
    the test.
    """
    deadline = time.monotonic() + timeout
    socks = []
    for i in range(count):
        # In batches of BATCH: fewer reads of /proc/net/tcp, which lists
        # every socket of the host, the flood's own included.
        if i % BATCH == 0:
            while accept_queue(port) and time.monotonic() < deadline:
                time.sleep(0.001)
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(('127.0.0.1', port))
        socks.append(sock)
    return socks


def closed_by_server(socks, timeout):
    """Wait until the server closed every socket of *socks*; [still open].

    A socket the server closed reads as end of file (or a reset).
    """
    waiting = set(socks)
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for sock in waiting:
            sel.register(sock, selectors.EVENT_READ)
        while waiting and time.monotonic() < deadline:
            for key, _ in sel.select(deadline - time.monotonic()):
                sock = key.fileobj
                try:
                    data = sock.recv(1)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b''
                if not data:
                    sel.unregister(sock)
                    waiting.discard(sock)
    return waiting

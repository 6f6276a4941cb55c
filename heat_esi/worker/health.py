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

from http import server
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


class _Handler(server.BaseHTTPRequestHandler):

    health = None     # set on the subclass made by serve()

    def do_GET(self):
        path = self.path.split('?', 1)[0]
        if path == '/metrics':
            body, content_type = metrics.exposition()
            return self._send(200, body, content_type)
        if path == '/healthz':
            return self._report(self.health.alive())
        if path == '/readyz':
            return self._report(self.health.ready())
        self._send(404, b'not found: try /metrics, /healthz or /readyz\n')

    def _report(self, reasons):
        if reasons:
            self._send(503, ('\n'.join(reasons) + '\n').encode())
        else:
            self._send(200, b'ok\n')

    def _send(self, status, body, content_type='text/plain; charset=utf-8'):
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        # A probe every few seconds would drown the worker's log.
        pass


def serve(health, address, port):
    """Start the server in a daemon thread; returns the server."""
    handler = type('Handler', (_Handler,), {'health': health})
    server_cls = server.ThreadingHTTPServer
    if ':' in address:
        server_cls = type('Server6', (server_cls,), {
            'address_family': socket.AF_INET6})
    httpd = server_cls((address, port), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, name='http',
                     daemon=True).start()
    LOG.info('serving /metrics, /healthz and /readyz on %s port %s',
             address, httpd.server_address[1])
    return httpd

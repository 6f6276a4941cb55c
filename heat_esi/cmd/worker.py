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

"""esi-worker --config-file /etc/heat-esi/esi-worker.conf"""

import sys
import time

from oslo_config import cfg
from oslo_log import log as logging
import stevedore

from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import logs
from heat_esi.worker import elements
from heat_esi.worker.handlers import base as handler_base
from heat_esi.worker import health
from heat_esi.worker import metrics
from heat_esi.worker.monitor import Monitor
from heat_esi.worker import retry
from heat_esi.worker import service

LOG = logging.getLogger(__name__)
HANDLER_NAMESPACE = handler_base.NAMESPACE
# First and longest pause while etcd is not up at start, in seconds.
START_DELAY = (1.0, 30.0)


def load_handlers(names, client, config, plugins=None):
    """Return {name: handler} of the job handlers *names*.

    Each is the handler_base.Handler of the entry point *name* in the group
    heat_esi.handlers, built with the etcd client, the configuration and
    the resource plugins (elements.load_plugins, loaded here when not
    given).

    :raises ConfigError: a resource plugin cannot start.
    """
    if plugins is None:
        plugins = elements.load_plugins(client, config)
    found = {}
    for name in names:
        manager = stevedore.DriverManager(
            HANDLER_NAMESPACE, name, invoke_on_load=True,
            invoke_args=(client, config), invoke_kwds={'plugins': plugins})
        found[name] = manager.driver
    return found


def check_credentials(handlers):
    """Let each handler that calls other services check its credentials.

    The heat_worker authenticates to Keystone once: a wrong password stops
    the worker at start rather than failing every job. A Keystone that
    cannot be asked now is only logged (the jobs retry).

    :returns: why credentials were refused (ConfigError's message), or
        None.
    """
    for name, handler in sorted(handlers.items()):
        check = getattr(handler, 'check_credentials', None)
        if check is None:
            continue
        try:
            problem = check()
        except exceptions.ConfigError as exc:
            return str(exc)
        if problem:
            LOG.warning('handler %s: %s', name, problem)
    return None


def _etcd_not_up(exc):
    """True for an etcd error that waiting may cure (not a bad password)."""
    return (isinstance(exc, exceptions.EtcdError)
            and not isinstance(exc, exceptions.EtcdAuthFailed))


def _wait(stop, checks, seconds=None):
    """Wait for a stop signal, at most *seconds* if given; True if stopped.

    /healthz is ticked every second meanwhile. *stop* is a
    service.Signals (a SIGHUP meanwhile reloads the configuration) or an
    Event.
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        checks.tick()
        step = 1.0
        if deadline is not None:
            step = min(step, deadline - time.monotonic())
            if step <= 0:
                return False
        if stop.wait(step):
            return True


def main(argv=None):
    config = cfg.CONF
    conf.register_worker_opts(config)
    logging.register_options(config)
    try:
        conf.parse(config, sys.argv[1:] if argv is None else argv,
                   'esi-worker')
    except exceptions.ConfigError as exc:
        # One line, no traceback: systemd's journal shows it as the reason,
        # and the unit's RestartPreventExitStatus=2 stops a restart loop.
        print('esi-worker: configuration error: %s' % exc, file=sys.stderr)
        return 2
    logging.setup(config, 'esi-worker')
    # Values read from etcd reach the log: escaped, bounded, masked.
    logs.install()
    try:
        client = etcd.Etcd.from_conf(config)
    except exceptions.EtcdConfigError as exc:
        LOG.error('%s', exc)
        return 2
    try:
        # Loaded once: the job handler and the monitor run the same ones.
        plugins = elements.load_plugins(client, config)
        handlers = load_handlers(config.worker.enabled_handlers, client,
                                 config, plugins)
    except stevedore.exception.NoMatches as exc:
        LOG.error('unknown handler in [worker] enabled_handlers: %s', exc)
        return 2
    except exceptions.ConfigError as exc:
        LOG.error('esi-worker cannot start: %s', exc)
        return 2
    refused = check_credentials(handlers)
    if refused:
        # A wrong password is not cured by waiting: one line, no secret
        # (logged outside of the except, oslo.log would repeat it).
        LOG.error('esi-worker cannot start: %s', refused)
        return 2
    worker = service.Worker(
        client, handlers, job_slots=config.worker.job_slots,
        claim_ttl=config.worker.claim_ttl,
        max_attempts=config.worker.max_attempts,
        shutdown_grace=config.worker.shutdown_grace,
        job_timeout=config.worker.job_timeout,
        max_jobs_per_project=config.worker.max_jobs_per_project)
    checks = health.Health(worker, client)
    if config.worker.metrics_port is not None:
        etcd.on_failover(metrics.etcd_failover)
        metrics.watch_backlog(client)
        try:
            health.serve(checks, config.worker.metrics_address,
                         config.worker.metrics_port,
                         config.worker.metrics_max_connections,
                         config.worker.metrics_timeout)
        except OSError as exc:
            LOG.error('cannot serve metrics on [worker] metrics_address '
                      '%s, metrics_port %s: %s', config.worker.metrics_address,
                      config.worker.metrics_port, exc)
            return 2
    signals = service.Signals(config).install()
    stop = signals.stop

    def on_retry(delay, exc):
        # etcd may come up after us (boot order, maintenance).
        LOG.warning('esi-worker waits for etcd (retry in %.0f s): %s',
                    delay, exc)
    try:
        retry.until_stopped(
            stop, on_retry, retry_on=_etcd_not_up, delay=START_DELAY,
            wait=lambda seconds: _wait(signals, checks, seconds))(
                worker.start)
    except exceptions.EtcdAuthFailed as exc:
        # Waiting does not fix a wrong password: say so at once.
        LOG.error('%s', exc)
        return 1
    except retry.Stopped:
        return 0
    monitor = None
    # [monitor] enabled alone decides: the monitor polls with the resource
    # plugins, whichever job handlers this worker runs.
    if config.monitor.enabled:
        monitor = Monitor(client, plugins, lambda: worker.lease_id,
                          interval=config.monitor.interval,
                          resource_types=config.monitor.resource_types,
                          member_id=worker.member_id,
                          member_value=worker.member_value,
                          poll_timeout=config.monitor.poll_timeout,
                          threads=config.monitor.threads,
                          max_polls=config.monitor.max_polls)
        monitor.start()
        checks.monitor = monitor
        LOG.info('monitoring %s every %s s as member %s',
                 ', '.join(config.monitor.resource_types),
                 config.monitor.interval, monitor.member_id)
    _wait(signals, checks)
    if monitor is not None:
        monitor.stop()
    worker.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())

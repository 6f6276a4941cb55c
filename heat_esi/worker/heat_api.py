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

"""heat-api as the heat_worker reaches it: Keystone sessions and stacks.

Authentication model: the worker's service user (``[heat_worker]``, loaded
by keystoneauth1 the standard way) has a role in each tenant project, and
the worker acts in the project of each resource (its ``tenant_id``): one
project-scoped keystoneauth session per project, built from the configured
auth options with the project scope replaced, and cached. keystoneauth
re-authenticates when the token expires. The stacks are then the tenant's
own: ``openstack stack list`` in that project shows them.

Without Keystone, for the demo and the tests only: keystoneauth1's
``none`` auth_type with its ``endpoint`` option (heat-api's URL of one
project, ``http://host:port/v1/<project>``) sends no token and calls that
endpoint whatever the job's project; only a heat-api behind Heat's noauth
middleware accepts it (heat_esi.demo.network). The worker logs a warning
when it runs so.

Every call is retried while heat-api (or Keystone) cannot be reached or is
unavailable, until the job's deadline; the job then fails saying which
heat-api was unreachable and why. Heat's other errors fail the job with
Heat's message. Passwords never reach a message: the options are
oslo.config secrets, and keystoneauth's errors carry no credentials.
"""

import threading

from heatclient import client as heat_client
from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_log import log as logging
import tenacity

from heat_esi import exceptions

LOG = logging.getLogger(__name__)

SERVICE_TYPE = 'orchestration'
# keystoneauth1's plugin that sends no token: the demo's and tests' only.
NO_AUTH = 'none'
# First and longest pause between two tries of a call that found heat-api
# unreachable, in seconds.
RETRY_DELAY = (0.5, 10.0)
# Seconds an HTTP request may take when [heat_worker] timeout is unset: a
# heat-api that accepts the connection and never answers must not hold the
# job past its deadline.
DEFAULT_HTTP_TIMEOUT = 30.0
# The scope options replaced by the resource's project.
_SCOPE = ('project_name', 'project_domain_id', 'project_domain_name',
          'domain_id', 'domain_name', 'system_scope', 'trust_id')
# HTTP statuses of a heat-api that is down or restarting behind a proxy.
_UNAVAILABLE = (502, 503, 504)


def _retriable(exc):
    """True for an error that waiting may cure: nobody answered."""
    if isinstance(exc, (ks_exc.ConnectionError, heat_exc.CommunicationError)):
        return not isinstance(exc, ks_exc.SSLError)
    if isinstance(exc, heat_exc.HTTPException):
        return _code(exc) in _UNAVAILABLE
    if isinstance(exc, ks_exc.HttpError):
        return exc.http_status in _UNAVAILABLE
    return False


def _code(exc):
    try:
        return int(exc.code)
    except (TypeError, ValueError):
        return None


def is_not_found(exc):
    return isinstance(exc, heat_exc.HTTPException) and _code(exc) == 404


def is_conflict(exc):
    return isinstance(exc, heat_exc.HTTPException) and _code(exc) == 409


def describe(exc):
    """An error of heat-api or Keystone as one line for a job's error."""
    if isinstance(exc, heat_exc.HTTPException):
        text = str(exc)
        if text.startswith('ERROR: '):
            text = text[len('ERROR: '):]
        return 'HTTP %s: %s' % (exc.code, text)
    text = ' '.join(str(exc).split())
    return '%s: %s' % (exc.__class__.__name__, text) if text else \
        exc.__class__.__name__


class HeatApi(object):
    """heat-api in each tenant's project, through python-heatclient.

    :param conf: the worker's configuration, with [heat_worker] registered
        (conf.register_worker_opts).
    :param group: the option group of the Keystone options.
    :raises ConfigError: the auth options are missing or unknown.
    """

    def __init__(self, conf, group='heat_worker'):
        self.conf = conf
        self.group = group
        opts = conf[group]
        self.interface = opts.interface
        self.region_name = opts.region_name
        self._service_auth = self._load_auth()
        self.auth_url = getattr(conf[group], 'auth_url', None)
        self.username = getattr(conf[group], 'username', None)
        if opts.auth_type == NO_AUTH:
            LOG.warning('[%s] auth_type %s: heat-api at %s is called '
                        'without Keystone, in the project its URL names, '
                        'whatever the job\'s project; for the demo and the '
                        'tests only', group, NO_AUTH,
                        getattr(opts, 'endpoint', None))
        self._lock = threading.Lock()
        # project id -> heatclient Client (over its session).
        self._clients = {}
        self._endpoints = {}

    # --- Keystone -----------------------------------------------------------

    def _load_auth(self, **overrides):
        where = '[%s]' % self.group
        try:
            auth = ks_loading.load_auth_from_conf_options(
                self.conf, self.group, **overrides)
        except ks_exc.MissingRequiredOptions as exc:
            raise exceptions.ConfigError(
                '%s lacks %s: the heat_worker needs its Keystone '
                'credentials' % (where, ', '.join(
                    o.dest for o in exc.options)))
        except ks_exc.NoMatchingPlugin as exc:
            raise exceptions.ConfigError(
                '%s auth_type: %s' % (where, exc))
        if auth is None:
            raise exceptions.ConfigError(
                '%s auth_type is not set: the heat_worker needs Keystone '
                'credentials (auth_type password, auth_url, username, '
                'password, ...)' % where)
        return auth

    def _project_auth(self, project_id):
        """The configured auth, scoped to *project_id* instead."""
        name = self.conf[self.group].auth_type
        dests = {o.dest for o in ks_loading.get_plugin_loader(
            name).get_options()}
        if 'project_id' not in dests:
            # A plugin without a project scope (a token, an admin
            # endpoint): it acts as configured.
            return self._service_auth
        overrides = {dest: None for dest in _SCOPE if dest in dests}
        overrides['project_id'] = project_id
        return self._load_auth(**overrides)

    def _session(self, auth):
        timeout = self.conf[self.group].timeout or DEFAULT_HTTP_TIMEOUT
        return ks_loading.load_session_from_conf_options(
            self.conf, self.group, auth=auth, timeout=timeout)

    def client(self, project_id):
        """The heatclient Client acting in *project_id*, cached."""
        with self._lock:
            found = self._clients.get(project_id)
            if found is None:
                session = self._session(self._project_auth(project_id))
                found = heat_client.Client(
                    '1', session=session, service_type=SERVICE_TYPE,
                    interface=self.interface, region_name=self.region_name)
                self._clients[project_id] = found
            return found

    def check_credentials(self):
        """Authenticate the service user as configured, once, at start.

        :raises ConfigError: Keystone refused the credentials (one line,
            without them).
        :returns: None, or the reason Keystone could not be asked now (the
            jobs retry then).
        """
        session = self._session(self._service_auth)
        try:
            session.get_token()
        except ks_exc.Unauthorized as exc:
            raise exceptions.ConfigError(
                '[%s] Keystone at %s refused the credentials of user %s: '
                '%s' % (self.group, self.auth_url, self.username,
                        describe(exc)))
        except (ks_exc.ConnectionError, ks_exc.HttpError) as exc:
            return 'Keystone at %s cannot be asked now: %s' % (
                self.auth_url, describe(exc))
        return None

    def endpoint(self, project_id):
        """heat-api's URL for *project_id* as the catalog gives it.

        For messages: when Keystone cannot be asked, where it is looked up.
        """
        if project_id in self._endpoints:
            return self._endpoints[project_id]
        try:
            url = self.client(project_id).http_client.get_endpoint()
        except Exception:
            return ('(the %s endpoint of the catalog of Keystone at %s)'
                    % (SERVICE_TYPE, self.auth_url))
        self._endpoints[project_id] = url
        return url

    # --- calls --------------------------------------------------------------

    def call(self, project_id, clock, function, *args, **kwargs):
        """Run *function(client, ...)* in *project_id*, retried while down.

        :param clock: the job's JobClock: the pauses end at its deadline
            or the worker's shutdown.
        :raises JobFailed: heat-api stayed unreachable until the deadline,
            or the project cannot be entered (Keystone refused).
        :raises JobInterrupted: the worker shuts down.
        :raises heatclient.exc.HTTPException: Heat's answer, for the
            caller to read (404, 409, 400...).
        """
        failures = []

        def attempt():
            clock.check()
            return function(self.client(project_id), *args, **kwargs)

        def sleep(seconds):
            try:
                stopped = clock.wait(seconds)
            except exceptions.JobTimedOut as exc:
                raise exceptions.JobFailed(
                    'heat-api at %s unreachable: %s (retried until the '
                    'job deadline: %s)' % (self.endpoint(project_id),
                                           describe(failures[-1]), exc))
            if stopped:
                raise exceptions.JobInterrupted()

        def before_sleep(state):
            exc = state.outcome.exception()
            failures.append(exc)
            LOG.warning('heat-api in project %s cannot be reached, retry '
                        'in %.1f s: %s', project_id,
                        state.next_action.sleep, describe(exc))
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_retriable),
            wait=tenacity.wait_exponential(multiplier=RETRY_DELAY[0],
                                           min=RETRY_DELAY[0],
                                           max=RETRY_DELAY[1]),
            sleep=sleep, before_sleep=before_sleep, reraise=True)
        try:
            return retrying(attempt)
        except ks_exc.Unauthorized as exc:
            raise exceptions.JobFailed(
                'Keystone at %s refused user %s in project %s (does it '
                'have a role there?): %s' % (self.auth_url, self.username,
                                             project_id, describe(exc)))
        except ks_exc.EndpointNotFound as exc:
            raise exceptions.JobFailed(
                'no %s endpoint (interface %s, region %s) in the catalog '
                'of Keystone at %s for project %s: %s'
                % (SERVICE_TYPE, self.interface, self.region_name,
                   self.auth_url, project_id, describe(exc)))

    def find(self, project_id, name, clock, outputs=False):
        """The stack named (or identified) *name*, or None."""
        try:
            return self.call(project_id, clock, _get, name, outputs)
        except heat_exc.HTTPException as exc:
            if is_not_found(exc):
                return None
            raise

    def create(self, project_id, clock, **fields):
        """Create a stack; None when one of that name exists (409)."""
        try:
            return self.call(project_id, clock,
                             lambda c: c.stacks.create(**fields))
        except heat_exc.HTTPException as exc:
            if is_conflict(exc):
                return None
            raise

    def update(self, project_id, clock, ident, **fields):
        """Update the stack *ident* (PUT: the whole template and params)."""
        return self.call(project_id, clock,
                         lambda c: c.stacks.update(ident, existing=False,
                                                   **fields))

    def delete(self, project_id, clock, ident):
        """Delete the stack *ident*; a stack already gone is no error."""
        try:
            self.call(project_id, clock, lambda c: c.stacks.delete(ident))
        except heat_exc.HTTPException as exc:
            if not is_not_found(exc):
                raise


def _get(client, ident, outputs):
    return client.stacks.get(ident, resolve_outputs=outputs)

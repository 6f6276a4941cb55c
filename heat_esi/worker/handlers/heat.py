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

"""heat_worker: a job turns an ESI resource into a real Heat stack.

As ESI's heat_worker did (see the seed documents' points 2 to 6): the
heat_template that the type's template mapping picks is rendered with the
job's params, resolved (heat_esi.worker.params):

- ``jinja_*`` params are the Jinja context of its ``template_file`` only,
  rendered in a sandbox, the values as data;
- ``heat_timeout`` is the stack's ``timeout_mins`` ([heat_worker]
  default_timeout_mins without it);
- every other param is a stack parameter; a ``secret`` param is a
  reference ``<type>/<id>/<field>`` (never the value, which only
  ESI::Netconf::NamedConfigs ``secrets`` reads from /config, when it sends
  a configuration), only one that the rendered template declares
  ``hidden: true``; whatever value the job still holds (a parameter named
  like a secret) is masked in what it logs or records.

The stack is a top-level stack named ``<type>_<id>`` in the resource's
project (its ``tenant_id``), with rollback disabled and the [heat_worker]
environment. A create looks the stack up by name first and adopts one that
exists (a claim taken over after a crash, a 409): a job never makes a
second stack. When the stack is complete, its record goes to
/esi-worker/heat_stacks (point 3) and its outputs, in Heat's shape, to
job_state's ``heat_outputs`` (point 4) and the job's Result. A modify
updates the stack with the re-rendered template; a delete deletes it and
its record.
"""

import json
import time

from heatclient.common import template_utils
import jinja2
from jinja2 import sandbox
from oslo_log import log as logging
import yaml

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi import redact
from heat_esi import template_mappings
from heat_esi import templates
from heat_esi.worker.handlers import base
from heat_esi.worker import heat_api
from heat_esi.worker import params as job_params

LOG = logging.getLogger(__name__)

# The handler's name: its entry point, and its key in the template mappings
# (template_mappings.HEAT_WORKER).
HANDLER = 'heat_worker'
JINJA_PREFIX = 'jinja_'
HEAT_TIMEOUT = 'heat_timeout'
# Seconds the job waits past its stack's timeout_mins: Heat fails a stack
# that runs out of time, and the job then fails with Heat's reason.
STACK_GRACE = 60.0

CREATE, UPDATE, DELETE = 'CREATE', 'UPDATE', 'DELETE'
DELETE_COMPLETE = 'DELETE_COMPLETE'


def _running(status):
    """True while an action of the stack runs.

    A stack stored and not started yet (INIT_COMPLETE) counts as running:
    its create comes next.
    """
    return status.endswith('_IN_PROGRESS') or status.startswith('INIT_')


def _read_environment(path):
    """Check that the file *path* is a YAML map, naming it if not."""
    where = '[heat_worker] environment %s' % path
    try:
        with open(path) as f:
            environment = yaml.safe_load(f)
    except OSError as exc:
        raise exceptions.ConfigError('%s cannot be read: %s'
                                     % (where, exc.strerror or exc))
    except yaml.YAMLError as exc:
        raise exceptions.ConfigError('%s is not valid YAML: %s'
                                     % (where, ' '.join(str(exc).split())))
    if environment is not None and not isinstance(environment, dict):
        raise exceptions.ConfigError('%s is not a Heat environment (a map '
                                     'with resource_registry, ...)' % where)


def load_environment(paths):
    """(environment, files) of the Heat environment files *paths*.

    *paths* is a list (a single path is a list of one); they are merged
    in order by python-heatclient, as ``openstack stack create -e a -e b``
    merges them, and *files* holds the templates their resource_registry
    names by path. ({}, {}) when there is none.

    :raises ConfigError: a file cannot be read or is not a YAML map.
    """
    if isinstance(paths, str):
        paths = [paths]
    paths = [p for p in paths or () if p]
    if not paths:
        return {}, {}
    for path in paths:
        _read_environment(path)
    try:
        files, environment = template_utils.\
            process_multiple_environments_and_files(env_paths=paths)
    except Exception as exc:
        # heatclient reads the templates an environment names.
        raise exceptions.ConfigError(
            '[heat_worker] environment %s cannot be used: %s'
            % (', '.join(paths), ' '.join(str(exc).split())))
    return environment or {}, files or {}


def render(template, context):
    """The HOT text of a heat_template's template_file for *context*.

    Jinja runs sandboxed (no attribute of Python's internals), and an
    unknown name is an error rather than empty text. The context values
    are data: a value is inserted as it is, never rendered itself.

    :raises JobFailed: naming the heat_template and Jinja's reason.
    """
    env = sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined,
                                       autoescape=False)
    try:
        return env.from_string(template['template_file']).render(context)
    except jinja2.TemplateError as exc:
        raise exceptions.JobFailed(
            'heat_template %s: template_file does not render with the '
            'jinja_* params (%s): %s' % (template['id'], ', '.join(
                sorted(context)) or 'none', exc))
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise exceptions.JobFailed(
            'heat_template %s: template_file does not render: %s: %s'
            % (template['id'], exc.__class__.__name__, exc))


def split_params(values, default_timeout_mins):
    """(parameters, jinja context, timeout_mins) of resolved params.

    :raises JobFailed: heat_timeout is not a whole number of minutes.
    """
    parameters, context = {}, {}
    timeout = default_timeout_mins
    for name, value in values.items():
        if name.startswith(JINJA_PREFIX):
            context[name] = value
        elif name == HEAT_TIMEOUT:
            timeout = _minutes(value) if value not in (None, '') \
                else default_timeout_mins
        else:
            parameters[name] = value
    return parameters, context, timeout


def _minutes(value):
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        minutes = None
    if minutes is None or minutes < 1 or isinstance(value, bool):
        raise exceptions.JobFailed(
            'param heat_timeout must be a whole number of minutes, not %s'
            % exceptions.short(value))
    return minutes


def stack_record(name, project, esi_type, rid, status, reason, outputs):
    """A heat_stacks value, in the order of ESI's point (3)."""
    return {'stack_id': name, 'tenant_id': project, 'stack_status': status,
            'output': outputs, 'status_reason': reason,
            'id': '%s:%s' % (esi_type, rid)}


class _Target(object):
    """The stack of one job: its name, project and resource."""

    def __init__(self, job):
        self.esi_type = job['resource_type']
        self.rid = job['resource_id']
        self.name = '%s_%s' % (self.esi_type, self.rid)
        self.where = '%s %s' % (self.esi_type, self.rid)
        body = job.get('resource_input')
        project = body.get('tenant_id') if isinstance(body, dict) else None
        if not isinstance(project, str) or not project:
            raise exceptions.JobFailed(
                '%s: resource_input has no tenant_id: the project of its '
                'Heat stack' % self.where)
        self.project = project

    def record(self, status, reason, outputs):
        return stack_record(self.name, self.project, self.esi_type,
                            self.rid, status, reason, outputs)


class HeatHandler(base.Handler):
    """The job handler ``heat_worker`` (entry points heat_esi.handlers).

    :param heat: a heat_api.HeatApi (tests give a fake one); by default
        built from [heat_worker].
    :raises ConfigError: the Keystone options or the environment file
        cannot be used.
    """

    def __init__(self, client, conf, plugins=None, heat=None):
        super(HeatHandler, self).__init__(client, conf, plugins)
        opts = conf.heat_worker
        self.poll_interval = opts.poll_interval
        self.default_timeout_mins = opts.default_timeout_mins
        # Read once: a bad file stops the worker at start, not each job.
        self.environment, self.environment_files = load_environment(
            opts.environment)
        self.heat = heat if heat is not None else heat_api.HeatApi(conf)

    def check_credentials(self):
        """See heat_api.HeatApi.check_credentials (run once at start)."""
        return self.heat.check_credentials()

    def _template_name(self, job):
        return template_mappings.template_name(
            HANDLER, job['resource_type'], job['resource_input'],
            job['version'])

    def prefetch(self, job):
        """The heat_template and the heat_stacks records the params read."""
        if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
            return ()
        found = list(job_params.prefetch_keys(job))
        try:
            name = self._template_name(job)
        except exceptions.TemplateError:
            return tuple(found)     # its run fails it, with the reason
        if name is not None:
            found.insert(0, keys.heat_template(name))
        return tuple(found)

    def run(self, claim, clock):
        """Create, update or delete the job's stack; return its Result."""
        job = claim.job
        target = _Target(job)
        if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
            return self._run(claim, clock, target, set())
        # The secret params' values, once read: masked in every log line
        # while the job runs (heatclient's own included) and in its error.
        secrets = set()
        with redact.holding(secrets):
            try:
                return self._run(claim, clock, target, secrets)
            except exceptions.EsiError:
                raise
            except Exception as exc:
                # Whatever else failed (a client library) is logged and
                # recorded after the job, when its secret is no longer
                # held: such a message is not let out as it is.
                if redact.scrub(str(exc), secrets) == str(exc):
                    raise
                raise exceptions.JobFailed('%s: %s: %s' % (
                    target.where, exc.__class__.__name__,
                    redact.scrub(str(exc), secrets))) from None

    def _run(self, claim, clock, target, secrets):
        job = claim.job
        try:
            if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
                return self._delete(claim, clock, target)
            fields = self._fields(claim, target, secrets)
            if fields is None:
                return base.Result()
            secrets.update(redact.secrets_in(fields['parameters']))
            if job['action'] == records.MODIFY:
                stack = self._update(clock, target, fields)
            else:
                stack = self._create(clock, target, fields)
        except heat_api.heat_exc.HTTPException as exc:
            # Heat's message may quote a parameter: no secret in it.
            raise exceptions.JobFailed('%s: heat-api refused stack %s: %s'
                                       % (target.where, target.name,
                                          redact.text(heat_api.describe(exc),
                                                      secrets)))
        except exceptions.JobFailed as exc:
            # Every failure names the resource first, as /state shows it.
            raise exceptions.JobFailed(
                '%s: %s' % (target.where, redact.scrub(str(exc), secrets)),
                exc.outcome)
        outputs = list(getattr(stack, 'outputs', None) or [])
        if secrets:
            # A resource's attribute may carry one: never into etcd.
            outputs = json.loads(redact.scrub(json.dumps(outputs), secrets))
        claim.put(keys.heat_stack(target.esi_type, target.rid),
                  target.record(stack.stack_status,
                                stack.stack_status_reason, outputs))
        claim.put_job_state({'heat_outputs': outputs})
        return base.Result(heat_outputs=outputs)

    # --- what the stack is made of ----------------------------------------

    def _fields(self, claim, target, secrets):
        """The template, parameters and options of the job's stack.

        None when the type's mapping picks no heat_template for this body.
        The values of its secret params are added to *secrets*.
        """
        job = claim.job
        try:
            name = self._template_name(job)
            if name is None:
                return None
            template = templates.fetch(
                self.client, name,
                claim.prefetched.get(keys.heat_template(name), False))
            values = job_params.resolve(self.client, job, claim.prefetched,
                                        secrets)
            parameters, context, timeout = split_params(
                values, self.default_timeout_mins)
            text = render(template, context)
            job_params.check_hidden(template['id'], text,
                                    job_params.secret_params(job),
                                    parameters)
        except (exceptions.TemplateError, exceptions.MalformedValue) as exc:
            raise exceptions.JobFailed(str(exc))
        fields = {'template': text, 'parameters': parameters,
                  'timeout_mins': timeout, 'disable_rollback': True}
        if self.environment:
            fields['environment'] = self.environment
        if self.environment_files:
            fields['files'] = self.environment_files
        return fields

    # --- create, update, delete -------------------------------------------

    def _create(self, clock, target, fields):
        stack = self.heat.find(target.project, target.name, clock)
        if stack is None:
            LOG.info('%s: CREATE STARTED (stack %s in project %s)',
                     target.where, target.name, target.project)
            created = self.heat.create(target.project, clock,
                                       stack_name=target.name, **fields)
            if created is not None:
                ident = '%s/%s' % (target.name, created['stack']['id'])
                self._extend_deadline(clock, fields['timeout_mins'], target)
                return self._wait(clock, target, ident, CREATE)
            # 409: created meanwhile (a late copy of our request, or an
            # earlier claim's): that one is adopted.
            stack = self.heat.find(target.project, target.name, clock)
            if stack is None:
                raise exceptions.JobFailed(
                    'heat-api says stack %s exists, and then that it does '
                    'not' % target.name)
        ident = '%s/%s' % (stack.stack_name, stack.id)
        LOG.info('%s: found stack %s with status %s', target.where, ident,
                 stack.stack_status)
        self._extend_deadline(clock, fields['timeout_mins'], target)
        if stack.stack_status.startswith(DELETE):
            raise exceptions.JobFailed(
                'stack %s is being deleted (%s), it cannot be created now'
                % (target.name, stack.stack_status))
        stack = self._settled(clock, target, ident)
        if stack.stack_status.endswith('_FAILED'):
            # An earlier run of this job left it failed: try again in place.
            return self._put(clock, target, ident, stack, fields)
        return self._wait(clock, target, ident, None)

    def _update(self, clock, target, fields):
        stack = self.heat.find(target.project, target.name, clock)
        if stack is None:
            # Its stack is gone (or was never made): make it.
            LOG.warning('%s: no stack %s to update; creating it',
                        target.where, target.name)
            return self._create(clock, target, fields)
        ident = '%s/%s' % (stack.stack_name, stack.id)
        LOG.info('%s: MODIFY STARTED (stack %s, status %s)', target.where,
                 ident, stack.stack_status)
        self._extend_deadline(clock, fields['timeout_mins'], target)
        # Heat refuses an update while another action runs (a taken-over
        # claim's update, say): wait for it first.
        stack = self._settled(clock, target, ident)
        return self._put(clock, target, ident, stack, fields)

    def _put(self, clock, target, ident, before, fields):
        self.heat.update(target.project, clock, ident, **fields)
        return self._wait(clock, target, ident, UPDATE, before)

    def _delete(self, claim, clock, target):
        LOG.info('%s: DELETE STARTED (stack %s in project %s)', target.where,
                 target.name, target.project)
        stack = self.heat.find(target.project, target.name, clock)
        if stack is not None and stack.stack_status != DELETE_COMPLETE:
            ident = '%s/%s' % (stack.stack_name, stack.id)
            self._extend_deadline(clock, self.default_timeout_mins, target)
            self.heat.delete(target.project, clock, ident)
            self._wait(clock, target, ident, DELETE)
        LOG.info('%s: DELETED %s', target.where, target.name)
        key = keys.heat_stack(target.esi_type, target.rid)
        # ESI's watchers saw DELETE_COMPLETE, then the record go.
        claim.put(key, target.record(
            DELETE_COMPLETE, 'Stack DELETE completed successfully', []))
        return base.Result(deletes=(
            key, keys.monitoring(target.esi_type, target.rid)))

    # --- waiting ------------------------------------------------------------

    def _extend_deadline(self, clock, timeout_mins, target):
        """Give the job as long as Heat gives its stack, and a little more.

        Only once heat-api took the stack: until then, the job's own
        deadline bounds the retries of an unreachable heat-api.
        """
        needed = (time.monotonic() - clock.started + timeout_mins * 60.0
                  + STACK_GRACE)
        if needed > clock.timeout:
            clock.set_timeout(needed, 'timeout_mins %d of stack %s'
                              % (timeout_mins, target.name))

    def _settled(self, clock, target, ident):
        """The stack once no action of it is in progress."""
        while True:
            stack = self.heat.find(target.project, ident, clock)
            if stack is None:
                raise exceptions.JobFailed('stack %s disappeared' % ident)
            if not _running(stack.stack_status):
                return stack
            self._pause(clock, target, stack)

    def _pause(self, clock, target, stack):
        if stack is not None:
            LOG.debug('%s: stack %s in status %s', target.where,
                      target.name, stack.stack_status)
        if clock.wait(self.poll_interval):
            raise exceptions.JobInterrupted()

    def _wait(self, clock, target, ident, action, before=None):
        """Poll the stack until *action* ends; return it with its outputs.

        :param action: CREATE, UPDATE or DELETE; None: whichever runs.
        :param before: the stack as it was before an update: the update
            has ended when its updated_time moved (or it was seen running).
        :returns: the stack (None for a delete that removed it).
        :raises JobFailed: the action failed, with Heat's status reason.
        """
        seen_running = False
        if action is not None:
            # Heat has just been asked: its answer is a poll away, as ESI
            # polled (a stack is never complete the instant it is asked).
            self._pause(clock, target, None)
        while True:
            stack = self.heat.find(target.project, ident, clock)
            if stack is None:
                if action == DELETE:
                    return None
                raise exceptions.JobFailed('stack %s disappeared' % ident)
            status = stack.stack_status
            running = _running(status)
            seen_running = seen_running or running
            if not running and (action is None or status.startswith(action)) \
                    and (before is None or seen_running
                         or stack.updated_time != before.updated_time):
                break
            self._pause(clock, target, stack)
        if not status.endswith('_COMPLETE'):
            raise exceptions.JobFailed('stack %s %s: %s' % (
                target.name, status, stack.stack_status_reason))
        if action == DELETE:
            return stack
        LOG.info('%s: stack %s %s', target.where, target.name, status)
        return self.heat.find(target.project, ident, clock, outputs=True)

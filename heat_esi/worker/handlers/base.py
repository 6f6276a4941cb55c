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

"""The job handler contract: the Handler base class and its Result.

esi-worker finds handlers by the stevedore entry point group
``heat_esi.handlers`` (the entry point's name is the handler's name, the
one a job's ``handler`` field gives) and builds each one once with its
etcd client, its configuration and the resource plugins it loaded.
"""

import collections

from heat_esi import exceptions

NAMESPACE = 'heat_esi.handlers'


class Result(collections.namedtuple(
        'Result', 'state_monitoring heat_outputs deletes')):
    """What a job's run leaves behind.

    :ivar state_monitoring: {element: state} for /state's
        ``state_monitoring`` (None: the entry is left out).
    :ivar heat_outputs: {output: value} for /state's ``heat_outputs``
        (None: left out); what the heat_worker hands back to Heat.
    :ivar deletes: keys deleted with the job's finish, in its transaction.
    """

    __slots__ = ()

    def __new__(cls, state_monitoring=None, heat_outputs=None, deletes=()):
        return super(Result, cls).__new__(cls, state_monitoring,
                                          heat_outputs, tuple(deletes))


def result_of(returned):
    """The Result of what a handler's run() returned.

    Handlers written before this contract return (outcome dict, keys to
    delete); they keep working.
    """
    if isinstance(returned, Result):
        return returned
    if (isinstance(returned, tuple) and len(returned) == 2
            and isinstance(returned[0], dict)):
        outcome, deletes = returned
        return Result(outcome.get('state_monitoring'),
                      outcome.get('heat_outputs'), deletes)
    raise exceptions.EsiError('a handler returned %s, not a Result'
                              % exceptions.short(returned))


def failed_result(exc):
    """The Result of a JobFailed: what it got done before it failed."""
    outcome = getattr(exc, 'outcome', None) or {}
    return Result(outcome.get('state_monitoring'),
                  outcome.get('heat_outputs'))


class Handler(object):
    """A job handler; subclasses implement run().

    :param client: the worker's etcd client.
    :param conf: the worker's configuration.
    :param plugins: {type: resource plugin} loaded once by the worker, for
        the handlers that check elements; the others ignore them.
    """

    def __init__(self, client, conf, plugins=None):
        self.client = client
        self.conf = conf
        self.plugins = plugins

    def prefetch(self, job):
        """Return the keys to read along with the claim of *job*."""
        return ()

    def run(self, claim, clock):
        """Run the claimed job; return its Result.

        :param claim: the job's claims.Claim (claim.job, claim.prefetched,
            claim.put_job_state).
        :param clock: its JobClock: check() raises at the deadline or the
            shutdown.
        :raises JobFailed: the job failed; its ``outcome`` holds what the
            run got done (see failed_result).
        """
        raise NotImplementedError()

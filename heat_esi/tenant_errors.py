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

"""What a tenant is told when etcd or a job fails, at one boundary.

etcd's endpoint and the transport's own words go to heat-engine's log,
for the operator; the tenant sees what failed. EsiResource applies
hide_etcd_endpoints to itself and to every subclass (__init_subclass__),
so every TENANT_FACING method, a type's new ones included, is covered.
"""

import functools
import inspect
import re

from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _

from heat_esi import exceptions
from heat_esi import lifecycle

LOG = logging.getLogger(__name__)


def etcd_failure(exc, who):
    """The error a tenant sees for an etcd failure: without its endpoint.

    The endpoint and the transport's own words go to heat-engine's log,
    for the operator.
    """
    LOG.error('%s: %s', who, exc)
    if isinstance(exc, exceptions.EtcdAuthFailed):
        text = _('the ESI store (etcd) refused heat-engine\'s credentials: '
                 'authentication failed for user %s') % exc.username
    elif isinstance(exc, exceptions.EtcdUnavailable):
        text = _('the ESI store (etcd) is unreachable (key %s)') % exc.key
    elif isinstance(exc, exceptions.EtcdOutcomeUnknown):
        text = _('the ESI store (etcd) did not say whether a write on key '
                 '%s was applied') % exc.key
    else:
        text = _('the ESI store (etcd) refused the request on key %s'
                 ) % exc.key
    return exception.Error(_('%s; the details are in heat-engine\'s log')
                           % text)


# The methods Heat calls for a tenant, whose errors the tenant sees.
TENANT_FACING = re.compile(
    r'^(handle_\w+|check_\w+_complete|validate|needs_replace_failed|'
    r'_resolve_attribute|_show_resource|get_reference_id|get_live_state|'
    r'parse_live_resource_data)$')


def outcome(state, version, action, esi_type, resource_id):
    """Heat's outcome of the worker's /state (see lifecycle.answered).

    :returns: True when the job completed, False while no answer is in.
    :raises ResourceInError: the job failed, for the worker's reason.
    :raises ResourceUnknownStatus: the worker answered anything else.
    """
    verdict = lifecycle.answered(state, version, action)
    if verdict == lifecycle.FAILED:
        raise exception.ResourceInError(
            resource_status=state['worker_state'],
            status_reason=state['error'] or state['worker_state'])
    if verdict == lifecycle.UNEXPECTED:
        raise exception.ResourceUnknownStatus(
            resource_status=state['worker_state'],
            result=_('%(type)s %(id)s answered for version %(v)s')
            % {'type': esi_type, 'id': resource_id, 'v': version})
    return verdict == lifecycle.DONE


def hides_etcd_endpoint(method):
    """*method*, its etcd errors told without the endpoint.

    The operator finds the endpoint in heat-engine's log (etcd_failure).
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except exceptions.EtcdError as exc:
            raise etcd_failure(exc, self.name)
    return wrapper


def hide_etcd_endpoints(cls):
    """Wrap each TENANT_FACING method defined by *cls* (hides_etcd_endpoint).

    EsiResource applies it to itself and, in __init_subclass__, to every
    type: a method a type adds is covered without a word of its own.
    """
    for name, value in list(vars(cls).items()):
        if inspect.isfunction(value) and TENANT_FACING.match(name):
            setattr(cls, name, hides_etcd_endpoint(value))

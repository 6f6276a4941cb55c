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

"""What an ESI resource writes into Heat's own records: reasons and events.

Not part of ESI's protocol: the places where heat-esi goes around Heat's
Resource API (a status reason written to Heat's database during an
action, an event stored without properties), kept together so that a
change of Heat shows here (tests/unit/test_client_plugin.py checks what
they rely on).
"""

import time

from oslo_config import cfg
from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine import event
from heat.objects import resource as resource_objects

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import lifecycle

LOG = logging.getLogger(__name__)


def set_reason(res, reason):
    """Show *reason* as the status reason of *res*'s action under way."""
    LOG.info('%s: %s', res.name, reason)
    res.status_reason = reason
    if res.id is not None:
        # Only the reason: store() would also rewrite the properties.
        resource_objects.Resource.update_by_id(
            res.context, res.id, {'status_reason': reason})
    res._add_event(res.action, res.status, reason)


def add_event_without_properties(res, action, status, reason):
    """Store an event of *res* that refers to no stored properties.

    Heat (27) has no supported way to keep a property out of events: its
    Resource._add_event refers each event to the resource's stored
    properties (rsrc_prop_data_id), which `openstack stack event show`
    prints and event sinks receive. This stores the same event with no
    properties, for the types that have secrets.
    """
    ev = event.Event(
        res.context, res.stack, action, status, reason,
        physical_resource_id=(res.resource_id or
                              res.physical_resource_name()),
        resource_prop_data_id=None, resource_properties=None,
        resource_name=res.name, resource_type=res.type())
    ev.store()
    res.stack.dispatch_event(ev)


def explain_no_worker(res, cookie):
    """While no esi-worker is alive, say so; fail after [esi] worker_wait.

    A worker that starts meanwhile takes the job. The time since when none
    is alive is kept in the action's *cookie*.
    """
    try:
        alive = lifecycle.workers_alive(res.client())
    except exceptions.EtcdError:
        return      # said by the next read of /state if it lasts
    since = cookie.get('no_worker_since')
    wait = cfg.CONF.esi.worker_wait
    if alive and since is not None:
        cookie['no_worker_since'] = None
        set_reason(res, _('an esi-worker is running again; waiting for its '
                          'answer'))
    elif not alive and since is None:
        cookie['no_worker_since'] = time.monotonic()
        set_reason(res, _(
            'no esi-worker is running (none registered under %(p)s in '
            'etcd); waiting up to %(w)s s ([esi] worker_wait) for one to '
            'take the job') % {'p': keys.MEMBERS, 'w': wait})
    elif not alive and time.monotonic() - since > wait:
        raise exception.Error(
            _('no esi-worker is running: none registered under %(p)s in '
              'etcd for %(w)s s ([esi] worker_wait). Start esi-worker; its '
              'job stays in etcd, and the next stack update resumes it.')
            % {'p': keys.MEMBERS, 'w': wait})

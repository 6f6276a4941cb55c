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

"""What `openstack stack check` does to the devices of an ESI resource.

heat-engine has no SNMP community to poll a device itself: it asks the
esi-worker that monitors each device to poll it now, by writing a poll
request (``{"request": token}`` under keys.POLL_REQUESTS), and reads the
answer the monitor writes into the same key (``{"request": token,
"answer": ...}``, see heat_esi.worker.monitor). Every device that is not UP
is reported with its address and why. When every worker runs with its
monitor disabled, or a device is not polled, the state last recorded in
etcd is what is reported.

A dependency is a (label, resource type, resource id) whose devices the
check reads: the resource's own, or the edge routers of an HA router.
"""

import time
import uuid

from oslo_config import cfg

from heat.common import exception
from heat.common.i18n import _

from heat_esi import conf
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import states

conf.register_engine_opts(cfg.CONF)

TIMEOUT = 'timeout'


def requests_for(dependencies):
    """{poll request key: request} for each (label, type, id) given.

    A request carries a new token, by which its answer is told from one
    written for an earlier check.
    """
    return {keys.poll_request(esi_type, rid): {
        'label': label, 'type': esi_type, 'id': rid,
        'token': uuid.uuid4().hex}
        for label, esi_type, rid in dependencies}


def start(client, dependencies):
    """Ask the monitors to poll the devices of *dependencies* now.

    :returns: the cookie to pass to poll(), or None when there is nothing
        to wait for (no monitor runs: the recorded state was reported).
    :raises heat.common.exception.Error: no esi-worker runs, or (without
        monitors) a device was last recorded not UP.
    """
    _rev, (members, monitors) = client.txn([], [
        etcd.get_prefix(keys.MEMBERS), etcd.get_prefix(keys.MONITORS)],
        key=keys.MEMBERS)
    if not members:
        raise exception.Error(
            _('no esi-worker is running (none registered under %s in '
              'etcd): nobody can poll the devices') % keys.MEMBERS)
    requests = requests_for(dependencies)
    if not monitors:
        # Every worker runs with [monitor] enabled = false: what was
        # recorded is all there is.
        report(client, dict((key, None) for key in requests), requests)
        return None
    for key, request in requests.items():
        client.put(key, {'request': request['token']})
    return {'requests': requests,
            'deadline': time.monotonic() + cfg.CONF.esi.check_wait}


def poll(client, cookie):
    """Whether the check is over: every answer is in, or the wait is.

    The poll requests are removed once it is over.

    :raises heat.common.exception.Error: a device is not UP (see report).
    """
    requests = cookie['requests']
    _, found = client.txn([], [etcd.get(key) for key in requests],
                          key=keys.POLL_REQUESTS)
    answers = {}
    for key, kvs in zip(requests, found):
        value = etcd.loads(key, kvs[0].value) if kvs else {}
        if not isinstance(value, dict):
            value = {}
        if 'answer' in value and value.get('request') == \
                requests[key]['token']:
            answers[key] = value['answer']
        elif 'answer' not in value and value.get('request'):
            # A newer check asked too; its answer serves both.
            requests[key]['token'] = value['request']
    if len(answers) < len(requests) and \
            time.monotonic() < cookie['deadline']:
        return False
    client.txn([], [etcd.delete(key) for key in requests],
               key=keys.POLL_REQUESTS)
    report(client, {key: answers.get(key, TIMEOUT) for key in requests},
           requests)
    return True


def report(client, answers, requests):
    """Raise an error naming each device that is not UP.

    :param answers: {request key: the monitor's answer, TIMEOUT, or None
        to use the state last recorded}.
    :param requests: {request key: request}, as requests_for() made them.
    """
    problems = []
    for key, request in sorted(requests.items()):
        where = '%s %s%s' % (request['type'], request['id'],
                             ' (%s)' % request['label']
                             if request['label'] else '')
        answer = answers.get(key)
        if answer == TIMEOUT:
            problems.append(
                _('%(w)s: no esi-worker polled it within %(t)s s ([esi] '
                  'check_wait)') % {'w': where,
                                    't': cfg.CONF.esi.check_wait})
            continue
        if answer is None or answer.get('error'):
            # Not polled (monitoring disabled, or a device heat-esi does
            # not poll): the state last recorded.
            try:
                parts = states.parts_of(client, request['type'],
                                        request['id']) or {}
            except exceptions.MalformedValue as exc:
                parts = {'error': str(exc)}
            answer = {'state': parts, 'why': {}, 'address': ''}
            if not parts:
                problems.append('%s: not monitored' % where)
                continue
        down = ['%s %s%s' % (element, state,
                             ' (%s)' % answer['why'][element]
                             if answer['why'].get(element) else '')
                for element, state in sorted(answer['state'].items())
                if state not in states.HEALTHY]
        if down:
            problems.append('%s%s: %s' % (
                where, ' at %s' % answer['address']
                if answer['address'] else '', ', '.join(down)))
    if problems:
        raise exception.Error('; '.join(problems))

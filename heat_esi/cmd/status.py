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

"""heat-esi status: the workers, their jobs and what needs attention.

Read from one etcd transaction. The exit status is 0 when nothing needs
attention and 1 otherwise (or when etcd cannot be read), for cron jobs and
monitoring checks.
"""

import collections
import io
import sys
import time

from heat_esi.cmd import output
from heat_esi import exceptions
from heat_esi import overview

ATTENTION = 1
CLEAR = '\033[H\033[2J'


def _round(seconds):
    return None if seconds is None else round(seconds, 1)


def sections(snap, max_age):
    """{title: (columns, rows)} of a Snapshot, 'attention' last."""
    found = collections.OrderedDict()
    found['workers'] = (('id', 'host', 'slots', 'handlers', 'since',
                         'up_for'),
                        [m.summary() for m in snap.members])
    found['backlog'] = (('handler', 'jobs', 'oldest_age',
                         'waiting_on_dependencies'), [
        {'handler': handler, 'jobs': count, 'oldest_age': _round(age),
         'waiting_on_dependencies': blocked}
        for handler, (count, age, blocked) in sorted(
            overview.backlog(snap.jobs).items())])
    found['in_flight'] = (('id', 'holder', 'age', 'attempts', 'request_id'),
                          [j.summary() for j in snap.of_state(
                              overview.RUNNING)])
    found['waiting_on_dependencies'] = (
        ('id', 'waiting_for', 'age'),
        [j.summary() for j in snap.of_state(overview.BLOCKED)])
    found['rejected'] = (('id', 'resource_type', 'resource_id', 'error'),
                         [j.summary() for j in snap.of_state(
                             overview.REJECTED)])
    found['failed'] = (('resource_type', 'resource_id', 'worker_state',
                        'version', 'error'), snap.failed)
    found['devices_down'] = (('resource_type', 'resource_id', 'down',
                              'version'), snap.down)
    found['attention'] = (('reason',), [{'reason': r} for r in
                                        attention(snap, max_age)])
    return found


def attention(snap, max_age):
    """What an operator on call should look at, one line each."""
    reasons = []
    if not snap.members:
        reasons.append('no esi-worker is alive (no member key in etcd)')
    for handler, (count, age, _) in sorted(
            overview.backlog(snap.jobs).items()):
        if age is not None and age > max_age:
            reasons.append('%d %s job(s) waiting, the oldest for %.0f s'
                           % (count, handler, age))
    ahead = [j for j in snap.jobs if j.ahead is not None]
    if ahead:
        unknown = [j for j in ahead if j.age is None]
        reasons.append(
            '%d job(s) dated up to %.0f s ahead of this host\'s clock: their '
            'writer\'s clock (heat-engine\'s?) is ahead, check its NTP; '
            '%s' % (len(ahead), max(j.ahead for j in ahead),
                    'their age is taken from etcd\'s order of writes'
                    if not unknown else '%d of unknown age' % len(unknown)))
    for member in snap.members:
        if member.ahead is not None:
            reasons.append('esi-worker %s started %.0f s ahead of this '
                           'host\'s clock: check its NTP'
                           % (member.id, member.ahead))
    rejected = snap.of_state(overview.REJECTED)
    if rejected:
        reasons.append('%d rejected job value(s): heat-esi jobs list '
                       '--state rejected' % len(rejected))
    if snap.failed:
        reasons.append('%d resource(s) whose last action failed: '
                       'heat-esi jobs retry TYPE ID' % len(snap.failed))
    if snap.down:
        reasons.append('%d device(s) down' % len(snap.down))
    return reasons


def _once(client, args, out, seen=None):
    snap = overview.Snapshot(client, seen)
    found = sections(snap, args.max_age)
    output.emit_sections(args, found, out, snap.secrets)
    return ATTENTION if found['attention'][1] else 0


def run(args, client):
    if not args.watch:
        return _once(client, args, sys.stdout)
    result = 0
    # When this command first saw each job: an age no writer's clock sets.
    seen = {}
    try:
        while True:
            # Drawn off screen, then shown at once: no flicker.
            screen = io.StringIO()
            try:
                result = _once(client, args, screen, seen)
            except exceptions.EtcdError as exc:
                # Keep watching: etcd may come back.
                output.say('heat-esi: error: %s' % exc, screen)
                result = ATTENTION
            title = ('heat-esi status, every %g s (Ctrl-C to stop)\n\n'
                     % args.watch)
            sys.stdout.write(''.join((CLEAR, time.strftime('%H:%M:%S '),
                                      title, screen.getvalue())))
            sys.stdout.flush()
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return result


def add_parser(sub):
    parser = sub.add_parser(
        'status', help='workers, backlog, jobs in flight, failures; exit 1 '
        'when something needs attention')
    parser.add_argument('--max-age', type=float, default=300.0,
                        metavar='SECONDS',
                        help='a backlog whose oldest job waits longer needs '
                             'attention (default: 300)')
    parser.add_argument('--watch', type=float, nargs='?', const=2.0,
                        metavar='SECONDS',
                        help='redraw every SECONDS (default 2) until Ctrl-C')
    output.add_arguments(parser)
    parser.set_defaults(func=run, needs_client=True)
    return parser

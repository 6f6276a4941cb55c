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

"""Run the test tiers, fastest first; a failing unit tier stops the run.

`tox` (the README's test command) runs this: the unit tier first, so a
broken unit test fails the run within a minute, then integration and
functional side by side, all in one environment (one install of Heat, not
three). Both wait on their own servers (etcd, workers, Heat, Keystone)
most of the time, so on two cores the pair takes about as long as the
integration tier alone; each one's output is shown whole when it ends.
ESI_TIERS_SERIAL=1 runs them one after the other instead, as before (the
first failing tier stops the run); ESI_INTEGRATION_SHARDS=N runs the
integration tier as N pytest processes beside the functional tier (its
modules dealt out in turn; 2 by default: on two cores the three
processes wait on their servers more than they compute; 1 is the tier
whole). The closing
line adds the tiers up:
``tiers: N passed, N failed, N skipped``. With arguments, pytest runs once
with them instead (``tox -- -k claims``).

pytest's exit status 5 (no test collected, e.g. a tier emptied by a
selection) is not a failure; every other non-zero status is.
"""

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

TIERS = ('unit', 'integration', 'functional')
# The tiers run side by side after the first.
TOGETHER = ('integration', 'functional')
# The integration tier in this many parts side by side (its modules dealt
# out in turn; ESI_INTEGRATION_SHARDS overrides): measured on the shared
# 2-core machine, the tiers took 8.7 min in two parts, 16 min whole.
SHARDS = 2
NO_TESTS = 5


def command(args):
    return [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider'] + list(
        args)


def pytest(args):
    """Run pytest with *args*; returns its exit status."""
    return subprocess.call(command(args))


def totals(report):
    """(passed, failed, skipped) of one JUnit report."""
    root = ET.parse(report).getroot()
    counts = dict(tests=0, failures=0, errors=0, skipped=0)
    for suite in ([root] if root.tag == 'testsuite' else root):
        for key in counts:
            counts[key] += int(suite.get(key, 0))
    failed = counts['failures'] + counts['errors']
    return (counts['tests'] - failed - counts['skipped'], failed,
            counts['skipped'])


def parts(root, tier, shards=1):
    """[(label, pytest arguments)]: *tier* whole, or in *shards* parts.

    A tier's test modules are dealt out in turn, in their order, so that
    each part has about as many of each kind (the slow ones are spread).
    """
    directory = os.path.join(root, 'tests', tier)
    if shards <= 1:
        return [(tier, [directory])]
    modules = sorted(os.path.join(directory, name)
                     for name in os.listdir(directory)
                     if name.startswith('test_') and name.endswith('.py'))
    return [('%s %d/%d' % (tier, i + 1, shards), modules[i::shards])
            for i in range(shards) if modules[i::shards]]


def report_args(reports, label):
    return ['--junitxml=' + os.path.join(
        reports, label.replace(' ', '-').replace('/', 'of') + '.xml')]


def ended(label, status):
    """Whether *label*'s exit status is a pass (saying what it is if not)."""
    if status == NO_TESTS:
        print('tier %s: no test collected' % label, flush=True)
        return True
    if status:
        print('tier %s failed (exit status %d)' % (label, status),
              file=sys.stderr, flush=True)
    return not status


def side_by_side(reports, together):
    """Run the [(label, arguments)] *together* at once.

    Each one's output is shown whole when it ends. Returns the exit status
    of the first that failed, or 0.
    """
    running = {}
    labels = [label for label, _args in together]
    for label, args in together:
        print('== tier %s (started, beside %s)' % (label, ', '.join(
            other for other in labels if other != label)), flush=True)
        log = tempfile.TemporaryFile(dir=reports)
        running[label] = (subprocess.Popen(
            command(args + report_args(reports, label)), stdout=log,
            stderr=subprocess.STDOUT), log, time.monotonic())
    status = 0
    while running:
        for label, (proc, log, started) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[label]
            print('== tier %s (ended after %.0f s)' % (
                label, time.monotonic() - started), flush=True)
            log.seek(0)
            sys.stdout.flush()
            sys.stdout.buffer.write(log.read())
            sys.stdout.flush()
            log.close()
            if not ended(label, proc.returncode) and not status:
                status = proc.returncode
        time.sleep(0.5)
    return status


def main(argv):
    if argv:
        status = pytest(argv)
        return 0 if status == NO_TESTS else status
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    serial = os.environ.get('ESI_TIERS_SERIAL', '') not in ('', '0')
    shards = int(os.environ.get('ESI_INTEGRATION_SHARDS') or SHARDS)
    with tempfile.TemporaryDirectory() as reports:
        for tier in TIERS:
            if tier in TOGETHER and not serial:
                if tier == TOGETHER[0]:
                    status = side_by_side(reports, sum(
                        (parts(root, t, shards if t == 'integration' else 1)
                         for t in TOGETHER), []))
                    if status:
                        return status
                continue
            print('== tier %s: tests/%s' % (tier, tier), flush=True)
            (label, args), = parts(root, tier)
            status = pytest(args + report_args(reports, label))
            if not ended(tier, status):
                print('later tiers not run', file=sys.stderr)
                return status
        summed = [0, 0, 0]
        for name in sorted(os.listdir(reports)):
            if name.endswith('.xml'):
                summed = [a + b for a, b in zip(
                    summed, totals(os.path.join(reports, name)))]
    print('tiers: %d passed, %d failed, %d skipped' % tuple(summed))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

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

"""Run the test tiers in order, fastest first, and stop at the first failure.

`tox` (the README's test command) runs this: the unit tier first, so a
broken unit test fails the run within a minute, then integration and
functional, all in one environment (one install of Heat, not three). The
closing line adds the tiers up: ``tiers: N passed, N failed, N skipped``.
With arguments, pytest runs once with them instead (``tox -- -k claims``).

pytest's exit status 5 (no test collected, e.g. a tier emptied by a
selection) is not a failure; every other non-zero status is.
"""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

TIERS = ('unit', 'integration', 'functional')
NO_TESTS = 5


def pytest(args):
    """Run pytest with *args*; returns its exit status."""
    return subprocess.call([sys.executable, '-m', 'pytest',
                            '-p', 'no:cacheprovider'] + list(args))


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


def main(argv):
    if argv:
        status = pytest(argv)
        return 0 if status == NO_TESTS else status
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    summed = [0, 0, 0]
    with tempfile.TemporaryDirectory() as reports:
        for tier in TIERS:
            print('== tier %s: tests/%s' % (tier, tier), flush=True)
            report = os.path.join(reports, tier + '.xml')
            status = pytest([os.path.join(root, 'tests', tier),
                             '--junitxml=' + report])
            if os.path.exists(report):
                summed = [a + b for a, b in zip(summed, totals(report))]
            if status == NO_TESTS:
                print('tier %s: no test collected' % tier)
            elif status:
                print('tier %s failed (exit status %d); later tiers not run'
                      % (tier, status), file=sys.stderr)
                return status
    print('tiers: %d passed, %d failed, %d skipped' % tuple(summed))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

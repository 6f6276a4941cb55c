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

"""The code blocks of the documentation (doc/source), read by tests.

The operator guide's configuration blocks and the examples of templates
are loaded by tests, so what a reader copies from the docs runs.
"""

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, 'doc', 'source')

# A directive, blank lines, then its indented lines (blank ones included).
_BLOCK = re.compile(
    r'^\.\. code-block:: (\S+)\n((?:[ \t]*\n)*)((?:(?: {3,}.*)?\n)+)', re.M)


def pages():
    """[(path relative to doc/source, text)] of every page, in order."""
    found = []
    for path in sorted(glob.glob(os.path.join(SOURCE, '**', '*.rst'),
                                 recursive=True)):
        with open(path) as f:
            found.append((os.path.relpath(path, SOURCE), f.read()))
    return found


def text():
    """All pages as one text, whitespace collapsed, for phrases to find."""
    return ' '.join(' '.join(page for _, page in pages()).split())


def blocks(language):
    """[(page, text)] of every ``code-block:: <language>``, dedented."""
    found = []
    for page, source in pages():
        for match in _BLOCK.finditer(source + '\n'):
            if match.group(1) != language:
                continue
            lines = match.group(3).rstrip().split('\n')
            indent = min(len(line) - len(line.lstrip())
                         for line in lines if line.strip())
            found.append((page, '\n'.join(line[indent:] for line in lines)
                          + '\n'))
    return found


def ini_blocks():
    """[(kind, text)] of every ini block of the docs, in order.

    kind: 'systemd' (a unit), 'heat_worker' (only [heat_worker], the
    worker's Keystone credentials: read by esi-worker, loaded apart by the
    tests that give it a Keystone), 'esi-worker' (a block with a group only
    the worker reads), 'heat' (heat.conf: [DEFAULT] or [esi]), 'etcd'
    (only [esi_etcd], for both) or 'netconf' (only [netconf], for both).
    """
    found = []
    for page, block in blocks('ini'):
        sections = set(re.findall(r'^\[([^\]]+)\]', block, re.M))
        if 'Unit' in sections or 'Service' in sections:
            kind = 'systemd'
        elif sections == {'heat_worker'}:
            kind = 'heat_worker'
        elif sections & {'worker', 'snmp', 'monitor'}:
            kind = 'esi-worker'
        elif sections & {'DEFAULT', 'esi', 'database', 'paste_deploy'}:
            kind = 'heat'
        elif sections == {'esi_etcd'}:
            kind = 'etcd'
        elif sections == {'netconf'}:
            kind = 'netconf'
        else:
            raise AssertionError('an ini block of unknown use in %s:\n%s'
                                 % (page, block))
        found.append((kind, block))
    return found

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

"""Output of the operator commands, with cliff's formatters.

The same options and shapes as the openstack CLI: ``-f table`` (the
default), ``json``, ``yaml`` or ``value``, ``-c COLUMN`` to choose columns,
``--noindent``, ``--max-width``, ``--fit-width``. Nested values (a /config,
a list of dependencies) stay structures in JSON and YAML, and are shown as
JSON text in a table.

Everything shown goes through heat_esi.redact first, whatever the format:
secrets masked, control characters escaped, long values cut.
"""

import json
import sys

from cliff import columns
from cliff.formatters import json_format
from cliff.formatters import table
from cliff.formatters import value as value_format
from cliff.formatters import yaml_format

from heat_esi import redact

FORMATTERS = {
    'table': table.TableFormatter,
    'json': json_format.JSONFormatter,
    'yaml': yaml_format.YAMLFormatter,
    'value': value_format.ValueFormatter,
}


class Structure(columns.FormattableColumn):
    """A dict or list: JSON text for people, the object for machines."""

    def human_readable(self):
        if isinstance(self._value, list) and all(
                isinstance(v, str) for v in self._value):
            return '\n'.join(self._value)
        return json.dumps(self._value, indent=2, sort_keys=True)


def add_arguments(parser):
    """The openstack CLI's output options, on *parser*."""
    group = parser.add_argument_group('output formatters')
    group.add_argument('-f', '--format', dest='formatter', default='table',
                       choices=sorted(FORMATTERS),
                       help='the output format (default: table)')
    group.add_argument('-c', '--column', dest='columns', action='append',
                       default=[], metavar='COLUMN',
                       help='show this column (repeat for more; default: '
                            'all)')
    for formatter in FORMATTERS.values():
        formatter().add_argument_group(parser)


def _cell(value):
    return Structure(value) if isinstance(value, (dict, list)) else value


def _chosen(args, names):
    wanted = [c for c in args.columns if c in names]
    return wanted or list(names)


def say(line, out=None):
    """Print one line of text that may hold values read from etcd."""
    (out or sys.stdout).write(redact.text(line) + '\n')


def _shown(names, row, secrets):
    """The *names* of *row*, redacted, with *secrets* masked too."""
    row = {n: row.get(n) for n in names}
    return redact.shown(row, redact.secrets_in(row) | set(secrets))


def _rows(names, rows, secrets=()):
    """The cells of *rows*, each row redacted as one item."""
    cells = []
    for row in rows:
        row = _shown(names, row, secrets)
        cells.append([_cell(row[n]) for n in names])
    return cells


def emit_list(args, names, rows, out=None):
    """Rows (dicts) as a list."""
    names = _chosen(args, names)
    FORMATTERS[args.formatter]().emit_list(
        names, _rows(names, rows), out or sys.stdout, args)


def emit_one(args, item, out=None):
    """One item (a dict) as field/value pairs.

    A secret value anywhere in the item (its /config's password, say) is
    masked everywhere in it, in an error message too.
    """
    names = _chosen(args, list(item))
    item = redact.shown({n: item[n] for n in names})
    FORMATTERS[args.formatter]().emit_one(
        names, [_cell(item[n]) for n in names], out or sys.stdout, args)


def emit_sections(args, sections, out=None, secrets=()):
    """Several lists at once: {title: (column names, [row dicts])}.

    JSON and YAML give one object with a list per title; a table prints
    each list under its title (an empty one as "none"). *secrets* are
    masked wherever they appear.
    """
    out = out or sys.stdout
    if args.formatter in ('json', 'yaml'):
        names = _chosen(args, list(sections))
        data = [[_shown(cols, row, secrets) for row in rows]
                for cols, rows in (sections[n] for n in names)]
        FORMATTERS[args.formatter]().emit_one(names, data, out, args)
        return
    for title, (cols, rows) in sections.items():
        if args.columns and title not in args.columns:
            continue
        out.write('%s:' % title.replace('_', ' '))
        if not rows:
            out.write(' none\n\n')
            continue
        out.write('\n')
        FORMATTERS[args.formatter]().emit_list(
            cols, _rows(cols, rows, secrets), out, args)
        out.write('\n')

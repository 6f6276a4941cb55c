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

"""The ``esi-argparse`` directive: a command's reference from its parser.

``heat-esi`` is an argparse program (cliff gives it only its output
formatters), so cliff's autoprogram cannot read it; this walks the parser
that ``heat_esi.cmd.manage.parser()`` builds, each subcommand in a section
with its usage and its options, as ``--help`` shows them.

    .. esi-argparse:: heat_esi.cmd.manage:parser
"""

import argparse
import importlib

import esi_rst

LEVELS = '-~^"'


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help
                     for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, sub, helps.get(name)


def _plain(text):
    """*text* on one line, its reST markup characters escaped."""
    text = ' '.join((text or '').split())
    for char in '\\*`|':
        text = text.replace(char, '\\' + char)
    return text


def _option_lines(parser):
    lines = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction,
                               argparse._SubParsersAction)):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            names = ', '.join(action.option_strings)
            if action.nargs != 0:
                names += ' ' + (action.metavar or action.dest.upper())
        else:
            names = action.metavar or action.dest
        lines += ['``%s``' % names,
                  '   ' + _plain(action.help), '']
    return lines


def _command_lines(words, parser, summary, depth):
    title = ' '.join(words)
    lines = ['.. _cli-%s:' % '-'.join(words), '',
             title, LEVELS[depth] * len(title), '']
    if summary:
        lines += [_plain(summary), '']
    lines += ['.. code-block:: text', '']
    lines += ['   ' + line for line in
              parser.format_usage().strip().splitlines()] + ['']
    options = _option_lines(parser)
    if options:
        lines += options
    for name, sub, help_text in _subparsers(parser):
        lines += _command_lines(words + [name], sub, help_text, depth + 1)
    return lines


class EsiArgparse(esi_rst.GeneratedDirective):
    """Sections for a program's subcommands, read from its parser."""

    required_arguments = 1

    def lines(self):
        module, _, function = self.arguments[0].partition(':')
        parser = getattr(importlib.import_module(module), function)()
        # The options every subcommand takes, given before it.
        lines = ['Options of ``%s`` itself, before the command:' % parser.prog,
                 ''] + _option_lines(parser)
        for name, sub, help_text in _subparsers(parser):
            lines += _command_lines([parser.prog, name], sub, help_text, 0)
        return lines


def setup(app):
    app.add_directive('esi-argparse', EsiArgparse)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}

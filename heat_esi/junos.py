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

"""JUNOS configuration: curly-brace text to XML, paths, and back to text.

ESI's heat templates give OS::Contrail::NetconfNamedConfigs each
configuration as a JUNOS text fragment (``vlan-id 1025; family inet {...}``)
and a *path*, the statements it is placed in (``interfaces``, ``interface
ae0``, ``unit 1025``). This module turns both into the JUNOS XML that a
NETCONF edit-config carries (``<interfaces><interface><name>ae0</name>
<unit><name>1025</name>...``), and a configuration back into the text that
``show configuration`` prints.

There is no JUNOS schema here: a statement ``keyword value;`` is a leaf
(``<keyword>value</keyword>``) unless *keyword* is one of the lists keyed by
name below (NAMED), and ``family inet`` nests two containers, as JUNOS does.
Filter references (``input NAME;``) stay leaves, where JUNOS has a
``<filter-name>`` child: the simulated device and this module agree, which is
what a test of placement needs.
"""

import re

from lxml import etree

from heat_esi import exceptions

# Keywords whose ``keyword value`` is an entry of a list keyed by <name>.
NAMED = frozenset([
    'interface', 'unit', 'instance', 'group', 'neighbor', 'route',
    'address', 'vrrp-group', 'term', 'policy-statement', 'filter',
    'three-color-policer', 'rule', 'rule-set', 'service-set', 'prefix-list',
])
# Keywords whose values are a set (several elements of the same tag).
LEAF_LISTS = frozenset([
    'apply-groups', 'apply-groups-except', 'virtual-address', 'nat-rules',
])
# Keywords whose ``keyword value`` is two nested containers.
CONTAINER_PAIRS = frozenset(['family'])
# Leaves whose value ends a filter reference, not a list entry: under
# ``family inet { filter { input F; } }`` the keyword ``filter`` is a
# container.
# Statements whose value is a secret: to_text shows them as JUNOS does, as
# SECRET-DATA, not the value (a BGP session's md5 key lands on the router,
# and must not reach a log or the demo's output).
SECRETS = frozenset(['authentication-key', 'secret', 'password',
                     'encrypted-password', 'pre-shared-key'])
XML_TYPES = ('tag', 'named_tag')
CONFIG_TYPES = ('tag', 'name', 'named_tag')

_TOKEN = re.compile(r'''
    (?P<space>[ \t\r]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*|/\*.*?\*/)
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<punct>[{};\[\]])
  | (?P<word>[^\s{};\[\]"#]+)
''', re.VERBOSE | re.DOTALL)


class ConfigSyntaxError(exceptions.EsiError):
    """A configuration fragment or path cannot be turned into JUNOS XML."""


def _tokens(text):
    pos = 0
    line = 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ConfigSyntaxError('line %d: unexpected %s' % (
                line, exceptions.short(text[pos:pos + 20])))
        kind = match.lastgroup
        value = match.group(kind)
        pos = match.end()
        if kind == 'newline':
            yield 'newline', value, line
            line += 1
        elif kind == 'quoted':
            yield 'word', re.sub(r'\\(.)', r'\1', value[1:-1]), line
        elif kind in ('word', 'punct'):
            yield kind if kind == 'word' else value, value, line
        else:
            line += value.count('\n')


def _shown(words):
    """A statement for an error message: its keyword, not its values.

    A value may be a secret (an authentication-key): an error goes into a
    stack's status, which the project reads.
    """
    return '"%s" (%d words)' % (exceptions.short(words[0])[1:-1], len(words))


def _statement(words, line):
    """The element of one statement ``keyword value ...`` without block."""
    keyword = words[0]
    if len(words) == 1:
        return [etree.Element(keyword)]
    if keyword in CONTAINER_PAIRS and len(words) == 2:
        outer = etree.Element(keyword)
        etree.SubElement(outer, words[1])
        return [outer]
    if keyword in NAMED:
        element = etree.Element(keyword)
        etree.SubElement(element, 'name').text = words[1]
        rest = words[2:]
        if len(rest) % 2:
            raise ConfigSyntaxError(
                'line %d: cannot place %s (a %s entry takes "name" then '
                'pairs of keyword and value)' % (
                    line, _shown(words), keyword))
        for index in range(0, len(rest), 2):
            etree.SubElement(element, rest[index]).text = rest[index + 1]
        return [element]
    if len(words) == 2:
        element = etree.Element(keyword)
        element.text = words[1]
        return [element]
    raise ConfigSyntaxError('line %d: cannot place %s (a statement is '
                            '"keyword value;" or "keyword [ values ];")'
                            % (line, _shown(words)))


def _block_head(words, line):
    """(element, where its block's statements go) of ``words {``."""
    keyword = words[0]
    element = etree.Element(keyword)
    if len(words) == 1:
        return element, element
    if len(words) == 2:
        if keyword in CONTAINER_PAIRS:
            return element, etree.SubElement(element, words[1])
        etree.SubElement(element, 'name').text = words[1]
        return element, element
    raise ConfigSyntaxError('line %d: cannot place the block of %s' % (
        line, _shown(words)))


def parse_text(text):
    """The JUNOS XML elements of a curly-brace configuration fragment.

    A statement ends with ``;`` or at the end of its line (ESI's templates
    leave the ``;`` out after ``apply-groups``); ``[ a b ]`` gives a keyword
    several values.

    :raises ConfigSyntaxError: naming the line.
    """
    if not isinstance(text, str):
        raise ConfigSyntaxError('a configuration must be text, not %s'
                                % exceptions.short(text))
    top = etree.Element('top')
    stack = [top]
    words = []
    listing = None
    line = 1

    def end():
        if words:
            for element in _statement(words, line):
                stack[-1].append(element)
            del words[:]

    for kind, value, line in _tokens(text):
        if listing is not None:
            if kind == ']':
                if not words:
                    raise ConfigSyntaxError('line %d: "[" without a keyword'
                                            % line)
                for item in listing:
                    for element in _statement(words + [item], line):
                        stack[-1].append(element)
                del words[:]
                listing = None
            elif kind == 'word':
                listing.append(value)
            elif kind != 'newline':
                raise ConfigSyntaxError('line %d: %s inside [ ]' % (line,
                                                                    value))
            continue
        if kind == 'word':
            words.append(value)
        elif kind in (';', 'newline'):
            end()
        elif kind == '[':
            listing = []
        elif kind == '{':
            if not words:
                raise ConfigSyntaxError('line %d: "{" without a keyword'
                                        % line)
            element, inner = _block_head(words, line)
            stack[-1].append(element)
            stack.append(inner)
            del words[:]
        elif kind == '}':
            end()
            if len(stack) == 1:
                raise ConfigSyntaxError('line %d: "}" without "{"' % line)
            stack.pop()
            # ``family inet {`` pushed the inner container only.
        else:
            raise ConfigSyntaxError('line %d: unexpected %s' % (line, value))
    if listing is not None:
        raise ConfigSyntaxError('line %d: "[" is not closed' % line)
    end()
    if len(stack) != 1:
        raise ConfigSyntaxError('line %d: %d "{" not closed'
                                % (line, len(stack) - 1))
    return list(top)


def path_chain(path):
    """(top element, innermost element) of a NamedConfigs *path*.

    Each step is ``{xml_type: tag|named_tag, tag, name}``; a named_tag is a
    list entry ``<tag><name>name</name></tag>``.

    :raises ConfigSyntaxError: naming the step.
    """
    top = inner = None
    if not path:
        raise ConfigSyntaxError('the path is empty: a configuration is '
                                'placed under at least one statement')
    for index, step in enumerate(path):
        where = 'path step %d' % (index + 1)
        xml_type = step.get('xml_type') or 'tag'
        tag = (step.get('tag') or '').strip()
        if xml_type not in XML_TYPES:
            raise ConfigSyntaxError('%s: xml_type must be one of %s, not %s'
                                    % (where, ', '.join(XML_TYPES),
                                       exceptions.short(xml_type)))
        config_type = step.get('config_type')
        if config_type is not None and config_type not in CONFIG_TYPES:
            raise ConfigSyntaxError(
                '%s: config_type must be one of %s, not %s' % (
                    where, ', '.join(CONFIG_TYPES),
                    exceptions.short(config_type)))
        if not re.match(r'^[A-Za-z][A-Za-z0-9_-]*\Z', tag):
            raise ConfigSyntaxError('%s: %s is not a JUNOS statement name'
                                    % (where, exceptions.short(tag)))
        element = etree.Element(tag)
        if xml_type == 'named_tag':
            name = str(step.get('name') or '').strip()
            if not name:
                raise ConfigSyntaxError('%s: a named_tag needs a name' % where)
            etree.SubElement(element, 'name').text = name
        if inner is None:
            top = element
        else:
            inner.append(element)
        inner = element
    return top, inner


def place(config, path):
    """(top element, innermost path element) of one NamedConfigs config."""
    top, inner = path_chain(path)
    for element in parse_text(config or ''):
        inner.append(element)
    return top, inner


def removal_chains(config, path):
    """The chains to delete to take *config* at *path* away again.

    A path that ends in a named entry (``unit 1025``, ``group CloudGW1``) is
    the configuration's own: the entry goes. One that ends in a container
    (``routing-options``) is shared: only the fragment's own top statements
    in it go. Each chain is a top element down to the one element to delete.
    """
    top, inner = path_chain(path)
    if inner.find('name') is not None:
        return [top]
    chains = []
    for statement in parse_text(config or ''):
        chain, leaf = path_chain(path)
        leaf.append(identity_copy(statement))
        chains.append(chain)
    return chains


def identity_copy(element):
    """*element* reduced to what identifies it: its tag and its <name>."""
    copy = etree.Element(element.tag)
    name = element.find('name')
    if name is not None:
        etree.SubElement(copy, 'name').text = name.text
    elif element.tag in LEAF_LISTS and len(element) == 0:
        copy.text = element.text
    return copy


def key(element):
    """What identifies *element* among its siblings."""
    name = element.find('name')
    if name is not None:
        return element.tag, 'name', (name.text or '').strip()
    if element.tag in LEAF_LISTS and len(element) == 0:
        return element.tag, 'value', (element.text or '').strip()
    return (element.tag,)


def chain_target(chain):
    """The innermost element of a chain (the one to delete)."""
    element = chain
    while True:
        children = [c for c in element if c.tag != 'name']
        if not children:
            return element
        element = children[0]


def to_text(configuration, indent=0):
    """*configuration*'s children as ``show configuration`` prints them."""
    lines = []
    pad = '    ' * indent
    for child in configuration:
        if not isinstance(child.tag, str) or child.tag == 'name':
            continue
        tag = etree.QName(child).localname
        name = child.find('name')
        head = tag if name is None else '%s %s' % (tag, name.text)
        body = [c for c in child if isinstance(c.tag, str) and
                c.tag != 'name']
        if body:
            lines.append('%s%s {' % (pad, head))
            lines.extend(to_text(child, indent + 1))
            lines.append('%s}' % pad)
        elif name is None and (child.text or '').strip():
            if tag in SECRETS:
                lines.append('%s%s "********"; ## SECRET-DATA' % (pad, head))
            else:
                lines.append('%s%s %s;' % (pad, head, child.text.strip()))
        else:
            lines.append('%s%s;' % (pad, head))
    return lines if indent else '\n'.join(lines) + ('\n' if lines else '')

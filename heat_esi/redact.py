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

"""What a person sees of a value read from etcd: safe to print or log.

Every operator command's output and every worker log line goes through
here (heat_esi.cmd.output, heat_esi.logs), so that whatever a tenant or a
broken component wrote in etcd:

- shows no secret: a field named in records.SECRET_FIELDS (in any letter
  case), a ``{"param": "password", "value": ...}`` entry, and
  ``password: ...`` or ``"password": "..."`` inside text are masked, and so
  is any other occurrence of a secret value found in the same item, or
  held by a job that runs (``holding``: the heat_worker's secret params,
  which Heat and its client may quote under any name);
- cannot drive the terminal or forge a line: every character that is not
  printable (ESC, BEL, newline, a bidi override, a lone surrogate of a key
  that is not UTF-8) is shown as its Python escape, such as ``\\x1b``;
- is bounded: a string longer than MAX_CHARS shows its head and how much
  was left out, a list or map its first MAX_ITEMS entries, a structure its
  first MAX_DEPTH levels; a number that is not finite shows as text.
"""

import contextlib
import math
import re
import threading

from heat_esi import records

MASK = '(masked)'
MAX_CHARS = 500
MAX_ITEMS = 200
MAX_DEPTH = 40
# A secret shorter than this is not searched for in other text: it would
# mask ordinary words.
MIN_SECRET = 4

_NAMES = '|'.join(sorted(re.escape(n) for n in records.SECRET_FIELDS))
# "password": "x", 'password': 'x', password=x, password: x (JSON, a repr
# or free text), the value possibly cut short.
_SECRET_TEXT = re.compile(
    r'''(?i)(["']?\b(?:%s)\b["']?\s*[:=]\s*)(?!%s)'''
    r'''("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^\s,;}\])]+)'''
    % (_NAMES, re.escape(MASK)))
_ESCAPES = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

# The sets of secret values held by the jobs that run now (see holding).
_held = []
_held_lock = threading.Lock()


@contextlib.contextmanager
def holding(values):
    """Mask the values of the set *values* wherever text is shown.

    While the block runs, in every thread: for secrets resolved at run
    time (a job's ``secret`` params), so that a log line, or a library's
    debug dump of a request, shows them masked whatever name they go by.
    *values* may grow inside the block (the job adds each secret it reads).
    """
    with _held_lock:
        _held.append(values)
    try:
        yield values
    finally:
        with _held_lock:
            for index, found in enumerate(_held):
                if found is values:
                    del _held[index]
                    break


def held():
    """The secret values held now (see holding)."""
    if not _held:
        return set()
    with _held_lock:
        return {value for values in _held for value in list(values)
                if isinstance(value, str) and len(value) >= MIN_SECRET}


def scrub(message, secrets):
    """*message* with each of *secrets* masked; nothing else changed.

    For an error that is stored rather than shown (a job's /state), which
    keeps its own length and characters.
    """
    for secret in sorted(secrets or (), key=len, reverse=True):
        if isinstance(secret, str) and len(secret) >= MIN_SECRET:
            message = message.replace(secret, MASK)
    return message


def is_secret(name):
    """Whether a field called *name* holds a secret."""
    return isinstance(name, str) and name.lower() in records.SECRET_FIELDS


def secrets_in(obj, found=None, depth=0):
    """The secret values (strings) held in *obj*'s secret fields."""
    found = set() if found is None else found
    if depth > MAX_DEPTH:
        return found
    if isinstance(obj, dict):
        for key, value in obj.items():
            if is_secret(key) or (key == 'value' and is_secret(
                    obj.get('param'))):
                if isinstance(value, str) and len(value) >= MIN_SECRET:
                    found.add(value)
            else:
                secrets_in(value, found, depth + 1)
    elif isinstance(obj, list):
        for value in obj[:MAX_ITEMS]:
            secrets_in(value, found, depth + 1)
    return found


def _escape(text, limit, cut=0):
    """*text* with every unprintable character escaped, at most *limit*.

    :param cut: characters already cut off *text*'s end, for the marker.
    """
    if not cut and len(text) <= limit and text.isprintable():
        return text
    shown, length = [], 0
    for used, char in enumerate(text):
        if not char.isprintable():
            char = _ESCAPES.get(char) or (
                '\\x%02x' % ord(char) if ord(char) < 0x100 else
                '\\u%04x' % ord(char) if ord(char) < 0x10000 else
                '\\U%08x' % ord(char))
        if length + len(char) > limit:
            return '%s... (%d more characters)' % (
                ''.join(shown), len(text) - used + cut)
        shown.append(char)
        length += len(char)
    if cut:
        return '%s... (%d more characters)' % (''.join(shown), cut)
    return ''.join(shown)


def _masked(match):
    quote = match.group(2)[:1]
    if quote in ('"', "'"):
        return '%s%s%s%s' % (match.group(1), quote, MASK, quote)
    return match.group(1) + MASK


def text(value, secrets=(), limit=MAX_CHARS):
    """One string, safe to print: secrets masked, escaped, bounded.

    :param secrets: secret values to mask wherever they appear.
    :param limit: the most characters shown before the marker.
    """
    if isinstance(value, bytes):
        # Not UTF-8: its undecodable bytes are shown as \\xNN.
        value = value.decode('utf-8', 'backslashreplace')
    elif not isinstance(value, str):
        value = str(value)
    # Only the head is masked and shown: an escape takes at most 10
    # characters, so the part shown is within it.
    cut = max(0, len(value) - 10 * limit)
    if cut:
        value = value[:10 * limit]
    lowered = value.lower()
    if any(name in lowered for name in records.SECRET_FIELDS):
        value = _SECRET_TEXT.sub(_masked, value)
    for secret in sorted(set(secrets) | set(held()), key=len,
                         reverse=True):
        value = value.replace(secret, MASK)
    return _escape(value, limit, cut)


def shown(obj, secrets=None, depth=0):
    """*obj* (JSON-like) as it may be shown: see the module's doc.

    :param secrets: secret values to mask wherever they appear; by default
        the ones *obj* holds itself (secrets_in).
    """
    if secrets is None:
        secrets = secrets_in(obj)
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return obj if abs(obj) < 10 ** 18 else text(obj, limit=40)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, (str, bytes)):
        return text(obj, secrets)
    if depth >= MAX_DEPTH:
        return '(nested more than %d levels deep)' % MAX_DEPTH
    if isinstance(obj, dict):
        result = {}
        masked_param = is_secret(obj.get('param'))
        for count, (key, value) in enumerate(obj.items()):
            if count == MAX_ITEMS:
                result['...'] = '(%d more entries)' % (len(obj) - count)
                break
            name = text(key, secrets, limit=200)
            if is_secret(key) or (key == 'value' and masked_param):
                result[name] = MASK
            else:
                result[name] = shown(value, secrets, depth + 1)
        return result
    if isinstance(obj, (list, tuple)):
        result = [shown(v, secrets, depth + 1) for v in obj[:MAX_ITEMS]]
        if len(obj) > MAX_ITEMS:
            result.append('... (%d more items)' % (len(obj) - MAX_ITEMS))
        return result
    return text(obj, secrets)

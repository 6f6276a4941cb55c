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

"""What heat-engine takes from a tenant beyond Heat's schemas.

ESI ids (in constraints and adopt data) and property values end up in etcd
keys and values and in workers' templates: these checks keep them within
what etcd and a worker can take, with a message saying why not.
"""

from heat.common.i18n import _

from heat_esi import etcd

# One property value, JSON-encoded, at most: a create writes each value in
# /config and again in the job, and etcd refuses a request above 1.5 MiB.
MAX_VALUE_BYTES = 64 * 1024
# Longer than any id ESI generates; keeps a key well inside etcd's limits.
MAX_ID_LENGTH = 255
# A name, a description, a login: OpenStack's usual bound on such a field.
MAX_TEXT_LENGTH = 255


def invalid_id(resource_id):
    """Why *resource_id* cannot name an ESI resource, or None when it can."""
    if not isinstance(resource_id, str) or not resource_id:
        return _('an ESI id must be a non-empty string')
    if len(resource_id) > MAX_ID_LENGTH:
        return _('an ESI id has at most %d characters') % MAX_ID_LENGTH
    try:
        resource_id.encode('utf-8')
    except UnicodeEncodeError as exc:
        return _('an ESI id must be valid Unicode text (a lone surrogate at '
                 'position %d)') % exc.start
    return None


def invalid_text(value):
    """Why *value* is not printable text, or None when it is.

    Names and descriptions end up in operators' terminals and logs, and
    in device configurations: as ESI's API, only printable characters are
    taken (no control, format or line-separating one). The message names
    the first offending character by its code point and position, never
    by the value itself.
    """
    if not isinstance(value, str) or value.isprintable():
        return None
    for position, char in enumerate(value):
        if not char.isprintable():
            return _('only printable characters are accepted; U+%(code)04X '
                     'at position %(pos)d is a control or other non-printable '
                     'character') % {'code': ord(char), 'pos': position}
    return None


def printable(text):
    """*text* with each non-printable character replaced by '?'.

    For a name that heat-esi makes up from what Heat takes unchecked.
    """
    if not isinstance(text, str) or text.isprintable():
        return text
    return ''.join(char if char.isprintable() else '?' for char in text)


def invalid_value(value):
    """Why etcd or a worker cannot take property *value*, or None."""
    if not isinstance(value, str):
        return None
    try:
        value.encode('utf-8')
    except UnicodeEncodeError as exc:
        return _('not valid Unicode text (a lone surrogate at position '
                 '%d)') % exc.start
    size = len(etcd.dumps(value))
    if size > MAX_VALUE_BYTES:
        return _('the value is %(size)d bytes long once encoded; ESI takes '
                 'at most %(max)d (etcd refuses a request over 1.5 MiB)') % {
            'size': size, 'max': MAX_VALUE_BYTES}
    return None


def shorten(value, limit=40):
    """*value* quoted and escaped for a message, at most *limit* characters.

    An invalid id may be huge, or not even text.
    """
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'

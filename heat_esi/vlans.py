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

"""The VLAN pool of an HA interface, as ESI keeps it.

An HA interface carries ``restricted_vlans``, a range list such as
"0-1024,4094", and two derived fields: ``vlan_pool_state``, a bitmap of the
4,096 VLAN ids (most significant bit first, base64) in which a set bit
means that the VLAN cannot be given to a gateway, and
``vlan_ids_available``, the number of clear bits. ESI always sets ids 0,
31 and 4095 (0 and 4095 are reserved by 802.1Q; 31 is set in every pool of
the seed): CreateHaInterface_01's empty list gives 4,093 ids.
"""

import base64
import re

MIN_ID, MAX_ID = 0, 4095
COUNT = MAX_ID + 1
ALWAYS_SET = frozenset([0, 31, 4095])

# Bounds of a range list, so that any accepted list is read in a few
# milliseconds. Every id listed once, comma-separated, takes 19,369
# characters; more parts than ids can only repeat one.
MAX_LENGTH = 20000
MAX_PARTS = COUNT

# An id, or two ids joined by '-'; at most 5 digits each (a longer number
# is out of range anyway, and int() of a huge one is slow).
_PART = re.compile(r'^\s*([0-9]{1,5})\s*(?:-\s*([0-9]{1,5})\s*)?$')
# A whole list of such parts, and each part's ids in it.
_LIST = re.compile(r'(?:\s*[0-9]{1,5}\s*(?:-\s*[0-9]{1,5}\s*)?,)*'
                   r'\s*[0-9]{1,5}\s*(?:-\s*[0-9]{1,5}\s*)?')
_PAIR = re.compile(r'([0-9]+)\s*(?:-\s*([0-9]+))?')


def ranges(text):
    """The ranges of a range list such as "0-1024,4094", merged.

    The ids are never expanded: the cost grows with the number of parts
    (bounded by MAX_PARTS), not with the ids they cover. An empty (or
    blank) text has no range.

    :returns: a sorted list of inclusive (first, last) ranges, neither
        overlapping nor adjacent.
    :raises ValueError: naming the bound the text exceeds, or the part
        that is not an id or a range of ids within 0-4095.
    """
    if not isinstance(text, str):
        raise ValueError('a range list must be text, such as "0-1024,4094"')
    # Both bounds are checked before the text is split.
    if len(text) > MAX_LENGTH:
        raise ValueError('a range list holds at most %d characters; this '
                         'one holds %d' % (MAX_LENGTH, len(text)))
    parts = text.count(',') + 1
    if parts > MAX_PARTS:
        raise ValueError('a range list holds at most %d ids or ranges; this '
                         'one holds %d' % (MAX_PARTS, parts))
    if not text.strip():
        return []
    found = _well_formed(text)
    if found is None:
        # Only to name the part that is wrong.
        found = [_range(part) for part in text.split(',')]
    found.sort()
    merged = [list(found[0])]
    for first, last in found[1:]:
        if first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [tuple(pair) for pair in merged]


def _well_formed(text):
    """[(first, last)] of a valid range list, or None when it is not one.

    One regular expression over the whole text rather than one per part:
    the common case, a valid list, in half the time.
    """
    if not _LIST.fullmatch(text):
        return None
    found = []
    for first, last in _PAIR.findall(text):
        first = int(first)
        last = int(last) if last else first
        if first > last or last > MAX_ID:
            return None
        found.append((first, last))
    return found


def _range(part):
    """(first, last) of one part of a range list (see ranges)."""
    shown = part.strip()
    if len(shown) > 40:
        shown = shown[:40] + '...'
    match = _PART.match(part)
    if not match:
        raise ValueError('"%s" is neither a VLAN id nor a range of them '
                         'such as 100-199' % shown)
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if last > MAX_ID or first > MAX_ID:
        raise ValueError('"%s" is outside the VLAN ids %d-%d'
                         % (shown, MIN_ID, MAX_ID))
    if first > last:
        raise ValueError('"%s": a range goes from the lower id to the '
                         'higher' % shown)
    return first, last


def parse(text):
    """The set of VLAN ids in a range list such as "0-1024,4094".

    Ranges are inclusive and may overlap; an empty (or blank) text is the
    empty set. Each id is added once, after the ranges are merged.

    :raises ValueError: see ranges.
    """
    found = set()
    for first, last in ranges(text):
        found.update(range(first, last + 1))
    return found


def encode(ids):
    """vlan_pool_state of the set bits *ids*: base64, MSB first."""
    bits = bytearray(COUNT // 8)
    for vid in ids:
        bits[vid // 8] |= 0x80 >> (vid % 8)
    return base64.b64encode(bytes(bits)).decode('ascii')


def decode(pool_state):
    """The set ids of a vlan_pool_state.

    :raises ValueError: it is not base64 of 512 bytes.
    """
    try:
        bits = base64.b64decode(pool_state, validate=True)
    except (TypeError, ValueError):
        raise ValueError('vlan_pool_state is not base64')
    if len(bits) != COUNT // 8:
        raise ValueError('vlan_pool_state holds %d bytes, not %d'
                         % (len(bits), COUNT // 8))
    return {index * 8 + bit for index, byte in enumerate(bits)
            for bit in range(8) if byte & (0x80 >> bit)}


def pool(restricted, in_use=()):
    """(vlan_pool_state, vlan_ids_available) of an HA interface.

    :param restricted: the ids of restricted_vlans (see parse).
    :param in_use: ids given to gateways meanwhile.
    """
    unavailable = ALWAYS_SET | set(restricted) | set(in_use)
    return encode(unavailable), COUNT - len(unavailable)


def in_use(pool_state, restricted):
    """The ids of *pool_state* given to gateways since it was computed.

    Those are the set ids that neither ESI nor *restricted* account for.

    :raises ValueError: *pool_state* cannot be read (see decode).
    """
    return decode(pool_state) - ALWAYS_SET - set(restricted)


# --- gateways' VLANs -------------------------------------------------------
# A gateway takes one VLAN of its downlink HA interface's pool (the first
# free one) and its own uplink VLAN from its uplink HA interface's pool; a
# delete gives both back. ESI keeps the counts with the bitmap:
# vlan_ids_available (its clear bits) and gateway_instances_count.

def first_free(pool_state):
    """The lowest VLAN id whose bit is clear in *pool_state*, or None.

    :raises ValueError: *pool_state* cannot be read (see decode).
    """
    taken = decode(pool_state)
    for vid in range(MIN_ID, COUNT):
        if vid not in taken:
            return vid
    return None


def take(interface, vid):
    """The HA interface body *interface* with VLAN *vid* given to a gateway.

    Its bit set, vlan_ids_available one less, gateway_instances_count one
    more; nothing else changes.

    :raises ValueError: the pool cannot be read, or *vid* is not free in it
        (restricted, reserved or another gateway's), said in words.
    """
    taken = decode(interface['vlan_pool_state'])
    if not MIN_ID <= vid <= MAX_ID:
        raise ValueError('VLAN %s is outside the VLAN ids %d-%d'
                         % (vid, MIN_ID, MAX_ID))
    if vid in taken:
        raise ValueError('VLAN %d is not available on ha_interface %s '
                         '(restricted, reserved or another gateway\'s)'
                         % (vid, interface.get('id')))
    return dict(interface, vlan_pool_state=encode(taken | {vid}),
                vlan_ids_available=COUNT - len(taken) - 1,
                gateway_instances_count=interface.get(
                    'gateway_instances_count', 0) + 1)


def give_back(interface, vid):
    """The HA interface body *interface* with a gateway's VLAN *vid* freed.

    None when *vid* is not a gateway's there (already free, or reserved or
    restricted since): nothing to give back, and the counts stay exact.

    :raises ValueError: the pool cannot be read.
    """
    taken = decode(interface['vlan_pool_state'])
    try:
        restricted = parse(interface.get('restricted_vlans') or '')
    except ValueError:
        restricted = set()
    if vid not in taken or vid in ALWAYS_SET or vid in restricted:
        return None
    return dict(interface, vlan_pool_state=encode(taken - {vid}),
                vlan_ids_available=COUNT - len(taken) + 1,
                gateway_instances_count=max(interface.get(
                    'gateway_instances_count', 1) - 1, 0))

"""Unit tests of heat_esi.vlans: an HA interface's VLAN pool."""

import base64
import os
import re

import pytest

from heat_esi import vlans

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                       'fixtures', 'CreateHaInterface_01.md')


def seed_pool_state():
    with open(FIXTURE) as f:
        return re.search(r'"vlan_pool_state": "([^"]+)"', f.read()).group(1)


def set_bits(pool_state):
    """The set bits, read independently of vlans.decode."""
    bits = base64.b64decode(pool_state)
    return [i for i in range(len(bits) * 8)
            if bits[i // 8] >> (7 - i % 8) & 1]


def test_the_seed_empty_list_gives_the_seed_pool():
    assert vlans.pool(vlans.parse('')) == (seed_pool_state(), 4093)
    assert set_bits(seed_pool_state()) == [0, 31, 4095]


@pytest.mark.parametrize('text, ids', [
    ('', set()),
    ('   ', set()),
    ('7', {7}),
    ('0', {0}),
    ('4095', {4095}),
    ('1', {1}),
    ('4094', {4094}),
    ('0-1', {0, 1}),
    ('4094-4095', {4094, 4095}),
    ('10-12, 11-14', {10, 11, 12, 13, 14}),
    ('5,5,5-5', {5}),
    (' 100 - 102 ,4094', {100, 101, 102, 4094}),
])
def test_parse(text, ids):
    assert vlans.parse(text) == ids


def test_the_issue_example():
    ids = vlans.parse('0-1024,4094')
    assert ids == set(range(1025)) | {4094}
    pool_state, available = vlans.pool(ids)
    # 0-1024 (31 among them), 4094, and 4095.
    assert available == 4096 - 1025 - 2
    assert set_bits(pool_state) == sorted(ids | {4095})


@pytest.mark.parametrize('text, part', [
    ('4096', '"4096" is outside the VLAN ids 0-4095'),
    ('4000-5000', '"4000-5000" is outside the VLAN ids 0-4095'),
    ('-1', '"-1" is neither a VLAN id nor a range'),
    ('1,,2', '"" is neither a VLAN id nor a range'),
    ('1,', '"" is neither a VLAN id nor a range'),
    ('ten', '"ten" is neither a VLAN id nor a range'),
    ('1-2-3', '"1-2-3" is neither a VLAN id nor a range'),
    ('1.5', '"1.5" is neither a VLAN id nor a range'),
    ('20-10', '"20-10": a range goes from the lower id to the higher'),
    ('0x10', '"0x10" is neither'),
    ('99999', '"99999" is outside the VLAN ids 0-4095'),
    ('5000-10', '"5000-10" is outside the VLAN ids 0-4095'),
])
def test_parse_names_the_offending_part(text, part):
    with pytest.raises(ValueError) as err:
        vlans.parse(text)
    assert part in str(err.value)


def test_parse_refuses_what_is_not_text():
    with pytest.raises(ValueError):
        vlans.parse(12)


@pytest.mark.parametrize('part', ['x' * 10000, '1' * 10000])
def test_a_huge_part_is_cut_short_in_the_message(part):
    with pytest.raises(ValueError) as err:
        vlans.parse(part)
    assert len(str(err.value)) < 200
    assert part[:40] + '..." is neither a VLAN id' in str(err.value)


@pytest.mark.parametrize('ids', [set(), {1}, {4094}, {0, 31, 4095},
                                 set(range(4096)), {8, 15, 16}])
def test_encode_decode_round_trip(ids):
    pool_state = vlans.encode(ids)
    assert len(base64.b64decode(pool_state)) == 512
    assert vlans.decode(pool_state) == ids
    assert set_bits(pool_state) == sorted(ids)


def test_everything_restricted_leaves_nothing():
    assert vlans.pool(vlans.parse('0-4095'))[1] == 0


def test_in_use_is_what_neither_esi_nor_the_list_set():
    pool_state, _ = vlans.pool({100, 101}, in_use={200})
    assert vlans.in_use(pool_state, {100, 101}) == {200}
    # A new list keeps the ids in use.
    assert vlans.pool({5}, vlans.in_use(pool_state, {100, 101})) == \
        vlans.pool({5, 200})


@pytest.mark.parametrize('pool_state', ['not base64!', 'AAAA'])
def test_decode_refuses_what_is_not_a_pool(pool_state):
    with pytest.raises(ValueError):
        vlans.decode(pool_state)


@pytest.mark.parametrize('text, merged', [
    ('', []),
    ('7', [(7, 7)]),
    ('10-12, 11-14', [(10, 14)]),
    ('20-30,1-5,6', [(1, 6), (20, 30)]),
    ('5,5,5-5', [(5, 5)]),
    ('0-4095,' * 100 + '7', [(0, 4095)]),
    ('1,3,5', [(1, 1), (3, 3), (5, 5)]),
    ('100-200,150-160,4094', [(100, 200), (4094, 4094)]),
])
def test_ranges_are_merged(text, merged):
    assert vlans.ranges(text) == merged
    assert vlans.parse(text) == {vid for first, last in merged
                                 for vid in range(first, last + 1)}


def test_ids_are_not_expanded_once_per_part(monkeypatch):
    """The work grows with the ids covered once, not with parts x ids.

    Every range() vlans builds is counted by its length: a list that
    repeats the whole 0-4095 a thousand times costs what one does.
    """
    built = []

    def counting_range(*args):
        result = range(*args)
        built.append(len(result))
        return result
    monkeypatch.setattr(vlans, 'range', counting_range, raising=False)
    assert vlans.parse(','.join(['0-4095'] * 1000)) == set(range(4096))
    assert sum(built) <= vlans.COUNT
    del built[:]
    vlans.ranges(','.join(['0-4095'] * 1000))
    assert sum(built) == 0


def test_every_id_listed_once_is_accepted():
    text = ','.join(str(vid) for vid in range(vlans.COUNT))
    assert len(text) <= vlans.MAX_LENGTH
    assert vlans.ranges(text) == [(0, 4095)]


@pytest.mark.parametrize('text, bound', [
    # The issue's 64 KB list.
    (','.join(['0-4095'] * 9362), 'at most 20000 characters; this one '
                                  'holds 65533'),
    (',' * 4096, 'at most 4096 ids or ranges; this one holds 4097'),
    (' ' * 20001, 'at most 20000 characters'),
])
def test_a_list_beyond_the_bounds_is_refused_naming_the_bound(text, bound):
    with pytest.raises(ValueError) as err:
        vlans.ranges(text)
    assert bound in str(err.value)
    assert len(str(err.value)) < 200

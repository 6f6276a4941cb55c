"""Unit tests of heat_esi.validation's free-text check."""

import pytest

from heat_esi import validation


@pytest.mark.parametrize('value', [
    '', 'sample-ha-router-uplink', 'MX80 #1', 'ge-0/0/1', 'Ünïcode 名前',
    'x' * 1000, None, 5])
def test_printable_text_passes(value):
    assert validation.invalid_text(value) is None


@pytest.mark.parametrize('value, code, position', [
    ('\x1b]0;title\x07', '001B', 0),
    ('a\nb', '000A', 1),
    ('tab\there', '0009', 3),
    ('del\x7f', '007F', 3),
    ('csi\x9b2J', '009B', 3),
    ('bidi\u202e', '202E', 4),
    ('line\u2028sep', '2028', 4),
    ('zero\u200bwidth', '200B', 4),
    ('lone\ud800', 'D800', 4),
])
def test_the_first_non_printable_character_is_named(value, code, position):
    message = validation.invalid_text(value)
    assert 'U+%s at position %d' % (code, position) in message
    assert value not in message


def test_printable_replaces_what_is_not():
    assert validation.printable('stack-\x1b]0;x\x07-abc') == 'stack-?]0;x?-abc'
    assert validation.printable('plain name') == 'plain name'


def test_printable_keeps_what_is_not_text():
    # Heat's physical_resource_name() is None before the resource is
    # stored.
    assert validation.printable(None) is None

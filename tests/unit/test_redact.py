"""heat_esi.redact and heat_esi.logs: what a person sees of etcd values."""

import io
import logging

from oslo_context import context as context_utils

from heat_esi import logs
from heat_esi import redact

HOSTILE = '\x1b]0;pwned\x07\x1b[2J\nFORGED line\r\n\u202e\ud800'


def test_text_escapes_every_unprintable_character():
    shown = redact.text(HOSTILE)
    assert shown == ('\\x1b]0;pwned\\x07\\x1b[2J\\nFORGED line\\r\\n'
                     '\\u202e\\ud800')
    assert shown.isprintable()
    assert redact.text(b'a\xffb') == 'a\\xffb'
    # Plain text comes back as it is.
    assert redact.text('vMX-router-01 (MX80 #1)') == 'vMX-router-01 (MX80 #1)'


def test_text_is_bounded_with_a_marker():
    assert redact.text('x' * 60000) == 'x' * 500 + \
        '... (59500 more characters)'
    # Escapes count in the bound; the marker counts what was left out.
    shown = redact.text('\x1b' * 60000)
    assert len(shown) < 600
    assert shown.endswith('... (59875 more characters)'), shown[-40:]
    assert redact.text('y' * 30, limit=10) == 'y' * 10 + \
        '... (20 more characters)'


def test_secrets_are_masked_by_field_param_text_and_value():
    item = {'body': {'password': 'esiesi0000', 'Password': 'x',
                     'login': 'esi'},
            'params': [{'param': 'password', 'value': 'p4ram'},
                       {'param': 'device_ip', 'value': '10.0.0.1'}],
            'error': 'login esi/esiesi0000 refused',
            'raw': '[1, {"password": "t3xt", "a": 1}] password=abc,'}
    shown = redact.shown(item)
    assert shown == {
        'body': {'password': '(masked)', 'Password': '(masked)',
                 'login': 'esi'},
        'params': [{'param': 'password', 'value': '(masked)'},
                   {'param': 'device_ip', 'value': '10.0.0.1'}],
        'error': 'login esi/(masked) refused',
        'raw': '[1, {"password": "(masked)", "a": 1}] password=(masked),'}
    # Masking twice changes nothing (a log line goes through twice).
    assert redact.shown(shown) == shown
    # A secret too short to search for elsewhere is still masked in its
    # field.
    assert redact.shown({'password': 'ab', 'e': 'ab'}) == {
        'password': '(masked)', 'e': 'ab'}


def test_shown_bounds_structures_and_odd_numbers():
    shown = redact.shown({'l': list(range(1000)), 'n': float('nan'),
                          'i': float('-inf'), 'big': 10 ** 30,
                          'huge': 10 ** 4000, HOSTILE: 1})
    assert shown['l'][-1] == '... (800 more items)'
    assert len(shown['l']) == redact.MAX_ITEMS + 1
    assert (shown['n'], shown['i']) == ('nan', '-inf')
    assert shown['big'] == str(10 ** 30)
    assert shown['huge'].endswith('... (3961 more characters)')
    assert all(k.isprintable() for k in shown)
    deep = []
    for _ in range(100):
        deep = [deep]
    text = repr(redact.shown(deep))
    assert 'nested more than 40 levels deep' in text


def _logged(logger_name, *args, **kwargs):
    """What one record looks like through a handler with logs.install."""
    out = io.StringIO()
    logger = logging.getLogger(logger_name)
    root = logging.Logger('test-root')
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter('%(levelname)s %(message)s'))
    root.addHandler(handler)
    logs.install(root)
    logs.install(root)          # once is enough; twice changes nothing
    assert len(handler.filters) == 1
    record = logger.makeRecord(logger_name, *args, **kwargs)
    root.handle(record)
    return out.getvalue()


def test_a_log_record_stays_one_bounded_escaped_line():
    line = _logged('t', logging.WARNING, __file__, 1,
                   'job %s failed: %s', (HOSTILE + 'x' * 60000,
                                         'password=hunter22'), None)
    assert line.count('\n') == 1
    assert line.isprintable() is False and line[:-1].isprintable()
    assert 'FORGED' in line and 'hunter22' not in line
    assert len(line) < logs.MAX_CHARS + 100
    assert '... (' in line


def test_a_logged_exception_keeps_its_traceback_with_its_message_escaped():
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        import sys
        exc_info = sys.exc_info()
    text = _logged('t', logging.ERROR, __file__, 1, 'failed', (), exc_info)
    lines = text.splitlines()
    assert lines[0] == 'ERROR failed'
    assert lines[1] == 'Traceback (most recent call last):'
    assert lines[-1] == ('ValueError: \\x1b]0;pwned\\x07\\x1b[2J\\n'
                         'FORGED line\\r\\n\\u202e\\ud800')
    assert not any(line.startswith('FORGED') for line in lines)


def test_the_request_context_is_escaped():
    ctx = context_utils.RequestContext(request_id='req-\nFORGED',
                                       overwrite=False)
    record = logging.getLogger('t').makeRecord(
        't', logging.INFO, __file__, 1, 'm', (), None)
    record.context = ctx
    logs.Redacting().filter(record)
    assert record.context['request_id'] == 'req-\\nFORGED'

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

"""Log lines that a value read from etcd can neither forge nor flood.

A resource id, a request id or an error quoting a value may hold a
newline, ESC sequences or 60 KB. The filter installed here on every
handler of the root logger shows each message, and the request context
fields its line carries (request id, resource id), through
heat_esi.redact: escaped, bounded, secrets masked. A traceback keeps its
own lines; the messages of its exceptions are redacted likewise, and any
other line is escaped whole once formatted.
"""

import logging

from oslo_context import context as context_utils

from heat_esi import redact

# The most characters of one message; a longer one ends with a marker.
MAX_CHARS = 8192
# The most chained exceptions (causes) shown under a traceback.
MAX_CHAIN = 5


class _ShownContext(dict):
    """A request context's logging values, made safe to show.

    oslo.log reads such a dict both as the context's values and, for the
    resource id, as attributes.
    """

    def __getattr__(self, name):
        return self.get(name)


def _shown_exception(exc, depth=0):
    """A stand-in for *exc* whose message (and its causes') is redacted.

    A traceback shows the same type name, frames and chain; only the
    message, which may quote a value read from etcd, is made safe.
    """
    if exc is None or depth > MAX_CHAIN:
        return None
    try:
        message = str(exc)
    except Exception:
        message = '(unprintable %s)' % type(exc).__name__
    message = redact.text(message, limit=MAX_CHARS)
    cls = type(exc)
    shown_cls = type(cls.__name__, (Exception,), {
        '__module__': cls.__module__, '__qualname__': cls.__qualname__,
        '__str__': lambda self: message})
    shown = shown_cls()
    shown.__traceback__ = exc.__traceback__
    shown.__cause__ = _shown_exception(exc.__cause__, depth + 1)
    shown.__context__ = _shown_exception(exc.__context__, depth + 1)
    shown.__suppress_context__ = exc.__suppress_context__
    return shown


class Redacting(logging.Filter):
    """Escape, bound and mask the message and context of each record."""

    def filter(self, record):
        if getattr(record, 'esi_redacted', False):
            return True
        record.esi_redacted = True
        try:
            message = record.getMessage()
        except Exception:
            # A bad format string: logging reports it when it formats.
            return True
        record.msg, record.args = redact.text(message, limit=MAX_CHARS), None
        if record.exc_info and record.exc_info[1] is not None:
            shown = _shown_exception(record.exc_info[1])
            record.exc_info = (type(shown), shown, record.exc_info[2])
            record.exc_text = None
        context = record.__dict__.get('context', context_utils.get_current())
        if isinstance(context, context_utils.RequestContext):
            record.context = _ShownContext(
                (k, redact.text(v, limit=200) if isinstance(v, str) else v)
                for k, v in context.get_logging_values().items())
        return True


class OneLine(object):
    """A formatter around another: a record without a traceback is one line.

    oslo.log adds to a warning logged while an exception is being handled
    the exception's message, read after any filter ran; here that
    message is escaped too.
    """

    def __init__(self, formatter):
        self.formatter = formatter

    def format(self, record):
        line = self.formatter.format(record)
        if record.exc_info or record.exc_text or record.stack_info:
            return line
        return redact.text(line, limit=2 * MAX_CHARS)

    def __getattr__(self, name):
        return getattr(self.formatter, name)


def install(logger=None):
    """Make every handler of *logger* (the root) redact its records.

    Each gets the Redacting filter, and its formatter is wrapped in
    OneLine.
    """
    logger = logging.getLogger() if logger is None else logger
    for handler in logger.handlers:
        if not any(isinstance(f, Redacting) for f in handler.filters):
            handler.addFilter(Redacting())
        if not isinstance(handler.formatter, OneLine):
            handler.setFormatter(OneLine(handler.formatter or
                                         logging.Formatter()))

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

"""The project's own exceptions; etcd3gw's never leave heat_esi.etcd."""


def short(value):
    """Return *value* as an error message shows it.

    That is its repr, at most 60 characters: a hostile value must not flood
    a message or a log.
    """
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


class EsiError(Exception):
    """Base class of every heat-esi error."""


class EtcdError(EsiError):
    """etcd could not be reached or refused a request."""

    def __init__(self, endpoint, key, detail):
        self.endpoint = endpoint
        self.key = key
        self.detail = detail
        super().__init__('etcd at %s failed on key %s: %s'
                         % (endpoint, key, detail))


class EtcdUnavailable(EtcdError):
    """The connection to etcd failed or timed out."""

    def __init__(self, endpoint, key, detail):
        super().__init__(endpoint, key, detail)
        self.args = ('etcd at %s is unreachable (key %s): %s'
                     % (endpoint, key, detail),)


class EtcdOutcomeUnknown(EtcdError):
    """A write was sent but no answer came back.

    It may or may not have been applied. The caller reads back to find out
    (every write of heat-esi is a compare-and-swap or fenced, so a re-read
    can tell).
    """


class EtcdAuthFailed(EtcdError):
    """etcd refused the configured user name and password."""

    def __init__(self, endpoint, username, detail):
        self.username = username
        super().__init__(endpoint, '(authentication)', detail)
        self.args = ('etcd authentication failed for user %s at %s: %s'
                     % (username, endpoint, detail),)


class EtcdConfigError(EsiError):
    """The [esi_etcd] options are inconsistent."""


class WatchCompacted(EtcdError):
    """A watch asked for a revision that etcd has already compacted."""

    def __init__(self, endpoint, key, compact_revision):
        self.compact_revision = compact_revision
        super().__init__(endpoint, key, 'revision compacted up to %s'
                         % compact_revision)


class ConfigError(EsiError):
    """The configuration cannot be used; the program does not start.

    A file is missing or unreadable, or a value is bad.
    """


class MalformedValue(EsiError):
    """An etcd value does not have the shape heat-esi expects."""

    def __init__(self, key, reason):
        self.key = key
        self.reason = reason
        super().__init__('malformed value at %s: %s' % (key, reason))


class TemplateError(EsiError):
    """A heat_template (ESI job template) is missing or invalid."""


class JobFailed(EsiError):
    """A job could not be completed; the message goes into /state.

    *outcome* holds what the job found before it failed (for instance the
    state_monitoring of the elements it checked), recorded with the error.
    """

    def __init__(self, message, outcome=None):
        super().__init__(message)
        self.outcome = outcome or {}


class JobTimedOut(JobFailed):
    """A job ran past its deadline; it fails with this message."""


class JobInterrupted(EsiError):
    """The worker is shutting down; the job is released, not recorded."""


class NetconfError(EsiError):
    """A router refused or failed a NETCONF operation.

    The message names the device (address:port) and says what the device
    answered (its error-message); never the password.
    """

    def __init__(self, device, detail):
        self.device = device
        self.detail = detail
        super().__init__('NETCONF to %s: %s' % (device, detail))


class NetconfUnreachable(NetconfError):
    """The router could not be reached, or did not answer in time."""


class NetconfAuthFailed(NetconfError):
    """The router refused the login and password (or its host key)."""


class NetconfRefused(NetconfError):
    """The router answered an operation with an rpc-error."""

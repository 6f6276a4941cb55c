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

"""Custom constraints for Heat (entry point namespace heat.constraints)."""

import weakref

from heat.engine import constraints

from heat_esi import esi_resource
from heat_esi import etcd
from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records

# request context -> {config key: KV or None} read on its behalf. Heat checks
# every property when it validates a stack and again when it creates each
# resource, in the same request: what the first check read answers the
# second, and a resource that references several reads them in one request.
_read = weakref.WeakKeyDictionary()


def prefetch(context, references):
    """Read the /config of each (esi_type, id) in *references* at once, for
    the constraints checked later on behalf of *context*."""
    wanted = sorted({keys.config(rtype, rid) for rtype, rid in references
                     if esi_resource.invalid_id(rid) is None})
    if not wanted:
        return
    _, found = esi_resource.client().txn(
        [], [etcd.get(key) for key in wanted], key=wanted[0])
    _read.setdefault(context, {}).update(
        (key, kvs[0] if kvs else None) for key, kvs in zip(wanted, found))


def _config(context, key):
    known = _read.get(context) if context is not None else None
    if known is not None and key in known:
        return known[key]
    kv = esi_resource.client().get(key)
    if context is not None:
        _read.setdefault(context, {})[key] = kv
    return kv


class NotFound(exceptions.EsiError):
    """A referenced ESI resource cannot be used: it is missing, another
    project's, or being deleted."""


class EsiResourceConstraint(constraints.BaseCustomConstraint):
    """The value names an ESI resource of esi_type of the stack's project.

    Another project's resource is refused with the very words used for a
    missing one (an admin context may use any).
    """

    esi_type = None
    expected_exceptions = (exceptions.EsiError,)

    def validate_with_client(self, client, value):
        context = client.context
        problem = esi_resource.invalid_id(value)
        if problem:
            raise NotFound('%s %s: %s' % (self.esi_type,
                                          esi_resource.shorten(value),
                                          problem))
        key = keys.config(self.esi_type, value)
        try:
            kv = _config(context, key)
        except exceptions.EtcdError as exc:
            raise NotFound(str(esi_resource.etcd_failure(
                exc, 'constraint %s' % self.esi_type)))
        body = marked = None
        if kv is not None:
            try:
                body, _, marked = records.parse_config(key, kv.value)
            except exceptions.MalformedValue:
                if not context.is_admin:
                    raise NotFound(esi_resource.not_found(
                        self.esi_type, value, context))
                raise
        if body is None or not esi_resource.owned(body, context):
            raise NotFound(esi_resource.not_found(self.esi_type, value,
                                                  context))
        if marked:
            raise NotFound('%s %s is being deleted' % (self.esi_type,
                                                       value))


class EdgeRouterConstraint(EsiResourceConstraint):
    esi_type = 'edge_router'

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

"""ESI::Netconf::NamedConfigs: JUNOS configuration applied over NETCONF.

ESI's heat templates configure the edge routers with Contrail's
OS::Contrail::NetconfNamedConfigs. This is an implementation of the same
properties for deployments without Contrail; etc/heat-esi/netconf.yaml
registers it under that name.
"""

import re
import uuid

from oslo_config import cfg
from oslo_log import log as logging

from heat.common import exception
from heat.common.i18n import _
from heat.engine import constraints
from heat.engine import properties
from heat.engine import resource
from heat.engine import support

from heat_esi import client
from heat_esi import exceptions
from heat_esi import junos
from heat_esi import keys
from heat_esi import netconf
from heat_esi import records

LOG = logging.getLogger(__name__)
# Resource data: the resource_id, once the router has committed this
# resource's configuration (the id, not a flag: a database that reuses a
# deleted resource's row id must not make a new one look applied).
APPLIED = 'applied'
# The /config fields a ``secrets`` reference may name: a tenant's own
# secrets that its routers' configuration holds. A device password is a
# secret too, and never one of these.
REFERABLE_SECRETS = frozenset(['bgp_md5'])
# What a placeholder stands for wherever the value is not needed (the
# removal chains keep only what identifies a statement, never a leaf).
MASK = 'SECRET-DATA'
# <type>/<id>/<field>, and the /config's version the heat_worker saw (it
# makes a new value a new property, for Heat to update; the value read is
# the current one).
_REFERENCE = re.compile(r'^([a-z_]+)/([^/@\s]+)/([a-z_0-9]+)(?:@\d+)?$')


class NetconfNamedConfigs(resource.Resource):
    """JUNOS configuration fragments applied to one router over NETCONF.

    Each entry of ``configs`` is a JUNOS configuration fragment (curly-brace
    text) and the path of statements it is placed in; a create locks the
    router's candidate configuration, merges every fragment into it, commits
    and unlocks, so the router has all of them or none. An update applies
    the new fragments the same way (``on_update: merge``), taking away in
    the same commit what the old ones placed and the new ones no longer do
    (``replace`` takes all the old away first). A delete takes away what the
    fragments placed: a path ending in a named statement (``unit 1025``)
    loses that statement, one ending in a shared container
    (``routing-options``) only the fragment's own statements.

    The login and password are those of the ESI edge router whose ``ip``
    (and ``ssh_port``, when ``port`` is given) is ``device_ip``: they are in
    that router's /config only. The ``username`` and ``password``
    properties, kept for ESI's original templates, are not used.

    ``secrets`` maps placeholders of the fragments to a secret's place
    (``<resource_type>/<id>/<field>``, e.g. ``vpn_interface/<id>/bgp_md5``):
    the value is read from that resource's /config when the configuration
    is sent, and substituted there only, so that it is in none of Heat's
    properties, events or resource data, and masked in every error. Only
    the fields of REFERABLE_SECRETS of a resource of the stack's own
    project may be named.

    The router belongs to the operator: creating or updating the resource
    takes one of the roles of [netconf] roles (heat.conf), which only the
    esi-worker's service user should have.
    """

    support_status = support.SupportStatus(version='1.1.0')

    default_client_name = client.CLIENT_NAME

    PROPERTIES = (
        DEVICE_IP, PORT, DEVICE_PORT, USERNAME, PASSWORD, LOCK_TIMEOUT,
        ON_UPDATE, CONFIGS, SECRETS,
    ) = (
        'device_ip', 'port', 'device_port', 'username', 'password',
        'lock_timeout', 'on_update', 'configs', 'secrets',
    )

    _CONFIG_KEYS = (CONFIG, PATH) = ('config', 'path')
    _PATH_KEYS = (CONFIG_TYPE, XML_TYPE, TAG, NAME) = (
        'config_type', 'xml_type', 'tag', 'name')

    properties_schema = {
        DEVICE_IP: properties.Schema(
            properties.Schema.STRING,
            _('Management address of the router: the ip of an ESI edge '
              'router, whose login and password are used.'),
            required=True,
            constraints=[constraints.CustomConstraint('ip_addr')],
        ),
        PORT: properties.Schema(
            properties.Schema.INTEGER,
            _('NETCONF (SSH) port of the router; the edge router\'s '
              'ssh_port when not given.'),
            constraints=[constraints.Range(min=1, max=65535)],
        ),
        DEVICE_PORT: properties.Schema(
            properties.Schema.INTEGER,
            _('The same as port (heat-esi\'s own templates name it so).'),
            constraints=[constraints.Range(min=1, max=65535)],
        ),
        USERNAME: properties.Schema(
            properties.Schema.STRING,
            _('Not used: the login is the edge router\'s (kept for '
              'Contrail\'s templates).'),
        ),
        PASSWORD: properties.Schema(
            properties.Schema.STRING,
            _('Not used: the password is the edge router\'s, read from its '
              '/config (kept for Contrail\'s templates).'),
        ),
        LOCK_TIMEOUT: properties.Schema(
            properties.Schema.INTEGER,
            _('Seconds to keep trying to lock the candidate configuration '
              'while another session holds it.'),
            default=60,
            constraints=[constraints.Range(min=0, max=86400)],
            update_allowed=True,
        ),
        ON_UPDATE: properties.Schema(
            properties.Schema.STRING,
            _('merge: an update merges the new fragments (and takes away '
              'what only the old ones placed); replace: it takes away all '
              'that the old ones placed first.'),
            default='merge',
            constraints=[constraints.AllowedValues(['merge', 'replace'])],
            update_allowed=True,
        ),
        CONFIGS: properties.Schema(
            properties.Schema.LIST,
            _('The configuration fragments and where each goes.'),
            required=True,
            update_allowed=True,
            schema=properties.Schema(
                properties.Schema.MAP,
                schema={
                    CONFIG: properties.Schema(
                        properties.Schema.STRING,
                        _('JUNOS configuration text (curly-brace format) '
                          'placed at the path; may be empty.'),
                        default='',
                    ),
                    PATH: properties.Schema(
                        properties.Schema.LIST,
                        _('The statements, outermost first, that hold the '
                          'fragment.'),
                        required=True,
                        schema=properties.Schema(
                            properties.Schema.MAP,
                            schema={
                                CONFIG_TYPE: properties.Schema(
                                    properties.Schema.STRING,
                                    _('How the step reads in JUNOS text.'),
                                    constraints=[constraints.AllowedValues(
                                        list(junos.CONFIG_TYPES))],
                                ),
                                XML_TYPE: properties.Schema(
                                    properties.Schema.STRING,
                                    _('tag: a container; named_tag: an '
                                      'entry keyed by <name>.'),
                                    default='tag',
                                    constraints=[constraints.AllowedValues(
                                        list(junos.XML_TYPES))],
                                ),
                                TAG: properties.Schema(
                                    properties.Schema.STRING,
                                    _('The statement.'),
                                    required=True,
                                ),
                                NAME: properties.Schema(
                                    properties.Schema.STRING,
                                    _('The entry\'s name (named_tag).'),
                                ),
                            },
                        ),
                    ),
                },
            ),
        ),
        SECRETS: properties.Schema(
            properties.Schema.MAP,
            _('Placeholders of the configs\' text, each mapped to a '
              'reference <resource_type>/<id>/<field> of a secret (a '
              'bgp_md5) that is read from that resource\'s /config, and '
              'put in the text, only when the configuration is sent.'),
            default={},
            update_allowed=True,
        ),
    }

    # --- what the properties say --------------------------------------------

    def _port(self, props):
        return props[self.DEVICE_PORT] or props[self.PORT]

    def _placed(self, props, values=None):
        """(elements to merge, removal chains) of *props*' configs.

        *values* ({placeholder: secret}) fill the placeholders of
        ``secrets``; without them each stands for MASK (enough to validate,
        and for the removal chains, which keep no leaf value).

        :raises ConfigSyntaxError: naming the config and what is wrong.
        """
        placeholders = props.get(self.SECRETS) or {}
        if values is None:
            values = dict.fromkeys(placeholders, MASK)
        tops = []
        chains = []
        for index, entry in enumerate(props['configs'] or []):
            config = _substituted(entry['config'], values)
            try:
                tops.append(junos.place(config, entry['path'])[0])
                chains.extend(junos.removal_chains(config, entry['path']))
            except junos.ConfigSyntaxError as exc:
                raise junos.ConfigSyntaxError('configs[%d]: %s'
                                              % (index, exc))
        return tops, chains

    def _check_references(self, props):
        """[(placeholder, (type, id, field))] of *props*' secrets.

        :raises StackValidationFailed: a reference that is not one, or
            names a field that is not a referable secret.
        """
        found = []
        secrets = props.get(self.SECRETS) or {}
        for placeholder, ref in sorted(secrets.items()):
            match = _REFERENCE.match(ref if isinstance(ref, str) else '')
            if not placeholder or match is None:
                # Never quoted: it might be the secret itself, misplaced.
                raise exception.StackValidationFailed(message=_(
                    'secrets: %s must map to a reference '
                    '<resource_type>/<id>/<field>')
                    % (placeholder or '(empty)'))
            if match.group(3) not in REFERABLE_SECRETS:
                raise exception.StackValidationFailed(message=_(
                    'secrets: %(p)s names field %(f)s, which is not one of '
                    'the secrets a configuration may hold (%(ok)s)') % {
                        'p': placeholder, 'f': match.group(3),
                        'ok': ', '.join(sorted(REFERABLE_SECRETS))})
            found.append((placeholder, match.groups()[:3]))
        return found

    def _secret_values(self, props):
        """{placeholder: value} read from /config, for this apply only.

        :raises StackValidationFailed: a reference to nothing, to another
            project's resource, or to a field it does not have; named by
            placeholder and reference, never with a value.
        """
        values = {}
        project = self.context.project_id
        for placeholder, (esi_type, rid, field) in \
                self._check_references(props):
            where = '%s/%s/%s' % (esi_type, rid, field)
            key = keys.config(esi_type, rid)
            kv = self.client().get(key)
            body = None
            if kv is not None:
                try:
                    body, _v, _m = records.parse_config(key, kv.value)
                except exceptions.MalformedValue:
                    body = None
            if not isinstance(body, dict):
                raise exception.StackValidationFailed(message=_(
                    'secrets: %(p)s refers to %(w)s, which has no /config')
                    % {'p': placeholder, 'w': where})
            if not project or body.get('tenant_id') != project:
                # The same answer as a missing one would leak existence.
                raise exception.StackValidationFailed(message=_(
                    'secrets: %(p)s refers to %(w)s, which is not a '
                    'resource of this stack\'s project') % {
                        'p': placeholder, 'w': where})
            value = body.get(field)
            if value in (None, ''):
                raise exception.StackValidationFailed(message=_(
                    'secrets: %(p)s refers to %(w)s, which has no value')
                    % {'p': placeholder, 'w': where})
            values[placeholder] = _quoted(str(value))
        return values

    def _masked(self, exc, values):
        """*exc* with every secret of *values* masked (a router echoes)."""
        text = str(exc)
        for quoted in values.values():
            for form in (quoted, quoted[1:-1]):
                text = text.replace(form, MASK)
        if text == str(exc):
            return exc
        if isinstance(exc, exceptions.NetconfError):
            detail = exc.detail
            for quoted in values.values():
                for form in (quoted, quoted[1:-1]):
                    detail = str(detail).replace(form, MASK)
            return type(exc)(exc.device, detail)
        return exceptions.EsiError(text)

    def _device(self, props):
        return netconf.device_for(self.client(), cfg.CONF,
                                  props[self.DEVICE_IP], self._port(props))

    def _allowed(self):
        """Refuse a context without one of [netconf] roles."""
        ctx = self.context
        wanted = set(cfg.CONF.netconf.roles or [])
        if ctx.is_admin or wanted.intersection(ctx.roles or []):
            return
        raise exception.Forbidden(_(
            '%(type)s writes configuration to the operator\'s routers: it '
            'takes one of the roles %(roles)s ([netconf] roles of '
            'heat.conf)') % {'type': self.type(),
                             'roles': ', '.join(sorted(wanted)) or '(none)'})

    # --- Heat's hooks -------------------------------------------------------

    def validate(self):
        super(NetconfNamedConfigs, self).validate()
        self._allowed()
        self._check_references(self.properties)
        try:
            self._placed(self.properties)
        except junos.ConfigSyntaxError as exc:
            raise exception.StackValidationFailed(message=str(exc))

    def handle_create(self):
        self._allowed()
        values = self._secret_values(self.properties)
        tops, _ = self._placed(self.properties, values)
        device = self._device(self.properties)
        # Set first: a create cut short after the commit (the stack failed
        # elsewhere and Heat cancelled this one) must still be removed by
        # the delete.
        self.resource_id_set(str(uuid.uuid4()))
        try:
            device.apply(tops, self.properties[self.LOCK_TIMEOUT])
        except Exception as exc:
            masked = self._masked(exc, values)
            if masked is exc:
                raise
            raise masked from None
        self.data_set(APPLIED, self.resource_id)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff:
            return
        self._allowed()
        new = json_snippet.properties(self.properties_schema, self.context)
        values = self._secret_values(new)
        tops, _ = self._placed(new, values)
        _, chains = self._placed(new)
        _, old_chains = self._placed(self.properties)
        if new[self.ON_UPDATE] == 'replace':
            gone = old_chains
        else:
            kept = set(_text(c) for c in chains)
            gone = [c for c in old_chains if _text(c) not in kept]
        try:
            self._device(new).apply(tops, new[self.LOCK_TIMEOUT],
                                    remove=gone)
        except Exception as exc:
            masked = self._masked(exc, values)
            if masked is exc:
                raise
            raise masked from None
        self.data_set(APPLIED, self.resource_id)

    def handle_delete(self):
        if self.resource_id is None:
            # Never got as far as the router.
            return
        _, chains = self._placed(self.properties)
        try:
            self._device(self.properties).remove(
                chains, self.properties[self.LOCK_TIMEOUT])
        except exceptions.NetconfError as exc:
            if self.data().get(APPLIED) == self.resource_id:
                raise
            # A create that failed committed nothing (the router discards
            # a refused or broken edit): the delete of what never was must
            # not be stopped by the same cause (bad credentials, a router
            # gone from ESI).
            LOG.warning('%s: nothing removed after its failed create: %s',
                        self.name, exc)


def _quoted(value):
    """*value* as one JUNOS word, whatever it holds."""
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')


def _substituted(config, values):
    """*config* with each placeholder of *values* replaced, longest first.

    Longest first: a placeholder that begins another ($KEY, $KEY2) must
    not take part of it.
    """
    for placeholder in sorted(values, key=len, reverse=True):
        config = (config or '').replace(placeholder, values[placeholder])
    return config


def _text(element):
    from lxml import etree
    return etree.tostring(element)


TYPE_NAMES = ('ESI::Netconf::NamedConfigs',
              'OS::Contrail::NetconfNamedConfigs')


def register_policy():
    """Make Heat's resource type policy restrict both names of the type.

    heat-engine enforces ``resource_types:<type>`` only for the rules it
    has registered (an unregistered one allows all, whatever a policy file
    says): the defaults are added to Heat's list here, when heat-engine
    loads its plugins, which it does before it builds its enforcer. The
    default is one of [netconf] roles, or an admin; a policy file may
    override it. The resource checks the same itself (NamedConfigs
    validate and create), for a heat-engine that enforces no policy.
    """
    from heat.policies import base as policy_base
    from heat.policies import resource_types
    from oslo_policy import policy
    try:
        roles = list(cfg.CONF.netconf.roles or [])
    except cfg.Error:
        roles = ['esi_netconf']
    check = ' or '.join(['role:%s' % role for role in roles] +
                        [policy_base.RULE_CONTEXT_IS_ADMIN])
    known = set(rule.name for rule in resource_types.resource_types_policies)
    for type_name in TYPE_NAMES:
        name = resource_types.POLICY_ROOT % type_name
        if name not in known:
            resource_types.resource_types_policies.append(policy.RuleDefault(
                name=name, check_str=check,
                description='Configure the operator\'s routers over '
                            'NETCONF ([netconf] roles of heat.conf).',
                scope_types=['project']))


register_policy()


def resource_mapping():
    return {'ESI::Netconf::NamedConfigs': NetconfNamedConfigs}

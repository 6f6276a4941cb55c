"""ESI::Netconf::NamedConfigs without a router: roles and bad configs."""

from tests import heat_engine  # (before any heat import)

from unittest import mock

from heat.common import exception
import pytest

from heat_esi.resources import netconf_named_configs as ncc


def resource(roles=(), is_admin=False, configs=None):
    res = object.__new__(ncc.NetconfNamedConfigs)
    res.context = mock.Mock(roles=list(roles), is_admin=is_admin)
    res.properties = {'configs': configs or [], 'device_ip': '192.0.2.1',
                      'port': None, 'device_port': None,
                      'lock_timeout': 5, 'on_update': 'merge'}
    res.type = lambda: 'OS::Contrail::NetconfNamedConfigs'
    return res


def test_only_the_configured_roles_or_admin_may_push_configuration():
    from heat_esi import client  # noqa: F401  (registers the options)
    with pytest.raises(exception.Forbidden) as caught:
        resource(roles=['member'])._allowed()
    assert 'esi_netconf' in str(caught.value)
    resource(roles=['member', 'esi_netconf'])._allowed()
    resource(is_admin=True)._allowed()


def test_a_bad_fragment_is_named_by_its_index():
    res = resource(configs=[
        {'config': 'vlan-id 1;', 'path': [{'tag': 'interfaces'}]},
        {'config': 'a { b;', 'path': [{'tag': 'interfaces'}]}])
    with pytest.raises(Exception) as caught:
        res._placed(res.properties)
    assert str(caught.value).startswith('configs[1]: line 1:')


def test_a_delete_of_a_never_applied_resource_reaches_no_router():
    res = resource()
    res.resource_id = None
    with mock.patch.object(res, '_device') as device:
        res.handle_delete()
    device.assert_not_called()


def test_heats_resource_type_policy_restricts_both_names():
    heat_engine.setup(0)     # heat.conf parsed, as heat-engine's
    from heat.common import policy
    from heat.tests import utils
    ncc.register_policy()
    enforcer = policy.ResourceEnforcer()
    for name in ncc.TYPE_NAMES:
        member = utils.dummy_context(roles=['member'])
        with pytest.raises(exception.Forbidden):
            enforcer.enforce(member, name, is_registered_policy=True)
        allowed = utils.dummy_context(roles=['member', 'esi_netconf'])
        assert enforcer.enforce(allowed, name, is_registered_policy=True)
    # Other types stay as they were.
    assert enforcer.enforce(utils.dummy_context(roles=['member']),
                            'OS::Heat::None', is_registered_policy=True)


# --- secrets: a reference in the properties, the value read when applied ----

MD5 = 'n0t-in-heat'
IFACE = '6c1e1a52-0000-4000-8000-000000000001'
BGP = ('apply-groups G;\nneighbor 10.0.0.1 authentication-key $BGP_MD5;\n')
BGP_PATH = [{'config_type': 'tag', 'xml_type': 'tag', 'tag': 'protocols'},
            {'config_type': 'tag', 'xml_type': 'tag', 'tag': 'bgp'},
            {'config_type': 'named_tag', 'xml_type': 'named_tag',
             'tag': 'group', 'name': 'CloudGW1'}]


def with_secret(ref='vpn_interface/%s/bgp_md5' % IFACE, project='tenant-a',
                body=None):
    from heat_esi import keys
    from heat_esi import records
    from tests import fakes
    store = fakes.FakeEtcd()
    store.put(keys.config('vpn_interface', IFACE), records.config(
        body if body is not None else {'id': IFACE, 'tenant_id': 'tenant-a',
                                       'bgp_md5': MD5}, 1))
    res = resource(configs=[{'config': BGP, 'path': BGP_PATH}])
    res.properties['secrets'] = {'$BGP_MD5': ref}
    res.context.project_id = project
    res.client = lambda: store
    return res


def test_the_value_is_substituted_only_when_applied():
    from lxml import etree
    res = with_secret()
    # Without the values (validate, delete's removal chains): masked.
    tops, chains = res._placed(res.properties)
    assert MD5 not in etree.tostring(tops[0]).decode()
    assert b'SECRET-DATA' in etree.tostring(tops[0])
    values = res._secret_values(res.properties)
    tops, _ = res._placed(res.properties, values)
    key = tops[0].find('.//neighbor/authentication-key')
    assert key is not None and key.text == MD5
    # The delete removes the group, which needs no value.
    assert [etree.tostring(c) for c in chains] == [
        etree.tostring(c) for c in res._placed(res.properties, values)[1]]


@pytest.mark.parametrize('ref, project, body, why', [
    ('vpn_interface/%s/bgp_md5' % IFACE, 'tenant-b', None,
     'is not a resource of this stack\'s project'),
    ('edge_router/%s/password' % IFACE, 'tenant-a', None,
     'names field password, which is not one of the secrets'),
    ('vpn_interface/gone/bgp_md5', 'tenant-a', None, 'which has no /config'),
    ('%s' % MD5, 'tenant-a', None,
     'must map to a reference <resource_type>/<id>/<field>'),
    ('vpn_interface/%s/bgp_md5' % IFACE, 'tenant-a',
     {'id': IFACE, 'tenant_id': 'tenant-a'}, 'which has no value'),
])
def test_a_reference_that_may_not_be_read_is_refused(ref, project, body, why):
    res = with_secret(ref, project, body)
    with pytest.raises(exception.StackValidationFailed) as caught:
        res._secret_values(res.properties)
    assert why in str(caught.value)
    assert '$BGP_MD5' in str(caught.value)
    assert MD5 not in str(caught.value)


def test_a_routers_error_that_echoes_the_value_is_masked():
    from heat_esi import exceptions
    res = with_secret()
    values = res._secret_values(res.properties)
    masked = res._masked(exceptions.NetconfRefused(
        '192.0.2.1:830', 'syntax error at "%s"' % MD5), values)
    assert isinstance(masked, exceptions.NetconfRefused)
    assert MD5 not in str(masked) and 'SECRET-DATA' in str(masked)

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

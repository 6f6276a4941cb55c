"""JUNOS text to XML (heat_esi.junos) and the netconf Device's errors."""

from unittest import mock

from lxml import etree
import pytest

from heat_esi import exceptions
from heat_esi import junos
from heat_esi import netconf


def xml(elements):
    return [etree.tostring(e).decode() for e in elements]


def test_statements_leaves_lists_and_named_entries():
    assert xml(junos.parse_text(
        'apply-groups G1\n'          # ESI leaves this ";" out
        'vlan-id 1025;\n'
        'apply-groups [ G2 G3 ];\n'
        'neighbor 192.0.2.1 authentication-key "k y";\n'
        'interface ae0.1025;\n'
        'disable;\n'
        '# a comment\n'
        'family inet { address 10.0.0.2/24 { vrrp-group 7 { '
        'priority 105; } } }\n')) == [
        '<apply-groups>G1</apply-groups>',
        '<vlan-id>1025</vlan-id>',
        '<apply-groups>G2</apply-groups>',
        '<apply-groups>G3</apply-groups>',
        '<neighbor><name>192.0.2.1</name>'
        '<authentication-key>k y</authentication-key></neighbor>',
        '<interface><name>ae0.1025</name></interface>',
        '<disable/>',
        '<family><inet><address><name>10.0.0.2/24</name><vrrp-group>'
        '<name>7</name><priority>105</priority></vrrp-group></address>'
        '</inet></family>',
    ]


@pytest.mark.parametrize('text, says', [
    ('a { b;', '1 "{" not closed'),
    ('a; }', '"}" without "{"'),
    ('insert firewall family inet filter F term T before term all',
     'cannot place'),
    ('{ x; }', '"{" without a keyword'),
    ('a [ b', '"[" is not closed'),
])
def test_bad_text_is_refused_naming_the_line(text, says):
    with pytest.raises(junos.ConfigSyntaxError) as caught:
        junos.parse_text(text)
    assert says in str(caught.value)
    assert 'line 1' in str(caught.value)


def test_an_error_names_the_keyword_never_a_value():
    with pytest.raises(junos.ConfigSyntaxError) as caught:
        junos.parse_text('neighbor 192.0.2.1 authentication-key K3y-md5 x')
    assert 'K3y-md5' not in str(caught.value)
    assert '"neighbor"' in str(caught.value)


def test_a_path_places_the_fragment_and_names_what_to_remove():
    path = [{'xml_type': 'tag', 'tag': 'interfaces'},
            {'xml_type': 'named_tag', 'tag': 'interface', 'name': ' ae0 '},
            {'xml_type': 'named_tag', 'tag': 'unit', 'name': 1025}]
    top, inner = junos.place('vlan-id 1025;', path)
    assert etree.tostring(top) == (
        b'<interfaces><interface><name>ae0</name><unit><name>1025</name>'
        b'<vlan-id>1025</vlan-id></unit></interface></interfaces>')
    chains = junos.removal_chains('vlan-id 1025;', path)
    assert len(chains) == 1
    assert junos.chain_target(chains[0]).findtext('name') == '1025'
    shared = [{'tag': 'routing-options'}]
    chains = junos.removal_chains('router-id 1.1.1.1;\nstatic { x; }',
                                  shared)
    assert [etree.tostring(junos.chain_target(c)) for c in chains] == [
        b'<router-id/>', b'<static/>']


@pytest.mark.parametrize('step, says', [
    ({'xml_type': 'nope', 'tag': 'a'}, 'xml_type must be one of'),
    ({'config_type': 'x', 'tag': 'a'}, 'config_type must be one of'),
    ({'tag': 'a b'}, 'is not a JUNOS statement name'),
    ({'xml_type': 'named_tag', 'tag': 'unit'}, 'needs a name'),
])
def test_bad_paths_are_refused_naming_the_step(step, says):
    with pytest.raises(junos.ConfigSyntaxError) as caught:
        junos.path_chain([{'tag': 'interfaces'}, step])
    assert says in str(caught.value) and 'path step 2' in str(caught.value)


def test_the_text_shows_what_show_configuration_shows():
    root = etree.Element('configuration')
    root.extend(junos.parse_text('interfaces { interface ae0 { unit 5 { '
                                 'vlan-id 5; } } }'))
    assert junos.to_text(root) == (
        'interfaces {\n    interface ae0 {\n        unit 5 {\n'
        '            vlan-id 5;\n        }\n    }\n}\n')
    # A secret shows as JUNOS shows it, never its value.
    bgp = etree.Element('configuration')
    bgp.extend(junos.parse_text('group g { neighbor 192.0.2.1 '
                                'authentication-key md5-S3cret; }'))
    assert 'md5-S3cret' not in junos.to_text(bgp)
    assert 'authentication-key "********"; ## SECRET-DATA' in \
        junos.to_text(bgp)


def test_ncclient_errors_become_netconf_errors_without_the_password():
    from ncclient import operations
    from ncclient import transport
    device = netconf.Device('192.0.2.1', 830, 'esi', 'Pw-123456')
    with mock.patch.object(device, '_connect',
                           side_effect=transport.AuthenticationError(
                               'Authentication failed: Pw-123456')):
        with pytest.raises(exceptions.NetconfAuthFailed) as caught:
            device.get_config()
    assert 'Pw-123456' not in str(caught.value)
    assert '192.0.2.1:830' in str(caught.value)
    mgr = mock.MagicMock()
    error = etree.fromstring(
        '<rpc-error xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        '<error-type>application</error-type><error-tag>operation-failed'
        '</error-tag><error-severity>error</error-severity><error-message>'
        'commit failed: Pw-123456 is wrong</error-message></rpc-error>')
    mgr.commit.side_effect = operations.RPCError(error)
    with mock.patch.object(device, '_connect', return_value=mgr):
        with pytest.raises(exceptions.NetconfRefused) as caught:
            device.apply([etree.Element('system')])
    assert 'commit failed: *** is wrong' in str(caught.value)
    # Discarded and unlocked after the failure.
    mgr.discard_changes.assert_called_once_with()
    mgr.unlock.assert_called_once_with('candidate')
    # A bug of ours is not dressed up as an unreachable router.
    with mock.patch.object(device, '_connect', side_effect=KeyError('x')):
        with pytest.raises(KeyError):
            device.get_config()

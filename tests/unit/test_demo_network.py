"""The network demo's worker reaches heat-api without Keystone."""

import logging

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
import pytest

from heat_esi.cmd import manage
from heat_esi import conf
from heat_esi.demo import network
from heat_esi import simulated
from heat_esi.worker import heat_api

ENDPOINT = 'http://127.0.0.1:8004/v1/demo-project'


def worker_conf():
    wconf = cfg.ConfigOpts()
    conf.register_worker_opts(wconf)
    wconf([], project='heat-esi')
    network.configure_worker(wconf, ENDPOINT)
    return wconf


def test_the_worker_calls_the_demos_endpoint_without_a_token(caplog):
    wconf = worker_conf()
    assert wconf.heat_worker.environment == [simulated.environment_file()]
    with caplog.at_level(logging.WARNING, logger=heat_api.__name__):
        api = heat_api.HeatApi(wconf)
    assert 'for the demo and the tests only' in caplog.text
    assert ENDPOINT in caplog.text
    # No Keystone is asked: nothing to refuse, nothing unreachable.
    assert api.check_credentials() is None
    # Whatever the job's project, the one endpoint.
    assert api.endpoint('another-project') == ENDPOINT
    session = api.client('another-project').http_client.session
    assert session.get_token() == 'notused'


def test_a_keystone_worker_logs_no_such_warning(caplog):
    wconf = cfg.ConfigOpts()
    conf.register_worker_opts(wconf)
    wconf([], project='heat-esi')
    wconf.register_opts(ks_loading.get_auth_plugin_conf_options('password'),
                        group='heat_worker')
    for name, value in (('auth_type', 'password'),
                        ('auth_url', 'http://127.0.0.1:5000/v3'),
                        ('username', 'esi'), ('password', 'secret'),
                        ('project_name', 'service')):
        wconf.set_override(name, value, group='heat_worker')
    with caplog.at_level(logging.WARNING, logger=heat_api.__name__):
        heat_api.HeatApi(wconf)
    assert 'without Keystone' not in caplog.text


def test_gateway_and_network_are_one_or_the_other(capsys):
    args = manage.parser().parse_args(['demo', '--network'])
    assert args.network and not args.gateway
    with pytest.raises(SystemExit):
        manage.parser().parse_args(['demo', '--network', '--gateway'])
    assert 'not allowed with argument' in capsys.readouterr().err

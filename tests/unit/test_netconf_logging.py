"""ncclient's own INFO lines never reach heat-engine's or esi-worker's log.

They hold every RPC whole: the configuration, BGP keys included.
"""

import logging

from heat_esi import netconf


def test_ncclient_logs_only_warnings_once_heat_esi_uses_it(caplog):
    assert netconf.Device
    with caplog.at_level(logging.INFO):
        logging.getLogger('ncclient.transport.ssh').info(
            'Sending: <authentication-key>k3y</authentication-key>')
        logging.getLogger('ncclient.operations.rpc').warning('a warning')
    assert 'k3y' not in caplog.text
    assert 'a warning' in caplog.text

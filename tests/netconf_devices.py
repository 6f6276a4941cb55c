"""NETCONF test routers for the tests (heat_esi.simulated.netconf_device).

start() gives a started router whose login is ``esi`` and password
PASSWORD; register() writes its edge router's /config (where the NETCONF
plugins and NamedConfigs find the credentials); known_hosts() and
netconf_section() give a heat-engine or esi-worker what it needs to trust
the routers' host keys with [netconf] hostkey_verify on; trusted() starts
routers that the in-process heat-engine trusts.
"""

import contextlib

from heat_esi.simulated import netconf_device
from tests import esi_fixtures

PASSWORD = 'nc-S3cret-pw'


def start(name='router', host='127.0.0.1', **kwargs):
    """A started NetconfDevice (login esi, password PASSWORD)."""
    device = netconf_device.NetconfDevice('esi', PASSWORD, host=host,
                                          name=name, **kwargs)
    device.start()
    return device


def register(client, router_id, device, **body):
    """The edge router *router_id* at *device*'s address, with its login."""
    return esi_fixtures.register(
        client, 'edge_router', router_id, **dict(dict(
            name=device.name, ip=device.host, ssh_port=device.port,
            login=device.username, password=device.password), **body))


def known_hosts(path, *devices):
    """Write an OpenSSH known_hosts file of *devices* at *path*; its path."""
    with open(str(path), 'w') as f:
        f.write(''.join(d.known_hosts_line() for d in devices))
    return str(path)


def netconf_section(known_hosts_path, timeout=5):
    """The [netconf] section of a worker (WorkerProcess *sections*)."""
    return {'netconf': {'known_hosts_file': known_hosts_path,
                        'timeout': timeout}}


@contextlib.contextmanager
def trusted(tmp_path, baseline, *names_hosts):
    """Started routers, one per (name, host), trusted by this heat-engine.

    Each runs *baseline* % its name; their host keys are in [netconf]
    known_hosts_file of this process (hostkey_verify stays on, its
    default) until the routers are stopped, at the end.
    """
    from oslo_config import cfg
    started = []
    try:
        for name, host in names_hosts:
            device = start(name, host=host)
            started.append(device)
            device.load_running(baseline % name)
        cfg.CONF.set_override('known_hosts_file', known_hosts(
            tmp_path / 'known_hosts', *started), 'netconf')
        yield started
    finally:
        cfg.CONF.clear_override('known_hosts_file', 'netconf')
        for device in started:
            device.stop()

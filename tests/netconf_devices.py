"""NETCONF test devices for the tests: fixtures-friendly helpers."""

from heat_esi.simulated import netconf_device

PASSWORD = 'nc-S3cret-pw'


def start(name='router', host='127.0.0.1', **kwargs):
    """A started NetconfDevice (login esi, password PASSWORD)."""
    device = netconf_device.NetconfDevice('esi', PASSWORD, host=host,
                                          name=name, **kwargs)
    device.start()
    return device


def texts(configuration):
    """The configuration as JUNOS text, for an assertion's message."""
    from heat_esi import junos
    return junos.to_text(configuration)

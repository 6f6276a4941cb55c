"""ESI's seed documents of the logical-network types, parsed for tests.

CreateEseDevice_01, CreateEsePhysicalPort_01, CreateNetwork_01 and
CreateSubnet_01 (tests/fixtures) show two jobs at point (2), which
esi_fixtures.seed_blocks (one block per point) does not read.
"""

import contextlib
import json

from heat_esi import keys
from heat_esi import records
from heat_esi import states
from tests import esi_fixtures

DOCUMENTS = {
    'ese_device': 'CreateEseDevice_01.md',
    'ese_physical_port': 'CreateEsePhysicalPort_01.md',
    'network': 'CreateNetwork_01.md',
    'subnet': 'CreateSubnet_01.md',
}
PROJECT = '0b576f6f4cbf414f829cd12f008bf08f'


def points(esi_type):
    """{'(1)': [(key, value), ...], ...}: every block of each point."""
    return esi_fixtures.seed_points(DOCUMENTS[esi_type])


def config(esi_type):
    """(id, body) of the document's resource at point (1)."""
    (key, value), = points(esi_type)['(1)']
    return key.rsplit('/', 1)[1], value['body']


def jobs(esi_type):
    """{handler: job} of the document's point (2)."""
    return {value[0]: value[1] for _key, value in points(esi_type)['(2)']}


def with_id(value, old, new):
    """*value* with every occurrence of the id *old* replaced by *new*."""
    return json.loads(json.dumps(value).replace(old, new))


# The seeds' resources as Heat stacks give them: shared by the unit and
# the integration tests of the network types.
RESOURCE_TYPES = {'ese_device': 'ESI::EseDevice',
                  'ese_physical_port': 'ESI::EsePhysicalPort',
                  'network': 'ESI::Network', 'subnet': 'ESI::Subnet'}
# The properties of each seed's resource, as a stack gives them.
SEED_PROPERTIES = {
    'ese_device': {'name': 'QFX-NW02', 'description': '', 'username': 'esi',
                   'password': 'password', 'hostname': 'QFX-NW02',
                   'existing': 'existing', 'type': 'tor',
                   'management_ip_address': '10.161.0.34',
                   'public_ip_address': '10.161.0.34'},
    'ese_physical_port': {
        'name': 'xe-0/0/3', 'description': '',
        'ese_device_id': '5314fffc-6c86-4410-a64b-5386286ac629',
        'existing': 'new', 'connected_port_owner': 'mx_downlink',
        'connected_port_id': ''},
    'network': {'name': 'sample-network', 'description': 'Sample Network',
                'admin_state_up': True},
    'subnet': {'name': 'sample-subnet', 'description': 'Sample Subnet',
               'network_id': 'bb69041d-c654-4e9f-a763-afd4333275bc',
               'cidr': '172.16.101.0/24', 'enable_dhcp': True},
}


@contextlib.contextmanager
def plans_answered(client, monitoring, heat_outputs):
    """A stand-in for workers of both handlers, as long as the block runs.

    Every job written after it started (a key's first version under
    /jobs/all/) is answered as workers do: a plan's jobs run in their
    order, each finishes (its key goes), and the last one writes /state
    for the whole plan, with *monitoring* and *heat_outputs*. Yields the
    ids of the jobs it ran, in order.
    """
    ran = []

    def finish(job):
        ran.append(job['id'])
        client.delete(keys.job(job['id']))
        if job['is_last']:
            client.put(keys.state(job['resource_type'], job['resource_id']),
                       records.state(states.completed(job['action']),
                                     job['version'], monitoring,
                                     heat_outputs=heat_outputs))

    with esi_fixtures.jobs_watched(client,
                                   lambda _rev, value: finish(value[1])):
        yield ran


def jobs_written(client, rid, since):
    """The values of the jobs of *rid* written since revision *since*."""
    return [json.loads(event.kv.value) for event in
            esi_fixtures.history(client, keys.JOBS_ALL, since)
            if ':%s:' % rid in event.kv.key and event.kv.version == 1]

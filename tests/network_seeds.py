"""ESI's seed documents of the logical-network types, parsed for tests.

CreateEseDevice_01, CreateEsePhysicalPort_01, CreateNetwork_01 and
CreateSubnet_01 (tests/fixtures) show two jobs at point (2), which
esi_fixtures.seed_blocks (one block per point) does not read.
"""

import json
import os
import re

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
    with open(os.path.join(esi_fixtures.FIXTURES,
                           DOCUMENTS[esi_type])) as f:
        text = f.read()
    found = {}
    parts = re.split(r'### Checking stored data at the point of (\(\d\)) '
                     r'in etcd', text)
    for point, section in zip(parts[1::2], parts[2::2]):
        for block in re.findall(r'```\n(.*?)```', section, re.S):
            key, _, value = block.strip().partition('\n')
            found.setdefault(point, []).append((key.strip(),
                                                json.loads(value)))
    return found


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

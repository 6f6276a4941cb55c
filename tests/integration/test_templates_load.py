"""`heat-esi templates load` against a real etcd."""

import json
import os
import shutil
import subprocess
import sys

from heat_esi import keys
from heat_esi import templates


def load(etcd_server, directory=None):
    cmd = [os.path.join(os.path.dirname(sys.executable), 'heat-esi'),
           '--etcd-url', etcd_server.url, 'templates', 'load']
    if directory:
        cmd += ['--dir', directory]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_load_is_idempotent_and_bumps_a_changed_template(
        etcd_client, etcd_server, tmp_path):
    shutil.copytree(templates.default_dir(), str(tmp_path / 't'))
    first = load(etcd_server, str(tmp_path / 't'))
    assert first.returncode == 0, first.stderr
    assert 'ha_router_monitoring' in first.stdout and 'created' in \
        first.stdout
    key = keys.heat_template('ha_router_monitoring')
    stored = etcd_client.get(key)
    value = json.loads(stored.value)
    assert value['version'] == 1 and value['marked_for_deletion'] is False
    assert set(value['body']) == set(templates.FIELDS)

    again = load(etcd_server, str(tmp_path / 't'))
    assert 'unchanged' in again.stdout
    assert etcd_client.get(key).mod_revision == stored.mod_revision

    path = tmp_path / 't' / 'ha_router_monitoring.yaml'
    path.write_text(path.read_text().replace('watch: []', 'watch: [x]'))
    third = load(etcd_server, str(tmp_path / 't'))
    assert 'updated' in third.stdout
    assert json.loads(etcd_client.get(key).value)['version'] == 2


def test_load_rejects_an_unknown_mapping_kind(etcd_client, etcd_server,
                                              tmp_path):
    (tmp_path / 'x_monitoring.yaml').write_text(
        'id: x_monitoring\nhandler: monitoring_worker\nwatch: []\n'
        'template_file: ""\nparameter_mappings:\n  ip: {teleport: 1}\n')
    result = load(etcd_server, str(tmp_path))
    assert result.returncode == 1
    assert 'heat_template x_monitoring: parameter ip has an unknown ' \
        'mapping kind' in result.stderr
    assert etcd_client.get_prefix('/config/')[0] == []

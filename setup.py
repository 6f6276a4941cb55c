import configparser
import os

import setuptools

HERE = os.path.dirname(os.path.abspath(__file__))

# pbr takes the version from git, or from an sdist's PKG-INFO. A tree with
# neither (an export, a copy without .git) gets the version setup.cfg
# declares, so that `pip install .` works there too.
if not any(os.path.exists(os.path.join(HERE, name))
           for name in ('.git', 'PKG-INFO')):
    _cfg = configparser.ConfigParser()
    _cfg.read(os.path.join(HERE, 'setup.cfg'))
    os.environ.setdefault('PBR_VERSION', _cfg['metadata']['version'])

setuptools.setup(setup_requires=['pbr>=6.0.0'], pbr=True)

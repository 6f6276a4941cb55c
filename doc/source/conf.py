#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Sphinx configuration of heat-esi's documentation (tox -e docs).

Offline on purpose: alabaster ships inside Sphinx's own dependencies, and
there is no intersphinx, so the build needs no network.
"""

import os
import sys

# The directives that read the code: ESI:: types and the heat-esi command.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '_exts'))

project = 'heat-esi'
copyright = 'heat-esi developers'
author = 'heat-esi developers'

extensions = [
    'oslo_config.sphinxext',
    'esi_options',
    'esi_cli',
    'esi_resources',
]

master_doc = 'index'
exclude_patterns = ['_build']
html_theme = 'alabaster'
html_theme_options = {
    'description': 'OpenStack Heat resources and workers for ESI',
    'fixed_sidebar': True,
}
html_sidebars = {'**': ['about.html', 'navigation.html', 'searchbox.html']}
# A page says when it was built from which tree, not the time of the build.
html_last_updated_fmt = None

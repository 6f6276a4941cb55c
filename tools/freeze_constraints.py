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

"""Write upper-constraints.txt from the environment that runs this script.

`tox -e constraints` runs it in a fresh environment holding every
requirement of every tox environment, resolved to their newest versions
that install together; each tox environment then installs exactly those
versions (``-c upper-constraints.txt``) until the next refresh.
"""

import subprocess
import sys

HEADER = """\
# The versions every tox environment installs (pip's -c): a pip freeze of
# an environment with requirements.txt, test-requirements.txt,
# doc/requirements.txt and build. Refresh with `tox -e constraints` and
# commit the result with the change that needs it.
"""

# heat-esi itself is installed from the tree, never pinned; pip, setuptools
# and wheel belong to the environment, not to the project.
LEFT_OUT = {'heat-esi', 'heat_esi', 'pip', 'setuptools', 'wheel'}


def main(path):
    frozen = subprocess.run(
        [sys.executable, '-m', 'pip', 'freeze', '--exclude-editable'],
        check=True, capture_output=True, text=True).stdout
    pins = []
    for line in frozen.splitlines():
        name = line.split('==')[0].split(' @ ')[0].strip()
        if '==' not in line or name.lower() in LEFT_OUT:
            continue
        pins.append(line.strip())
    pins.sort(key=str.lower)
    with open(path, 'w') as f:
        f.write(HEADER + ''.join(pin + '\n' for pin in pins))
    print('%s: %d pins' % (path, len(pins)))


if __name__ == '__main__':
    main(sys.argv[1])

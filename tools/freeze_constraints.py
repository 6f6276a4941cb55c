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

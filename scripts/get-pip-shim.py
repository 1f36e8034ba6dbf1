"""Stand-in for pip's get-pip.py, for ansible-test --venv on machines that cannot reach its download.

ansible-test creates each virtualenv without pip and then runs get-pip-<version>.py from
~/.ansible/test/cache (downloaded from ci-files.testing.ansible.com, which is not reachable here).
This does what that script does, from what is available: bootstrap pip with the interpreter's own
ensurepip, then `pip install --upgrade` the requested pip (and setuptools/wheel unless told not to)
from the package index. Arguments are the ones ansible-test passes to get-pip.py.
"""

from __future__ import annotations

import subprocess
import sys

SHIM_MARKER = 'rolling.openstack get-pip shim'


def main():
    args = sys.argv[1:]
    extra = []
    if '--no-setuptools' not in args:
        extra.append('setuptools')
    if '--no-wheel' not in args:
        extra.append('wheel')
    args = [a for a in args if a not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'],
                          stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet', '--upgrade'] + args + extra)


if __name__ == '__main__':
    main()

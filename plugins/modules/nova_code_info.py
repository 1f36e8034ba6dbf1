#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_code_info
short_description: Read what a Nova code tree knows (service version, compute RPC) from its files, without running it
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Reads C(nova/objects/service.py) of a Nova code tree as text and returns its C(SERVICE_VERSION), the compute RPC
    API version of its last C(SERVICE_VERSION_HISTORY) entry, and C(OLDEST_SUPPORTED_SERVICE_VERSION), together with
    the Nova package version. Nothing of Nova is imported or run, so it works for code that is not installed yet.
  - The tree is a virtualenv (O(nova_venv)), a directory that holds the C(nova) package (O(nova_path), for example
    C(/usr/lib/python3/dist-packages)), the C(nova) package a Python interpreter would import (O(nova_python), read by that interpreter
    without importing Nova, so that it also works for an interpreter in a container), or the B(candidate) of a Debian package (O(package)), which is downloaded
    with C(apt-get download) into a temporary directory, unpacked there with C(dpkg-deb -x) and removed again; the
    installed packages are not touched.
  - The live upgrade's preflight reads the B(target) code with it, whatever the install method, so that the gates of
    the roll, the migrate and the unpin phases know the target's service version before anything changes.
options:
  nova_venv:
    description:
      - A Nova virtualenv, for example C(/opt/openstack/venvs/nova-34.0.0). Its C(lib/python*/site-packages/nova) is read.
    type: path
  nova_path:
    description:
      - A directory that contains the C(nova) package directory (a C(site-packages) or C(dist-packages) directory,
        or a source checkout).
    type: path
  nova_python:
    description:
      - A Python interpreter that imports the Nova to read, a path or a name on C(PATH), for example the target
        release's Python of a custom install, or a wrapper that runs it in a container. The interpreter finds its
        C(nova) package (C(importlib.util.find_spec), which does not import Nova) and prints its
        C(objects/service.py) and the distribution's version, which the module parses.
    type: str
  package:
    description:
      - The Debian package that ships Nova's Python code (C(python3-nova) on Debian and Ubuntu). The candidate version
        apt would install is downloaded and read; refresh the package lists (C(apt-get update)) first.
    type: str
extends_documentation_fragment:
  - rolling.openstack.attributes
  - rolling.openstack.attributes.info_module
notes:
  - Exactly one of O(nova_venv), O(nova_path), O(nova_python) and O(package) is required.
  - O(package) needs C(apt-get) and C(dpkg-deb) on the host and writes only to a temporary directory, which is removed.
seealso:
  - module: rolling.openstack.nova_service_version_info
"""

EXAMPLES = r"""
- name: Read the target nova's service version from its venv
  rolling.openstack.nova_code_info:
    nova_venv: /opt/openstack/venvs/nova-34.0.0
  register: nova_target_code

- name: Read the service version of the nova that the target release's Python imports (custom install)
  rolling.openstack.nova_code_info:
    nova_python: /opt/nova-2026.2/bin/python3
  register: nova_target_code

- name: Read the service version of the nova package apt would install, without installing it
  rolling.openstack.nova_code_info:
    package: python3-nova
  register: nova_target_code
"""

RETURN = r"""
code:
  description: What the code knows. The same keys as RV(rolling.openstack.nova_service_version_info#module:code).
  returned: success
  type: dict
  contains:
    version:
      description: The Nova package version (from the venv's or directory's C(nova-*.dist-info), or the Debian package).
      type: str
      sample: 34.0.0
    service_version:
      description: C(SERVICE_VERSION) of the code.
      type: int
      sample: 74
    compute_rpc:
      description: The compute RPC API version of the code's newest service version.
      type: str
      sample: "6.5"
    oldest_supported_release:
      description: C(OLDEST_SUPPORTED_SERVICE_VERSION), the oldest release whose computes the code accepts.
      type: str
      sample: Gazpacho
    oldest_supported_service_version:
      description: The service version of RV(code.oldest_supported_release), or null when unknown.
      type: int
      sample: 72
source:
  description: Where the code was read (C(service.py) of the tree, or C(<package>=<version>) for O(package)).
  returned: success
  type: str
  sample: /opt/openstack/venvs/nova-34.0.0/lib/python3.11/site-packages/nova/objects/service.py
"""

import ast
import glob
import json
import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

_WANTED = ('SERVICE_VERSION', 'SERVICE_VERSION_HISTORY', 'OLDEST_SUPPORTED_SERVICE_VERSION', 'SERVICE_VERSION_ALIASES')


class _CodeError(Exception):
    pass


def _read_service_py(path, text=None):
    """{name: literal} of the assignments nova's upgrade logic needs, from nova/objects/service.py (or its text)."""
    try:
        if text is None:
            with open(path, encoding='utf-8') as handle:
                text = handle.read()
        tree = ast.parse(text, filename=path)
    except (OSError, SyntaxError, ValueError) as exc:
        raise _CodeError('cannot read %s: %s' % (path, exc)) from None
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in _WANTED:
                try:
                    values[name] = ast.literal_eval(node.value)
                except ValueError:
                    values[name] = None
    if not isinstance(values.get('SERVICE_VERSION'), int):
        raise _CodeError('%s has no SERVICE_VERSION number: it is not the service.py of a Nova release' % path)
    return values


def _code(values, version):
    history = values.get('SERVICE_VERSION_HISTORY') or ()
    last = history[-1] if history and isinstance(history[-1], dict) else {}
    oldest = values.get('OLDEST_SUPPORTED_SERVICE_VERSION')
    aliases = values.get('SERVICE_VERSION_ALIASES') if isinstance(values.get('SERVICE_VERSION_ALIASES'), dict) else {}
    return dict(version=version, service_version=values['SERVICE_VERSION'], compute_rpc=last.get('compute_rpc'),
                oldest_supported_release=oldest if isinstance(oldest, str) else None,
                oldest_supported_service_version=aliases.get(oldest))


def _dist_version(site):
    """The version of the nova distribution installed in a site-packages directory, or ''."""
    for meta in sorted(glob.glob(os.path.join(site, 'nova-*.dist-info', 'METADATA'))
                       + glob.glob(os.path.join(site, 'nova-*.egg-info', 'PKG-INFO'))):
        try:
            with open(meta, encoding='utf-8') as handle:
                for line in handle:
                    if line.startswith('Version:'):
                        return line.split(':', 1)[1].strip()
        except OSError:
            continue
    return ''


def _site_of_venv(venv):
    found = sorted(glob.glob(os.path.join(venv, 'lib', 'python3*', 'site-packages', 'nova', 'objects', 'service.py')))
    if not found:
        raise _CodeError('%s holds no nova code (no lib/python3*/site-packages/nova/objects/service.py): '
                         'give the venv Nova is installed in' % venv)
    return os.path.dirname(os.path.dirname(os.path.dirname(found[-1])))


def _from_site(site):
    service_py = os.path.join(site, 'nova', 'objects', 'service.py')
    if not os.path.isfile(service_py):
        raise _CodeError('%s has no nova/objects/service.py: give the directory that contains the nova package' % site)
    return _code(_read_service_py(service_py), _dist_version(site)), service_py


# What the interpreter's nova is, read by the interpreter itself (it may run in a container whose files this host does
# not see): the path and text of nova/objects/service.py and the distribution's version, as JSON. find_spec of a
# top-level package and importlib.metadata run nothing of nova.
_READ_NOVA = ('import importlib.util, importlib.metadata, json, os\n'
              'spec = importlib.util.find_spec("nova")\n'
              'if spec is None or not spec.submodule_search_locations:\n'
              '    raise SystemExit("no nova package")\n'
              'path = os.path.join(list(spec.submodule_search_locations)[0], "objects", "service.py")\n'
              'try:\n'
              '    version = importlib.metadata.version("nova")\n'
              'except Exception:\n'
              '    version = ""\n'
              'with open(path, encoding="utf-8") as handle:\n'
              '    print(json.dumps(dict(path=path, version=version, text=handle.read())))\n')


def _from_python(module, python):
    path = python if os.sep in python else module.get_bin_path(python)
    if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise _CodeError('nova_python %s is not an executable on this host: install the target code there first, or '
                         'give the Python that imports it' % python)
    # cwd /: `python -c` puts the working directory first on sys.path, where a stray nova/ must not be found
    rc, out, err = module.run_command([path, '-c', _READ_NOVA], cwd='/', environ_update=dict(LC_ALL='C', LANG='C'))
    lines = [line.strip() for line in (out or '').splitlines() if line.strip()]
    try:
        found = json.loads(lines[-1]) if rc == 0 and lines else None
    except ValueError:
        found = None
    if not isinstance(found, dict) or not found.get('path'):
        raise _CodeError('%s finds no nova package (rc %s): %s' % (path, rc, ((err or out).strip() or 'no output')[-300:]))
    code = _code(_read_service_py(found['path'], found.get('text') or ''), found.get('version') or '')
    return code, found['path']


def _from_package(module, package):
    for tool in ('apt-get', 'dpkg-deb'):
        if not module.get_bin_path(tool):
            raise _CodeError('%s is not on this host: the package option needs apt-get and dpkg-deb' % tool)
    tmp = tempfile.mkdtemp(prefix='rolling-nova-code-')
    try:
        rc, out, err = module.run_command(['apt-get', 'download', package], cwd=tmp)
        debs = sorted(glob.glob(os.path.join(tmp, '*.deb')))
        if rc != 0 or not debs:
            raise _CodeError('apt-get download %s failed (rc %s): %s. Check that the target release\'s package '
                             'repository is configured and apt-get update ran.' % (package, rc, (err or out).strip()[-500:]))
        deb = debs[0]
        rc, version, err = module.run_command(['dpkg-deb', '--field', deb, 'Version'])
        tree = os.path.join(tmp, 'tree')
        rc2, _out, err2 = module.run_command(['dpkg-deb', '-x', deb, tree])
        if rc != 0 or rc2 != 0:
            raise _CodeError('dpkg-deb could not read %s: %s' % (os.path.basename(deb), (err or err2).strip()[-500:]))
        found = sorted(glob.glob(os.path.join(tree, 'usr', 'lib', 'python3*', '*-packages', 'nova', 'objects', 'service.py')))
        if not found:
            raise _CodeError('package %s (%s) ships no nova/objects/service.py: name the package with nova\'s Python code'
                             % (package, version.strip()))
        code = _code(_read_service_py(found[-1]), re.sub(r'^\d+:', '', version.strip()))
        return code, '%s=%s' % (package, version.strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(nova_venv=dict(type='path'), nova_path=dict(type='path'), nova_python=dict(type='str'),
                           package=dict(type='str')),
        mutually_exclusive=[('nova_venv', 'nova_path', 'nova_python', 'package')],
        required_one_of=[('nova_venv', 'nova_path', 'nova_python', 'package')],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params['package']:
            code, source = _from_package(module, params['package'])
        elif params['nova_python']:
            code, source = _from_python(module, params['nova_python'])
        else:
            site = _site_of_venv(params['nova_venv']) if params['nova_venv'] else params['nova_path']
            code, source = _from_site(site)
    except _CodeError as exc:
        module.fail_json(msg='%s' % exc)
    module.exit_json(changed=False, code=code, source=source,
                     msg='nova %s: service version %s, compute RPC %s'
                         % (code['version'] or '?', code['service_version'], code['compute_rpc']))


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nova_code_info on fake nova trees: a venv, a site directory, and a Debian package fetched by fake apt-get and
dpkg-deb scripts on PATH."""

from __future__ import annotations

import json
import os
import sys
import tarfile
import tempfile
import textwrap
from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.rolling.openstack.plugins.modules import nova_code_info

# The shape of nova 34's nova/objects/service.py: only literal top-level assignments are read, nothing is imported.
SERVICE_PY = textwrap.dedent('''\
    # Copyright 2013 IBM Corp.
    from oslo_log import log as logging

    from nova import exception
    from nova.objects import base

    LOG = logging.getLogger(__name__)

    # NOTE(danms): This is the global service version counter
    SERVICE_VERSION = 74

    # NOTE(danms): This is our SERVICE_VERSION history.
    SERVICE_VERSION_HISTORY = (
        # Version 0: Pre-history
        {'compute_rpc': '4.0'},
        # Version 72: Gazpacho
        {'compute_rpc': '6.4'},
        # Version 73: ...
        {'compute_rpc': '6.4'},
        # Version 74: Compute RPC v6.5: ...
        {'compute_rpc': '6.5'},
    )

    OLDEST_SUPPORTED_SERVICE_VERSION = 'Gazpacho'
    SERVICE_VERSION_ALIASES = {
        'Antelope': 66,
        'Epoxy': 68,
        'Flamingo': 70,
        'Gazpacho': 72,
    }


    @base.NovaObjectRegistry.register
    class Service(base.NovaPersistentObject, base.NovaObject):
        SERVICE_VERSION = 1  # not top level: not read
    ''')

CODE = dict(version='34.0.0', service_version=74, compute_rpc='6.5', oldest_supported_release='Gazpacho',
            oldest_supported_service_version=72)


def write_tree(site, service_py=SERVICE_PY, dist='nova-34.0.0.dist-info', version='34.0.0'):
    """A nova package in site (a site-packages or dist-packages directory)."""
    objects = os.path.join(str(site), 'nova', 'objects')
    os.makedirs(objects, exist_ok=True)
    with open(os.path.join(str(site), 'nova', '__init__.py'), 'w') as handle:
        handle.write('')
    if service_py is not None:
        with open(os.path.join(objects, 'service.py'), 'w') as handle:
            handle.write(service_py)
    if dist:
        os.makedirs(os.path.join(str(site), dist))
        name = 'PKG-INFO' if dist.endswith('.egg-info') else 'METADATA'
        with open(os.path.join(str(site), dist, name), 'w') as handle:
            handle.write('Metadata-Version: 2.1\nName: nova\nVersion: %s\nSummary: Cloud computing fabric controller\n'
                         % version)
    return os.path.join(objects, 'service.py')


@pytest.fixture
def venv(tmp_path):
    root = tmp_path / 'nova-34.0.0'
    site = root / 'lib' / 'python3.11' / 'site-packages'
    service_py = write_tree(site)
    (root / 'bin').mkdir()
    return dict(path=str(root), site=str(site), service_py=service_py)


def run(run_module, **args):
    return run_module(nova_code_info.main, args, None)


def test_venv(run_module, venv):
    res = run(run_module, nova_venv=venv['path'])
    assert not res.failed, res.result
    r = res.result
    assert r['changed'] is False
    assert r['code'] == CODE
    assert r['source'] == venv['service_py']
    assert r['msg'] == 'nova 34.0.0: service version 74, compute RPC 6.5'


def test_venv_check_mode(run_module, venv):
    res = run(run_module, nova_venv=venv['path'], _ansible_check_mode=True)
    assert not res.failed and res.result['code'] == CODE


def test_nova_path(run_module, tmp_path):
    site = tmp_path / 'dist-packages'
    service_py = write_tree(site, dist='nova-34.0.0.egg-info', version='34.0.0')
    res = run(run_module, nova_path=str(site))
    assert not res.failed, res.result
    assert res.result['code'] == CODE
    assert res.result['source'] == service_py


def test_nova_path_without_distribution_metadata(run_module, tmp_path):
    site = tmp_path / 'checkout'
    write_tree(site, dist=None)
    res = run(run_module, nova_path=str(site))
    assert not res.failed, res.result
    assert res.result['code']['version'] == ''
    assert res.result['code']['service_version'] == 74
    assert res.result['msg'] == 'nova ?: service version 74, compute RPC 6.5'


def test_venv_without_nova(run_module, tmp_path):
    empty = tmp_path / 'nova-35.0.0'
    (empty / 'lib' / 'python3.11' / 'site-packages').mkdir(parents=True)
    res = run(run_module, nova_venv=str(empty))
    assert res.failed
    assert res.result['msg'] == ('%s holds no nova code (no lib/python3*/site-packages/nova/objects/service.py): give the '
                                 'venv Nova is installed in' % empty)


def test_venv_that_does_not_exist(run_module, tmp_path):
    res = run(run_module, nova_venv=str(tmp_path / 'nowhere'))
    assert res.failed and 'holds no nova code' in res.result['msg']


def test_nova_path_without_nova(run_module, tmp_path):
    res = run(run_module, nova_path=str(tmp_path))
    assert res.failed
    assert res.result['msg'] == ('%s has no nova/objects/service.py: give the directory that contains the nova package'
                                 % tmp_path)


@pytest.mark.parametrize('text', [
    'SERVICE_VERSION_HISTORY = ({"compute_rpc": "6.5"},)\n',      # no SERVICE_VERSION at all
    'SERVICE_VERSION = "74"\n',                                    # not a number
    'SERVICE_VERSION = compute_version()\n',                       # not a literal
    '',
])
def test_file_without_service_version(run_module, tmp_path, text):
    site = tmp_path / 'site'
    service_py = write_tree(site, service_py=text)
    res = run(run_module, nova_path=str(site))
    assert res.failed
    assert res.result['msg'] == ('%s has no SERVICE_VERSION number: it is not the service.py of a Nova release'
                                 % service_py)


def test_unparsable_file(run_module, tmp_path):
    site = tmp_path / 'site'
    service_py = write_tree(site, service_py='SERVICE_VERSION = (\n')
    res = run(run_module, nova_path=str(site))
    assert res.failed
    assert res.result['msg'].startswith('cannot read %s: ' % service_py)


def test_only_service_version_is_needed(run_module, tmp_path):
    site = tmp_path / 'site'
    write_tree(site, service_py='SERVICE_VERSION = 74\nSERVICE_VERSION_HISTORY = build()\n'
                                'OLDEST_SUPPORTED_SERVICE_VERSION = 68\n')
    res = run(run_module, nova_path=str(site))
    assert not res.failed, res.result
    assert res.result['code'] == dict(version='34.0.0', service_version=74, compute_rpc=None,
                                      oldest_supported_release=None, oldest_supported_service_version=None)


def test_oldest_release_missing_from_the_aliases(run_module, tmp_path):
    site = tmp_path / 'site'
    write_tree(site, service_py=SERVICE_PY.replace("OLDEST_SUPPORTED_SERVICE_VERSION = 'Gazpacho'",
                                                   "OLDEST_SUPPORTED_SERVICE_VERSION = 'Hibiscus'"))
    res = run(run_module, nova_path=str(site))
    assert res.result['code']['oldest_supported_release'] == 'Hibiscus'
    assert res.result['code']['oldest_supported_service_version'] is None


# --- nova_python: a real interpreter, which finds the nova package without importing it -----------------------------

def python_with(tmp_path, site):
    """A python that sees `site` (as the target's own python of a custom install would)."""
    python = tmp_path / 'bin-python'
    python.write_text('#!/bin/sh\nPYTHONPATH=%s exec %s "$@"\n' % (site, sys.executable))
    python.chmod(0o755)
    return str(python)


def test_nova_python(run_module, tmp_path):
    site = tmp_path / 'target-site'
    service_py = write_tree(site)
    with open(os.path.join(str(site), 'nova', '__init__.py'), 'w') as handle:
        handle.write('raise SystemExit("nova was imported")\n')  # find_spec must not import it
    res = run(run_module, nova_python=python_with(tmp_path, site))
    assert not res.failed, res.result
    assert res.result['code'] == CODE and res.result['source'] == service_py


def test_nova_python_in_a_container_is_read_through_the_interpreter(run_module, tmp_path):
    """A wrapper that runs the target's Python in a container: its paths do not exist on this host."""
    doc = json.dumps(dict(path='/usr/lib/python3/dist-packages/nova/objects/service.py', version='34.0.0',
                          text=SERVICE_PY))
    python = tmp_path / 'nova-python-in-container'
    python.write_text("#!/bin/sh\n[ \"$(pwd)\" = / ] || exit 7\ncat <<'EOF'\n%s\nEOF\n" % doc)
    python.chmod(0o755)
    res = run(run_module, nova_python=str(python))
    assert not res.failed, res.result
    assert res.result['code'] == CODE
    assert res.result['source'] == '/usr/lib/python3/dist-packages/nova/objects/service.py'


def test_nova_python_without_nova(run_module, tmp_path):
    (tmp_path / 'empty').mkdir()
    res = run(run_module, nova_python=python_with(tmp_path, tmp_path / 'empty'))
    assert res.failed
    assert 'finds no nova package (rc 1): no nova package' in res.result['msg']


def test_nova_python_not_installed_yet(run_module, tmp_path):
    res = run(run_module, nova_python=str(tmp_path / 'opt' / 'bin' / 'python3'))
    assert res.failed
    assert res.result['msg'] == ('nova_python %s is not an executable on this host: install the target code there '
                                 'first, or give the Python that imports it' % (tmp_path / 'opt' / 'bin' / 'python3'))


@pytest.mark.parametrize('args, words', [
    (dict(), 'one of the following is required: nova_venv, nova_path, nova_python, package'),
    (dict(nova_venv='/a', nova_path='/b'), 'parameters are mutually exclusive: nova_venv|nova_path|nova_python|package'),
    (dict(nova_python='/a', package='python3-nova'), 'parameters are mutually exclusive'),
    (dict(nova_path='/b', package='python3-nova'), 'parameters are mutually exclusive'),
])
def test_exactly_one_source(run_module, args, words):
    res = run(run_module, **args)
    assert res.failed
    assert words in res.result['msg']


# --- package: fake apt-get and dpkg-deb on PATH ---------------------------------------------------------------------

APT_GET = textwrap.dedent('''\
    #!/bin/sh
    echo "apt-get $* (in $(pwd))" >> "$FAKE_LOG"
    [ "$1" = download ] || exit 64
    if [ -n "${FAKE_APT_RC:-}" ]; then
        echo "E: Unable to locate package $2" >&2
        exit "$FAKE_APT_RC"
    fi
    [ -n "${FAKE_DEB:-}" ] && cp "$FAKE_DEB" "./${2}_34.0.0-0ubuntu1_all.deb"
    exit 0
    ''')

DPKG_DEB = textwrap.dedent('''\
    #!/bin/sh
    echo "dpkg-deb $*" >> "$FAKE_LOG"
    case "$1" in
        --field) echo "$FAKE_DEB_VERSION" ;;
        -x) mkdir -p "$3" && tar -xf "$2" -C "$3" ;;
        *) exit 2 ;;
    esac
    ''')


@pytest.fixture
def apt(tmp_path, monkeypatch):
    """Fake apt-get and dpkg-deb first on PATH; a .deb (a tar here) with nova in /usr/lib/python3/dist-packages.

    Returns a dict: log (the commands run), tmp (the module's temporary directory parent), deb (the package file)."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    for name, text in (('apt-get', APT_GET), ('dpkg-deb', DPKG_DEB)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    tree = tmp_path / 'pkgtree'
    write_tree(tree / 'usr' / 'lib' / 'python3' / 'dist-packages', dist='nova-34.0.0.egg-info')
    deb = tmp_path / 'python3-nova.tar'
    with tarfile.open(str(deb), 'w') as tar:
        tar.add(str(tree / 'usr'), arcname='usr')
    log = tmp_path / 'commands.log'
    log.write_text('')
    tmp = tmp_path / 'tmp'
    tmp.mkdir()
    monkeypatch.setenv('PATH', '%s:%s' % (bindir, os.environ.get('PATH', '/usr/bin:/bin')))
    monkeypatch.setenv('FAKE_LOG', str(log))
    monkeypatch.setenv('FAKE_DEB', str(deb))
    monkeypatch.setenv('FAKE_DEB_VERSION', '2:34.0.0-0ubuntu1')
    monkeypatch.delenv('FAKE_APT_RC', raising=False)
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp))
    return dict(log=log, tmp=tmp, deb=deb, bin=bindir)


def test_package_candidate_is_downloaded_read_and_removed(run_module, apt):
    res = run(run_module, package='python3-nova')
    assert not res.failed, res.result
    r = res.result
    assert r['changed'] is False
    assert r['code'] == dict(CODE, version='34.0.0-0ubuntu1')  # the epoch is left out, the revision kept
    assert r['source'] == 'python3-nova=2:34.0.0-0ubuntu1'
    commands = apt['log'].read_text().splitlines()
    assert len(commands) == 3
    assert commands[0].startswith('apt-get download python3-nova (in %s/rolling-nova-code-' % apt['tmp'])
    assert commands[1].startswith('dpkg-deb --field %s/rolling-nova-code-' % apt['tmp'])
    assert commands[1].endswith('/python3-nova_34.0.0-0ubuntu1_all.deb Version')
    assert commands[2].startswith('dpkg-deb -x ')
    assert os.listdir(str(apt['tmp'])) == []  # the temporary directory is gone


def test_package_download_fails(run_module, apt, monkeypatch):
    monkeypatch.setenv('FAKE_APT_RC', '100')
    res = run(run_module, package='python3-nova')
    assert res.failed
    assert res.result['msg'] == (
        "apt-get download python3-nova failed (rc 100): E: Unable to locate package python3-nova. Check that the target "
        "release's package repository is configured and apt-get update ran.")
    assert os.listdir(str(apt['tmp'])) == []


def test_package_download_without_a_deb(run_module, apt, monkeypatch):
    monkeypatch.setenv('FAKE_DEB', '')
    res = run(run_module, package='python3-nova')
    assert res.failed and 'apt-get download python3-nova failed (rc 0)' in res.result['msg']
    assert os.listdir(str(apt['tmp'])) == []


def test_package_without_nova_code(run_module, apt, tmp_path, monkeypatch):
    other = tmp_path / 'other.tar'
    (tmp_path / 'empty' / 'usr' / 'share' / 'doc').mkdir(parents=True)
    with tarfile.open(str(other), 'w') as tar:
        tar.add(str(tmp_path / 'empty' / 'usr'), arcname='usr')
    monkeypatch.setenv('FAKE_DEB', str(other))
    res = run(run_module, package='nova-common')
    assert res.failed
    assert res.result['msg'] == ("package nova-common (2:34.0.0-0ubuntu1) ships no nova/objects/service.py: name the "
                                 "package with nova's Python code")
    assert os.listdir(str(apt['tmp'])) == []


def test_package_unreadable_by_dpkg_deb(run_module, apt, monkeypatch):
    (apt['bin'] / 'dpkg-deb').write_text('#!/bin/sh\necho "dpkg-deb: error: not a debian format archive" >&2\nexit 2\n')
    res = run(run_module, package='python3-nova')
    assert res.failed
    assert res.result['msg'] == ('dpkg-deb could not read python3-nova_34.0.0-0ubuntu1_all.deb: dpkg-deb: error: not a '
                                 'debian format archive')
    assert os.listdir(str(apt['tmp'])) == []


@pytest.mark.parametrize('missing', ['apt-get', 'dpkg-deb'])
def test_package_needs_apt_get_and_dpkg_deb(run_module, apt, missing):
    real = basic.AnsibleModule.get_bin_path

    def get_bin_path(self, arg, *args, **kwargs):
        return None if arg == missing else real(self, arg, *args, **kwargs)

    with mock.patch.object(basic.AnsibleModule, 'get_bin_path', get_bin_path):
        res = run(run_module, package='python3-nova')
    assert res.failed
    assert res.result['msg'] == '%s is not on this host: the package option needs apt-get and dpkg-deb' % missing
    assert apt['log'].read_text() == ''

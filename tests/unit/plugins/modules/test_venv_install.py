# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""venv_install in-process against tarballs built by the tests, served with file:// URLs (and once over HTTP on
loopback)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import threading
from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.rolling.openstack.plugins.modules import venv_install

BASE = 'nova-34.0.0'
PYTHON_OK = '#!/bin/sh\nexit 0\n'
# A python that imports only "nova": enough for import_check.
PYTHON_NOVA_ONLY = ('#!/bin/sh\n[ "$1" = -c ] && [ "$2" = "import nova" ] && exit 0\n'
                    'echo "Traceback (most recent call last):" >&2\n'
                    'echo "ModuleNotFoundError: No module named \'${2#import }\'" >&2\nexit 1\n')


def _info(name, kind='file', data=b'', mode=None, link=''):
    info = tarfile.TarInfo(name)
    info.mtime = 1700000000
    if kind == 'dir':
        info.type, info.mode = tarfile.DIRTYPE, mode or 0o755
    elif kind == 'symlink':
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, link, 0o777
    elif kind == 'hardlink':
        info.type, info.linkname, info.mode = tarfile.LNKTYPE, link, 0o644
    elif kind == 'fifo':
        info.type, info.mode = tarfile.FIFOTYPE, 0o644
    else:
        info.size, info.mode = len(data), mode or 0o644
    return info


def venv_members(base=BASE, python=PYTHON_OK, files=20):
    """(name, kind, data, mode, link) of a small venv: bin/python, a symlink, site-packages files, pyvenv.cfg."""
    members = [
        (base, 'dir', b'', None, ''),
        (base + '/bin', 'dir', b'', None, ''),
        (base + '/bin/python', 'file', python.encode(), 0o755, ''),
        (base + '/bin/python3', 'symlink', b'', None, 'python'),
        (base + '/pyvenv.cfg', 'file', b'home = /usr/bin\n', None, ''),
        (base + '/lib', 'dir', b'', None, ''),
    ]
    for index in range(files):
        members.append(('%s/lib/mod%02d.py' % (base, index), 'file', b'x = %d\n' % index, None, ''))
    return members


def write_tar(path, members, mode='w:gz'):
    with tarfile.open(str(path), mode) as tar:
        for name, kind, data, file_mode, link in members:
            tar.addfile(_info(name, kind, data, file_mode, link), io.BytesIO(data) if kind == 'file' else None)


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Server:
    """The release server: a directory of tarballs with their .sha256 files."""

    def __init__(self, root):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def publish(self, name, members=None, sums=True, fmt='w:gz'):
        """Write tarball name (of members, default a venv) and name.sha256; return its file:// URL."""
        tarball = self.root / name
        write_tar(tarball, venv_members() if members is None else members, fmt)
        if sums:
            (self.root / (name + '.sha256')).write_text('%s  %s\n' % (sha256_of(tarball), name))
        return 'file://' + str(tarball)

    def publish_zst(self, name, members=None):
        plain = self.root / (name + '.plain.tar')
        write_tar(plain, venv_members() if members is None else members, 'w')
        tarball = self.root / name
        subprocess.run(['zstd', '-q', '-f', '-o', str(tarball), str(plain)], check=True)
        plain.unlink()
        (self.root / (name + '.sha256')).write_text('%s  %s\n' % (sha256_of(tarball), name))
        return 'file://' + str(tarball)


@pytest.fixture
def server(tmp_path):
    return Server(tmp_path / 'srv' / '2026.2')


@pytest.fixture
def venvs(tmp_path):
    """The parent directory of the venvs (not created: the module makes it)."""
    return tmp_path / 'opt' / 'openstack' / 'venvs'


@pytest.fixture
def target(venvs):
    return venvs / BASE


@pytest.fixture
def call(run_module, target):
    """call(**args) runs the module with path set; check=True for check mode, diff=True for diff mode."""

    def run(check=False, diff=False, **args):
        args.setdefault('path', str(target))
        if check:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        return run_module(venv_install.main, args, None)

    return run


def ok(res):
    assert not res.failed, res.result
    return res.result


def failed(res):
    assert res.failed, res.result
    return res.result


def leftovers(directory):
    """What is in directory besides the venvs (temporary files and directories of the module)."""
    if not directory.exists():
        return []
    return sorted(name for name in os.listdir(str(directory)) if name.startswith('.'))


def marker(venv):
    return json.loads((venv / venv_install.MARKER).read_text())


# --- installing --------------------------------------------------------------------------------------------------

def test_fresh_install_writes_the_marker_and_leaves_no_temporary_file(call, server, venvs, target):
    url = server.publish(BASE + '.tar.gz')
    r = ok(call(url=url))
    tarball = server.root / (BASE + '.tar.gz')
    assert r['changed'] is True and r['source'] == 'installed'
    assert r['path'] == str(target) and r['url'] == url and r['sha256'] == sha256_of(tarball)
    assert r['bytes'] == tarball.stat().st_size and r['seconds'] >= 0
    assert (target / 'bin' / 'python').read_text() == PYTHON_OK
    assert os.readlink(str(target / 'bin' / 'python3')) == 'python'
    assert len(os.listdir(str(target / 'lib'))) == 20
    doc = marker(target)
    assert set(doc) == {'sha256', 'url', 'installed'}
    assert doc['sha256'] == r['sha256'] and doc['url'] == url and doc['installed'].endswith('+00:00')
    assert os.listdir(str(venvs)) == [BASE]  # atomic: the venv, and no partial directory or download beside it
    for directory in (venvs, venvs.parent, venvs.parent.parent):  # created with 0755
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755


def test_second_call_changes_nothing(call, server, target):
    url = server.publish(BASE + '.tar.gz')
    first = ok(call(url=url))
    before = (target / venv_install.MARKER).stat().st_mtime_ns
    r = ok(call(url=url, diff=True))
    assert r['changed'] is False and r['source'] == 'marker' and r['bytes'] == 0 and r['seconds'] == 0
    assert r['sha256'] == first['sha256']
    assert r['diff']['before'] == r['diff']['after'] == dict(path=str(target), installed=True, sha256=first['sha256'])
    assert (target / venv_install.MARKER).stat().st_mtime_ns == before


def test_diff_of_an_install(call, server, target):
    url = server.publish(BASE + '.tar.gz')
    r = ok(call(url=url, diff=True))
    assert r['diff']['before'] == dict(path=str(target), installed=False, sha256=None)
    assert r['diff']['after'] == dict(path=str(target), installed=True, sha256=r['sha256'])


def test_checksum_given_as_hex(call, server, target):
    url = server.publish(BASE + '.tar.gz', sums=False)
    digest = sha256_of(server.root / (BASE + '.tar.gz'))
    r = ok(call(url=url, checksum='sha256:' + digest.upper()))
    assert r['changed'] is True and r['sha256'] == digest and marker(target)['sha256'] == digest


def test_checksum_from_a_list_of_sums(call, server, target):
    url = server.publish(BASE + '.tar.gz', sums=False)
    digest = sha256_of(server.root / (BASE + '.tar.gz'))
    sums = server.root / 'SHA256SUMS'
    sums.write_text('# release 2026.2\n%s  placement-15.0.0.tar.gz\n%s *./%s.tar.gz\n' % ('0' * 64, digest, BASE))
    r = ok(call(url=url, checksum='sha256:file://' + str(sums)))
    assert r['sha256'] == digest and target.is_dir()


def test_checksum_file_with_a_bare_checksum(call, server, target):
    url = server.publish(BASE + '.tar.gz', sums=False)
    digest = sha256_of(server.root / (BASE + '.tar.gz'))
    (server.root / (BASE + '.tar.gz.sha256')).write_text(digest + '\n')
    assert ok(call(url=url))['sha256'] == digest


@pytest.mark.parametrize('suffix, mode', [('.tgz', 'w:gz'), ('.tar.xz', 'w:xz'), ('.tar.bz2', 'w:bz2'), ('.tar', 'w')])
def test_formats_python_unpacks(call, server, target, suffix, mode):
    url = server.publish(BASE + suffix, fmt=mode)
    r = ok(call(url=url))
    assert r['changed'] is True and (target / 'bin' / 'python').is_file()


needs_zstd = pytest.mark.skipif(not shutil.which('zstd') or not shutil.which('tar'), reason='needs zstd and tar')


@needs_zstd
def test_tar_zst(call, server, venvs, target):
    url = server.publish_zst(BASE + '.tar.zst')
    r = ok(call(url=url))
    assert r['changed'] is True and marker(target)['sha256'] == r['sha256']
    assert (target / 'bin' / 'python').read_text() == PYTHON_OK and len(os.listdir(str(target / 'lib'))) == 20
    assert os.listdir(str(venvs)) == [BASE]
    assert ok(call(url=url))['changed'] is False


@needs_zstd
def test_tar_zst_with_a_tar_without_zstd_option(call, server, target):
    url = server.publish_zst(BASE + '.tzst')
    commands = []
    real = basic.AnsibleModule.run_command

    def run_command(self, args, **kwargs):
        commands.append(args)
        return real(self, args, **kwargs)

    with mock.patch.object(venv_install, '_tar_knows_zstd', return_value=(False, True)), \
            mock.patch.object(basic.AnsibleModule, 'run_command', run_command):
        ok(call(url=url))
    assert (target / 'bin' / 'python').is_file()
    assert all(args[1] == '--use-compress-program=' + shutil.which('zstd') for args in commands)


@needs_zstd
def test_tar_zst_without_zstd_program(call, server, venvs):
    url = server.publish_zst(BASE + '.tar.zst')
    real = basic.AnsibleModule.get_bin_path

    def get_bin_path(self, name, *args, **kwargs):
        return None if name == 'zstd' else real(self, name, *args, **kwargs)

    with mock.patch.object(basic.AnsibleModule, 'get_bin_path', get_bin_path):
        r = failed(call(url=url))
        assert 'needs the zstd program' in r['msg'] and 'apt-get install zstd' in r['msg']
        r = failed(call(url=url, check=True))  # check mode tells too
        assert 'needs the zstd program' in r['msg']
    assert not venvs.exists() or os.listdir(str(venvs)) == []


@needs_zstd
def test_tar_zst_traversal_member_refused_before_unpacking(call, server, tmp_path, venvs):
    members = venv_members() + [('../../../evil', 'file', b'evil', None, '')]
    url = server.publish_zst(BASE + '.tar.zst', members)
    r = failed(call(url=url))
    assert '".." component' in r['msg'] and '../../../evil' in r['msg']
    assert os.listdir(str(venvs)) == []
    assert not list(tmp_path.rglob('evil'))


# --- refusing ----------------------------------------------------------------------------------------------------

def test_checksum_mismatch_leaves_nothing(call, server, venvs):
    url = server.publish(BASE + '.tar.gz')
    digest = sha256_of(server.root / (BASE + '.tar.gz'))
    r = failed(call(url=url, checksum='sha256:' + 'a' * 64))
    assert 'has sha256 %s' % digest in r['msg'] and 'a' * 64 + ' was expected' in r['msg'] and url in r['msg']
    assert os.listdir(str(venvs)) == []  # the parent was made, but holds no download and no partial directory


def test_wrong_top_directory(call, server, venvs):
    url = server.publish(BASE + '.tar.gz', venv_members(base='nova-33.0.2'))
    r = failed(call(url=url))
    assert 'single top directory nova-34.0.0/' in r['msg'] and 'holds nova-33.0.2/' in r['msg']
    assert os.listdir(str(venvs)) == []


def test_extra_top_level_member_refused(call, server, venvs):
    url = server.publish(BASE + '.tar.gz', venv_members() + [('README', 'file', b'hi', None, '')])
    r = failed(call(url=url))
    assert 'holds nova-34.0.0/, README' in r['msg']
    assert os.listdir(str(venvs)) == []


@pytest.mark.parametrize('member, words', [
    (('nova-34.0.0/../../../../evil', 'file', b'evil', None, ''), '".." component'),
    (('/tmp/evil-absolute', 'file', b'evil', None, ''), 'absolute path'),
    (('nova-34.0.0/lib/evil', 'hardlink', b'', None, '../../etc/passwd'), '".." component'),
    (('nova-34.0.0/lib/evil', 'hardlink', b'', None, 'nova-34.0.0/bin/python3'), 'through the symbolic link'),
    (('nova-34.0.0/lib/fifo', 'fifo', b'', None, ''), 'device or a FIFO'),
])
def test_unsafe_members_refused(call, server, tmp_path, venvs, member, words):
    url = server.publish(BASE + '.tar.gz', venv_members() + [member])
    r = failed(call(url=url))
    assert words in r['msg']
    assert os.listdir(str(venvs)) == []
    assert not list(tmp_path.rglob('evil*'))


def test_member_behind_a_symlink_refused(call, server, tmp_path, venvs):
    outside = tmp_path / 'outside'
    outside.mkdir()
    members = venv_members() + [
        ('nova-34.0.0/lib/escape', 'symlink', b'', None, str(outside)),
        ('nova-34.0.0/lib/escape/evil', 'file', b'evil', None, ''),
    ]
    r = failed(call(url=server.publish(BASE + '.tar.gz', members)))
    assert 'behind the symbolic link nova-34.0.0/lib/escape' in r['msg']
    assert os.listdir(str(outside)) == [] and os.listdir(str(venvs)) == []


def test_archive_without_bin_python(call, server, venvs):
    members = [member for member in venv_members() if not member[0].startswith(BASE + '/bin')]
    r = failed(call(url=server.publish(BASE + '.tar.gz', members)))
    assert 'holds no usable venv: nova-34.0.0/bin/python is missing' in r['msg']
    assert os.listdir(str(venvs)) == []


def test_archive_with_a_broken_python_link(call, server, venvs):
    members = [member for member in venv_members() if member[0] != BASE + '/bin/python']
    members.append((BASE + '/bin/python', 'symlink', b'', None, '/usr/bin/python3.99'))
    r = failed(call(url=server.publish(BASE + '.tar.gz', members)))
    assert 'bin/python is a broken link to /usr/bin/python3.99' in r['msg']
    assert os.listdir(str(venvs)) == []


def test_marker_of_another_tarball_refused(call, server, target):
    old = server.publish(BASE + '.tar.gz')
    old_sha = ok(call(url=old))['sha256']
    text = (target / venv_install.MARKER).read_text()
    other = server.publish(BASE + '.tgz', venv_members(files=3))
    new_sha = sha256_of(server.root / (BASE + '.tgz'))
    r = failed(call(url=other))
    assert 'installed from a different tarball' in r['msg']
    assert old_sha in r['msg'] and new_sha in r['msg'] and 'Remove %s' % target in r['msg']
    assert (target / venv_install.MARKER).read_text() == text and len(os.listdir(str(target / 'lib'))) == 20


def test_unreadable_marker_refused(call, server, target):
    url = server.publish(BASE + '.tar.gz')
    ok(call(url=url))
    (target / venv_install.MARKER).write_text('{not json')
    r = failed(call(url=url))
    assert 'marker' in r['msg'] and 'is unreadable' in r['msg'] and 'remove %s' % target in r['msg']


def test_checksum_file_missing(call, server, venvs):
    url = server.publish(BASE + '.tar.gz', sums=False)
    r = failed(call(url=url))
    assert 'cannot read the checksum file %s.sha256 (the default, the tarball URL + .sha256)' % url in r['msg']
    assert 'No such file or directory' in r['msg'] and 'sha256:<64 hex digits>' in r['msg']
    assert not venvs.exists()


def test_checksum_file_without_the_tarball(call, server):
    url = server.publish(BASE + '.tar.gz', sums=False)
    (server.root / (BASE + '.tar.gz.sha256')).write_text('%s  placement-15.0.0.tar.gz\n' % ('1' * 64))
    r = failed(call(url=url))
    assert 'has no checksum for nova-34.0.0.tar.gz; it lists placement-15.0.0.tar.gz' in r['msg']


@pytest.mark.parametrize('checksum, words', [
    ('md5:0123', 'only SHA-256'),
    ('sha256:abc', 'give 64 hex digits or the URL'),
    ('sha256:ftp://example.com/SUMS', 'not an http://, https:// or file:// URL'),
])
def test_bad_checksum_option(call, server, checksum, words):
    r = failed(call(url=server.publish(BASE + '.tar.gz'), checksum=checksum))
    assert words in r['msg']


@pytest.mark.parametrize('args, words', [
    (dict(url='file:///srv/nova-34.0.0.zip'), 'cannot tell the archive format'),
    (dict(url='ftp://example.com/nova-34.0.0.tar.gz'), 'not an http://, https:// or file:// URL'),
    (dict(url='file:///srv/nova-34.0.0.tar.gz', path='venvs/nova-34.0.0'), 'is not absolute'),
    (dict(url='file:///srv/nova-34.0.0.tar.gz', import_check='nova; import os'), 'not a Python module name'),
    (dict(url='file:///srv/nova-34.0.0.tar.gz', timeout=0), 'timeout must be a positive'),
])
def test_bad_options(call, args, words):
    assert words in failed(call(**args))['msg']


# --- venvs found at path without a marker --------------------------------------------------------------------------

SITE = 'lib/python3.11/site-packages'
# what pip leaves: the package's files and a RECORD naming each with its size (the script as ../../../bin/<name>)
INSTALLED = {SITE + '/nova/__init__.py': b'# nova\n', SITE + '/nova/objects/service.py': b'SERVICE_VERSION = 74\n',
             'bin/nova-manage': b'#!/bin/sh\n'}


def make_existing(target, python, record=True):
    (target / 'bin').mkdir(parents=True)
    (target / 'bin' / 'python').write_text(python)
    (target / 'bin' / 'python').chmod(0o755)
    if not record:
        return
    site = target / SITE
    rows = []
    for rel, data in INSTALLED.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_bytes(data)
        rows.append('%s,sha256=x,%d' % (os.path.relpath(str(target / rel), str(site)), len(data)))
    info = site / 'nova-34.0.0.dist-info'
    info.mkdir(parents=True)
    rows += ['nova-34.0.0.dist-info/RECORD,,', '/etc/nova/api-paste.ini,sha256=x,1234']  # outside: not checked
    (info / 'RECORD').write_text('\n'.join(rows) + '\n')


def test_existing_venv_without_marker_accepted(call, server, target):
    make_existing(target, PYTHON_OK)
    r = ok(call(url=server.publish(BASE + '.tar.gz'), diff=True))
    assert r['changed'] is False and r['source'] == 'existing' and r['bytes'] == 0
    assert r['diff']['after'] == dict(path=str(target), installed=True, sha256=None)
    assert not (target / venv_install.MARKER).exists()


def test_existing_venv_import_check_succeeds(call, server, target):
    make_existing(target, PYTHON_NOVA_ONLY)
    r = ok(call(url=server.publish(BASE + '.tar.gz'), import_check='nova'))
    assert r['changed'] is False and r['source'] == 'existing'


def test_existing_venv_import_check_fails(call, server, target):
    make_existing(target, PYTHON_NOVA_ONLY)
    url = server.publish(BASE + '.tar.gz')
    r = failed(call(url=url, import_check='placement'))
    assert r['msg'].startswith('%s exists but is not a complete venv (' % target)
    assert ('no RECORD lists placement/__init__.py: the distribution that installs placement is missing or was cut '
            'short') in r['msg']
    # without the RECORD check, the import itself is what refuses it
    r = failed(call(url=url, import_check='placement', record_check=False))
    assert "No module named 'placement'" in r['msg']
    assert r['msg'].endswith('remove it and run again, it is then installed from %s' % url)
    assert sorted(os.listdir(str(target))) == ['bin', 'lib']


def test_existing_venv_truncated_file_refused(call, server, target):
    make_existing(target, PYTHON_NOVA_ONLY)
    (target / SITE / 'nova' / 'objects' / 'service.py').write_bytes(b'SERVICE')  # an interrupted copy
    url = server.publish(BASE + '.tar.gz')
    r = failed(call(url=url, import_check='nova'))
    assert r['msg'] == ('%s exists but is not a complete venv (1 of the 3 files its RECORD files list are missing or '
                        'truncated: %s/nova/objects/service.py (7 bytes, RECORD says 21)): remove it and run again, it '
                        'is then installed from %s' % (target, SITE, url))
    assert r['changed'] is False


def test_existing_venv_missing_files_refused(call, server, target):
    make_existing(target, PYTHON_OK)
    (target / 'bin' / 'nova-manage').unlink()
    (target / SITE / 'nova' / '__init__.py').unlink()
    r = failed(call(url=server.publish(BASE + '.tar.gz')))
    assert '2 of the 3 files its RECORD files list are missing or truncated' in r['msg']
    assert 'bin/nova-manage (missing)' in r['msg'] and SITE + '/nova/__init__.py (missing)' in r['msg']


def test_existing_venv_cut_short_before_the_checked_package_s_dist_info_refused(call, server, target):
    # a sorted copy interrupted inside nova/: nova's dist-info never arrived, another distribution's RECORD is whole
    make_existing(target, PYTHON_NOVA_ONLY)
    site = target / SITE
    (site / 'nova-34.0.0.dist-info' / 'RECORD').unlink()
    (site / 'nova-34.0.0.dist-info').rmdir()
    (site / 'pip-24.2.dist-info').mkdir()
    (site / 'pip-24.2.dist-info' / 'RECORD').write_text('pip-24.2.dist-info/RECORD,,\n')
    r = failed(call(url=server.publish(BASE + '.tar.gz'), import_check='nova'))
    assert 'no RECORD lists nova/__init__.py' in r['msg']


def test_existing_venv_without_record_refused_unless_record_check_is_off(call, server, target):
    make_existing(target, PYTHON_OK, record=False)
    url = server.publish(BASE + '.tar.gz')
    r = failed(call(url=url))
    assert 'no installed distribution: no lib/python3*/site-packages/*.dist-info/RECORD' in r['msg']
    assert 'record_check=false' in r['msg']
    r = ok(call(url=url, record_check=False))
    assert r['changed'] is False and r['source'] == 'existing'


def test_existing_incomplete_directory_refused(call, server, target):
    (target / 'lib').mkdir(parents=True)  # what an interrupted unarchive leaves
    url = server.publish(BASE + '.tar.gz')
    r = failed(call(url=url))
    assert r['msg'] == ('%s exists but is not a complete venv (%s/bin/python is missing): remove it and run again, it '
                        'is then installed from %s' % (target, target, url))
    assert os.listdir(str(target)) == ['lib'] and leftovers(target.parent) == []


def test_existing_file_refused(call, server, target):
    target.parent.mkdir(parents=True)
    target.write_text('')
    r = failed(call(url=server.publish(BASE + '.tar.gz')))
    assert 'exists but is not a directory' in r['msg']


# --- check mode --------------------------------------------------------------------------------------------------

def test_check_mode_writes_nothing(call, server, venvs, target):
    url = server.publish(BASE + '.tar.gz')
    with mock.patch.object(venv_install, '_download') as download:
        r = ok(call(url=url, check=True, diff=True))
    download.assert_not_called()
    assert r['changed'] is True and r['source'] == 'installed' and r['bytes'] == 0
    assert r['sha256'] == sha256_of(server.root / (BASE + '.tar.gz'))  # the checksum file is read
    assert r['diff']['after']['installed'] is True
    assert not venvs.exists()


def test_check_mode_on_an_installed_venv(call, server):
    url = server.publish(BASE + '.tar.gz')
    ok(call(url=url))
    r = ok(call(url=url, check=True))
    assert r['changed'] is False and r['source'] == 'marker'


# --- credentials -------------------------------------------------------------------------------------------------

def test_url_credentials_scrubbed(call, server, target):
    plain = server.publish(BASE + '.tar.gz')
    url = plain.replace('file://', 'file://deploy:s3cr3t-pw@')
    r = ok(call(url=url))
    assert r['url'] == plain.replace('file://', 'file://***@')
    assert marker(target)['url'] == r['url']
    assert 's3cr3t' not in json.dumps(r) and 'deploy' not in json.dumps(r)  # invocation included
    r = failed(call(url=url, checksum='sha256:' + 'b' * 64, path=str(target) + '-other'))
    assert 'file://***@' in r['msg'] and 's3cr3t' not in json.dumps(r) and 'deploy' not in json.dumps(r)


def test_scrub():
    assert venv_install._scrub('get https://u:p%40ss@host/x and http://a@b/') == 'get https://***@host/x and http://***@b/'
    assert venv_install._scrub('http://u:p@ss@host:80/x') == 'http://***@host:80/x'
    assert venv_install._scrub('error for pa55word', venv_install._secrets('http://u:pa55word@h/')) == 'error for ***'


@pytest.fixture
def http_server(server, monkeypatch):
    """Serve server.root on loopback; return its base URL with credentials (the server ignores them)."""
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    monkeypatch.setenv('NO_PROXY', '127.0.0.1')
    handler = functools.partial(QuietHandler, directory=str(server.root))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    yield 'http://deploy:s3cr3t-pw@127.0.0.1:%d' % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


def test_over_http(call, server, http_server, target):
    server.publish(BASE + '.tar.gz')
    r = ok(call(url=http_server + '/' + BASE + '.tar.gz'))
    assert r['changed'] is True and r['bytes'] == (server.root / (BASE + '.tar.gz')).stat().st_size
    assert r['url'].startswith('http://***@127.0.0.1:') and marker(target)['url'] == r['url']


def test_over_http_checksum_file_missing(call, server, http_server, venvs):
    server.publish(BASE + '.tar.gz', sums=False)
    r = failed(call(url=http_server + '/' + BASE + '.tar.gz'))
    assert 'cannot read the checksum file http://***@127.0.0.1:' in r['msg'] and 'HTTP error 404' in r['msg']
    assert 's3cr3t' not in json.dumps(r)
    assert not venvs.exists()


# --- failures during the install leave nothing behind ---------------------------------------------------------------

def failing_makefile(after, exception):
    """A TarFile.makefile that writes `after` files, then raises exception."""
    real = tarfile.TarFile.makefile
    calls = []

    def makefile(self, tarinfo, targetpath):
        calls.append(targetpath)
        if len(calls) > after:
            raise exception
        return real(self, tarinfo, targetpath)

    return makefile


def test_failure_during_unpack_leaves_nothing(call, server, venvs, target):
    url = server.publish(BASE + '.tar.gz')
    with mock.patch.object(tarfile.TarFile, 'makefile', failing_makefile(5, OSError(28, 'No space left on device'))):
        r = failed(call(url=url))
    assert 'unpacking the tarball failed: No space left on device' in r['msg']
    assert os.listdir(str(venvs)) == []
    assert ok(call(url=url))['changed'] is True  # and a re-run installs


def test_unexpected_exception_during_unpack_leaves_nothing(call, server, venvs):
    url = server.publish(BASE + '.tar.gz')
    with mock.patch.object(tarfile.TarFile, 'makefile', failing_makefile(5, KeyboardInterrupt())):
        with pytest.raises(KeyboardInterrupt):
            call(url=url)
    assert os.listdir(str(venvs)) == []


def test_signal_during_unpack_leaves_nothing(call, server, venvs):
    url = server.publish(BASE + '.tar.gz')
    real = tarfile.TarFile.makefile

    def makefile(self, tarinfo, targetpath):
        if targetpath.endswith('mod05.py'):
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, tarinfo, targetpath)

    previous = signal.getsignal(signal.SIGTERM)
    with mock.patch.object(tarfile.TarFile, 'makefile', makefile):
        r = failed(call(url=url))
    assert 'interrupted by signal SIGTERM' in r['msg']
    assert os.listdir(str(venvs)) == []
    assert signal.getsignal(signal.SIGTERM) == previous  # handler put back


def test_corrupt_tarball_leaves_nothing(call, server, venvs):
    tarball = server.root / (BASE + '.tar.gz')
    tarball.write_bytes(b'\x1f\x8b\x08\x00' + b'\x00' * 100)
    r = failed(call(url='file://' + str(tarball), checksum='sha256:' + sha256_of(tarball)))
    assert 'unpacking the tarball failed' in r['msg']
    assert os.listdir(str(venvs)) == []


@needs_zstd
def test_corrupt_tar_zst_leaves_nothing(call, server, venvs):
    tarball = server.root / (BASE + '.tar.zst')
    tarball.write_bytes(b'not zstd at all' * 10)
    r = failed(call(url='file://' + str(tarball), checksum='sha256:' + sha256_of(tarball)))
    assert 'listing the tarball failed' in r['msg']
    assert os.listdir(str(venvs)) == []


def test_path_appearing_meanwhile_is_left_alone(call, server, venvs, target):
    url = server.publish(BASE + '.tar.gz')
    real = venv_install._unpack

    def unpack_while_another_installs(*args):
        real(*args)
        make_existing(target, '#!/bin/sh\necho other\n')

    with mock.patch.object(venv_install, '_unpack', unpack_while_another_installs):
        r = failed(call(url=url))
    assert '%s appeared while this module was installing it' % target in r['msg']
    assert (target / 'bin' / 'python').read_text() == '#!/bin/sh\necho other\n'
    assert not (target / venv_install.MARKER).exists()
    assert os.listdir(str(venvs)) == [BASE]


def test_rename_race_is_reported_as_appeared(call, server, venvs, target):
    url = server.publish(BASE + '.tar.gz')
    real_rename = os.rename

    def rename(src, dst):
        make_existing(target, PYTHON_OK)  # between the last look and the rename
        return real_rename(src, dst)

    with mock.patch.object(venv_install.os, 'rename', rename):
        r = failed(call(url=url))
    assert 'appeared while this module was installing it' in r['msg']
    assert os.listdir(str(venvs)) == [BASE] and not (target / venv_install.MARKER).exists()


def test_read_only_directories_in_the_archive_are_cleaned_up(call, server, venvs):
    members = venv_members()
    members[1] = (BASE + '/bin', 'dir', b'', 0o555, '')  # bin/ read-only, and no bin/python: the install fails
    members = [member for member in members if member[0] != BASE + '/bin/python']
    r = failed(call(url=server.publish(BASE + '.tar.gz', members)))
    assert 'bin/python is missing' in r['msg']
    assert os.listdir(str(venvs)) == []

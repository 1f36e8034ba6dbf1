#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: venv_install
short_description: Install a prebuilt Python venv from a tarball, checksum-verified, atomically and idempotently
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Installs a service's venv (for example C(/opt/openstack/venvs/nova-34.0.0)) from a tarball built at that very
    path, on the host the module runs on. The tarball holds the single top directory named like the venv
    (C(nova-34.0.0/)); venvs are not relocatable, so the module does not rename it.
  - It first reads the expected SHA-256 (O(checksum); by default from the file C(<url>.sha256) published beside the
    tarball). When O(path) already holds a venv this module installed, its completion marker
    C(<path>/.rolling-openstack-venv.json) (C(sha256), C(url) without credentials, C(installed) time in UTC) must
    name that SHA-256, and then nothing changes. A marker naming another SHA-256 makes the module fail and change
    nothing; remove the venv or fix O(url) or O(checksum).
  - A directory at O(path) without the marker (installed by other means, for example a deployment tool) counts as
    installed when C(<path>/bin/python) exists, every file that the C(RECORD) of each distribution installed in its
    C(lib/python3*/site-packages) lists is there with the size it records (pip writes a C(RECORD) for every
    distribution it installs; see O(record_check)), and, with O(import_check), C(bin/python) imports that module.
    Anything else at O(path) (an empty, truncated or partly unpacked directory, a file) makes the module fail and
    change nothing; remove it and run again.
  - Otherwise the module installs. It streams the tarball into a temporary file in the parent directory of O(path)
    (created with mode C(0755) when missing), computing its SHA-256 on the way, and fails when it differs from the
    expected one. It unpacks the tarball into a fresh temporary directory beside O(path)
    (C(.<name>.partial-<random>)), checks that it holds C(<name>/bin/python), writes the marker into it, flushes the
    file systems to disk and renames C(<name>) to O(path), which is atomic, so O(path) never holds a partial venv,
    even when the run is interrupted. The temporary file and directory are removed whatever happens (also on
    C(SIGTERM) and C(SIGHUP)). When O(path) appeared meanwhile (another process installed it), the module fails and
    leaves it alone.
  - Archive members with an absolute path or a C(..) component are refused, and with the archives Python unpacks,
    also members reached through a symbolic link of the archive, hard links out of the top directory, devices and
    FIFOs.
  - Credentials in a URL (C(https://user:password@host/...)) are used to authenticate but never appear in a message,
    the marker or the result; they are replaced with C(***).
options:
  path:
    description:
      - The venv directory to install, an absolute path, for example C(/opt/openstack/venvs/nova-34.0.0). Its last
        component must be the name of the tarball's top directory.
    type: path
    required: true
  url:
    description:
      - The tarball, an C(http://), C(https://) or C(file://) URL, for example
        C(http://infra:8000/2026.2/nova-34.0.0.tar.zst).
      - The format comes from the name's suffix. C(.tar.zst) and C(.tzst) are unpacked with C(tar) and C(zstd) on the
        host (GNU tar's C(--zstd), or C(--use-compress-program) with a tar without it); C(.tar.gz), C(.tgz),
        C(.tar.xz), C(.tar.bz2) and C(.tar) with Python's C(tarfile).
    type: str
    required: true
  checksum:
    description:
      - The tarball's expected SHA-256, either C(sha256:<64 hex digits>) or C(sha256:<URL>), the URL of a file in the
        format of C(sha256sum) (lines C(<64 hex digits>  <file name>); the line for the tarball's file name is used, a
        file holding only one bare checksum is accepted too).
      - Default C(sha256:<url>.sha256), the checksum file published beside the tarball.
      - The checksum is always read first, also in check mode and when the venv is installed already (one small
        download for a checksum URL).
    type: str
  import_check:
    description:
      - A Python module, for example C(nova), that C(<path>/bin/python) must import for a venv found at O(path)
        without this module's marker to count as installed.
      - Not used for a venv this module installed (its marker vouches for it) nor for a fresh install.
    type: str
  record_check:
    description:
      - Whether a venv found at O(path) without this module's marker must match the C(RECORD) files of the
        distributions installed in it (every listed file present, with its recorded size). This is what tells a
        complete venv from a truncated copy, whose C(bin/python) may still run and import the package.
      - Set it to V(false) only for a venv whose installer writes no C(RECORD) (for example C(setup.py install) eggs);
        then only C(bin/python) and O(import_check) are checked.
      - Not used for a venv this module installed (its marker vouches for it) nor for a fresh install.
    type: bool
    default: true
  timeout:
    description:
      - Timeout in seconds of the downloads (the tarball and the checksum file), for connecting and for each read,
        as in M(ansible.builtin.get_url).
    type: int
    default: 300
  validate_certs:
    description:
      - Whether to validate the server's TLS certificate for C(https://) URLs.
    type: bool
    default: true
notes:
  - The venv's C(bin/python) is usually a symbolic link to the host's Python (for example C(/usr/bin/python3.11)); a
    tarball built for another Python than the host's fails with the link named in the message.
  - Needs only Python's standard library and, for C(.tar.zst), the C(tar) and C(zstd) programs (Debian packages
    C(tar) and C(zstd)).
  - The install needs room in the parent directory for the tarball and the unpacked venv at once.
  - To replace a venv, install it at a new path (the service's version is part of the path) and remove the old one
    once nothing uses it; the module never overwrites an existing directory.
extends_documentation_fragment:
  - rolling.openstack.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the checksum and what is at O(path) (the C(RECORD) files, and running the O(import_check)) and checks that the tools to unpack are
        there; reports C(changed=true) when it would install, but downloads no tarball and writes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows C(path), C(installed) and C(sha256) (the marker's, null without one) before and after.
  idempotent:
    support: full
    details:
      - A venv installed from the same tarball (its marker names the expected SHA-256), or found complete without a
        marker (its RECORD files match), is left alone (C(changed=false)).
seealso:
  - module: ansible.builtin.unarchive
    description: Unpacks any archive, but verifies no checksum and takes a partly unpacked directory for done with C(creates).
  - module: ansible.builtin.get_url
    description: Downloads a file with a checksum, without unpacking it.
"""

EXAMPLES = r"""
- name: Install the target nova venv on the manage host (checksum from nova-34.0.0.tar.zst.sha256 beside it)
  rolling.openstack.venv_install:
    path: /opt/openstack/venvs/nova-34.0.0
    url: http://infra:8000/2026.2/nova-34.0.0.tar.zst
  delegate_to: "{{ nova_preflight.hosts.manage }}"
  become: true

- name: Install placement, accepting a venv a deployment tool put there if it imports placement
  rolling.openstack.venv_install:
    path: "/opt/openstack/venvs/placement-{{ placement_version }}"
    url: "{{ releases_url }}/2026.2/placement-{{ placement_version }}.tar.zst"
    import_check: placement
  become: true
  register: placement_venv

- name: Install from a pinned checksum, over HTTPS with credentials (they never show in the output)
  rolling.openstack.venv_install:
    path: /opt/openstack/venvs/glance-32.0.0
    url: "https://{{ artifacts_user }}:{{ artifacts_password }}@artifacts.example.com/venvs/glance-32.0.0.tar.gz"
    checksum: sha256:8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4
    timeout: 600
  become: true

- name: Install from a checksum list published elsewhere
  rolling.openstack.venv_install:
    path: /opt/openstack/venvs/neutron-28.0.2
    url: file:///srv/releases/2026.1/neutron-28.0.2.tar.xz
    checksum: sha256:file:///srv/releases/2026.1/SHA256SUMS
  become: true
"""

RETURN = r"""
path:
  description:
    - The venv directory (O(path), normalised). As for any module returning C(path), Ansible adds the directory's
      attributes to the result (C(owner), C(group), C(mode), C(state) ...) when it exists.
  returned: always
  type: str
  sample: /opt/openstack/venvs/nova-34.0.0
url:
  description: O(url), with any credentials replaced by C(***).
  returned: always
  type: str
  sample: http://infra:8000/2026.2/nova-34.0.0.tar.zst
sha256:
  description: The expected SHA-256 of the tarball (from O(checksum)), lowercase.
  returned: success
  type: str
  sample: 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b
source:
  description:
    - V(installed) when the module installed the venv (or would, in check mode), V(marker) when the venv at O(path)
      has the marker of the expected tarball, V(existing) for a complete venv found at O(path) without a marker.
  returned: success
  type: str
  sample: installed
bytes:
  description: The size of the downloaded tarball; 0 when nothing was downloaded.
  returned: success
  type: int
  sample: 61234567
seconds:
  description: How long the install took (download, verification, unpacking); 0 when nothing was installed.
  returned: success
  type: float
  sample: 12.345
"""

import contextlib
import csv
import datetime
import errno
import glob
import hashlib
import json
import os
import posixpath
import re
import shutil
import signal
import stat
import tarfile
import tempfile
import threading
import time
import traceback
import urllib.error
from urllib.parse import unquote, urlsplit, urlunsplit

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

MARKER = '.rolling-openstack-venv.json'

_CHUNK = 1024 * 1024
_MAX_CHECKSUM_FILE = 1024 * 1024
_HTTP_AGENT = 'ansible-httpget'
_C_LOCALE = dict(LC_ALL='C', LANG='C')
_SCHEMES = ('http', 'https', 'file')
# (suffix, format): 'zstd' goes through the tar program, the others are tarfile compression names ('' = none).
_FORMATS = (
    ('.tar.zst', 'zstd'),
    ('.tzst', 'zstd'),
    ('.tar.gz', 'gz'),
    ('.tgz', 'gz'),
    ('.tar.xz', 'xz'),
    ('.tar.bz2', 'bz2'),
    ('.tar', ''),
)
_HEX = re.compile(r'^[0-9a-fA-F]{64}$')
_SUM_LINE = re.compile(r'^\\?([0-9a-fA-F]{64})(?:\s+\*?(.*))?$')
_MODULE_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$')
# scheme://<anything up to the last @ before the path>@ : the user information of a URL, wherever it appears.
_CREDENTIALS = re.compile(r'([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@')
_MAX_LISTED = 10


class _VenvError(Exception):
    """A failure with a message for the user."""


class _Interrupted(_VenvError):
    """SIGTERM or SIGHUP arrived during the install."""


def _secrets(url):
    """The passwords (raw and decoded) in url's user information, to scrub from messages too."""
    try:
        parts = urlsplit(url or '')
    except ValueError:
        return set()
    if '@' not in parts.netloc:
        return set()
    userinfo = parts.netloc.rsplit('@', 1)[0]
    found = {userinfo, unquote(userinfo)}
    if ':' in userinfo:
        password = userinfo.split(':', 1)[1]
        found.update((password, unquote(password)))
    return set(item for item in found if len(item) >= 3)


def _scrub(text, secrets=()):
    """text with the credentials of any URL in it replaced by ***."""
    text = _CREDENTIALS.sub(r'\1***@', str(text))
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, '***')
    return text


def _describe_error(exc):
    if isinstance(exc, urllib.error.HTTPError):
        return 'HTTP error %s %s' % (exc.code, exc.reason)
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, OSError) and reason.strerror:
            return reason.strerror + (': %s' % reason.filename if reason.filename else '')
        return str(reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (': %s' % exc.filename if exc.filename else '')
    return str(exc) or exc.__class__.__name__


def _check_url(url, what):
    """The url's file name (decoded), after checking the scheme."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _VenvError('%s %s is not a valid URL: %s' % (what, url, exc)) from None
    if parts.scheme.lower() not in _SCHEMES:
        raise _VenvError('%s %s is not an http://, https:// or file:// URL' % (what, url))
    if parts.scheme.lower() != 'file' and not parts.hostname:
        raise _VenvError('%s %s has no host' % (what, url))
    name = unquote(posixpath.basename(parts.path))
    if not name:
        raise _VenvError('%s %s names no file' % (what, url))
    return name


def _archive_format(name, url):
    lower = name.lower()
    for suffix, fmt in _FORMATS:
        if lower.endswith(suffix):
            return fmt
    raise _VenvError('cannot tell the archive format of %s: the name must end in %s'
                     % (url, ', '.join(suffix for suffix, _fmt in _FORMATS)))


def _fetch_small(url, params):
    """The text of a small file (the checksum file) at url."""
    try:
        response = open_url(url, timeout=params['timeout'], validate_certs=params['validate_certs'],
                            http_agent=_HTTP_AGENT)
        try:
            data = response.read(_MAX_CHECKSUM_FILE + 1)
        finally:
            response.close()
    except Exception as exc:  # pylint: disable=broad-exception-caught  # urllib and ssl raise many kinds
        raise _VenvError(_describe_error(exc)) from None
    if len(data) > _MAX_CHECKSUM_FILE:
        raise _VenvError('it is larger than %d bytes, not a checksum file' % _MAX_CHECKSUM_FILE)
    return data.decode('utf-8', 'replace')


def _parse_sums(text, name, where):
    """The SHA-256 for file name in text (sha256sum format)."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        match = _SUM_LINE.match(line)
        if not match:
            raise _VenvError('the checksum file %s is not in sha256sum format (<64 hex digits>  <file name>): line %d '
                             'is %r' % (where, number, line[:120]))
        entries.append((match.group(1).lower(), (match.group(2) or '').strip()))
    if not entries:
        raise _VenvError('the checksum file %s holds no checksum' % where)
    if len(entries) == 1 and not entries[0][1]:
        return entries[0][0]
    for digest, listed in entries:
        if posixpath.basename(listed) == name:
            return digest
    raise _VenvError('the checksum file %s has no checksum for %s; it lists %s'
                     % (where, name, ', '.join(listed or '(no name)' for _digest, listed in entries[:_MAX_LISTED])))


def _expected_sha256(params, url_parts, name):
    """(sha256, checksum URL or None) from option checksum, or from <url>.sha256 by default."""
    checksum = params['checksum']
    default = checksum is None
    if default:
        checksum = 'sha256:' + urlunsplit(url_parts._replace(path=url_parts.path + '.sha256'))
    algorithm, sep, value = checksum.partition(':')
    value = value.strip()
    if not sep or algorithm.strip().lower() != 'sha256' or not value:
        raise _VenvError('checksum %s: give sha256:<64 hex digits> or sha256:<URL of a sha256sum file> (only SHA-256 '
                         'is supported)' % checksum)
    if _HEX.match(value):
        return value.lower(), None
    if '://' not in value:
        raise _VenvError('checksum %s: after sha256: give 64 hex digits or the URL of a sha256sum file' % checksum)
    _check_url(value, 'the checksum file')
    try:
        text = _fetch_small(value, params)
    except _VenvError as exc:
        raise _VenvError(
            'cannot read the checksum file %s (%s): %s. Publish it beside the tarball (sha256sum format: '
            '"<64 hex digits>  %s"), or give checksum: sha256:<64 hex digits>'
            % (value, 'the default, the tarball URL + .sha256' if default else 'option checksum', exc, name)) from None
    return _parse_sums(text, name, value), value


def _read_marker(path):
    """The marker document of the venv at path, or None when there is none."""
    marker = os.path.join(path, MARKER)
    if not os.path.lexists(marker):
        return None
    try:
        with open(marker, encoding='utf-8') as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise _VenvError('the venv marker %s is unreadable (%s): remove %s and run again, it is then installed anew'
                         % (marker, exc, path)) from None
    if not isinstance(document, dict) or not _HEX.match(str(document.get('sha256') or '')):
        raise _VenvError('%s has no sha256: it is not a marker this module wrote. Remove %s and run again, it is then '
                         'installed anew' % (marker, path))
    return document


def _python_problem(venv, shown):
    """What is wrong with <venv>/bin/python (shown as <shown>/bin/python), or None."""
    python = os.path.join(venv, 'bin', 'python')
    if not os.path.lexists(python):
        return '%s/bin/python is missing' % shown
    if not os.path.exists(python):
        return '%s/bin/python is a broken link to %s' % (shown, os.readlink(python))
    if not os.access(python, os.X_OK):
        return '%s/bin/python is not executable' % shown
    return None


def _record_rows(record):
    """(relative path, size) of the rows of a RECORD file that name a size."""
    with open(record, encoding='utf-8', newline='') as handle:
        for row in csv.reader(handle):
            if len(row) >= 3 and row[0] and row[2].strip().isdigit():
                yield row[0], int(row[2])


def _record_problem(path, import_check=None):
    """What the RECORD files of the venv at path say is missing or truncated, or None.

    pip writes <name>.dist-info/RECORD for every distribution it installs: each file with its hash and size, paths
    relative to site-packages (scripts as ../../../bin/<name>). Only files inside the venv are checked; sizes only
    (hashing a whole venv would take seconds, a truncated or missing file is what an interrupted copy leaves).
    """
    top = os.path.realpath(path)
    records = sorted(glob.glob(os.path.join(path, 'lib', 'python3*', 'site-packages', '*.dist-info', 'RECORD')))
    if not records:
        return ('no installed distribution: no lib/python3*/site-packages/*.dist-info/RECORD (set record_check=false '
                'for a venv whose installer writes none)')
    bad, listed, claimed = [], 0, set()
    for record in records:
        site = os.path.dirname(os.path.dirname(record))
        try:
            rows = list(_record_rows(record))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            return '%s is unreadable (%s)' % (record, _describe_error(exc) if isinstance(exc, OSError) else exc)
        claimed.update(os.path.normpath(os.path.join(site, rel)) for rel, _size in rows)
        for rel, size in rows:
            full = os.path.normpath(os.path.join(site, rel))
            if os.path.commonpath([top, os.path.realpath(os.path.dirname(full))]) != top:
                continue  # installed outside the venv (data files with absolute paths): not this venv's
            listed += 1
            try:
                found = os.stat(full).st_size
            except OSError:
                bad.append('%s (missing)' % os.path.relpath(full, path))
                continue
            if found != size:
                bad.append('%s (%d bytes, RECORD says %d)' % (os.path.relpath(full, path), found, size))
    if import_check:
        # the package checked must be one a RECORD vouches for (a copy cut short before its dist-info has none)
        package = import_check.split('.')[0]
        sites = sorted({os.path.dirname(os.path.dirname(r)) for r in records})
        wanted = [os.path.normpath(os.path.join(site, package, '__init__.py')) for site in sites]
        if not any(w in claimed for w in wanted):
            return ('no RECORD lists %s/__init__.py: the distribution that installs %s is missing or was cut short'
                    % (package, package))
    if not bad:
        return None
    return '%d of the %d files its RECORD files list are missing or truncated: %s%s' % (
        len(bad), listed, ', '.join(bad[:_MAX_LISTED]), ', ...' if len(bad) > _MAX_LISTED else '')


def _import_problem(module, path, import_check):
    """What keeps <path>/bin/python from importing import_check, or None."""
    python = os.path.join(path, 'bin', 'python')
    try:
        rc, out, err = module.run_command([python, '-c', 'import %s' % import_check], environ_update=_C_LOCALE,
                                          handle_exceptions=False)
    except OSError as exc:
        return 'running %s failed: %s' % (python, _describe_error(exc))
    if rc == 0:
        return None
    lines = [line.strip() for line in (err or out or '').splitlines() if line.strip()]
    return '%s -c "import %s" failed (exit status %d): %s' % (python, import_check, rc,
                                                              lines[-1] if lines else 'no output')


def _tar_knows_zstd(module, tar):
    """(whether tar takes --zstd, whether it is GNU tar)."""
    try:
        rc, out, _err = module.run_command([tar, '--zstd', '--version'], environ_update=_C_LOCALE,
                                           handle_exceptions=False)
    except OSError as exc:
        raise _VenvError('running %s failed: %s' % (tar, _describe_error(exc))) from None
    return rc == 0, 'GNU tar' in (out or '')


def _zstd_tar(module):
    """The tar command (a list) that reads a .tar.zst, or _VenvError naming the missing program."""
    tar = module.get_bin_path('tar')
    if not tar:
        raise _VenvError('unpacking a .tar.zst needs the tar program, which is not on this host\'s PATH: install tar '
                         'and zstd (apt-get install tar zstd)')
    zstd = module.get_bin_path('zstd')
    knows, gnu = _tar_knows_zstd(module, tar)
    if knows and (zstd or not gnu):  # GNU tar runs the zstd program; bsdtar has zstd built in
        return [tar, '--zstd']
    if not zstd:
        raise _VenvError('unpacking a .tar.zst needs the zstd program, which is not on this host\'s PATH: install it '
                         '(apt-get install zstd)')
    return [tar, '--use-compress-program=%s' % zstd]


def _member_parts(name):
    """The components of an archive member's name; _VenvError for an absolute path or a .. component."""
    if name.startswith('/'):
        raise _VenvError('the archive member %r has an absolute path: refused' % name[:200])
    parts = [part for part in name.split('/') if part not in ('', '.')]
    if '..' in parts:
        raise _VenvError('the archive member %r has a ".." component (path traversal): refused' % name[:200])
    return parts


def _check_members(entries, base):
    """Refuse unsafe members, and any archive whose only top directory is not base.

    entries are (name, kind, link target) with kind 'dir', 'file', 'symlink', 'hardlink' or 'other' (devices and
    FIFOs), or None when the lister gives only names (tar -t)."""
    tops = []
    found = False
    symlinks = set()
    checked = []
    for name, kind, link in entries:
        parts = _member_parts(name)
        if not parts:
            if kind not in (None, 'dir'):
                raise _VenvError('the archive member %r is not a directory: refused' % name[:200])
            continue
        if parts[0] != base:
            top = parts[0] + ('/' if len(parts) > 1 or kind == 'dir' else '')
            if top not in tops:
                tops.append(top)
            continue
        found = True
        if kind == 'other':
            raise _VenvError('the archive member %r is a device or a FIFO: refused' % name[:200])
        if len(parts) == 1 and kind not in (None, 'dir'):
            raise _VenvError('the archive member %s is a %s, not the venv directory' % (base, kind))
        if kind == 'symlink':
            symlinks.add(tuple(parts))
        checked.append((name, parts, kind, link))
    if tops or not found:
        holds = ([base + '/'] if found else []) + tops
        raise _VenvError('the archive must hold the single top directory %s/ (the last component of path), but it '
                         'holds %s%s' % (base, ', '.join(holds[:_MAX_LISTED]) or 'nothing',
                                         ' ...' if len(holds) > _MAX_LISTED else ''))
    for name, parts, kind, link in checked:
        for end in range(1, len(parts)):
            if tuple(parts[:end]) in symlinks:
                raise _VenvError('the archive member %r lies behind the symbolic link %s of the archive: refused'
                                 % (name[:200], '/'.join(parts[:end])))
        if kind == 'hardlink':
            target = _member_parts(link)
            if not target or target[0] != base:
                raise _VenvError('the archive member %r is a hard link out of %s/ (to %r): refused'
                                 % (name[:200], base, link[:200]))
            for end in range(1, len(target) + 1):
                if tuple(target[:end]) in symlinks:
                    raise _VenvError('the archive member %r is a hard link through the symbolic link %s: refused'
                                     % (name[:200], '/'.join(target[:end])))


def _kind(member):
    if member.isdir():
        return 'dir'
    if member.issym():
        return 'symlink'
    if member.islnk():
        return 'hardlink'
    if member.isdev():
        return 'other'
    return 'file'


def _unpack_tarfile(archive, fmt, dest, base):
    with tarfile.open(archive, 'r:' + fmt) as tar:
        members = tar.getmembers()
        _check_members([(member.name, _kind(member), member.linkname) for member in members], base)
        if hasattr(tarfile, 'tar_filter'):  # Python >= 3.11.4 (PEP 706): one more guard, and no warning on 3.12+
            tar.extractall(dest, members=members, filter='tar')
        else:
            tar.extractall(dest, members=members)  # members checked by _check_members


def _unpack_zstd(module, archive, dest, base):
    tar = _zstd_tar(module)
    rc, out, err = module.run_command(tar + ['-tf', archive], environ_update=_C_LOCALE, handle_exceptions=False)
    if rc != 0:
        raise _VenvError('listing the tarball failed (%s -tf, exit status %d): %s'
                         % (' '.join(tar), rc, (err or out).strip()[-500:]))
    _check_members([(line, None, None) for line in out.splitlines() if line], base)
    rc, out, err = module.run_command(tar + ['-xf', archive, '-C', dest], environ_update=_C_LOCALE,
                                      handle_exceptions=False)
    if rc != 0:
        raise _VenvError('unpacking the tarball failed (%s -xf, exit status %d): %s'
                         % (' '.join(tar), rc, (err or out).strip()[-500:]))


def _unpack(module, archive, fmt, dest, base):
    """Unpack archive (format fmt) into the directory dest, checking its members."""
    if fmt == 'zstd':
        _unpack_zstd(module, archive, dest, base)
        return
    try:
        _unpack_tarfile(archive, fmt, dest, base)
    except _VenvError:
        raise
    except Exception as exc:  # pylint: disable=broad-exception-caught  # tarfile, zlib, lzma, bz2 and OS errors
        raise _VenvError('unpacking the tarball failed: %s' % _describe_error(exc)) from None


def _download(out, url, params):
    """Stream url into the open file out; return (bytes, sha256 hex)."""
    digest = hashlib.sha256()
    size = 0
    try:
        # decompress=False: the checksum is of the file as published, whatever Content-Encoding the server claims
        response = open_url(url, timeout=params['timeout'], validate_certs=params['validate_certs'],
                            http_agent=_HTTP_AGENT, decompress=False)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # urllib and ssl raise many kinds
        raise _VenvError('downloading %s failed: %s' % (url, _describe_error(exc))) from None
    try:
        length = response.headers.get('Content-Length')
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    except _Interrupted:
        raise
    except Exception as exc:  # pylint: disable=broad-exception-caught  # timeouts, resets, incomplete reads
        raise _VenvError('downloading %s failed after %d bytes: %s' % (url, size, _describe_error(exc))) from None
    finally:
        response.close()
    if length and length.isdigit() and int(length) != size:
        raise _VenvError('downloading %s stopped after %d of %s bytes' % (url, size, length))
    return size, digest.hexdigest()


def _make_parents(parent):
    missing = []
    directory = parent
    while not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o755)
        except FileExistsError:
            if os.path.isdir(directory):
                continue  # made meanwhile
            raise _VenvError('cannot create the directory %s: a file is in the way' % directory) from None
        os.chmod(directory, 0o755)


def _write_marker(venv, document):
    marker = os.path.join(venv, MARKER)
    if os.path.lexists(marker):  # the archive brought one: ours replaces it, never written through a link
        os.unlink(marker)
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o644)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(json.dumps(document, indent=2) + '\n')
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(marker, 0o644)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_tree(module, top):
    """Remove the temporary directory top, also when the archive made some of its directories read-only."""
    try:
        shutil.rmtree(top)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    for root, dirs, _files in os.walk(top):
        for name in dirs:
            directory = os.path.join(root, name)
            try:
                if not os.path.islink(directory):
                    os.chmod(directory, stat.S_IMODE(os.lstat(directory).st_mode) | stat.S_IRWXU)
            except OSError:
                pass
    try:
        shutil.rmtree(top)
    except FileNotFoundError:
        pass
    except OSError as exc:
        module.warn('could not remove the temporary directory %s: %s; remove it by hand' % (top, _describe_error(exc)))


def _remove_file(module, path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        module.warn('could not remove the temporary file %s: %s; remove it by hand' % (path, _describe_error(exc)))


@contextlib.contextmanager
def _interruptible():
    """Turn SIGTERM and SIGHUP into _Interrupted while installing, so that the temporary files are removed."""
    previous = {}

    def handler(signum, _frame):
        raise _Interrupted('interrupted by signal %s' % signal.Signals(signum).name)

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            old = signal.getsignal(signum)
            if old is not None:  # None: a handler not set from Python, which could not be put back
                previous[signum] = old
                signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _appeared(path):
    return _VenvError('%s appeared while this module was installing it (another process installed it?): it was left '
                      'untouched. Check it, then run again' % path)


def _install(module, job):
    """Download, verify, unpack and move the venv into place; return the number of bytes downloaded."""
    path, parent, base = job['path'], job['parent'], job['base']
    _make_parents(parent)
    download = partial = None
    try:
        fd, download = tempfile.mkstemp(prefix='.%s.download-' % base, dir=parent)
        with os.fdopen(fd, 'wb') as out:
            size, digest = _download(out, job['url'], module.params)
        if digest != job['sha256']:
            raise _VenvError('the tarball %s has sha256 %s, but %s was expected (%s): nothing was installed. Check the '
                             'url and the checksum' % (job['url'], digest, job['sha256'], job['checksum_source']))
        partial = tempfile.mkdtemp(prefix='.%s.partial-' % base, dir=parent)
        _unpack(module, download, job['format'], partial, base)
        _remove_file(module, download)  # room for the move; nothing needs it any more
        download = None
        venv = os.path.join(partial, base)
        if os.path.islink(venv) or not os.path.isdir(venv):
            raise _VenvError('the archive\'s %s is not a directory' % base)
        problem = _python_problem(venv, base)
        if problem:
            raise _VenvError('the tarball %s holds no usable venv: %s' % (job['url'], problem))
        _write_marker(venv, dict(sha256=job['sha256'], url=job['marker_url'], installed=job['now']()))
        os.sync()  # the venv's files reach the disk before the rename makes it look complete
        if os.path.lexists(path):
            raise _appeared(path)
        try:
            os.rename(venv, path)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise _appeared(path) from None
            raise
        _fsync_dir(parent)
        return size
    finally:
        if download:
            _remove_file(module, download)
        if partial:
            _remove_tree(module, partial)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def _check_params(params):
    path = params['path']
    if not os.path.isabs(path):
        raise _VenvError('path %s is not absolute: give the venv directory, for example '
                         '/opt/openstack/venvs/nova-34.0.0' % path)
    path = os.path.normpath(path)
    base = os.path.basename(path)
    if not base or base in ('.', '..'):
        raise _VenvError('path %s names no directory: give the venv directory, for example '
                         '/opt/openstack/venvs/nova-34.0.0' % path)
    if params['import_check'] is not None and not _MODULE_NAME.match(params['import_check']):
        raise _VenvError('import_check %r is not a Python module name (such as nova or oslo_config)'
                         % params['import_check'])
    if params['timeout'] <= 0:
        raise _VenvError('timeout must be a positive number of seconds, not %d' % params['timeout'])
    return path, os.path.dirname(path), base


def _run(module, secrets, result):
    params = module.params
    path, parent, base = _check_params(params)
    result['path'] = path
    url = params['url']
    name = _check_url(url, 'url')
    fmt = _archive_format(name, _scrub(url, secrets))
    sha256, checksum_url = _expected_sha256(params, urlsplit(url), name)
    result['sha256'] = sha256
    checksum_source = 'from %s' % checksum_url if checksum_url else 'option checksum'
    before = dict(path=path, installed=False, sha256=None)

    if os.path.lexists(path):
        if not os.path.isdir(path):
            raise _VenvError('%s exists but is not a directory: remove it and run again, it is then installed from %s'
                             % (path, url))
        marker = _read_marker(path)
        if marker is not None:
            if marker['sha256'].lower() != sha256:
                raise _VenvError(
                    'the venv at %s was installed from a different tarball (sha256 %s, from %s) than the expected one '
                    '(sha256 %s %s, url %s): nothing was changed. Remove %s to install the new one, or fix url or '
                    'checksum' % (path, marker['sha256'].lower(), marker.get('url') or 'an unknown url', sha256,
                                  checksum_source, url, path))
            before = dict(path=path, installed=True, sha256=sha256)
            result['source'] = 'marker'
        else:
            problem = _python_problem(path, path)
            if problem is None and params['record_check']:
                problem = _record_problem(path, params['import_check'])
            if problem is None and params['import_check']:
                problem = _import_problem(module, path, params['import_check'])
            if problem:
                raise _VenvError('%s exists but is not a complete venv (%s): remove it and run again, it is then '
                                 'installed from %s' % (path, problem, url))
            before = dict(path=path, installed=True, sha256=None)
            result['source'] = 'existing'
        after = before
    else:
        result.update(changed=True, source='installed')
        after = dict(path=path, installed=True, sha256=sha256)
        if fmt == 'zstd':
            _zstd_tar(module)  # fail early, also in check mode, when a program is missing
        if not module.check_mode:
            started = time.monotonic()
            job = dict(path=path, parent=parent, base=base, url=url, marker_url=_scrub(url, secrets), sha256=sha256,
                       format=fmt, checksum_source=checksum_source, now=_now)
            with _interruptible():
                result['bytes'] = _install(module, job)
            result['seconds'] = round(time.monotonic() - started, 3)
    if module._diff:
        result['diff'] = dict(before=before, after=after, before_header=path, after_header=path)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            url=dict(type='str', required=True),
            checksum=dict(type='str'),
            import_check=dict(type='str'),
            record_check=dict(type='bool', default=True),
            timeout=dict(type='int', default=300),
            validate_certs=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    secrets = _secrets(params['url'])
    if params['checksum']:
        secrets |= _secrets(params['checksum'].partition(':')[2].strip())
    # the module's arguments as Ansible reports them (invocation), without the URLs' credentials
    args = dict(params)
    for key in ('url', 'checksum'):
        if args[key] is not None:
            args[key] = _scrub(args[key], secrets)
    invocation = dict(module_args=args)
    result = dict(changed=False, path=params['path'], url=_scrub(params['url'], secrets), bytes=0, seconds=0.0)
    try:
        _run(module, secrets, result)
    except _VenvError as exc:
        module.fail_json(msg=_scrub(exc, secrets), invocation=invocation, **result)
    except OSError as exc:
        module.fail_json(msg=_scrub('installing %s from %s failed: %s' % (result['path'], params['url'],
                                                                          _describe_error(exc)), secrets),
                         invocation=invocation, **result)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # a traceback could show the URL's password
        module.fail_json(msg=_scrub('installing %s from %s failed: %s: %s' % (result['path'], params['url'],
                                                                              exc.__class__.__name__, exc), secrets),
                         exception=_scrub(traceback.format_exc(), secrets), invocation=invocation, **result)
    module.exit_json(invocation=invocation, **result)


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""OpenStack releases, their Nova versions, and which upgrade steps Nova supports.

Private module_utils (``_`` prefix): not a public API of the collection.

Nova supports running computes one release older than the control services, or two releases older when
both ends are SLURP releases (Skip Level Upgrade Release Process: the ``.1`` releases from 2023.1 on).
So an upgrade is either one step forward, or a skip from one SLURP release to the next SLURP release.
"""

from __future__ import annotations

import re

# (release, series code name, nova major version, SLURP).
# Nova majors checked against the first upload of X.0.0 on PyPI: 27.0.0 2023-03-22, 28.0.0 2023-10-04,
# 29.0.0 2024-04-03, 30.0.0 2024-10-02, 31.0.0 2025-04-02, 32.0.0 2025-10-01, 33.0.0 2026-04-01,
# 34.0.0 2026-09-30. Series names as in nova's SERVICE_VERSION_ALIASES and release notes.
RELEASES = (
    ('2023.1', 'Antelope', 27, True),
    ('2023.2', 'Bobcat', 28, False),
    ('2024.1', 'Caracal', 29, True),
    ('2024.2', 'Dalmatian', 30, False),
    ('2025.1', 'Epoxy', 31, True),
    ('2025.2', 'Flamingo', 32, False),
    ('2026.1', 'Gazpacho', 33, True),
    ('2026.2', 'Hibiscus', 34, False),
)

# Nova's service version of each release's computes (SERVICE_VERSION_ALIASES of nova 34, nova/objects/service.py):
# the release a service record's version belongs to, when no state file says where an upgrade started.
SERVICE_VERSIONS = {
    'Antelope': 66, 'Bobcat': 66, 'Caracal': 66, 'Dalmatian': 67, 'Epoxy': 68, 'Flamingo': 70, 'Gazpacho': 72,
    'Hibiscus': 74,
}

KIND_SAME = 'same'
KIND_ONE_STEP = 'one_step'
KIND_SLURP_SKIP = 'slurp_skip'

_RELEASE_RE = re.compile(r'^(?:stable/)?(\d{4}\.[12])$')
# A nova (pbr) version: 33, 33.0, 33.0.2, 33.0.0.0rc1, 33.1.0.dev12, optionally prefixed "nova-" or "nova=="
_NOVA_VERSION_RE = re.compile(r'^(?:nova(?:-|==))?(\d{1,3})(?:\.\d+)*(?:\.?(?:a|b|rc|dev|post)\d*)*$')


class ReleaseError(ValueError):
    """A release that cannot be resolved, or an upgrade step that Nova does not support."""


def _info(index):
    release, name, nova_major, slurp = RELEASES[index]
    return dict(release=release, name=name, nova_major=nova_major, slurp=slurp)


def known_releases():
    """Human-readable list of the known releases, for error messages."""
    return ', '.join('%s (%s, nova %d%s)' % (r, n, m, ', SLURP' if s else '') for r, n, m, s in RELEASES)


def _index(value, what):
    """Index of value in RELEASES; value is a release (2026.1), a series name (Gazpacho) or a nova version."""
    text = ('%s' % (value if value is not None else '')).strip()
    hint = ('give a release such as 2026.1, a series name such as Gazpacho, or a nova version such as 33.0.2; '
            'known releases: %s' % known_releases())
    if not text:
        raise ReleaseError('%s is empty: %s' % (what, hint))
    match = _RELEASE_RE.match(text)
    if match:
        for i, rel in enumerate(RELEASES):
            if rel[0] == match.group(1):
                return i
        raise ReleaseError('%s %r is not a release this collection knows: %s' % (what, text, hint))
    for i, rel in enumerate(RELEASES):
        if rel[1].lower() == text.lower():
            return i
    match = _NOVA_VERSION_RE.match(text.lower())
    if match:
        major = int(match.group(1))
        for i, rel in enumerate(RELEASES):
            if rel[2] == major:
                return i
        raise ReleaseError('%s %r is nova %d, which is not in a release this collection knows: %s'
                           % (what, text, major, hint))
    raise ReleaseError('%s %r is not a known release, series name or nova version: %s' % (what, text, hint))


def resolve(value, what='release'):
    """Return the release dict (release, name, nova_major, slurp) for a release, series name or nova version."""
    return _info(_index(value, what))


def _label(value, index):
    """The value as given, with its release when that differs: '33.0.2' (2026.1), or 2026.1."""
    release = RELEASES[index][0]
    return release if ('%s' % value).strip() == release else '%r (%s)' % (value, release)


def _names(indexes):
    return ', '.join(RELEASES[i][0] for i in indexes)


def check_upgrade(current, target):
    """Classify the upgrade from current to target, or raise ReleaseError with the reason and the fix.

    Returns a dict: current and target (release dicts), kind (same, one_step or slurp_skip), steps (number
    of releases forward) and skipped (releases passed over, for a SLURP skip).
    """
    cur = _index(current, 'current')
    tgt = _index(target, 'target')
    steps = tgt - cur
    result = dict(current=_info(cur), target=_info(tgt), steps=steps, skipped=[])
    if steps == 0:
        result['kind'] = KIND_SAME
        return result
    if steps < 0:
        raise ReleaseError(
            'target %s is older than current %s: Nova does not support downgrades. '
            'Choose a target newer than %s (next: %s); to go back, restore the database backup taken '
            'before the upgrade and redeploy %s.'
            % (_label(target, tgt), _label(current, cur), RELEASES[cur][0], _allowed(cur), RELEASES[tgt][0]))
    if steps == 1:
        result['kind'] = KIND_ONE_STEP
        return result
    if steps == 2 and RELEASES[cur][3] and RELEASES[tgt][3]:
        result['kind'] = KIND_SLURP_SKIP
        result['skipped'] = [RELEASES[cur + 1][0]]
        return result
    if RELEASES[cur][3] and RELEASES[tgt][3]:
        reason = 'a skip-level upgrade only goes from one SLURP release to the next SLURP release'
    elif not RELEASES[cur][3]:
        reason = 'current %s is not a SLURP release, so it can only go one release forward' % RELEASES[cur][0]
    else:
        reason = 'target %s is not a SLURP release, so it cannot be reached by skipping' % RELEASES[tgt][0]
    raise ReleaseError(
        'upgrade from %s to %s skips %s: %s. Upgrade in steps: from %s the next target is %s.'
        % (_label(current, cur), _label(target, tgt), _names(range(cur + 1, tgt)), reason, RELEASES[cur][0],
           _allowed(cur)))


def _allowed(cur):
    """The targets allowed from index cur, as text."""
    allowed = []
    if cur + 1 < len(RELEASES):
        allowed.append(RELEASES[cur + 1][0])
    if RELEASES[cur][3] and cur + 2 < len(RELEASES) and RELEASES[cur + 2][3]:
        allowed.append('%s (SLURP skip-level)' % RELEASES[cur + 2][0])
    return ' or '.join(allowed) if allowed else 'none known to this collection'


def release_of_service_version(version):
    """The newest known release whose service version is at most version (a record of 71 is a 2025.2 service with
    a backport, or older), or None when it is older than every known release."""
    found = None
    for release, name, _major, _slurp in RELEASES:
        if name in SERVICE_VERSIONS and SERVICE_VERSIONS[name] <= int(version):
            found = release
    return found

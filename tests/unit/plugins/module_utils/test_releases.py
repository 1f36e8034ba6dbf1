# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.rolling.openstack.plugins.module_utils import _releases
from ansible_collections.rolling.openstack.plugins.module_utils._releases import ReleaseError, check_upgrade, resolve


@pytest.mark.parametrize('value, release', [
    ('2023.1', '2023.1'),
    ('2026.2', '2026.2'),
    ('stable/2025.2', '2025.2'),
    ('Gazpacho', '2026.1'),
    ('gazpacho', '2026.1'),
    ('  EPOXY ', '2025.1'),
    ('Hibiscus', '2026.2'),
    ('Antelope', '2023.1'),
    ('33.0.2', '2026.1'),
    ('33', '2026.1'),
    ('34.0.0', '2026.2'),
    ('32.2.1', '2025.2'),
    ('27.5.1', '2023.1'),
    ('33.0.0.0rc1', '2026.1'),
    ('33.1.0.dev12', '2026.1'),
    ('nova-33.0.2', '2026.1'),
    ('nova==31.3.1', '2025.1'),
])
def test_resolve_release_series_and_nova_version(value, release):
    assert resolve(value)['release'] == release


def test_table_nova_majors_and_slurp_flags():
    table = {r: (m, s) for r, _n, m, s in _releases.RELEASES}
    assert table == {
        '2023.1': (27, True), '2023.2': (28, False), '2024.1': (29, True), '2024.2': (30, False),
        '2025.1': (31, True), '2025.2': (32, False), '2026.1': (33, True), '2026.2': (34, False),
    }
    assert resolve('2026.1') == dict(release='2026.1', name='Gazpacho', nova_major=33, slurp=True)


# current, target, kind, steps, skipped
ALLOWED = [
    ('2026.1', '2026.1', 'same', 0, []),
    ('33.0.2', 'Gazpacho', 'same', 0, []),
    ('2026.1', '2026.2', 'one_step', 1, []),
    ('2025.2', '2026.1', 'one_step', 1, []),
    ('32.2.1', '33.0.2', 'one_step', 1, []),
    ('2023.1', '2023.2', 'one_step', 1, []),
    ('2025.1', '2026.1', 'slurp_skip', 2, ['2025.2']),
    ('Epoxy', '33.0.2', 'slurp_skip', 2, ['2025.2']),
    ('2023.1', '2024.1', 'slurp_skip', 2, ['2023.2']),
    ('2024.1', '2025.1', 'slurp_skip', 2, ['2024.2']),
]


@pytest.mark.parametrize('current, target, kind, steps, skipped', ALLOWED)
def test_allowed_upgrades(current, target, kind, steps, skipped):
    result = check_upgrade(current, target)
    assert result['kind'] == kind
    assert result['steps'] == steps
    assert result['skipped'] == skipped


# current, target, words the message must contain (the bad values and the fix)
REFUSED = [
    # downgrades
    ('2026.2', '2026.1', ['target 2026.1 is older than current 2026.2', 'downgrades', 'redeploy 2026.1']),
    ('34.0.0', '33.0.2', ["target '33.0.2' (2026.1) is older than current '34.0.0' (2026.2)"]),
    ('2026.1', '2025.1', ['downgrades', 'next: 2026.2']),
    # a skip that starts from a non-SLURP release
    ('2025.2', '2026.2', ['skips 2026.1', 'current 2025.2 is not a SLURP release', 'next target is 2026.1']),
    # a skip that ends on a non-SLURP release
    ('2025.1', '2026.2', ['skips 2025.2, 2026.1', 'target 2026.2 is not a SLURP',
                          'next target is 2025.2 or 2026.1 (SLURP skip-level)']),
    # SLURP to SLURP, but more than one SLURP cycle
    ('2024.1', '2026.1', ['skips 2024.2, 2025.1, 2025.2', 'only goes from one SLURP release to the next',
                          'next target is 2024.2 or 2025.1 (SLURP skip-level)']),
    ('2023.2', '2024.2', ['current 2023.2 is not a SLURP release']),
]


@pytest.mark.parametrize('current, target, words', REFUSED)
def test_refused_upgrades_name_the_value_and_the_fix(current, target, words):
    with pytest.raises(ReleaseError) as excinfo:
        check_upgrade(current, target)
    msg = str(excinfo.value)
    assert current in msg and target in msg
    for word in words:
        assert word in msg, msg


def test_latest_release_has_no_known_next():
    with pytest.raises(ReleaseError, match='next: none known to this collection'):
        check_upgrade('2026.2', '2026.1')


@pytest.mark.parametrize('value, words', [
    ('2027.1', ["'2027.1' is not a release this collection knows", '2026.2 (Hibiscus, nova 34)']),
    ('2022.2', ["'2022.2' is not a release"]),
    ('zed', ["'zed' is not a known release, series name or nova version", 'Gazpacho']),
    ('Flamingoo', ["'Flamingoo'"]),
    ('26.0.0', ["'26.0.0' is nova 26"]),
    ('35.0.0', ["'35.0.0' is nova 35"]),
    ('', ['is empty']),
    (None, ['is empty']),
    ('latest', ["'latest'"]),
])
def test_unknown_values_are_refused_with_the_known_list(value, words):
    for current, target, what in ((value, '2026.1', 'current'), ('2026.1', value, 'target')):
        with pytest.raises(ReleaseError) as excinfo:
            check_upgrade(current, target)
        msg = str(excinfo.value)
        assert msg.startswith(what), msg
        for word in words:
            assert word in msg, msg
        assert 'such as 2026.1' in msg

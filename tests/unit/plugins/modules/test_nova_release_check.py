# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.rolling.openstack.plugins.modules import nova_release_check


def check(run_module, current, target, **extra):
    args = dict(current=current, target=target)
    args.update(extra)
    return run_module(nova_release_check.main, args, None)


@pytest.mark.parametrize('current, target, kind, skipped', [
    ('2026.1', '2026.1', 'same', []),
    ('33.0.2', '2026.1', 'same', []),
    ('2026.1', '2026.2', 'one_step', []),
    ('32.2.1', 'Gazpacho', 'one_step', []),
    ('2025.1', '2026.1', 'slurp_skip', ['2025.2']),
    ('Caracal', '31.0.0', 'slurp_skip', ['2024.2']),
])
def test_supported_upgrades(run_module, current, target, kind, skipped):
    res = check(run_module, current, target)
    assert not res.failed, res.result
    assert res.result['changed'] is False
    assert res.result['kind'] == kind
    assert res.result['skipped'] == skipped


def test_result_fields(run_module):
    r = check(run_module, '33.0.2', '2026.2').result
    assert r['current'] == dict(release='2026.1', name='Gazpacho', nova_major=33, slurp=True)
    assert r['target'] == dict(release='2026.2', name='Hibiscus', nova_major=34, slurp=False)
    assert r['steps'] == 1
    assert r['msg'] == 'upgrade to the next release 2026.2: supported'


def test_same_release_is_ok_and_says_so(run_module):
    res = check(run_module, '2026.1', 'Gazpacho')
    assert not res.failed
    assert res.result['msg'] == 'current and target are both 2026.1: nothing to upgrade'


@pytest.mark.parametrize('current, target, words', [
    ('2026.2', '2026.1', ['target 2026.1 is older than current 2026.2', 'downgrades']),
    ('2025.2', '2026.2', ['skips 2026.1', 'not a SLURP release', 'next target is 2026.1']),
    ('2024.1', '2026.1', ['skips 2024.2, 2025.1, 2025.2', 'next target is 2024.2 or 2025.1']),
    ('2026.1', '2027.1', ["target '2027.1' is not a release this collection knows", 'known releases:']),
    ('havana', '2026.1', ["current 'havana' is not a known release"]),
])
def test_refused_upgrades_fail_naming_the_value_and_the_fix(run_module, current, target, words):
    res = check(run_module, current, target)
    assert res.failed
    for word in words:
        assert word in res.result['msg']


def test_check_mode(run_module):
    res = check(run_module, '2025.1', '2026.1', _ansible_check_mode=True)
    assert not res.failed
    assert res.result['kind'] == 'slurp_skip'


def test_both_options_are_required(run_module):
    res = run_module(nova_release_check.main, dict(current='2026.1'), None)
    assert res.failed
    assert 'target' in res.result['msg']


# --- current left out: the target alone is resolved --------------------------------------------------------------

@pytest.mark.parametrize('target, release', [
    ('2026.2', '2026.2'), ('stable/2026.1', '2026.1'), ('Hibiscus', '2026.2'), ('gazpacho', '2026.1'),
    ('34.0.0', '2026.2'), ('33', '2026.1'), ('nova-32.1.0', '2025.2'),
])
def test_target_alone_is_resolved(run_module, target, release):
    res = run_module(nova_release_check.main, dict(target=target), None)
    assert not res.failed, res.result
    r = res.result
    assert r['changed'] is False
    assert r['kind'] == 'same' and r['steps'] == 0 and r['skipped'] == []
    assert r['target']['release'] == release
    assert r['current'] == r['target']
    assert r['msg'] == 'current and target are both %s: nothing to upgrade' % release


def test_target_alone_full_fields(run_module):
    r = run_module(nova_release_check.main, dict(target='Hibiscus'), None).result
    assert r['target'] == dict(release='2026.2', name='Hibiscus', nova_major=34, slurp=False)


@pytest.mark.parametrize('target, words', [
    ('havana', ["target 'havana' is not a known release, series name or nova version", 'known releases:']),
    ('2027.1', ["target '2027.1' is not a release this collection knows"]),
    ('35.0.0', ["target '35.0.0' is nova 35, which is not in a release this collection knows"]),
    ('', ['target is empty']),
    ('  ', ['target is empty']),
])
def test_bad_target_alone_is_named_target(run_module, target, words):
    res = run_module(nova_release_check.main, dict(target=target), None)
    assert res.failed
    for word in words:
        assert word in res.result['msg']
    assert 'current' not in res.result['msg'].split(':')[0]


def test_target_is_still_required(run_module):
    res = run_module(nova_release_check.main, {}, None)
    assert res.failed and 'missing required arguments: target' in res.result['msg']


def test_empty_current_is_not_left_out(run_module):
    # an explicit empty current (a template that rendered to '') is refused, not taken as "target alone"
    res = run_module(nova_release_check.main, dict(current='', target='2026.2'), None)
    assert res.failed and 'current is empty' in res.result['msg']

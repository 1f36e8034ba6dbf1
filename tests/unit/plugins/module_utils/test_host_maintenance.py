# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.rolling.openstack.plugins.module_utils import _host_maintenance as hm

SERVICES = [dict(host=h, binary='nova-compute', status='enabled', state='up', forced_down=False)
            for h in ('cmp1', 'cmp10', 'cmp2')] + [dict(host='ctl1', binary='nova-conductor')]


def test_resolve_host_is_exact():
    assert hm.resolve_host('cmp1', SERVICES)[0]['host'] == 'cmp1'
    service, problem = hm.resolve_host('cmp', SERVICES)
    assert service is None and 'only part of (or contains) cmp1, cmp10, cmp2' in problem
    assert 'Known compute hosts: cmp1, cmp10, cmp2' in problem
    service, problem = hm.resolve_host('ctl1', SERVICES)
    assert service is None and 'runs no nova-compute (only nova-conductor)' in problem
    _service, problem = hm.resolve_host('cmp1', SERVICES + [dict(SERVICES[0])])
    assert '2 nova-compute services are recorded for host cmp1' in problem


@pytest.mark.parametrize('status, task, method', [
    ('ACTIVE', None, 'live'), ('PAUSED', None, 'live'), ('SHUTOFF', None, 'cold'), ('VERIFY_RESIZE', None, 'confirm'),
    ('SUSPENDED', None, 'skip'), ('ERROR', None, 'skip'), ('RESCUE', None, 'skip'), ('SHELVED', None, 'skip'),
    ('HARD_REBOOT', None, 'skip'), ('ACTIVE', 'rebooting', 'skip'),
])
def test_plan_server(status, task, method):
    plan = hm.plan_server(dict(status=status, task_state=task), {})
    assert plan['method'] == method and plan['blocker'] is False


def test_fail_policy_is_a_blocker_per_key():
    assert hm.plan_server(dict(status='ERROR'), {'error': 'fail'})['blocker'] is True
    assert hm.plan_server(dict(status='ERROR'), {'suspended': 'fail'})['blocker'] is False
    assert hm.plan_server(dict(status='ACTIVE', task_state='rebuilding'), {'task': 'fail'})['blocker'] is True
    assert hm.plan_server(dict(status='SOFT_DELETED'), {'other': 'fail'})['blocker'] is True


def test_check_policies():
    assert hm.check_policies({'error': 'skip', 'task': 'fail'}) == []
    assert "state_policy error='ignore' is not a policy" in hm.check_policies({'error': 'ignore'})[0]
    assert "state_policy key 'frozen'" in hm.check_policies({'frozen': 'skip'})[0]


def test_judge_needs_the_record_and_the_server():
    before = dict(status='ACTIVE', power_state=1)
    moved = dict(host='cmp2', status='ACTIVE', power_state=1, task_state=None)
    assert hm.judge('live', before, moved, dict(status='completed'), 'cmp1') == (True, None)
    ok, why = hm.judge('live', before, dict(moved, host='cmp1'), dict(status='completed'), 'cmp1')
    assert not ok and 'still on cmp1' in why
    ok, why = hm.judge('live', before, moved, dict(status='error'), 'cmp1')
    assert not ok and 'migration record is error' in why
    ok, why = hm.judge('cold', dict(status='SHUTOFF', power_state=4), dict(moved, status='SHUTOFF', power_state=4),
                       dict(status='finished'), 'cmp1')
    assert not ok and 'want confirmed' in why
    ok, why = hm.judge('live', before, dict(moved, power_state=4, status='SHUTOFF'), dict(status='completed'), 'cmp1')
    assert not ok and 'power state is 4 (was 1)' in why and 'status is SHUTOFF' in why
    ok, why = hm.judge('live', before, dict(moved, task_state='migrating'), dict(status='completed'), 'cmp1')
    assert not ok and 'task migrating is still pending' in why
    ok, why = hm.judge('live', before, moved, None, 'cmp1')
    assert not ok and 'record is missing' in why


def test_destinations_and_refusal():
    services = [dict(s) for s in SERVICES]
    assert hm.destinations(services, 'cmp1') == ['cmp10', 'cmp2']
    assert hm.destinations(services, 'cmp1', target_host='cmp2') == ['cmp2']
    assert hm.destinations(services, 'cmp1', aggregate_hosts={'cmp2', 'cmp9'}) == ['cmp2']
    services[1]['status'] = 'disabled'
    services[2]['forced_down'] = True
    assert hm.destinations(services, 'cmp1') == []
    text = hm.no_destination(services, 'cmp1')
    assert 'no destination is left for the servers of cmp1' in text and 'cmp10 (disabled, up)' in text
    assert 'cmp2 (enabled, up, forced down)' in text
    assert hm.no_destination(SERVICES, 'cmp1') is None


def test_server_timeout_scales_with_the_flavor():
    assert hm.server_timeout(dict(ram=2048, disk=10, ephemeral=0), 300, 10) == 300 + 10 * 12
    assert hm.server_timeout({}, 300, 10) == 300


def test_ours_is_the_marker():
    reason = hm.reason('drain', '2026-12-03T10:00:00Z')
    assert hm.is_ours(reason) and not hm.is_ours('broken disk') and not hm.is_ours(None)


def test_status_before_move():
    assert hm.status_before_move(1) == 'ACTIVE' and hm.status_before_move(4) == 'SHUTOFF'
    assert hm.status_before_move(0) is None

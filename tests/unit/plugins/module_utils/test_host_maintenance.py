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


# ---------------------------------------------------------------------------------------------------- evacuate

@pytest.mark.parametrize('status, vm_state, task, method', [
    ('ACTIVE', 'active', None, 'evacuate'), ('SHUTOFF', 'stopped', None, 'evacuate'),
    ('REBOOT', 'active', 'rebooting', 'evacuate'),  # a task the failed host left: Nova evacuates it all the same
    ('ACTIVE', 'active', 'powering-off', 'evacuate'),
    ('MIGRATING', 'active', 'migrating', 'skip'),  # its guest may run on the destination
    ('RESIZE', 'active', 'resize_migrating', 'skip'),
    ('REBUILD', 'active', 'rebuilding', 'skip'),  # an evacuation in flight: followed by the module, not planned here
    ('PAUSED', 'paused', None, 'skip'), ('ERROR', 'error', None, 'skip'), ('SUSPENDED', 'suspended', None, 'skip'),
    ('RESCUE', 'rescued', None, 'skip'), ('VERIFY_RESIZE', 'resized', None, 'skip'),
])
def test_plan_evacuation(status, vm_state, task, method):
    plan = hm.plan_evacuation(dict(status=status, vm_state=vm_state, task_state=task), {})
    assert plan['method'] == method and plan['blocker'] is False, plan


def test_plan_evacuation_fail_policy_blocks_per_key():
    assert hm.plan_evacuation(dict(status='ERROR', vm_state='error'), {'error': 'fail'})['blocker'] is True
    assert hm.plan_evacuation(dict(status='PAUSED', vm_state='paused'), {'other': 'fail'})['blocker'] is True
    plan = hm.plan_evacuation(dict(status='MIGRATING', vm_state='active', task_state='migrating'), {'task': 'fail'})
    assert plan['blocker'] is True and 'may run on the destination' in plan['why']
    assert hm.plan_evacuation(dict(status='ACTIVE', vm_state='active'), {'task': 'fail'})['blocker'] is False


def test_refused_stopped_matches_what_nova_answers():
    assert hm.refused_stopped('2.95', "HTTP 400: {'currently': 61, 'expected': 62}")
    assert not hm.refused_stopped('2.94', "HTTP 400: {'currently': 61, 'expected': 62}")
    assert not hm.refused_stopped('2.95', 'HTTP 409: Cannot evacuate instance while it is in vm_state paused')
    assert not hm.refused_stopped('2.95', None)


def test_evacuate_microversion_never_forces_and_follows_the_end_state():
    assert hm.evacuate_microversion('preserve', (2, 100)) == '2.94'
    assert hm.evacuate_microversion('preserve', (2, 90)) == '2.90'
    assert hm.evacuate_microversion('preserve', (2, 60)) is None  # below 2.68 force would still be accepted
    assert hm.evacuate_microversion('stopped', (2, 95)) == '2.95'
    assert hm.evacuate_microversion('stopped', (2, 94)) is None


def test_evacuated_state():
    before = dict(status='ACTIVE', power_state=1)
    assert hm.evacuated_state(before, 'preserve') == before
    assert hm.evacuated_state(before, 'stopped') == dict(status='SHUTOFF', power_state=4)


def test_judge_evacuation_against_the_expected_state():
    expect = dict(status='SHUTOFF', power_state=4)
    ok = dict(host='cmp3', status='SHUTOFF', power_state=4, task_state=None)
    assert hm.judge('evacuate', expect, ok, dict(status='done'), 'cmp2') == (True, None)
    assert hm.judge('evacuate', expect, ok, dict(status='completed'), 'cmp2') == (True, None)
    good, why = hm.judge('evacuate', expect, dict(ok, status='ACTIVE', power_state=1), dict(status='done'), 'cmp2')
    assert not good and 'its status is ACTIVE (want SHUTOFF)' in why and 'power state is 1 (want 4)' in why
    good, why = hm.judge('evacuate', expect, dict(ok, host='cmp2'), dict(status='done'), 'cmp2')
    assert not good and 'still on cmp2' in why
    good, why = hm.judge('evacuate', expect, ok, dict(status='failed'), 'cmp2')
    assert not good and 'migration record is failed (want done or completed)' in why


def _svc(host, state='up', status='enabled', forced=False):
    return dict(host=host, binary='nova-compute', state=state, status=status, forced_down=forced)


def test_host_problems():
    up = _svc('cmp2')
    assert any('is up' in p and 'compute_drain' in p for p in hm.host_problems(up, True, True))
    assert any('is not fenced' in p for p in hm.host_problems(_svc('cmp2', 'down'), False, True))
    assert hm.host_problems(_svc('cmp2', 'down'), True, True) == []  # the plan: forcing down comes later
    assert any('not forced down' in p for p in hm.host_problems(_svc('cmp2', 'down'), True, False))
    assert any('is enabled' in p for p in hm.host_problems(_svc('cmp2', 'down', forced=True), True, False))
    assert hm.host_problems(_svc('cmp2', 'down', 'disabled', True), True, False) == []
    # forced down by an earlier run: Nova says down, whatever the heartbeat
    assert hm.host_problems(_svc('cmp2', 'up', 'disabled', True), True, False) == []


def test_down_share_problem():
    services = [_svc('cmp1'), _svc('cmp2', 'down'), _svc('cmp3'), _svc('cmp4')]
    assert hm.down_share_problem(services, 'cmp2', 0.5) is None
    assert '1 of the 4' in hm.down_share_problem(services, 'cmp2', 0.2)
    services[0]['forced_down'] = True
    assert '2 of the 4' in hm.down_share_problem(services, 'cmp2', 0.4)
    assert hm.down_share_problem(services, 'cmp2', 1.0) is None
    problem = hm.down_share_problem(services, 'cmp2', 0.5, 'rack', {'cmp1', 'cmp2', 'cmp3'})
    assert problem and '2 of the 3 nova-compute hosts of aggregate rack' in problem


def test_room_problem():
    need = hm.flavor_need(dict(vcpus=2, ram=4096, disk=20, ephemeral=5))
    assert need == dict(VCPU=2, MEMORY_MB=4096, DISK_GB=25)
    inv = {'VCPU': dict(total=4, reserved=0, allocation_ratio=2.0, max_unit=4),
           'MEMORY_MB': dict(total=8192, reserved=512, allocation_ratio=1.0, max_unit=8192),
           'DISK_GB': dict(total=100, reserved=0, allocation_ratio=1.0, max_unit=100)}
    room = hm.free_room(inv, {'VCPU': 2, 'MEMORY_MB': 0, 'DISK_GB': 10})
    assert room['VCPU'] == dict(free=6, max_unit=4) and room['MEMORY_MB']['free'] == 7680
    assert hm.room_problem('cmp2', [need], {'cmp1': room}) is None
    problem = hm.room_problem('cmp2', [need, need], {'cmp1': room})
    assert 'MEMORY_MB: the servers need 8192, the destinations can take 7680' in problem
    big = dict(need, VCPU=5)  # fits the sum (6) but not max_unit (4)
    assert 'fits on no destination' in hm.room_problem('cmp2', [big], {'cmp1': room})
    assert hm.room_problem('cmp2', [], {}) is None


def test_unfinished_names_left_and_failed_elsewhere():
    result = dict(left=[dict(id='a', name='vm-a', status='ACTIVE', error='No valid host')], servers=[
        dict(id='a', name='vm-a', status='failed', error='No valid host'),
        dict(id='b', name='vm-b', status='moved', to='cmp3'),
        dict(id='c', name='vm-c', status='failed', to='cmp3', error='its status is ACTIVE (want SHUTOFF)'),
        dict(id='d', name='vm-d', status='timeout', error='timed out'),
        dict(id='e', name='vm-e', status='not started')])
    lines = hm.unfinished(result)
    assert lines[0] == 'a vm-a (ACTIVE): No valid host'
    assert lines[1] == 'c vm-c (now on cmp3): its status is ACTIVE (want SHUTOFF)'
    assert lines[2:] == ['d vm-d (now on unknown): timed out', 'e vm-e (now on unknown): not started']
    assert hm.unfinished(dict(left=[], servers=[dict(id='b', status='moved')])) == []


def test_move_back_ids_take_the_operation_that_took_the_host_out():
    def doc(kind, generated, *rows):
        return dict(kind=kind, generated=generated, servers=[dict(id=i, status=s, **{'from': f}) for i, s, f in rows])
    old_drain = doc('drain', '2026-11-01T10:00:00Z', ('old', 'moved', 'cmp2'))
    evac = doc('evacuate', '2026-12-07T10:05:00Z', ('a', 'moved', 'cmp2'), ('b', 'failed', 'cmp2'),
               ('c', 'moved', 'cmp9'), ('a', 'moved', 'cmp2'))
    reason = 'rolling.openstack evacuate 2026-12-07T10:00:00Z'
    assert hm.move_back_ids([old_drain, evac], 'cmp2', reason) == ['a']
    # the disable was a drain of today: the evacuation report is not that operation's
    assert hm.move_back_ids([old_drain, evac], 'cmp2', 'rolling.openstack drain 2026-12-07T10:00:00Z') == []
    # returned to service by an earlier run (reason gone): the newest report
    assert hm.move_back_ids([old_drain, evac], 'cmp2', None) == ['a']
    assert hm.move_back_ids([], 'cmp2', None) == []
    # a disable that is not ours: the host stays disabled, nothing comes back
    assert hm.move_back_ids([old_drain, evac], 'cmp2', 'hardware ticket 4711') == []
    # moved back already by a later move back: not pulled back again (it may have been placed elsewhere since)
    back = doc('move-back', '2026-12-07T11:00:00Z', ('a', 'moved', 'cmp3'))
    assert hm.move_back_ids([old_drain, evac, back], 'cmp2', None) == []
    older_back = doc('move-back', '2026-12-01T11:00:00Z', ('a', 'moved', 'cmp3'))
    assert hm.move_back_ids([old_drain, evac, older_back], 'cmp2', None) == ['a']


@pytest.mark.parametrize('status, task, host, method', [
    ('ACTIVE', None, 'cmp1', 'live'), ('PAUSED', None, 'cmp1', 'live'), ('SHUTOFF', None, 'cmp1', 'cold'),
    ('ACTIVE', None, 'cmp2', 'skip'), ('ERROR', None, 'cmp1', 'skip'), ('ACTIVE', 'migrating', 'cmp1', 'skip'),
    ('VERIFY_RESIZE', None, 'cmp2', 'confirm'), ('ACTIVE', 'resize_finish', 'cmp2', 'skip'),
])
def test_plan_move_back(status, task, host, method):
    plan = hm.plan_move_back(dict(status=status, task_state=task, host=host), 'cmp2')
    assert plan['method'] == method, plan
    assert plan.get('here') is (True if host == 'cmp2' and method == 'skip' and not task else None)

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from ansible.module_utils import basic
from openstack.compute.v2.service import Service

from ansible_collections.rolling.openstack.plugins.modules import compute_service

pytestmark = pytest.mark.filterwarnings('ignore::openstack.warnings.RemovedInSDK50Warning')

REASON = 'nova upgrade: nova-compute restarting'


def api_service(host='cmp1', binary='nova-compute', status='enabled', reason=None, idx=1, forced=False):
    return Service.existing(**{
        'id': '00000000-0000-4000-8000-%012d' % idx, 'binary': binary, 'host': host, 'zone': 'nova',
        'status': status, 'state': 'down' if forced else 'up', 'forced_down': forced, 'disabled_reason': reason,
        'updated_at': '2026-11-22T10:15:02.000000',
    })


def connection(services, builds=()):
    """A mocked connection: services() filters like Nova; disable/enable return the updated service;
    servers() answers from the successive lists in builds (the last one repeats)."""
    conn = mock.MagicMock()
    conn.compute.services.side_effect = lambda **q: iter(
        [s for s in services if all(getattr(s, k) == v for k, v in q.items())])

    calls = []

    def disable(service, host=None, binary=None, disabled_reason=None):
        calls.append('disable')
        return api_service(service.host, service.binary, 'disabled', disabled_reason, forced=service.is_forced_down)

    def enable(service, host=None, binary=None):
        calls.append('enable')
        return api_service(service.host, service.binary, 'enabled', None, forced=service.is_forced_down)

    def forced_down(service, host=None, binary=None, forced=True):
        calls.append('forced_down=%s' % forced)
        if not forced and service.host == 'cmp9':
            raise RuntimeError('Unable to force up host cmp9 as `done` evacuation migration records remain')
        return api_service(service.host, service.binary, service.status, service.disabled_reason, forced=forced)

    conn.calls = calls
    conn.compute.update_service_forced_down.side_effect = forced_down

    conn.compute.disable_service.side_effect = disable
    conn.compute.enable_service.side_effect = enable
    answers = [list(b) for b in builds] or [[]]

    def servers(**query):
        assert query == {'all_projects': True, 'compute_host': 'cmp1', 'status': 'BUILD'}
        return iter(answers.pop(0) if len(answers) > 1 else answers[0])

    conn.compute.servers.side_effect = servers
    return conn


def building(uuid):
    return SimpleNamespace(id=uuid, name='vm-' + uuid, task_state='spawning')


def test_disables_an_enabled_compute_with_the_reason(run_module):
    conn = connection([api_service(), api_service('cmp10', idx=2)])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled', 'disabled_reason': REASON}, conn)
    assert not res.failed
    assert res.result['changed'] is True
    assert res.result['previous'] == {'status': 'enabled', 'disabled_reason': None, 'forced_down': False}
    assert res.result['compute_service']['status'] == 'disabled'
    assert res.result['compute_service']['disabled_reason'] == REASON
    conn.compute.disable_service.assert_called_once()
    assert conn.compute.disable_service.call_args.kwargs['disabled_reason'] == REASON
    conn.compute.servers.assert_not_called()  # builds_timeout 0: no wait


def test_disabled_with_the_same_reason_is_not_changed(run_module):
    conn = connection([api_service(status='disabled', reason=REASON)])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled', 'disabled_reason': REASON}, conn)
    assert res.result['changed'] is False
    conn.compute.disable_service.assert_not_called()


def test_disabled_without_a_reason_keeps_the_operators_reason(run_module):
    conn = connection([api_service(status='disabled', reason='broken disk')])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled'}, conn)
    assert res.result['changed'] is False
    assert res.result['compute_service']['disabled_reason'] == 'broken disk'


def test_other_reason_is_updated(run_module):
    conn = connection([api_service(status='disabled', reason='broken disk')])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled', 'disabled_reason': REASON}, conn)
    assert res.result['changed'] is True
    assert res.result['compute_service']['disabled_reason'] == REASON


def test_enables_and_is_idempotent(run_module):
    conn = connection([api_service(status='disabled', reason=REASON)])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'enabled'}, conn)
    assert res.result['changed'] is True
    assert res.result['compute_service']['status'] == 'enabled'
    assert res.result['compute_service']['disabled_reason'] is None
    conn = connection([api_service()])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'enabled'}, conn)
    assert res.result['changed'] is False
    conn.compute.enable_service.assert_not_called()


def test_check_mode_changes_nothing_and_does_not_wait(run_module):
    conn = connection([api_service()], builds=[[building('a')]])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled', 'disabled_reason': REASON,
                                            'builds_timeout': 30, '_ansible_check_mode': True}, conn)
    assert res.result['changed'] is True
    assert res.result['compute_service']['status'] == 'disabled'
    conn.compute.disable_service.assert_not_called()
    conn.compute.servers.assert_not_called()


def test_diff_shows_status_and_reason(run_module):
    conn = connection([api_service()])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled', 'disabled_reason': REASON,
                                            '_ansible_diff': True}, conn)
    assert res.result['diff'] == {'before': {'status': 'enabled', 'disabled_reason': None, 'forced_down': False},
                                  'after': {'status': 'disabled', 'disabled_reason': REASON, 'forced_down': False}}


def test_waits_until_the_builds_on_the_host_finished(run_module, monkeypatch):
    monkeypatch.setattr(compute_service.time, 'sleep', lambda s: None)
    conn = connection([api_service()], builds=[[building('a')], [building('a')], []])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled', 'disabled_reason': REASON,
                                            'builds_timeout': 60}, conn)
    assert not res.failed
    assert res.result['builds'] == []
    assert conn.compute.servers.call_count == 3
    assert not res.result.get('warnings')


def test_builds_left_at_the_timeout_are_a_warning_not_a_failure(run_module, monkeypatch):
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(compute_service.time, 'monotonic', lambda: next(clock))
    monkeypatch.setattr(compute_service.time, 'sleep', lambda s: None)
    conn = connection([api_service()], builds=[[building('stuck')]])
    warnings = []
    with mock.patch.object(basic.AnsibleModule, 'warn', lambda self, msg: warnings.append(msg)):
        res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled', 'disabled_reason': REASON,
                                                'builds_timeout': 30}, conn)
    assert not res.failed
    assert res.result['builds'] == [{'id': 'stuck', 'name': 'vm-stuck', 'task_state': 'spawning'}]
    assert 'stuck' in warnings[0] and 'cmp1' in warnings[0] and 'builds_timeout' in warnings[0]


def test_unknown_host_fails_naming_it(run_module):
    conn = connection([api_service('cmp10')])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'disabled'}, conn)
    assert res.failed
    assert 'cmp1' in res.result['msg'] and 'nova-compute' in res.result['msg']
    conn.compute.disable_service.assert_not_called()


def test_duplicate_records_fail(run_module):
    conn = connection([api_service(idx=1), api_service(idx=2)])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'enabled'}, conn)
    assert res.failed
    assert 'stale' in res.result['msg']


def test_negative_timeout_is_refused(run_module):
    conn = connection([api_service(status='disabled')])
    res = run_module(compute_service.main, {'host': 'cmp1', 'status': 'enabled', 'builds_timeout': -1}, conn)
    assert res.failed
    assert 'builds_timeout=-1' in res.result['msg']
    conn.compute.enable_service.assert_not_called()


def test_forces_down_before_disabling(run_module):
    conn = connection([api_service('cmp2', idx=2)])
    res = run_module(compute_service.main, {'host': 'cmp2', 'status': 'disabled', 'forced_down': True,
                                            'disabled_reason': REASON}, conn)
    assert res.result['changed'] is True
    assert conn.calls == ['forced_down=True', 'disable']
    assert res.result['compute_service']['forced_down'] is True
    assert res.result['compute_service']['status'] == 'disabled'
    assert res.result['previous']['forced_down'] is False


def test_unsets_forced_down_before_enabling(run_module):
    conn = connection([api_service('cmp2', status='disabled', reason=REASON, idx=2, forced=True)])
    res = run_module(compute_service.main, {'host': 'cmp2', 'status': 'enabled', 'forced_down': False}, conn)
    assert res.result['changed'] is True
    assert conn.calls == ['forced_down=False', 'enable']
    assert res.result['compute_service']['forced_down'] is False


def test_forced_down_alone_keeps_the_status_and_is_idempotent(run_module):
    conn = connection([api_service('cmp2', idx=2, forced=True)])
    res = run_module(compute_service.main, {'host': 'cmp2', 'forced_down': True}, conn)
    assert res.result['changed'] is False and conn.calls == []


def test_forced_down_in_check_mode_changes_nothing(run_module):
    conn = connection([api_service('cmp2', idx=2)])
    res = run_module(compute_service.main, {'host': 'cmp2', 'forced_down': True, '_ansible_check_mode': True}, conn)
    assert res.result['changed'] is True and conn.calls == []
    assert res.result['compute_service']['forced_down'] is True


def test_nova_refusing_to_unset_forced_down_fails_with_its_reason(run_module):
    conn = connection([api_service('cmp9', status='disabled', reason=REASON, idx=9, forced=True)])
    res = run_module(compute_service.main, {'host': 'cmp9', 'status': 'enabled', 'forced_down': False}, conn)
    assert res.failed and '`done` evacuation migration records remain' in res.result['msg']
    assert conn.calls == ['forced_down=False']  # not enabled


def test_status_or_forced_down_is_required(run_module):
    conn = connection([api_service()])
    res = run_module(compute_service.main, {'host': 'cmp1'}, conn)
    assert res.failed and 'status' in res.result['msg'] and 'forced_down' in res.result['msg']

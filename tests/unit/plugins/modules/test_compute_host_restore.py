# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""compute_host_restore against a stand-in Compute API whose nova-compute comes back after a number of looks."""

from __future__ import annotations


import pytest

from ansible_collections.rolling.openstack.plugins.modules import compute_host_restore
from ansible_collections.rolling.openstack.tests.unit.plugins.modules.compute_api_fakes import Resp, runner

OURS = 'rolling.openstack evacuate 2026-12-07T10:00:00Z'


class FakeNova:
    """cmp2 forced down and disabled by us, with evacuation records 'done'. back_after: the look (GET of os-services)
    from which its nova-compute heartbeats and cleans up (None: never). trait_clears_after: looks at the traits
    before COMPUTE_STATUS_DISABLED goes."""

    def __init__(self, back_after=2, forced=True, status='disabled', reason=OURS, state='down', records=2,
                 trait_clears_after=1, refuse_unset=False):
        self.service = dict(id='uuid-cmp2', host='cmp2', binary='nova-compute', status=status, state=state,
                            forced_down=forced, disabled_reason=reason, updated_at='2026-12-07T10:00:00.000000')
        self.others = [dict(id='uuid-cmp1', host='cmp1', binary='nova-compute', status='enabled', state='up',
                            forced_down=False, disabled_reason=None, updated_at='2026-12-07T10:00:00.000000')]
        self.back_after = back_after
        self.looks = 0
        self.records = [dict(id=i + 1, instance_uuid='srv-%d' % i, migration_type='evacuation', status='done',
                             source_compute='cmp2') for i in range(records)]
        self.trait_looks = 0
        self.trait_clears_after = trait_clears_after
        self.refuse_unset = refuse_unset
        self.puts = []

    def get(self, url, **kw):
        assert kw.get('microversion') == '2.84'
        path = url.partition('?')[0]
        if path == '/':
            return Resp(200, {'version': {'version': '2.96'}})
        if path == '/os-services':
            self.looks += 1
            if self.back_after is not None and self.looks > self.back_after:
                self.service['updated_at'] = '2026-12-07T10:05:%02d.000000' % (self.looks % 60)  # a heartbeat
                for r in self.records:
                    r['status'] = 'completed'
                if not self.service['forced_down']:
                    self.service['state'] = 'up'
            return Resp(200, {'services': [self.service] + self.others})
        if path == '/os-migrations':
            return Resp(200, {'migrations': [dict(r) for r in self.records]})
        if path == '/os-hypervisors/detail':
            return Resp(200, {'hypervisors': [{'id': 'rp-cmp2', 'service': {'host': 'cmp2'}},
                                              {'id': 'rp-cmp1', 'service': {'host': 'cmp1'}}]})
        raise AssertionError('unexpected GET %s' % url)

    def put(self, url, json=None, **kw):  # pylint: disable=redefined-outer-name
        self.puts.append(json)
        if 'forced_down' in json:
            if self.refuse_unset:
                return Resp(400, {'badRequest': {'message': 'Unable to force up host cmp2 as `done` evacuation '
                                                            'migration records remain associated with the host.'}})
            self.service['forced_down'] = json['forced_down']
            self.service['state'] = 'up' if self.looks > (self.back_after or 10 ** 6) else 'down'
        if 'status' in json:
            self.service.update(status=json['status'], disabled_reason=None)
        return Resp(200, {'service': self.service})

    def placement_get(self, url, **kw):
        self.trait_looks += 1
        marked = self.trait_looks <= self.trait_clears_after and url.endswith('rp-cmp2/traits')
        return Resp(200, {'traits': ['COMPUTE_STATUS_DISABLED'] if marked else ['HW_CPU_X86_AVX']})


@pytest.fixture
def restore(run_module, monkeypatch):
    return runner(run_module, monkeypatch, compute_host_restore, {'host': 'cmp2', 'poll_interval': 3.0, 'wait_timeout': 60})


def test_restores_once_back_and_cleaned_up_in_nova_order(restore):
    nova = FakeNova()
    res = restore(nova)
    assert not res.failed, res.result
    assert nova.puts == [{'forced_down': False}, {'status': 'enabled'}]  # unset forced_down first, then enable
    assert res.result['service']['status'] == 'enabled' and res.result['service']['forced_down'] is False
    assert res.result['changed'] is True and res.result['uncleaned'] == []
    assert nova.trait_looks >= 2  # waited for COMPUTE_STATUS_DISABLED to go


def test_no_heartbeat_is_refused_and_nothing_changes(restore):
    nova = FakeNova(back_after=None)
    res = restore(nova, wait_timeout=30)
    assert res.failed and 'no heartbeat from the nova-compute of cmp2' in res.result['msg']
    assert 'are not cleaned up yet (1 server srv-0 done, 2 server srv-1 done)' in res.result['msg']
    assert 'nothing was changed' in res.result['msg'] and nova.puts == []


def test_wait_timeout_0_looks_once_and_refuses(restore):
    nova = FakeNova(back_after=0)
    res = restore(nova, wait_timeout=0)
    assert res.failed and 'no heartbeat' in res.result['msg'] and nova.puts == []


def test_a_heartbeat_without_cleanup_is_still_refused(restore):
    nova = FakeNova(back_after=1)
    nova.records.append(dict(id=9, instance_uuid='srv-9', migration_type='evacuation', status='pre-migrating',
                             source_compute='cmp2'))
    real_get = nova.get

    def get(url, **kw):  # srv-9's record never moves: its clean-up did not happen
        resp = real_get(url, **kw)
        nova.records[-1]['status'] = 'pre-migrating'
        return resp
    nova.get = get
    res = restore(nova, wait_timeout=30)
    assert res.failed and 'no heartbeat' not in res.result['msg']
    assert '1 evacuation record(s) from cmp2 are not cleaned up yet (9 server srv-9 pre-migrating)' in res.result['msg']
    assert nova.puts == []


def test_a_disable_that_is_not_ours_stays(restore):
    nova = FakeNova(reason='hardware ticket 4711')
    res = restore(nova)
    assert not res.failed, res.result
    assert nova.puts == [{'forced_down': False}]
    assert res.result['kept_disabled'] == 'hardware ticket 4711'
    assert res.result['service']['status'] == 'disabled'


def test_a_host_in_service_changes_nothing(restore):
    nova = FakeNova(forced=False, status='enabled', reason=None, state='up', records=0)
    res = restore(nova)
    assert not res.failed and res.result['changed'] is False and res.result['actions'] == []
    assert nova.puts == []


def test_check_mode_says_what_it_would_do_and_changes_nothing(restore):
    nova = FakeNova(back_after=None)
    res = restore(nova, check=True)
    assert nova.puts == []
    assert res.failed and 'not cleaned up yet' in res.result['msg']  # the records are a real blocker now
    nova = FakeNova(back_after=0, records=0)
    res = restore(nova, check=True)
    assert not res.failed and res.result['changed'] is True and nova.puts == []
    assert res.result['actions'][1:] == ['unset forced_down', 'wait until up', 'enable (the disable was ours)']


def test_nova_refusing_to_unset_forced_down_fails_with_its_message(restore):
    nova = FakeNova(refuse_unset=True)
    res = restore(nova)
    assert res.failed and '`done` evacuation migration records remain' in res.result['msg']
    assert nova.puts == [{'forced_down': False}]


def test_a_trait_that_stays_fails_after_enabling(restore):
    nova = FakeNova(trait_clears_after=10 ** 6)
    res = restore(nova, wait_timeout=30)
    assert res.failed and 'COMPUTE_STATUS_DISABLED' in res.result['msg'] and 'rp-cmp2' in res.result['msg']


def test_bad_numbers_are_refused(restore):
    res = restore(FakeNova(), wait_timeout=-1)
    assert res.failed and 'wait_timeout=-1' in res.result['msg']
    res = restore(FakeNova(), poll_interval=0)
    assert res.failed and 'poll_interval=0' in res.result['msg']


def test_a_host_disabled_by_someone_else_is_left_unchanged_without_waiting(restore):
    nova = FakeNova(forced=False, reason='hardware ticket 4711', state='up', records=0, back_after=None)
    res = restore(nova)
    assert not res.failed and res.result['changed'] is False and res.result['actions'] == []
    assert res.result['kept_disabled'] == 'hardware ticket 4711' and nova.puts == []
    assert nova.looks == 1  # no heartbeat wait


def test_a_rerun_after_the_trait_did_not_clear_checks_it_again(restore):
    nova = FakeNova(forced=False, status='enabled', reason=None, state='up', records=0,
                    trait_clears_after=10 ** 6)
    res = restore(nova, wait_timeout=30)
    assert res.failed and 'COMPUTE_STATUS_DISABLED' in res.result['msg'] and nova.puts == []
    nova = FakeNova(forced=False, status='enabled', reason=None, state='up', records=0, trait_clears_after=0)
    assert not restore(nova).failed

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""compute_host_evacuate against a small stand-in for the Compute and Placement APIs: an evacuation moves one
state per look at the server's migrations."""

from __future__ import annotations

import json

import pytest

from ansible_collections.rolling.openstack.plugins.modules import compute_host_evacuate
from ansible_collections.rolling.openstack.tests.unit.plugins.modules.compute_api_fakes import Resp, runner


def svc(host, state='up', status='enabled', forced=False, reason=None):
    return dict(id='uuid-' + host, host=host, binary='nova-compute', status=status, state=state, forced_down=forced,
                disabled_reason=reason, updated_at='2026-12-07T10:00:00.000000')


def server(idx, status='ACTIVE', host='cmp2', power=1, task_state=None, ram=2048):
    return dict(id='00000000-0000-4000-8000-%012d' % idx, name='vm-%d' % idx, status=status, host=host, power=power,
                task_state=task_state, ram=ram)


FAILED_CMP2 = [svc('cmp1'), svc('cmp2', state='down', status='disabled', forced=True,
                                reason='rolling.openstack evacuate t'), svc('cmp3'), svc('cmp20')]


class FakeNova:
    """Just enough of the Compute API for an evacuation. fail: {server id: reason} (the rebuild fails, the server
    stays on the source in ERROR); wrong_state: servers that end ACTIVE whatever they were; refuse: an error text
    the evacuate call gets."""

    def __init__(self, servers, services=None, fail=(), version='2.96', wrong_state=(), refuse=None, free_ram=None):
        self.servers = dict((s['id'], dict(s)) for s in servers)
        self.services = services if services is not None else [dict(s) for s in FAILED_CMP2]
        self.fail = dict(fail)
        self.wrong_state = set(wrong_state)
        self.refuse = refuse
        self.version = version
        self.free_ram = free_ram
        self.migrations = []
        self.calls = []
        self.flaky = 0  # the next looks at a server's migrations that get HTTP 503
        self.heartbeats = False  # every look at the services moves cmp2's updated_at

    def get(self, url, **kw):
        assert kw.get('microversion') == '2.84'
        self.calls.append(('GET', url))
        path, _sep, query = url.partition('?')
        q = dict(p.split('=', 1) for p in query.split('&') if p)
        if path == '/os-migrations' and 'instance_uuid' in q and self.flaky > 0:
            self.flaky -= 1
            return Resp(503, {'error': {'message': 'Service Unavailable'}})
        if path == '/os-services' and self.heartbeats:
            for s in self.services:
                s['updated_at'] = '2026-12-07T10:00:%02d.000000' % (len(self.calls) % 60)
        if path == '/':
            return Resp(200, {'version': {'version': self.version}})
        if path == '/os-services':
            return Resp(200, {'services': self.services})
        if path == '/os-hypervisors/detail':
            return Resp(200, {'hypervisors': [{'id': 'rp-' + s['host'], 'service': {'host': s['host']}}
                                              for s in self.services]})
        if path == '/servers/detail':
            return Resp(200, {'servers': [self._view(s) for s in self.servers.values() if s['host'] == q['host']]})
        if path == '/os-aggregates':
            return Resp(200, {'aggregates': [{'id': 1, 'name': 'agg-b', 'hosts': ['cmp3']},
                                             {'id': 2, 'name': 'rack-2', 'hosts': ['cmp2', 'cmp20']}]})
        if path == '/os-migrations':
            keys = ('instance_uuid', 'source_compute', 'status', 'migration_type')
            found = [m for m in self.migrations if all(m.get(k) == v for k, v in q.items() if k in keys)]
            if 'instance_uuid' in q:
                for m in found:
                    self._advance(m)
            return Resp(200, {'migrations': [dict(m) for m in found]})
        parts = path.strip('/').split('/')
        if parts[0] == 'servers' and len(parts) == 2:
            return Resp(200, {'server': self._view(self.servers[parts[1]])})
        if parts[0] == 'servers' and parts[2] == 'os-instance-actions':
            sid = parts[1]
            if len(parts) == 3:
                return Resp(200, {'instanceActions': [{'action': 'evacuate', 'request_id': 'req-1',
                                                       'start_time': '2026-12-07T10:00:00'}]})
            return Resp(200, {'instanceAction': {'events': [
                {'event': 'compute_rebuild_instance', 'result': 'Error', 'details': self.fail.get(sid)}]}})
        raise AssertionError('unexpected GET %s' % url)

    def post(self, url, json=None, **kw):  # pylint: disable=redefined-outer-name
        self.calls.append(('POST', url, json, kw.get('microversion')))
        assert 'evacuate' in json and 'force' not in json['evacuate']
        if self.refuse:
            return Resp(400, {'badRequest': {'message': self.refuse}})
        s = self.servers[url.split('/')[2]]
        dest = json['evacuate'].get('host') or next(h for h in ('cmp1', 'cmp3') if h != s['host'])
        self.migrations.append(dict(id=len(self.migrations) + 1, instance_uuid=s['id'], migration_type='evacuation',
                                    status='accepted', source_compute=s['host'], dest_compute=dest,
                                    created_at='2026-12-07T10:00:%02d' % len(self.migrations)))
        s.update(task_state='rebuilding', mv=kw.get('microversion'), was=(s['status'], s['power']))
        return Resp(200)

    def _view(self, s):
        vm_state = s.get('vm_state') or {'ACTIVE': 'active', 'SHUTOFF': 'stopped', 'PAUSED': 'paused', 'ERROR': 'error',
                                         'SUSPENDED': 'suspended'}.get(s['status'], 'active')
        return {'id': s['id'], 'name': s['name'], 'status': s['status'], 'OS-EXT-SRV-ATTR:host': s['host'],
                'OS-EXT-STS:task_state': s.get('task_state'), 'OS-EXT-STS:power_state': s['power'],
                'OS-EXT-STS:vm_state': vm_state,
                'flavor': {'original_name': 'm1', 'ram': s['ram'], 'disk': 10, 'ephemeral': 0, 'vcpus': 1},
                'user_data': 'c2VjcmV0'}

    def _advance(self, m):
        s = self.servers[m['instance_uuid']]
        steps = {'accepted': 'pre-migrating', 'pre-migrating': 'done'}
        if m['status'] not in steps:
            return
        m['status'] = steps[m['status']]
        if m['status'] != 'done':
            return
        if s['id'] in self.fail:
            m['status'] = 'failed'
            s.update(status='ERROR', task_state=None)
            return
        status, power = s['was']
        if s['mv'] == '2.95':
            status, power = 'SHUTOFF', 4
        if s['id'] in self.wrong_state:
            status, power = 'ACTIVE', 1
        s.update(host=m['dest_compute'], task_state=None, status=status, power=power)

    # placement
    def placement_get(self, url, **kw):
        rp = url.split('/')[2]
        if url.endswith('/inventories'):
            ram = self.free_ram if self.free_ram is not None else 100000
            return Resp(200, {'inventories': {
                'VCPU': {'total': 8, 'reserved': 0, 'allocation_ratio': 4.0, 'max_unit': 8},
                'MEMORY_MB': {'total': ram, 'reserved': 0, 'allocation_ratio': 1.0, 'max_unit': ram},
                'DISK_GB': {'total': 1000, 'reserved': 0, 'allocation_ratio': 1.0, 'max_unit': 1000}}})
        assert rp.startswith('rp-')
        return Resp(200, {'usages': {'VCPU': 2, 'MEMORY_MB': 0, 'DISK_GB': 0}})


@pytest.fixture
def evacuate(run_module, monkeypatch):
    return runner(run_module, monkeypatch, compute_host_evacuate, {'host': 'cmp2', 'fenced': True, 'poll_interval': 0.01})


def posts(nova):
    return [c for c in nova.calls if c[0] == 'POST']


def test_evacuates_every_server_and_keeps_its_state(evacuate):
    nova = FakeNova([server(1), server(2, 'SHUTOFF', power=4), server(3), server(4, host='cmp1')])
    res = evacuate(nova)
    assert not res.failed, res.result
    rows = {r['name']: r for r in res.result['servers']}
    assert sorted(rows) == ['vm-1', 'vm-2', 'vm-3']
    assert all(r['status'] == 'moved' and r['to'] in ('cmp1', 'cmp3') and r['migration'] for r in rows.values()), rows
    assert nova.servers[server(2)['id']]['status'] == 'SHUTOFF' and nova.servers[server(1)['id']]['status'] == 'ACTIVE'
    assert {c[3] for c in posts(nova)} == {'2.94'}  # preserve: before 2.95
    assert res.result['left'] == [] and res.result['changed'] is True
    assert res.result['microversion'] == '2.94'
    assert 'user_data' not in json.dumps(res.result)


def test_stopped_end_state_uses_2_95_and_every_server_ends_stopped(evacuate):
    nova = FakeNova([server(1), server(2, 'SHUTOFF', power=4)])
    res = evacuate(nova, end_state='stopped')
    assert not res.failed, res.result
    assert {c[3] for c in posts(nova)} == {'2.95'}
    assert all(r['status'] == 'moved' and r['expect'] == {'status': 'SHUTOFF', 'power_state': 4}
               for r in res.result['servers'])


def test_stopped_end_state_on_an_old_api_is_refused_before_anything(evacuate):
    nova = FakeNova([server(1)], version='2.94')
    res = evacuate(nova, end_state='stopped')
    assert res.failed and 'end_state=stopped needs Compute API microversion 2.95' in res.result['msg']
    assert not posts(nova)


def test_nova_refusing_2_95_for_old_computes_stops_after_the_first_and_says_why(evacuate):
    # what Nova really answers: NotSupportedComputeForEvacuateV295 is raised with a dict as its message
    nova = FakeNova([server(1), server(2), server(3)], refuse="{'currently': 61, 'expected': 62}")
    res = evacuate(nova, end_state='stopped', concurrency=1)
    assert len(posts(nova)) == 1
    rows = res.result['servers']
    assert rows[0]['status'] == 'failed' and 'service version 62' in rows[0]['error']
    assert [r['status'] for r in rows[1:]] == ['not started', 'not started']
    assert len(res.result['left']) == 3


def test_a_server_in_the_wrong_state_after_the_rebuild_is_a_failure(evacuate):
    nova = FakeNova([server(1, 'SHUTOFF', power=4)], wrong_state=[server(1)['id']])
    res = evacuate(nova)
    row = res.result['servers'][0]
    assert row['status'] == 'failed' and 'its status is ACTIVE (want SHUTOFF)' in row['error'], row


def test_a_failed_rebuild_is_reported_with_nova_reason_and_the_rest_go_on(evacuate):
    nova = FakeNova([server(1), server(2)], fail={server(1)['id']: 'No valid host was found.'})
    res = evacuate(nova)
    rows = {r['name']: r for r in res.result['servers']}
    assert rows['vm-1']['status'] == 'failed' and 'No valid host was found' in rows['vm-1']['error']
    assert 'its migration record is failed' in rows['vm-1']['error']
    assert rows['vm-2']['status'] == 'moved'
    assert [s['name'] for s in res.result['left']] == ['vm-1']


def test_not_fenced_is_refused_before_anything(evacuate):
    nova = FakeNova([server(1)])
    res = evacuate(nova, fenced=False)
    assert res.failed and 'cmp2 is not fenced' in res.result['msg'] and 'fence_tasks' in res.result['msg']
    assert not posts(nova)


def test_a_host_nova_reports_up_is_refused_drain_it_instead(evacuate):
    nova = FakeNova([server(1)], services=[svc('cmp1'), svc('cmp2'), svc('cmp3')])
    res = evacuate(nova, check=True)  # the plan, as the role runs it first
    assert res.failed and 'is up' in res.result['msg'] and 'compute_drain' in res.result['msg']
    assert not posts(nova)


def test_outside_check_mode_the_host_must_be_forced_down_and_disabled(evacuate):
    down_only = [svc('cmp1'), svc('cmp2', state='down'), svc('cmp3')]
    res = evacuate(FakeNova([server(1)], services=down_only))
    assert res.failed and 'not forced down: force it down first, then disable it' in res.result['msg']
    forced_enabled = [svc('cmp1'), svc('cmp2', state='down', forced=True), svc('cmp3')]
    res = evacuate(FakeNova([server(1)], services=forced_enabled))
    assert res.failed and 'is enabled: disable it after forcing it down' in res.result['msg']
    # the plan (check mode) of a host reported down, not yet forced down: fine
    res = evacuate(FakeNova([server(1)], services=down_only), check=True)
    assert not res.failed and res.result['servers'][0]['status'] == 'planned'


def test_too_many_computes_down_is_refused_as_a_partition(evacuate):
    services = [svc('cmp1', state='down'), FAILED_CMP2[1], svc('cmp3')]
    res = evacuate(FakeNova([server(1)], services=services))
    assert res.failed and '2 of the 3 nova-compute hosts of the cloud are down' in res.result['msg']
    assert 'max_down_share 50 %' in res.result['msg']
    res = evacuate(FakeNova([server(1)], services=services), max_down_share=1.0)
    assert not res.failed
    res = evacuate(FakeNova([server(1)]), max_down_share=0.2)  # 1 of 4 down: 25 % > 20 %
    assert res.failed and 'network partition' in res.result['msg']
    res = evacuate(FakeNova([server(1)]), max_down_share=0.4, guard_aggregate='rack-2')  # 1 of 2 in rack-2
    assert res.failed and 'of aggregate rack-2' in res.result['msg']


def test_no_destination_and_no_room_are_refused(evacuate):
    services = [svc('cmp1', status='disabled'), FAILED_CMP2[1], svc('cmp3', state='down')]
    res = evacuate(FakeNova([server(1)], services=services), max_down_share=1.0)
    assert res.failed and 'no destination is left for the servers of cmp2' in res.result['msg']
    res = evacuate(FakeNova([server(1, ram=4096), server(2, ram=4096)], free_ram=2500))
    assert res.failed and 'have no room for the servers of cmp2' in res.result['msg']
    assert 'MEMORY_MB: the servers need 8192, the destinations can take 7500' in res.result['msg'] and 'fits on no destination' in res.result['msg']
    res = evacuate(FakeNova([server(1, ram=4096)], free_ram=2500), check_room=False)
    assert not res.failed


def test_state_policy_skip_reports_and_fail_refuses(evacuate):
    nova = FakeNova([server(1), server(2, 'PAUSED', power=3), server(3, 'ERROR', power=0)])
    res = evacuate(nova)
    rows = {r['name']: r for r in res.result['servers']}
    assert rows['vm-2']['method'] == 'skip' and 'state_policy other=skip' in rows['vm-2']['why']
    assert rows['vm-3']['method'] == 'skip' and rows['vm-1']['status'] == 'moved'
    assert sorted(s['name'] for s in res.result['left']) == ['vm-2', 'vm-3']
    nova = FakeNova([server(1), server(3, 'ERROR', power=0)])
    res = evacuate(nova, state_policy={'error': 'fail'})
    assert res.failed and 'state_policy error=fail' in res.result['msg'] and not posts(nova)


def test_check_mode_plans_and_evacuates_nothing(evacuate):
    nova = FakeNova([server(1), server(2, 'SHUTOFF', power=4)])
    res = evacuate(nova, check=True)
    assert not res.failed and res.result['changed'] is True
    assert [r['status'] for r in res.result['servers']] == ['planned', 'planned']
    assert not posts(nova)


def test_rerun_on_an_evacuated_host_changes_nothing(evacuate):
    res = evacuate(FakeNova([server(1, host='cmp3')]))
    assert not res.failed and res.result['changed'] is False and res.result['servers'] == []


def test_an_evacuation_in_flight_is_followed_not_issued_again(evacuate):
    nova = FakeNova([server(1, task_state='rebuilding')])
    nova.servers[server(1)['id']].update(was=('ACTIVE', 1), mv='2.94')
    nova.migrations.append(dict(id=7, instance_uuid=server(1)['id'], migration_type='evacuation', status='accepted',
                                source_compute='cmp2', dest_compute='cmp3', created_at='2026-12-07T09:59:00'))
    res = evacuate(nova)
    assert not posts(nova)
    row = res.result['servers'][0]
    assert row['status'] == 'moved' and row['migration'] == 7 and row['to'] == 'cmp3', row


def test_bad_numbers_are_refused_naming_the_value(evacuate):
    res = evacuate(FakeNova([server(1)]), concurrency=0, max_down_share=0)
    assert res.failed and 'concurrency=0' in res.result['msg'] and 'max_down_share=0' in res.result['msg']


def test_partial_host_name_is_refused(evacuate):
    res = evacuate(FakeNova([server(1)]), host='cmp')
    assert res.failed and 'only part of (or contains) cmp1, cmp2, cmp20, cmp3' in res.result['msg']


def test_an_evacuation_mid_rebuild_is_followed_whatever_its_power_state(evacuate):
    """On the destination Nova sets the power state to NOSTATE (0) while it rebuilds: the plan reads the vm_state."""
    nova = FakeNova([server(1, power=0, task_state='rebuild_spawning')])
    nova.servers[server(1)['id']].update(was=('ACTIVE', 1), mv='2.94')
    nova.migrations.append(dict(id=8, instance_uuid=server(1)['id'], migration_type='evacuation',
                                status='pre-migrating', source_compute='cmp2', dest_compute='cmp1',
                                created_at='2026-12-07T09:59:00'))
    res = evacuate(nova)
    assert not posts(nova)
    row = res.result['servers'][0]
    assert row['status'] == 'moved' and row['migration'] == 8 and row['expect'] == {'status': 'ACTIVE',
                                                                                    'power_state': 1}, row


def test_a_rerun_without_the_report_keeps_this_failure_s_evacuations(evacuate):
    """An interrupted run left no report: the records not cleaned up yet say what this failure moved, and one still
    in flight (its server already on the destination) is followed."""
    nova = FakeNova([server(1, host='cmp3'), server(2, host='cmp1', task_state='rebuilding', power=0),
                     server(3, host='cmp1'), server(4)])
    nova.servers[server(2)['id']].update(was=('ACTIVE', 1), mv='2.94')
    nova.migrations += [
        dict(id=1, instance_uuid=server(1)['id'], migration_type='evacuation', status='done', source_compute='cmp2',
             dest_compute='cmp3', created_at='2026-12-07T09:58:00'),
        dict(id=2, instance_uuid=server(2)['id'], migration_type='evacuation', status='pre-migrating',
             source_compute='cmp2', dest_compute='cmp1', created_at='2026-12-07T09:58:01'),
        # an older failure of cmp2, cleaned up since: not a row of this one
        dict(id=3, instance_uuid=server(3)['id'], migration_type='evacuation', status='completed',
             source_compute='cmp2', dest_compute='cmp1', created_at='2026-11-01T09:58:01')]
    res = evacuate(nova)
    assert not res.failed, res.result
    rows = {r['name']: r for r in res.result['servers']}
    assert sorted(rows) == ['vm-1', 'vm-2', 'vm-4']
    assert rows['vm-1']['status'] == 'moved' and rows['vm-1'].get('earlier') is True and rows['vm-1']['to'] == 'cmp3'
    assert rows['vm-2']['status'] == 'moved' and rows['vm-2']['migration'] == 2
    assert rows['vm-4']['status'] == 'moved'
    assert [c[1] for c in posts(nova)] == ['/servers/%s/action' % server(4)['id']]  # only vm-4 issued


def test_a_passing_api_error_while_following_is_a_look_again(evacuate):
    nova = FakeNova([server(1)])
    nova.flaky = 0
    real_post = nova.post

    def post(url, json=None, **kw):  # pylint: disable=redefined-outer-name
        resp = real_post(url, json=json, **kw)
        nova.flaky = 2  # the two next looks at its migrations fail
        return resp
    nova.post = post
    res = evacuate(nova)
    assert not res.failed and res.result['servers'][0]['status'] == 'moved', res.result


def test_a_host_forced_down_by_someone_else_that_still_reports_is_refused(evacuate):
    services = [svc('cmp1'), svc('cmp2', state='down', status='disabled', forced=True, reason='masakari'), svc('cmp3')]
    nova = FakeNova([server(1)], services=services)
    nova.heartbeats = True
    res = evacuate(nova, check=True)
    assert res.failed and 'still reports' in res.result['msg'] and 'it is alive' in res.result['msg']
    quiet = FakeNova([server(1)], services=[dict(s) for s in services])
    assert not evacuate(quiet, check=True).failed  # no heartbeat in heartbeat_wait: a dead host
    ours = FakeNova([server(1)])  # forced down by our earlier run: the plan watches it too (a hook may have lied)
    ours.heartbeats = True
    assert evacuate(ours, check=True).failed
    ours = FakeNova([server(1)])  # ... but the run after the role forced it down itself does not
    ours.heartbeats = True
    assert not evacuate(ours).failed


def test_a_rerun_judges_this_failure_s_done_records_again(evacuate):
    """A server evacuated by an interrupted run, ACTIVE where end_state stopped wants it SHUTOFF: failed, not moved."""
    nova = FakeNova([server(1, host='cmp3')])
    nova.migrations.append(dict(id=1, instance_uuid=server(1)['id'], migration_type='evacuation', status='done',
                                source_compute='cmp2', dest_compute='cmp3', created_at='2026-12-07T09:58:00'))
    res = evacuate(nova, end_state='stopped')
    row = res.result['servers'][0]
    assert row['status'] == 'failed' and row['earlier'] is True and 'its status is ACTIVE (want SHUTOFF)' in row['error']

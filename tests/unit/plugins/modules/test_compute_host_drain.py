# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""compute_host_drain against a small stand-in for the Compute API: servers move one state per look."""

from __future__ import annotations

import json

import pytest

from ansible_collections.rolling.openstack.plugins.modules import compute_host_drain
from ansible_collections.rolling.openstack.plugins.modules import compute_host_move_back
from ansible_collections.rolling.openstack.tests.unit.plugins.modules.compute_api_fakes import Resp, runner


class FakeNova:
    """Just enough of the Compute API at 2.84 for a drain. Every GET of a server's migrations advances its
    migration one step. fail: {server id: Nova's reason} (the live migration ends in error, the server stays)."""

    def __init__(self, servers, services=None, fail=(), version='2.96', stuck=(), completed_on_source=()):
        self.servers = dict((s['id'], dict(s)) for s in servers)
        self.services = services or [
            dict(host=h, binary='nova-compute', status='disabled' if h == 'cmp1' else 'enabled', state='up',
                 forced_down=False, disabled_reason='rolling.openstack drain t' if h == 'cmp1' else None)
            for h in ('cmp1', 'cmp2', 'cmp3', 'cmp10')]
        self.fail = dict(fail)
        self.stuck = set(stuck)
        self.completed_on_source = set(completed_on_source)
        self.version = version
        self.migrations = []
        self.calls = []

    # the proxy's request methods
    def get(self, url, **kw):
        assert kw.get('microversion') == '2.84'
        self.calls.append(('GET', url))
        path, _sep, query = url.partition('?')
        q = dict(p.split('=', 1) for p in query.split('&') if p)
        if path == '/':
            return Resp(200, {'version': {'version': self.version}})
        if path == '/os-services':
            return Resp(200, {'services': self.services})
        if path == '/servers/detail':
            return Resp(200, {'servers': [self._view(s) for s in self.servers.values() if s['host'] == q['host']]})
        if path == '/os-aggregates':
            return Resp(200, {'aggregates': [{'id': 1, 'name': 'agg-b', 'hosts': ['cmp3']}]})
        if path == '/os-migrations':
            keys = ('instance_uuid', 'source_compute', 'status', 'migration_type')
            found = [m for m in self.migrations if all(m.get(k) == v for k, v in q.items() if k in keys)]
            if 'instance_uuid' in q:
                for m in found:
                    self._advance(m)
            return Resp(200, {'migrations': [dict(m) for m in found]})
        parts = path.strip('/').split('/')
        if parts[0] == 'servers' and len(parts) == 2:
            if parts[1] not in self.servers:
                return Resp(404, {'itemNotFound': {'message': 'Instance could not be found.'}})
            return Resp(200, {'server': self._view(self.servers[parts[1]])})
        if parts[0] == 'servers' and parts[2] == 'os-instance-actions':
            sid = parts[1]
            if len(parts) == 3:
                return Resp(200, {'instanceActions': [{'action': 'live-migration', 'request_id': 'req-1',
                                                       'start_time': '2026-12-03T10:00:00'}]})
            return Resp(200, {'instanceAction': {'events': [
                {'event': 'conductor_live_migrate_instance', 'result': 'Error', 'details': self.fail.get(sid)}]}})
        raise AssertionError('unexpected GET %s' % url)

    def post(self, url, json=None, **kw):  # pylint: disable=redefined-outer-name
        assert kw.get('microversion') == '2.84'
        self.calls.append(('POST', url, json))
        sid = url.split('/')[2]
        server = self.servers[sid]
        if 'os-migrateLive' in json:
            assert 'force' not in json['os-migrateLive']
            self._new(server, 'live-migration', 'accepted', json['os-migrateLive'].get('host'))
        elif 'migrate' in json:
            self._new(server, 'migration', 'pre-migrating', (json['migrate'] or {}).get('host'))
        elif 'confirmResize' in json:
            mig = [m for m in self.migrations if m['instance_uuid'] == sid and m['status'] == 'finished'][-1]
            mig['status'] = 'confirming'
        return Resp(202)

    def delete(self, url, **kw):
        self.calls.append(('DELETE', url))
        mid = int(url.split('/')[-1])
        for m in self.migrations:
            if m['id'] == mid:
                m['status'] = 'cancelled'
        return Resp(202)

    def _view(self, s):
        return {'id': s['id'], 'name': s['name'], 'status': s['status'], 'OS-EXT-SRV-ATTR:host': s['host'],
                'OS-EXT-STS:task_state': s.get('task_state'), 'OS-EXT-STS:power_state': s['power'],
                'flavor': {'original_name': 'm1', 'ram': 2048, 'disk': 10, 'ephemeral': 0, 'vcpus': 1},
                'user_data': 'c2VjcmV0', 'metadata': {'password': 'x'}}

    def _new(self, server, kind, status, host):
        dest = host or next(h for h in ('cmp2', 'cmp3') if h != server['host'])
        self.migrations.append(dict(id=len(self.migrations) + 1, instance_uuid=server['id'], migration_type=kind,
                                    status=status, source_compute=server['host'], dest_compute=dest,
                                    created_at='2026-12-03T10:00:%02d' % len(self.migrations)))
        server['task_state'] = 'migrating' if kind == 'live-migration' else 'resize_prep'
        server['was'] = server['status']
        if kind == 'live-migration':
            server['status'] = 'MIGRATING'

    def _advance(self, m):
        s = self.servers[m['instance_uuid']]
        if m['instance_uuid'] in self.stuck:
            m['status'] = 'running' if m['status'] != 'cancelled' else m['status']
            if m['status'] == 'cancelled':
                s.update(status=s['was'], task_state=None)
            return
        steps = {'accepted': 'running', 'running': 'completed', 'pre-migrating': 'finished', 'confirming': 'confirmed'}
        if m['status'] not in steps:
            return
        m['status'] = steps[m['status']]
        if m['migration_type'] == 'live-migration' and m['status'] == 'completed':
            if m['instance_uuid'] in self.fail:
                m['status'] = 'error'
                s.update(status=s['was'], task_state=None)
            elif m['instance_uuid'] in self.completed_on_source:
                s.update(status=s['was'], task_state=None)
            else:
                s.update(status=s['was'], task_state=None, host=m['dest_compute'])
        elif m['status'] == 'finished':
            s.update(status='VERIFY_RESIZE', task_state=None, host=m['dest_compute'])
        elif m['status'] == 'confirmed':
            s.update(status='SHUTOFF', task_state=None)


def server(idx, status='ACTIVE', host='cmp1', power=1, task_state=None):
    return dict(id='00000000-0000-4000-8000-%012d' % idx, name='vm-%d' % idx, status=status, host=host, power=power,
                task_state=task_state)


@pytest.fixture
def drain(run_module, monkeypatch):
    return runner(run_module, monkeypatch, compute_host_drain, {'host': 'cmp1', 'poll_interval': 0.01})


def by_name(res):
    return dict((r['name'], r) for r in res.result['servers'])


def test_drains_live_and_cold_and_checks_each_move(drain):
    nova = FakeNova([server(1), server(2, 'SHUTOFF', power=4), server(3, 'PAUSED', power=3), server(4, host='cmp2')])
    res = drain(nova, concurrency=2)
    assert not res.failed, res.result
    rows = by_name(res)
    assert set(rows) == {'vm-1', 'vm-2', 'vm-3'}  # vm-4 is on cmp2
    assert rows['vm-1']['method'] == 'live' and rows['vm-2']['method'] == 'cold' and rows['vm-3']['method'] == 'live'
    assert all(r['status'] == 'moved' and r['to'] in ('cmp2', 'cmp3') for r in rows.values()), \
        [(r['name'], r['status'], r['to'], r['error']) for r in rows.values()]
    assert res.result['left'] == [] and res.result['changed'] is True
    assert all(nova.servers[r['id']]['host'] != 'cmp1' for r in rows.values())
    # the cold migration was confirmed; block_migration auto; no force
    posts = [c for c in nova.calls if c[0] == 'POST']
    assert any('confirmResize' in c[2] for c in posts)
    assert all(c[2]['os-migrateLive'] == {'block_migration': 'auto', 'host': None} for c in posts if 'os-migrateLive' in c[2])
    # nothing of a server record but what the drain reads
    assert 'user_data' not in json.dumps(res.result) and 'password' not in json.dumps(res.result)


def test_live_concurrency_and_concurrency_bound_what_is_in_flight(drain):
    nova = FakeNova([server(i) for i in range(1, 6)] + [server(i, 'SHUTOFF', power=4) for i in range(6, 9)])
    in_flight = []
    real_post = nova.post

    def post(url, json=None, **kw):  # pylint: disable=redefined-outer-name
        if json and ('os-migrateLive' in json or 'migrate' in json):
            live = sum(1 for m in nova.migrations if m['migration_type'] == 'live-migration'
                       and m['status'] not in ('completed', 'error', 'cancelled'))
            every = sum(1 for m in nova.migrations if m['status'] not in ('completed', 'confirmed', 'error', 'cancelled'))
            in_flight.append((live + (1 if 'os-migrateLive' in json else 0), every + 1))
        return real_post(url, json=json, **kw)
    nova.post = post
    res = drain(nova, concurrency=3, live_concurrency=1)
    assert not res.failed and len([r for r in res.result['servers'] if r['status'] == 'moved']) == 8, res.result
    assert max(pair[0] for pair in in_flight) <= 1, in_flight
    assert max(pair[1] for pair in in_flight) <= 3, in_flight


def test_a_server_that_cannot_move_is_reported_with_novas_reason_and_the_rest_moves(drain):
    nova = FakeNova([server(1), server(2)], fail={server(1)['id']: 'No valid host was found. There are not enough hosts'})
    res = drain(nova)
    rows = by_name(res)
    assert not res.failed  # the role writes the report, then fails
    assert rows['vm-1']['status'] == 'failed' and 'No valid host was found' in rows['vm-1']['error'], rows['vm-1']
    assert 'migration record is error' in rows['vm-1']['error']
    assert rows['vm-2']['status'] == 'moved'
    assert [s['name'] for s in res.result['left']] == ['vm-1'] and 'No valid host' in res.result['left'][0]['error']


def test_completed_while_still_on_the_source_is_a_failure(drain):
    nova = FakeNova([server(1)], completed_on_source=[server(1)['id']])
    res = drain(nova)
    row = by_name(res)['vm-1']
    assert row['status'] == 'failed' and 'still on cmp1' in row['error'], row
    assert res.result['left'][0]['name'] == 'vm-1'


def test_timeout_aborts_a_live_migration(drain):
    nova = FakeNova([server(1)], stuck=[server(1)['id']])
    res = drain(nova, server_timeout=10, server_timeout_per_gib=0, poll_interval=2)
    row = by_name(res)['vm-1']
    assert row['status'] == 'timeout' and 'aborted' in row['error'], row
    assert any(c[0] == 'DELETE' for c in nova.calls)


def test_check_mode_plans_and_moves_nothing(drain):
    nova = FakeNova([server(1), server(2, 'SUSPENDED', power=7), server(3, 'ACTIVE', task_state='rebooting')])
    res = drain(nova, check=True)
    assert not res.failed, res.result
    rows = by_name(res)
    assert rows['vm-1']['status'] == 'planned' and rows['vm-1']['method'] == 'live'
    assert rows['vm-2']['method'] == 'skip' and 'suspended=skip' in rows['vm-2']['why']
    assert rows['vm-3']['method'] == 'skip' and 'task rebooting' in rows['vm-3']['why']
    assert not [c for c in nova.calls if c[0] != 'GET']


def test_fail_policy_refuses_before_anything_moves(drain):
    nova = FakeNova([server(1), server(2, 'ERROR', power=0)])
    res = drain(nova, state_policy={'error': 'fail'})
    assert res.failed and 'state_policy error=fail' in res.result['msg'] and 'vm-2' in res.result['msg']
    assert not [c for c in nova.calls if c[0] != 'GET']


def test_an_enabled_host_is_refused_outside_check_mode(drain):
    nova = FakeNova([server(1)])
    nova.services[0].update(status='enabled', disabled_reason=None)
    res = drain(nova)
    assert res.failed and 'disable it first' in res.result['msg']
    assert not [c for c in nova.calls if c[0] != 'GET']
    assert not drain(nova, check=True).failed  # the plan of the role runs before the disable


@pytest.mark.parametrize('host, text', [
    ('cmp', "host 'cmp' is not a compute host; it is only part of (or contains) cmp1, cmp10, cmp2, cmp3"),
    ('cmp9', "host 'cmp9' is not a compute host"),
])
def test_a_host_name_is_matched_exactly(drain, host, text):
    nova = FakeNova([server(1)])
    res = drain(nova, host=host)
    assert res.failed and text in res.result['msg'] and 'Known compute hosts: cmp1, cmp10, cmp2, cmp3' in res.result['msg']
    assert not [c for c in nova.calls if c[0] != 'GET']


@pytest.mark.parametrize('args, text', [
    ({'concurrency': 0}, 'concurrency=0'),
    ({'live_concurrency': 0}, 'live_concurrency=0'),
    ({'state_policy': {'error': 'ignore'}}, "state_policy error='ignore' is not a policy"),
    ({'state_policy': {'frozen': 'skip'}}, "state_policy key 'frozen'"),
])
def test_bad_input_is_refused_before_any_call(drain, args, text):
    nova = FakeNova([server(1)])
    res = drain(nova, **args)
    assert res.failed and text in res.result['msg'] and 'nothing was changed' in res.result['msg']
    assert nova.calls == []


def test_no_destination_left_is_refused(drain):
    nova = FakeNova([server(1)])
    for s in nova.services[1:]:
        s['state'] = 'down'
    res = drain(nova)
    assert res.failed and 'no destination is left' in res.result['msg']
    assert not [c for c in nova.calls if c[0] != 'GET']


def test_target_aggregate_sends_every_server_to_its_hosts(drain):
    nova = FakeNova([server(1), server(2, 'SHUTOFF', power=4)])
    res = drain(nova, target_aggregate='agg-b')
    assert not res.failed and all(r['to'] == 'cmp3' for r in res.result['servers']), res.result['servers']
    with_host = [c for c in nova.calls if c[0] == 'POST' and ('os-migrateLive' in c[2] or 'migrate' in c[2])]
    assert all((c[2].get('os-migrateLive') or c[2].get('migrate'))['host'] == 'cmp3' for c in with_host)


def test_old_api_is_refused(drain):
    res = drain(FakeNova([server(1)], version='2.79'))
    assert res.failed and 'microversion 2.79 at most' in res.result['msg']


def test_rerun_on_a_drained_host_changes_nothing_and_keeps_earlier_rows(drain):
    nova = FakeNova([server(1)])
    first = drain(nova)
    assert not first.failed and first.result['changed']
    before = len(nova.calls)
    again = drain(nova, previous=first.result['servers'])
    assert not again.failed and again.result['changed'] is False
    assert [r['name'] for r in again.result['servers']] == ['vm-1'] and again.result['servers'][0]['earlier'] is True
    assert not [c for c in nova.calls[before:] if c[0] != 'GET']


def test_a_migration_in_flight_is_followed_not_issued_again(drain):
    nova = FakeNova([server(1)])
    nova._new(nova.servers[server(1)['id']], 'live-migration', 'accepted', 'cmp2')  # an interrupted earlier run
    res = drain(nova)
    row = by_name(res)['vm-1']
    assert row['status'] == 'moved' and row['migration'] == 1, row
    assert not [c for c in nova.calls if c[0] == 'POST']


def test_a_cold_migration_waiting_for_its_confirm_is_confirmed(drain):
    moved = server(5, 'VERIFY_RESIZE', host='cmp2', power=4)
    nova = FakeNova([moved])
    nova.migrations.append(dict(id=1, instance_uuid=moved['id'], migration_type='migration', status='finished',
                                source_compute='cmp1', dest_compute='cmp2', created_at='2026-12-03T09:00:00'))
    res = drain(nova)
    row = by_name(res)['vm-5']
    assert row['method'] == 'confirm' and row['status'] == 'moved' and row['migration'] == 1, row
    assert [c[2] for c in nova.calls if c[0] == 'POST'] == [{'confirmResize': None}]


def test_a_server_waiting_for_its_confirm_on_the_host_is_confirmed_then_moved(drain):
    nova = FakeNova([server(6, 'VERIFY_RESIZE', power=1)])
    nova.migrations.append(dict(id=1, instance_uuid=server(6)['id'], migration_type='resize', status='finished',
                                source_compute='cmp3', dest_compute='cmp1', created_at='2026-12-03T09:00:00'))
    nova.servers[server(6)['id']]['was'] = 'ACTIVE'
    real_advance = nova._advance

    def advance(m):
        real_advance(m)
        if m['id'] == 1 and m['status'] == 'confirmed':
            nova.servers[m['instance_uuid']]['status'] = 'ACTIVE'  # a confirmed resize of a running server
    nova._advance = advance
    res = drain(nova)
    row = by_name(res)['vm-6']
    assert row['status'] == 'moved' and row['method'] == 'live' and row['to'] in ('cmp2', 'cmp3'), row
    posts = [c[2] for c in nova.calls if c[0] == 'POST']
    assert posts[0] == {'confirmResize': None} and 'os-migrateLive' in posts[1], posts


# --- compute_host_move_back: the drain in reverse, on the same stand-in -------------------------------------------

IN_SERVICE = [dict(host=h, binary='nova-compute', status='enabled', state='up', forced_down=False, disabled_reason=None)
              for h in ('cmp1', 'cmp2', 'cmp3')]


@pytest.fixture
def move_back(run_module, monkeypatch):
    return runner(run_module, monkeypatch, compute_host_move_back, {'host': 'cmp1', 'poll_interval': 0.01})


def test_move_back_brings_each_server_to_the_host_and_checks_it(move_back):
    nova = FakeNova([server(1, host='cmp2'), server(2, 'SHUTOFF', host='cmp3', power=4), server(3, host='cmp1'),
                     server(4, 'ERROR', host='cmp2', power=0)], services=[dict(s) for s in IN_SERVICE])
    ids = [server(i)['id'] for i in (1, 2, 3, 4)] + ['00000000-0000-4000-8000-000000000099']
    res = move_back(nova, servers=ids)
    assert not res.failed, res.result
    rows = by_name(res)
    assert rows['vm-1']['status'] == 'moved' and rows['vm-1']['to'] == 'cmp1' and rows['vm-1']['method'] == 'live'
    assert rows['vm-2']['status'] == 'moved' and rows['vm-2']['method'] == 'cold'
    assert rows['vm-3']['status'] == 'skipped' and rows['vm-3']['why'] == 'already on cmp1'
    assert rows['vm-4']['status'] == 'skipped' and 'status ERROR' in rows['vm-4']['why']
    assert [r['name'] for r in res.result['left']] == ['vm-4']
    posts = [c for c in nova.calls if c[0] == 'POST']
    assert all(c[2]['os-migrateLive']['host'] == 'cmp1' for c in posts if 'os-migrateLive' in c[2])
    assert all(c[2]['migrate']['host'] == 'cmp1' for c in posts if 'migrate' in c[2])


def test_move_back_onto_a_host_not_in_service_is_refused(move_back):
    services = [dict(s) for s in IN_SERVICE]
    services[0].update(status='disabled', disabled_reason='rolling.openstack evacuate t')
    nova = FakeNova([server(1, host='cmp2')], services=services)
    res = move_back(nova, servers=[server(1)['id']])
    assert res.failed and 'cmp1 is not in service' in res.result['msg'] and 'compute_restore' in res.result['msg']
    assert not [c for c in nova.calls if c[0] == 'POST']


def test_move_back_check_mode_and_rerun_change_nothing(move_back):
    nova = FakeNova([server(1, host='cmp2')], services=[dict(s) for s in IN_SERVICE])
    res = move_back(nova, check=True, servers=[server(1)['id']])
    assert res.result['changed'] is True and res.result['servers'][0]['status'] == 'planned'
    assert not [c for c in nova.calls if c[0] == 'POST']
    nova = FakeNova([server(1, host='cmp1')], services=[dict(s) for s in IN_SERVICE])
    res = move_back(nova, servers=[server(1)['id']])
    assert res.result['changed'] is False and res.result['left'] == []


def test_move_back_confirms_a_cold_move_back_that_waits_for_it(move_back):
    """An interrupted earlier move back left the server on the host in VERIFY_RESIZE: confirmed, not skipped."""
    nova = FakeNova([server(1, 'VERIFY_RESIZE', host='cmp1', power=4)], services=[dict(s) for s in IN_SERVICE])
    nova.migrations.append(dict(id=5, instance_uuid=server(1)['id'], migration_type='migration', status='finished',
                                source_compute='cmp2', dest_compute='cmp1', created_at='2026-12-07T10:00:00'))
    res = move_back(nova, servers=[server(1)['id']])
    row = res.result['servers'][0]
    assert row['method'] == 'confirm' and row['from'] == 'cmp2' and row['status'] == 'moved' and row['to'] == 'cmp1', row
    assert [c[2] for c in nova.calls if c[0] == 'POST'] == [{'confirmResize': None}]


def test_move_back_plan_on_a_host_not_in_service_yet_is_a_warning(move_back):
    services = [dict(s) for s in IN_SERVICE]
    services[0].update(status='disabled', forced_down=True, state='down')
    nova = FakeNova([server(1, host='cmp2')], services=services)
    res = move_back(nova, check=True, servers=[server(1)['id']])
    assert not res.failed and res.result['servers'][0]['status'] == 'planned'

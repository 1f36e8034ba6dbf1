# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json
import os
import stat
from unittest import mock

import pytest

from ansible_collections.rolling.openstack.plugins.modules import nova_upgrade_state as state_module

UPGRADE = dict(from_release='2026.1', to_release='2026.2', from_version='33.0.2', to_version='34.0.0')
T0 = datetime.datetime(2026, 11, 23, 1, 38, 40, 123000, tzinfo=datetime.timezone.utc)


class Clock:
    """A controllable _now(): starts at T0, advance(seconds) moves it."""

    def __init__(self):
        self.now = T0

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    clock = Clock()
    with mock.patch.object(state_module, '_now', clock):
        yield clock


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'state' / 'nova-upgrade.json')


@pytest.fixture
def call(run_module, path, clock):
    """call(**args) runs the module with path set; check=True for check mode, diff=True for diff mode."""

    def run(check=False, diff=False, **args):
        args.setdefault('path', path)
        if check:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        return run_module(state_module.main, args, None)

    return run


def ok(res):
    assert not res.failed, res.result
    return res.result


def on_disk(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def test_read_only_without_a_file(call, path):
    r = ok(call())
    assert r['changed'] is False and r['exists'] is False and r['state'] == {}
    assert not os.path.exists(os.path.dirname(path))


def test_create_sets_modes_and_the_schema(call, path):
    r = ok(call(upgrade=UPGRADE, start_run=True))
    assert r['changed'] is True and r['exists'] is False and r['resumed'] is False and r['archived'] == ''
    assert r['state_file'] == path and 'path' not in r  # a path key would make Ansible add file attributes
    doc = on_disk(path)
    assert doc == r['state']
    assert doc == dict(schema=1, id='2026.1-to-2026.2', from_release='2026.1', to_release='2026.2',
                       from_version='33.0.2', to_version='34.0.0', status='running',
                       started='2026-11-23T01:38:40.123+00:00', finished=None,
                       runs=[dict(started='2026-11-23T01:38:40.123+00:00', finished=None, status='running',
                                  check_mode=False)],
                       phases={}, events=[])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o750
    assert os.listdir(os.path.dirname(path)) == ['nova-upgrade.json']  # no temp file left


def test_read_only_returns_the_document_and_changes_nothing(call, path):
    ok(call(upgrade=UPGRADE))
    before = os.stat(path)
    r = ok(call())
    assert r['changed'] is False and r['exists'] is True
    assert r['state']['id'] == '2026.1-to-2026.2'
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns


def test_resume_same_target_changes_nothing(call, path):
    ok(call(upgrade=UPGRADE))
    text = open(path, encoding='utf-8').read()
    # on a resume the preflight may see the new code already: from_release differs, to_release is the same
    r = ok(call(upgrade=dict(UPGRADE, from_release='2026.2', from_version='34.0.0')))
    assert r['changed'] is False and r['resumed'] is True
    assert r['state']['from_release'] == '2026.1' and r['state']['from_version'] == '33.0.2'
    assert open(path, encoding='utf-8').read() == text


def test_resume_fills_empty_versions(call, path):
    ok(call(upgrade=dict(UPGRADE, to_version='')))
    r = ok(call(upgrade=UPGRADE))
    assert r['changed'] is True and r['state']['to_version'] == '34.0.0'


def test_phase_attempts_timing_and_phase_before(call, path, clock):
    ok(call(upgrade=UPGRADE, start_run=True))
    clock.advance(5)
    r = ok(call(phase='pin', status='running'))
    assert r['phase_before'] == {}
    pin = r['state']['phases']['pin']
    assert pin == dict(status='running', started='2026-11-23T01:38:45.123+00:00', finished=None, seconds=None,
                       attempts=1, message='', details={})
    clock.advance(12.5)
    r = ok(call(phase='pin', status='failed', msg='ctl2 did not log the pin', details=dict(restarted=['ctl1'])))
    assert r['phase_before']['status'] == 'running'
    pin = on_disk(path)['phases']['pin']
    assert pin['status'] == 'failed' and pin['seconds'] == 12.5 and pin['finished'] == '2026-11-23T01:38:57.623+00:00'
    assert pin['message'] == 'ctl2 did not log the pin' and pin['details'] == dict(restarted=['ctl1'])
    # second attempt: started again, attempts 2, message reset; details merged shallow
    clock.advance(60)
    ok(call(phase='pin', status='running'))
    clock.advance(3)
    r = ok(call(phase='pin', status='done', details=dict(restarted=['ctl1', 'ctl2'], verified=True)))
    pin = r['state']['phases']['pin']
    assert pin['attempts'] == 2 and pin['seconds'] == 3.0 and pin['message'] == ''
    assert pin['details'] == dict(restarted=['ctl1', 'ctl2'], verified=True)
    assert r['phase_before']['status'] == 'running' and r['phase_before']['attempts'] == 2
    # a done phase: the module records what it is told and phase_before lets a role skip it
    r = ok(call(phase='pin', status='running', check=True))
    assert r['phase_before']['status'] == 'done'
    assert on_disk(path)['phases']['pin']['status'] == 'done'


def test_phase_recorded_at_its_end_with_started(call, path, clock):
    ok(call(upgrade=UPGRADE, start_run=True))
    clock.advance(90)
    r = ok(call(phase='preflight', status='done', started='2026-11-23T01:38:40.123Z', msg='passed'))
    preflight = r['state']['phases']['preflight']
    assert preflight['started'] == '2026-11-23T01:38:40.123+00:00' and preflight['seconds'] == 90.0
    assert preflight['attempts'] == 1 and preflight['message'] == 'passed'
    bad = call(phase='preflight', status='done', started='yesterday')
    assert bad.failed and 'started' in bad.result['msg'] and 'ISO 8601' in bad.result['msg']
    assert on_disk(path)['phases']['preflight']['attempts'] == 1  # the bad call changed nothing


def test_skipped_without_start_and_details_only(call, path):
    ok(call(upgrade=UPGRADE))
    r = ok(call(phase='contract', status='skipped', msg='nothing to run for nova'))
    contract = r['state']['phases']['contract']
    assert contract['status'] == 'skipped' and contract['started'] is None and contract['seconds'] is None
    assert contract['attempts'] == 0 and contract['message'] == 'nothing to run for nova'
    r = ok(call(phase='contract', details=dict(note='x')))
    assert r['state']['phases']['contract']['status'] == 'skipped'
    assert r['state']['phases']['contract']['details'] == dict(note='x')


def test_events_appended_with_time_and_phase(call, path, clock):
    ok(call(upgrade=UPGRADE))
    clock.advance(100)
    r = ok(call(phase='roll', events=[
        dict(host='cmp1', service='nova-compute', event='switch', **{'from': '33.0.2', 'to': '34.0.0'}, seconds='14.25',
             time='2026-11-23T01:40:00Z'),
        dict(host='cmp2', service='nova-compute', event='switch', **{'from': '33.0.2', 'to': '34.0.0'}, seconds=9,
             time='2026-11-23T02:40:00.5+01:00'),
        dict(host='ctl1', event='note', message='hello', phase='pin'),
    ]))
    events = on_disk(path)['events']
    assert events == r['state']['events']
    assert events[0] == {'time': '2026-11-23T01:40:00.000+00:00', 'phase': 'roll', 'host': 'cmp1',
                         'service': 'nova-compute', 'event': 'switch', 'from': '33.0.2', 'to': '34.0.0',
                         'seconds': 14.25, 'message': ''}
    assert events[1]['time'] == '2026-11-23T01:40:00.500+00:00' and events[1]['seconds'] == 9.0
    assert events[2]['time'] == '2026-11-23T01:40:20.123+00:00' and events[2]['phase'] == 'pin'
    assert events[2]['seconds'] is None and events[2]['from'] == ''
    ok(call(events=[dict(host='cmp3', event='switch')]))
    assert len(on_disk(path)['events']) == 4
    assert on_disk(path)['events'][3]['phase'] == ''


def test_runs_and_finish(call, path, clock):
    ok(call(upgrade=UPGRADE, start_run=True))
    clock.advance(10)
    ok(call(phase='roll', status='running'))
    # the run dies; the next run marks it interrupted
    clock.advance(50)
    r = ok(call(upgrade=UPGRADE, start_run=True))
    assert r['resumed'] is True
    assert [run['status'] for run in r['state']['runs']] == ['interrupted', 'running']
    clock.advance(30)
    r = ok(call(phase='roll', status='failed', msg='boom', finish='failed'))
    doc = on_disk(path)
    assert doc['status'] == 'failed' and doc['finished'] == '2026-11-23T01:40:10.123+00:00'
    assert doc['runs'][-1] == dict(started='2026-11-23T01:39:40.123+00:00', finished='2026-11-23T01:40:10.123+00:00',
                                   status='failed', check_mode=False)
    # a new run of a failed upgrade: running again, resumed
    clock.advance(100)
    r = ok(call(upgrade=UPGRADE, start_run=True))
    assert r['resumed'] is True and r['state']['status'] == 'running' and r['state']['finished'] is None
    clock.advance(100)
    ok(call(finish='done'))
    doc = on_disk(path)
    assert doc['status'] == 'done' and doc['runs'][-1]['status'] == 'done'
    # after success: resume is not a resume, and changes nothing
    r = ok(call(upgrade=UPGRADE))
    assert r['resumed'] is False and r['changed'] is False


def test_other_target_unfinished_fails_and_changes_nothing(call, path):
    ok(call(upgrade=UPGRADE))
    ok(call(phase='roll', status='running'))
    ok(call(phase='roll', status='failed'))
    text = open(path, encoding='utf-8').read()
    res = call(upgrade=dict(from_release='2026.2', to_release='2027.1'))
    assert res.failed
    assert res.result['msg'] == (
        'an upgrade 2026.1-to-2026.2 is unfinished (phase roll failed); finish it first (re-run with '
        'nova_upgrade_target_release=2026.2) or move %s away to start over' % path)
    assert open(path, encoding='utf-8').read() == text
    assert os.listdir(os.path.dirname(path)) == ['nova-upgrade.json']


def test_other_target_done_is_archived(call, path, clock):
    ok(call(upgrade=UPGRADE, start_run=True))
    clock.advance(3600)
    ok(call(finish='done'))
    old = open(path, encoding='utf-8').read()
    clock.advance(86400)
    nxt = dict(from_release='2026.2', to_release='2027.1', from_version='34.0.0', to_version='35.0.0')
    archive = os.path.join(os.path.dirname(path), 'nova-upgrade.2026.1-to-2026.2.20261123T023840Z.json')
    r = ok(call(upgrade=nxt, check=True))
    assert r['changed'] is True and r['archived'] == archive and r['state']['id'] == '2026.2-to-2027.1'
    assert not os.path.exists(archive) and open(path, encoding='utf-8').read() == old
    r = ok(call(upgrade=nxt, start_run=True))
    assert r['archived'] == archive and r['resumed'] is False
    assert open(archive, encoding='utf-8').read() == old
    doc = on_disk(path)
    assert doc['id'] == '2026.2-to-2027.1' and doc['status'] == 'running' and doc['phases'] == {}
    assert doc['started'] == '2026-11-24T02:38:40.123+00:00'


def test_check_mode_writes_nothing(call, path):
    r = ok(call(upgrade=UPGRADE, start_run=True, check=True))
    assert r['changed'] is True and r['state']['runs'][0]['check_mode'] is True
    assert not os.path.exists(os.path.dirname(path))
    ok(call(upgrade=UPGRADE))
    text = open(path, encoding='utf-8').read()
    r = ok(call(phase='expand', status='running', events=[dict(host='ctl1', event='db_sync')], finish='failed',
                check=True))
    assert r['changed'] is True and r['state']['phases']['expand']['status'] == 'running'
    assert open(path, encoding='utf-8').read() == text


def test_diff(call, path):
    r = ok(call(upgrade=UPGRADE, diff=True))
    assert r['diff']['before'] == '' and json.loads(r['diff']['after'])['id'] == '2026.1-to-2026.2'
    r = ok(call(phase='pin', status='running', diff=True))
    assert json.loads(r['diff']['before'])['phases'] == {}
    assert json.loads(r['diff']['after'])['phases']['pin']['status'] == 'running'


def test_keeps_the_owner_and_sets_the_mode(call, path):
    ok(call(upgrade=UPGRADE))
    os.chmod(path, 0o600)
    uid, gid = os.stat(path).st_uid, os.stat(path).st_gid
    with mock.patch.object(state_module.os, 'chown') as chown, \
            mock.patch.object(state_module.os, 'geteuid', return_value=uid + 1):
        ok(call(phase='pin', status='running'))
    assert chown.call_count == 1 and chown.call_args.args[1:] == (uid, gid)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


@pytest.mark.parametrize('args, words', [
    (dict(phase='rolling', status='running'), ['phase', 'rolling', 'preflight, pin, expand, roll, unpin, migrate, contract']),
    (dict(phase='pin', status='ok'), ['status', 'ok', 'running, done, failed, skipped']),
    (dict(status='done'), ['status needs phase']),
    (dict(details=dict(a=1)), ['details needs phase']),
    (dict(phase='pin', status='running', details=dict(db_password='x')), ["key 'db_password'", 'never hold secrets']),
    (dict(phase='pin', status='running', details=dict(cells=[dict(connection='x')])),
     ["details.cells[0] has a key 'connection'"]),
    (dict(phase='pin', status='running', details=dict(note='mysql+pymysql://nova:s3cret@db/nova')),
     ['details.note holds a URL with credentials']),
    (dict(events=[dict(host='ctl1', token='abc')]), ["events[0] has a key 'token'"]),
    (dict(events=[dict(host='ctl1', time='yesterday')]), ["events[0].time: 'yesterday' is not an ISO 8601 time"]),
    (dict(events=[dict(host='ctl1', seconds='long')]), ["events[0].seconds is 'long'"]),
    (dict(events=[dict(host='ctl1', phase='rollout')]), ["events[0].phase is 'rollout'"]),
    (dict(phase='migrate', msg='hi'), ['phase migrate has no record yet']),
    (dict(upgrade=dict(from_release='', to_release='2026.2')), ['upgrade.from_release is empty']),
])
def test_bad_input_fails_clearly_and_changes_nothing(call, path, args, words):
    ok(call(upgrade=UPGRADE))
    text = open(path, encoding='utf-8').read()
    res = call(**args)
    assert res.failed, res.result
    for word in words:
        assert word in res.result['msg']
    assert 's3cret' not in json.dumps(res.result)
    assert open(path, encoding='utf-8').read() == text


def test_write_without_a_file_asks_for_upgrade(call, path):
    res = call(phase='pin', status='running')
    assert res.failed and 'there is no upgrade state in %s yet' % path in res.result['msg']
    assert not os.path.exists(path)


@pytest.mark.parametrize('content, words', [
    ('not json', ['is not valid JSON', 'Move it away']),
    ('[1, 2]', ['not an upgrade state document']),
    ('{"schema": 2}', ['schema 2, newer than this module understands']),
])
def test_foreign_file_is_refused(call, path, content, words):
    os.makedirs(os.path.dirname(path))
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(content)
    res = call(upgrade=UPGRADE)
    assert res.failed
    for word in words:
        assert word in res.result['msg']
    assert open(path, encoding='utf-8').read() == content


def test_path_is_a_directory(call, tmp_path):
    res = call(path=str(tmp_path))
    assert res.failed and 'is a directory' in res.result['msg']


# --- phase order, incomplete, reopen -------------------------------------------------------------------------------

def test_phases_in_their_order():
    # the unpin comes before the online data migrations (each service drops its cached minimum version first)
    assert state_module.PHASES == ('preflight', 'pin', 'expand', 'roll', 'unpin', 'migrate', 'contract')
    assert state_module.PHASE_STATUSES == ('running', 'done', 'failed', 'skipped', 'incomplete')


def test_bad_phase_lists_the_phases_in_order(call, path):
    ok(call(upgrade=UPGRADE))
    res = call(phase='rolling', status='running')
    assert res.failed
    assert 'preflight, pin, expand, roll, unpin, migrate, contract' in res.result['msg']
    res = call(phase='roll', status='partial')
    assert res.failed and 'running, done, failed, skipped, incomplete' in res.result['msg']


def test_incomplete_ends_an_attempt_and_a_rerun_does_the_rest(call, path, clock):
    ok(call(upgrade=UPGRADE, start_run=True))
    ok(call(phase='roll', status='running'))
    clock.advance(42)
    r = ok(call(phase='roll', status='incomplete', msg='cmp3 left on the old code (expected down)',
                details=dict(left=['cmp3'])))
    roll = on_disk(path)['phases']['roll']
    assert roll == r['state']['phases']['roll']
    assert roll['status'] == 'incomplete'
    assert roll['finished'] == '2026-11-23T01:39:22.123+00:00' and roll['seconds'] == 42.0
    assert roll['attempts'] == 1
    assert roll['message'] == 'cmp3 left on the old code (expected down)' and roll['details'] == dict(left=['cmp3'])
    # the next run: phase_before says incomplete, a new attempt starts, and ends done
    clock.advance(600)
    r = ok(call(phase='roll', status='running'))
    assert r['phase_before']['status'] == 'incomplete'
    clock.advance(10)
    r = ok(call(phase='roll', status='done', details=dict(left=[])))
    roll = r['state']['phases']['roll']
    assert roll['status'] == 'done' and roll['attempts'] == 2 and roll['seconds'] == 10.0
    assert roll['details'] == dict(left=[])


def test_incomplete_without_a_start_gets_one(call, path):
    ok(call(upgrade=UPGRADE))
    r = ok(call(phase='roll', status='incomplete'))
    roll = r['state']['phases']['roll']
    assert roll['status'] == 'incomplete' and roll['started'] == roll['finished'] and roll['seconds'] == 0.0


def test_other_target_while_a_phase_is_incomplete_names_it(call, path):
    ok(call(upgrade=UPGRADE))
    ok(call(phase='expand', status='done'))
    ok(call(phase='roll', status='running'))
    ok(call(phase='roll', status='incomplete'))
    res = call(upgrade=dict(from_release='2026.2', to_release='2027.1'))
    assert res.failed
    assert res.result['msg'].startswith('an upgrade 2026.1-to-2026.2 is unfinished (phase roll incomplete); ')


def test_details_without_a_record_names_every_status(call, path):
    ok(call(upgrade=UPGRADE))
    res = call(phase='migrate', details=dict(a=1))
    assert res.failed
    assert 'give status (running, done, failed, skipped or incomplete)' in res.result['msg']


def done_upgrade(call, clock):
    ok(call(upgrade=UPGRADE, start_run=True))
    for phase in ('preflight', 'pin', 'expand', 'roll', 'unpin', 'migrate', 'contract'):
        ok(call(phase=phase, status='done'))
    clock.advance(3600)
    ok(call(finish='done'))


def test_done_same_target_is_kept_without_reopen(call, path, clock):
    done_upgrade(call, clock)
    text = open(path, encoding='utf-8').read()
    clock.advance(86400)
    r = ok(call(upgrade=UPGRADE, start_run=False))
    assert r['changed'] is False and r['resumed'] is False and r['archived'] == ''
    assert r['state']['status'] == 'done' and r['state']['phases']['roll']['status'] == 'done'
    r = ok(call(upgrade=dict(UPGRADE, reopen=False)))
    assert r['changed'] is False and r['archived'] == ''
    assert open(path, encoding='utf-8').read() == text
    assert os.listdir(os.path.dirname(path)) == ['nova-upgrade.json']


def test_done_same_target_with_reopen_is_archived_and_a_new_document_started(call, path, clock):
    done_upgrade(call, clock)
    old = open(path, encoding='utf-8').read()
    clock.advance(86400)
    archive = os.path.join(os.path.dirname(path), 'nova-upgrade.2026.1-to-2026.2.20261123T023840Z.json')
    # check mode: says what it would do, does nothing
    r = ok(call(upgrade=dict(UPGRADE, reopen=True), start_run=True, check=True))
    assert r['changed'] is True and r['archived'] == archive
    assert r['state']['status'] == 'running' and r['state']['phases'] == {}
    assert open(path, encoding='utf-8').read() == old and not os.path.exists(archive)
    # for real
    r = ok(call(upgrade=dict(UPGRADE, reopen=True), start_run=True))
    assert r['changed'] is True and r['archived'] == archive and r['resumed'] is False
    assert open(archive, encoding='utf-8').read() == old
    doc = on_disk(path)
    assert doc['id'] == '2026.1-to-2026.2' and doc['status'] == 'running' and doc['phases'] == {} and doc['events'] == []
    assert doc['started'] == '2026-11-24T02:38:40.123+00:00'
    assert [run['status'] for run in doc['runs']] == ['running']
    assert 'reopen' not in doc
    # the reopened upgrade is not done: a second reopen keeps it (and resumes it)
    r = ok(call(upgrade=dict(UPGRADE, reopen=True)))
    assert r['archived'] == '' and r['resumed'] is True and r['changed'] is False
    assert sorted(os.listdir(os.path.dirname(path))) == sorted(['nova-upgrade.json', os.path.basename(archive)])


@pytest.mark.parametrize('status', ['running', 'failed'])
def test_reopen_of_an_unfinished_upgrade_resumes_it(call, path, clock, status):
    ok(call(upgrade=UPGRADE, start_run=True))
    ok(call(phase='roll', status='running'))
    if status == 'failed':
        ok(call(phase='roll', status='failed', finish='failed'))
    text = open(path, encoding='utf-8').read()
    r = ok(call(upgrade=dict(UPGRADE, reopen=True)))
    assert r['archived'] == '' and r['resumed'] is True and r['changed'] is False
    assert open(path, encoding='utf-8').read() == text


def test_reopen_does_not_open_another_unfinished_target(call, path):
    ok(call(upgrade=UPGRADE))
    res = call(upgrade=dict(from_release='2026.2', to_release='2027.1', reopen=True))
    assert res.failed and 'is unfinished' in res.result['msg']


def test_two_reopens_in_the_same_second_get_distinct_archives(call, path, clock):
    done_upgrade(call, clock)
    first = ok(call(upgrade=dict(UPGRADE, reopen=True)))['archived']
    ok(call(finish='done'))
    # the second document finished at the same second as the first: a counter keeps both
    second = ok(call(upgrade=dict(UPGRADE, reopen=True)))['archived']
    assert first != second and os.path.exists(first) and os.path.exists(second)

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

from ansible.module_utils import basic

from ansible_collections.rolling.openstack.plugins.modules import upgrade_lock as lock_module

T0 = datetime.datetime(2026, 11, 23, 1, 38, 40, 123000, tzinfo=datetime.timezone.utc)
RUN_A = dict(id='run-a', controller='deploy1.example.org', user='ops', pid=41873,
             playbook='rolling.openstack.nova_upgrade', started='2026-11-23T01:38:31Z')
RUN_B = dict(id='run-b', controller='deploy2.example.org', user='kim', pid=3311,
             playbook='rolling.openstack.nova_upgrade')
DOC_A = dict(schema=1, id='run-a', controller='deploy1.example.org', user='ops', pid=41873,
             playbook='rolling.openstack.nova_upgrade', started='2026-11-23T01:38:31.000+00:00',
             acquired='2026-11-23T01:38:40.123+00:00')


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
    with mock.patch.object(lock_module, '_now', clock):
        yield clock


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'rolling-openstack' / 'nova-upgrade.lock')


@pytest.fixture
def call(run_module, path, clock):
    """call(**args) runs the module with path set; check=True for check mode, diff=True for diff mode. The result
    (a ModuleExit) has .warn, the mock of AnsibleModule.warn."""

    def run(check=False, diff=False, **args):
        args.setdefault('path', path)
        if check:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        with mock.patch.object(basic.AnsibleModule, 'warn') as warn:
            res = run_module(lock_module.main, args, None)
        res.warn = warn
        return res

    return run


def ok(res):
    assert not res.failed, res.result
    return res.result


def failed(res):
    assert res.failed, res.result
    return res.result


def on_disk(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def raw(path):
    with open(path, 'rb') as handle:
        return handle.read()


# --- present -----------------------------------------------------------------------------------------------------

def test_create_writes_the_document_with_modes(call, path):
    r = ok(call(holder=RUN_A))
    assert r['changed'] is True and r['exists'] is True and r['acquired'] is True
    assert r['held_by_other'] is False and r['previous'] == {}
    assert r['path'] == path
    assert on_disk(path) == DOC_A == r['holder']
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o750
    assert os.listdir(os.path.dirname(path)) == ['nova-upgrade.lock']


def test_create_mode_ignores_the_umask(call, path):
    old = os.umask(0o077)
    try:
        ok(call(holder=RUN_A))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_create_in_an_existing_directory_keeps_its_mode(call, path):
    os.makedirs(os.path.dirname(path), 0o755)
    os.chmod(os.path.dirname(path), 0o755)
    ok(call(holder=RUN_A))
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o755


def test_create_defaults(call, path):
    r = ok(call(holder=dict(id='run-x')))
    assert on_disk(path) == r['holder'] == dict(schema=1, id='run-x', controller='', user='', pid=None, playbook='',
                                                started='2026-11-23T01:38:40.123+00:00',
                                                acquired='2026-11-23T01:38:40.123+00:00')


def test_started_is_normalised_to_utc(call, path):
    r = ok(call(holder=dict(RUN_A, started='2026-11-23T02:38:31.5+01:00')))
    assert r['holder']['started'] == '2026-11-23T01:38:31.500+00:00'


def test_bad_started_fails_and_writes_nothing(call, path):
    r = failed(call(holder=dict(RUN_A, started='yesterday')))
    assert 'holder.started' in r['msg'] and 'ISO 8601' in r['msg']
    assert not os.path.exists(path)


def test_empty_id_fails(call, path):
    r = failed(call(holder=dict(RUN_A, id=' ')))
    assert 'holder.id is empty' in r['msg']
    assert not os.path.exists(path)


def test_holder_is_required_for_present_and_absent(call, path):
    for state in ('present', 'absent'):
        r = failed(call(state=state))
        assert 'holder' in r['msg']


def test_same_id_is_idempotent(call, path, clock):
    ok(call(holder=RUN_A))
    before = raw(path)
    mtime = os.stat(path).st_mtime_ns
    clock.advance(60)
    # a later call of the same run: other details (started now) do not matter, the id does
    r = ok(call(holder=dict(id='run-a', pid=1)))
    assert r['changed'] is False and r['acquired'] is True and r['exists'] is True and r['held_by_other'] is False
    assert r['holder'] == DOC_A
    assert raw(path) == before and os.stat(path).st_mtime_ns == mtime


def test_second_holder_is_refused_naming_the_holder(call, path, clock):
    ok(call(holder=RUN_A))
    before = raw(path)
    clock.advance(30)
    r = failed(call(holder=RUN_B))
    assert r['changed'] is False and r['acquired'] is False and r['held_by_other'] is True and r['exists'] is True
    assert r['holder'] == DOC_A and r['previous'] == {}
    assert r['msg'] == (
        'the upgrade lock %s is held by run run-a of ops@deploy1.example.org (pid 41873, rolling.openstack.nova_upgrade) '
        'since 2026-11-23T01:38:40.123+00:00: another run of the upgrade is under way. Wait for it to finish. If that '
        'run is gone (killed, its controller lost), take the lock over with takeover=true.' % path)
    assert raw(path) == before


def test_refusal_message_with_unknown_details(call, path):
    ok(call(holder=dict(id='run-x')))
    r = failed(call(holder=RUN_B))
    assert 'held by run run-x of unknown@unknown (pid unknown) since 2026-11-23T01:38:40.123+00:00' in r['msg']


def test_takeover_replaces_and_returns_the_previous_holder(call, path, clock):
    ok(call(holder=RUN_A))
    clock.advance(3600)
    r = ok(call(holder=RUN_B, takeover=True))
    assert r['changed'] is True and r['acquired'] is True and r['held_by_other'] is False
    assert r['previous'] == DOC_A
    assert 'took over' in r['msg'] and 'run run-a of ops@deploy1.example.org' in r['msg']
    doc = on_disk(path)
    assert doc == r['holder']
    assert doc['id'] == 'run-b' and doc['user'] == 'kim' and doc['acquired'] == '2026-11-23T02:38:40.123+00:00'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(os.path.dirname(path)) == ['nova-upgrade.lock']  # no temp file left
    # the old holder is refused now, and the new one holds the lock
    r = failed(call(holder=RUN_A))
    assert 'held by run run-b of kim@deploy2.example.org' in r['msg']
    assert ok(call(holder=RUN_B, takeover=True))['changed'] is False


def test_takeover_without_a_lock_just_takes_it(call, path):
    r = ok(call(holder=RUN_A, takeover=True))
    assert r['changed'] is True and r['previous'] == {} and on_disk(path) == DOC_A


def test_takeover_of_own_lock_changes_nothing(call, path):
    ok(call(holder=RUN_A))
    before = raw(path)
    r = ok(call(holder=RUN_A, takeover=True))
    assert r['changed'] is False and r['previous'] == {} and raw(path) == before


def test_a_race_lost_at_create_reads_the_winner(call, path, clock):
    """Another run creates the file between this run's read and its create: this run is refused, naming it."""
    real_read = lock_module._read
    calls = []

    def racing_read(p):
        calls.append(p)
        if len(calls) == 1:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            result = real_read(p)  # nothing there yet ...
            with open(p, 'w', encoding='utf-8') as handle:  # ... and now the other run writes its lock
                json.dump(dict(DOC_A, id='run-b', user='kim'), handle)
            return result
        return real_read(p)

    with mock.patch.object(lock_module, '_read', racing_read):
        r = failed(call(holder=RUN_A))
    assert len(calls) == 2
    assert r['held_by_other'] is True and r['holder']['id'] == 'run-b' and 'held by run run-b of kim@' in r['msg']
    assert on_disk(path)['id'] == 'run-b'


@pytest.mark.parametrize('content, reason', [
    (b'', 'it is empty'),
    (b'{"schema": 1, "id": "run-', 'it is not valid JSON'),
    (b'[1, 2]', 'not a lock document'),
    (b'{"schema": 1}', 'not a lock document'),
    (b'\xff\xfe\x00', 'it is not valid JSON'),
])
def test_unreadable_file_is_refused(call, path, content, reason):
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as handle:
        handle.write(content)
    r = failed(call(holder=RUN_A))
    assert r['held_by_other'] is True and r['acquired'] is False and r['holder'] == {} and r['exists'] is True
    assert 'unreadable' in r['msg'] and reason in r['msg'] and 'takeover=true' in r['msg']
    assert raw(path) == content


def test_unreadable_file_is_taken_over(call, path):
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as handle:
        handle.write(b'{"schema": 1, "id": "run-')
    r = ok(call(holder=RUN_A, takeover=True))
    assert r['changed'] is True and r['acquired'] is True and r['previous'] == {}
    assert 'unreadable' in r['msg']
    assert on_disk(path) == DOC_A


def test_directory_path_fails(call, tmp_path):
    r = failed(call(path=str(tmp_path), holder=RUN_A))
    assert 'is a directory' in r['msg']


def test_unwritable_directory_fails_cleanly(call, path):
    real_open = os.open

    def refuse(name, flags, mode=0o777, **kwargs):
        if name == path:
            raise PermissionError(13, 'Permission denied', name)
        return real_open(name, flags, mode, **kwargs)

    with mock.patch.object(lock_module.os, 'open', refuse):
        r = failed(call(holder=RUN_A))
    assert r['msg'] == 'cannot take or release the upgrade lock %s: [Errno 13] Permission denied: %r' % (path, path)
    assert r['changed'] is False and r['acquired'] is False and r['holder'] == {}
    assert not os.path.exists(path)


def test_a_failed_write_leaves_no_lock(call, path):
    with mock.patch.object(lock_module.os, 'fsync', side_effect=OSError(28, 'No space left on device')):
        r = failed(call(holder=RUN_A))
    assert 'No space left on device' in r['msg']
    assert not os.path.exists(path)


# --- absent ------------------------------------------------------------------------------------------------------

def test_release_own_lock(call, path):
    ok(call(holder=RUN_A))
    res = call(state='absent', holder=dict(id='run-a'))
    r = ok(res)
    assert r['changed'] is True and r['exists'] is False and r['acquired'] is False and r['holder'] == {}
    assert not os.path.exists(path)
    res.warn.assert_not_called()
    # again: nothing to release
    r = ok(call(state='absent', holder=dict(id='run-a')))
    assert r['changed'] is False and r['exists'] is False


def test_release_without_a_file(call, path):
    res = call(state='absent', holder=RUN_A)
    r = ok(res)
    assert r['changed'] is False and r['exists'] is False and r['held_by_other'] is False
    res.warn.assert_not_called()
    assert not os.path.exists(os.path.dirname(path))


def test_never_release_another_runs_lock(call, path):
    ok(call(holder=RUN_A))
    before = raw(path)
    res = call(state='absent', holder=RUN_B)
    r = ok(res)
    assert r['changed'] is False and r['exists'] is True and r['held_by_other'] is True and r['acquired'] is False
    assert r['holder'] == DOC_A
    assert raw(path) == before
    res.warn.assert_called_once()
    warning = res.warn.call_args.args[0]
    assert 'run run-a of ops@deploy1.example.org' in warning and 'run-b' in warning and 'in place' in warning


def test_never_release_an_unreadable_lock(call, path):
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as handle:
        handle.write(b'garbage')
    res = call(state='absent', holder=RUN_A)
    r = ok(res)
    assert r['changed'] is False and r['held_by_other'] is True and r['holder'] == {}
    assert raw(path) == b'garbage'
    res.warn.assert_called_once()
    assert 'unreadable' in res.warn.call_args.args[0]


# --- query -------------------------------------------------------------------------------------------------------

def test_query_without_a_file(call, path):
    r = ok(call(state='query'))
    assert r == dict(changed=False, path=path, exists=False, acquired=False, held_by_other=False, holder={},
                     previous={}, msg='there is no upgrade lock %s' % path)
    assert not os.path.exists(os.path.dirname(path))


def test_query_reads_only(call, path):
    ok(call(holder=RUN_A))
    before = raw(path)
    mtime = os.stat(path).st_mtime_ns
    r = ok(call(state='query'))
    assert r['changed'] is False and r['exists'] is True and r['holder'] == DOC_A
    assert r['acquired'] is False and r['held_by_other'] is True  # without holder, anyone is another run
    assert 'held by run run-a' in r['msg']
    r = ok(call(state='query', holder=dict(id='run-a')))
    assert r['acquired'] is True and r['held_by_other'] is False
    r = ok(call(state='query', holder=dict(id='run-b')))
    assert r['acquired'] is False and r['held_by_other'] is True
    r = ok(call(state='query', holder=dict(id='run-b'), takeover=True))  # takeover means nothing to a query
    assert r['changed'] is False and r['holder'] == DOC_A
    assert raw(path) == before and os.stat(path).st_mtime_ns == mtime


def test_query_of_an_unreadable_file(call, path):
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as handle:
        handle.write(b'')
    r = ok(call(state='query'))
    assert r['exists'] is True and r['holder'] == {} and r['held_by_other'] is True and 'unreadable' in r['msg']


# --- check mode --------------------------------------------------------------------------------------------------

def test_check_mode_create_writes_nothing(call, path):
    r = ok(call(holder=RUN_A, check=True))
    assert r['changed'] is True and r['acquired'] is True and r['exists'] is True and r['holder'] == DOC_A
    assert not os.path.exists(os.path.dirname(path))


def test_check_mode_same_id(call, path):
    ok(call(holder=RUN_A))
    before = raw(path)
    r = ok(call(holder=RUN_A, check=True))
    assert r['changed'] is False and r['acquired'] is True and raw(path) == before


def test_check_mode_other_holder_does_not_fail(call, path):
    ok(call(holder=RUN_A))
    before = raw(path)
    r = ok(call(holder=RUN_B, check=True))
    assert r['changed'] is False and r['acquired'] is False and r['held_by_other'] is True
    assert r['holder'] == DOC_A and 'held by run run-a' in r['msg']
    assert raw(path) == before


def test_check_mode_unreadable_does_not_fail(call, path):
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as handle:
        handle.write(b'{')
    r = ok(call(holder=RUN_B, check=True))
    assert r['changed'] is False and r['held_by_other'] is True and r['holder'] == {}
    assert raw(path) == b'{'


def test_check_mode_takeover_writes_nothing(call, path, clock):
    ok(call(holder=RUN_A))
    before = raw(path)
    clock.advance(10)
    r = ok(call(holder=RUN_B, takeover=True, check=True))
    assert r['changed'] is True and r['acquired'] is True and r['held_by_other'] is False
    assert r['previous'] == DOC_A and r['holder']['id'] == 'run-b'
    assert raw(path) == before
    assert os.listdir(os.path.dirname(path)) == ['nova-upgrade.lock']


def test_check_mode_release_removes_nothing(call, path):
    ok(call(holder=RUN_A))
    before = raw(path)
    r = ok(call(state='absent', holder=RUN_A, check=True))
    assert r['changed'] is True and r['exists'] is False and r['acquired'] is False
    assert raw(path) == before
    res = call(state='absent', holder=RUN_B, check=True)
    r = ok(res)
    assert r['changed'] is False and r['held_by_other'] is True and raw(path) == before
    res.warn.assert_called_once()


def test_check_mode_release_without_a_file(call, path):
    r = ok(call(state='absent', holder=RUN_A, check=True))
    assert r['changed'] is False and r['exists'] is False


# --- diff --------------------------------------------------------------------------------------------------------

def test_diff(call, path, clock):
    r = ok(call(holder=RUN_A, diff=True))
    assert r['diff']['before'] == '' and json.loads(r['diff']['after']) == DOC_A
    assert r['diff']['before_header'] == r['diff']['after_header'] == path
    r = ok(call(holder=RUN_A, diff=True))
    assert r['diff']['before'] == r['diff']['after']
    clock.advance(5)
    r = ok(call(holder=RUN_B, takeover=True, diff=True, check=True))
    assert json.loads(r['diff']['before']) == DOC_A and json.loads(r['diff']['after'])['id'] == 'run-b'
    r = ok(call(state='absent', holder=RUN_A, diff=True))
    assert json.loads(r['diff']['before']) == DOC_A and r['diff']['after'] == ''
    r = ok(call(state='query', diff=True))
    assert 'diff' not in r


def test_result_without_diff_mode_has_no_diff(call, path):
    assert 'diff' not in ok(call(holder=RUN_A))

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.rolling.openstack.plugins.modules import nova_online_data_migrations as odm


def table(*rows):
    """nova-manage's migrations table for rows of (name, total_needed, completed)."""
    lines = ['+------------------------------+--------------+-----------+',
             '|          Migration           | Total Needed | Completed |',
             '+------------------------------+--------------+-----------+']
    lines += ['| %28s | %12d | %9d |' % row for row in rows]
    lines.append('+------------------------------+--------------+-----------+')
    return '\n'.join(lines) + '\n'


@pytest.fixture
def nova_host(tmp_path):
    """A nova venv with an executable bin/nova-manage and a config file, as on a controller."""
    venv = tmp_path / 'nova-34.0.0'
    (venv / 'bin').mkdir(parents=True)
    manage = venv / 'bin' / 'nova-manage'
    manage.write_text('#!/bin/sh\nexit 99\n')
    manage.chmod(0o755)
    conf = tmp_path / 'nova.conf'
    conf.write_text('[DEFAULT]\n')
    return dict(venv=str(venv), manage=str(manage), conf=str(conf))


def run(run_module, args, results):
    """Run the module with run_command answering results (rc, out, err) in turn; return (exit, run_command)."""
    with mock.patch.object(basic.AnsibleModule, 'run_command', side_effect=list(results)) as run_command, \
            mock.patch.object(odm.time, 'sleep') as sleep:
        res = run_module(odm.main, args, None)
    res.sleep = sleep
    return res, run_command


def base_args(nova_host, **extra):
    args = dict(nova_venv=nova_host['venv'], config_files=[nova_host['conf']])
    args.update(extra)
    return args


def test_loops_while_rc_1_then_done_at_rc_0(run_module, nova_host):
    results = [
        (1, table(('populate_queued_for_delete', 50, 50), ('populate_uuids', 0, 0)), ''),
        (1, table(('populate_queued_for_delete', 20, 20), ('populate_uuids', 3, 3)), ''),
        (0, table(('populate_queued_for_delete', 0, 0), ('populate_uuids', 0, 0)), ''),
    ]
    res, run_command = run(run_module, base_args(nova_host, throttle=2.5), results)
    assert not res.failed, res.result
    r = res.result
    assert r['changed'] is True
    assert r['complete'] is True
    assert r['runs'] == 3
    assert r['migrated'] == 73
    assert r['migrations'] == [dict(name='populate_queued_for_delete', total_needed=70, completed=70),
                               dict(name='populate_uuids', total_needed=3, completed=3)]
    assert [x['rc'] for x in r['run_results']] == [1, 1, 0]
    assert [x['completed'] for x in r['run_results']] == [50, 23, 0]
    assert res.sleep.call_args_list == [mock.call(2.5), mock.call(2.5)]
    argv = run_command.call_args_list[0].args[0]
    assert argv == [nova_host['manage'], '--config-file', nova_host['conf'], 'db', 'online_data_migrations',
                    '--max-count', '50']
    assert run_command.call_args_list[0].kwargs['environ_update']['LC_ALL'] == 'C.UTF-8'
    assert r['cmd'] == ' '.join(argv)


def test_nothing_to_migrate_is_not_a_change(run_module, nova_host):
    res, run_command = run(run_module, base_args(nova_host, max_count=10),
                           [(0, table(('populate_uuids', 0, 0)), '')])
    assert not res.failed
    assert res.result['changed'] is False
    assert res.result['complete'] is True
    assert res.result['runs'] == 1
    assert run_command.call_args.args[0][-2:] == ['--max-count', '10']
    res.sleep.assert_not_called()


def test_rc_2_fails_with_the_table(run_module, nova_host):
    out = ('Error attempting to run <function populate_user_id at 0x7f>\n' + table(('populate_user_id', 4, 0))
           + 'Some migrations failed unexpectedly. Check log for details.\n')
    res, _rc = run(run_module, base_args(nova_host), [(1, table(('populate_uuids', 2, 2)), ''), (2, out, '')])
    assert res.failed
    r = res.result
    assert 'exited 2 in run 2' in r['msg']
    assert 'Migration           | Total Needed | Completed |' in r['msg']
    assert 'populate_user_id |            4 |         0 |' in r['msg']
    assert 'Error attempting to run <function populate_user_id' in r['msg']
    assert r['rc'] == 2
    assert r['runs'] == 2
    assert r['changed'] is True  # run 1 migrated 2 rows
    assert r['run_results'][1]['errors'][0].startswith('Error attempting to run')


@pytest.mark.parametrize('rc, what', [(255, 'an error'), (127, 'invalid input'), (3, 'an unexpected exit code')])
def test_other_exit_codes_fail_with_scrubbed_output(run_module, nova_host, rc, what):
    out = ('An error has occurred:\nTraceback (most recent call last):\n'
           'sqlalchemy.exc.OperationalError: (2003) mysql+pymysql://nova:Sup3rSecret@10.77.0.10/nova\n')
    res, _rc = run(run_module, base_args(nova_host), [(rc, out, 'rabbit://openstack:RabbitPw9@10.77.0.10:5672/')])
    assert res.failed
    assert 'exited %d (%s) in run 1' % (rc, what) in res.result['msg']
    assert 'OperationalError' in res.result['msg']
    dumped = repr(res.result)
    assert 'Sup3rSecret' not in dumped
    assert 'RabbitPw9' not in dumped
    assert 'mysql+pymysql://***@10.77.0.10/nova' in res.result['msg']


def test_max_runs_exhausted_fails_and_says_how_to_continue(run_module, nova_host):
    results = [(1, table(('populate_uuids', 5, 5)), '')] * 3
    res, run_command = run(run_module, base_args(nova_host, max_runs=3), results)
    assert res.failed
    assert run_command.call_count == 3
    assert res.result['runs'] == 3
    assert res.result['complete'] is False
    assert res.result['migrated'] == 15
    assert 'after max_runs=3 runs' in res.result['msg']
    assert 'run the module again' in res.result['msg']


def test_check_mode_runs_nothing_and_reports_the_command(run_module, nova_host):
    res, run_command = run(run_module, base_args(nova_host, _ansible_check_mode=True), [])
    assert not res.failed
    run_command.assert_not_called()
    assert res.result['changed'] is False
    assert res.result['runs'] == 0
    assert res.result['cmd'].startswith(nova_host['manage'] + ' --config-file ')
    assert 'would run' in res.result['msg']


def test_missing_venv_names_the_option_and_the_fix(run_module, nova_host, tmp_path):
    res, run_command = run(run_module, base_args(nova_host, nova_venv=str(tmp_path / 'nova-35.0.0')), [])
    assert res.failed
    run_command.assert_not_called()
    assert 'nova_venv %s does not exist' % (tmp_path / 'nova-35.0.0') in res.result['msg']
    assert '/opt/openstack/venvs/nova-' in res.result['msg']


def test_missing_config_file_fails_before_running(run_module, nova_host, tmp_path):
    res, run_command = run(run_module, base_args(nova_host, config_files=[str(tmp_path / 'none.conf')]), [])
    assert res.failed
    run_command.assert_not_called()
    assert 'none.conf (option config_files) does not exist' in res.result['msg']


def test_nova_manage_cmd_overrides_the_venv(run_module, nova_host):
    args = dict(nova_manage_cmd=nova_host['manage'], config_files=[nova_host['conf']],
                config_dir=nova_host['venv'])
    res, run_command = run(run_module, args, [(0, table(('populate_uuids', 0, 0)), '')])
    assert not res.failed
    assert run_command.call_args.args[0][:5] == [nova_host['manage'], '--config-file', nova_host['conf'],
                                                 '--config-dir', nova_host['venv']]


def test_nova_manage_on_path_by_default(run_module, nova_host):
    with mock.patch.object(basic.AnsibleModule, 'get_bin_path', return_value='/usr/bin/nova-manage') as gbp:
        res, run_command = run(run_module, dict(config_files=[nova_host['conf']]),
                               [(0, table(('populate_uuids', 0, 0)), '')])
    assert not res.failed
    gbp.assert_called_with('nova-manage')
    assert run_command.call_args.args[0][0] == '/usr/bin/nova-manage'


def test_no_nova_manage_anywhere(run_module, nova_host):
    with mock.patch.object(basic.AnsibleModule, 'get_bin_path', return_value=None):
        res, _rc = run(run_module, dict(config_files=[nova_host['conf']]), [])
    assert res.failed
    assert 'nova-manage was not found on PATH' in res.result['msg']
    assert 'set nova_venv' in res.result['msg']


@pytest.mark.parametrize('args, msg', [
    (dict(max_count=0), 'max_count must be at least 1'),
    (dict(max_runs=0), 'max_runs must be at least 1'),
    (dict(throttle=-1), 'throttle must be at least 0'),
])
def test_bad_numbers(run_module, nova_host, args, msg):
    res, run_command = run(run_module, base_args(nova_host, **args), [])
    assert res.failed
    assert msg in res.result['msg']
    run_command.assert_not_called()

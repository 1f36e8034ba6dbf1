# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import stat
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


# --- unmigrated: rows the last (rc 0) run found but could not migrate -----------------------------------------------

def test_unmigrated_rows_of_the_last_run(run_module, nova_host):
    results = [
        (1, table(('populate_instance_compute_id', 5, 3), ('populate_uuids', 4, 4)), ''),
        (0, table(('populate_instance_compute_id', 2, 0), ('populate_uuids', 0, 0), ('populate_user_id', 1, 1)), ''),
    ]
    res, _rc = run(run_module, base_args(nova_host), results)
    assert not res.failed, res.result
    r = res.result
    assert r['complete'] is True
    # only the last run counts: run 1 found 5 and migrated 3, but it said "more to do" (rc 1)
    assert r['unmigrated'] == [dict(name='populate_instance_compute_id', found=2, migrated=0)]
    assert r['msg'] == ('online data migrations complete after 2 run(s); rows found but not migrated: '
                        'populate_instance_compute_id 2')
    assert r['cell'] == ''


def test_no_unmigrated_rows(run_module, nova_host):
    res, _rc = run(run_module, base_args(nova_host), [(0, table(('populate_uuids', 0, 0)), '')])
    assert res.result['unmigrated'] == []
    assert res.result['msg'] == 'online data migrations complete after 1 run(s)'


def test_unmigrated_is_returned_empty_on_failure_and_in_check_mode(run_module, nova_host):
    res, _rc = run(run_module, base_args(nova_host), [(2, table(('populate_user_id', 4, 0)), '')])
    assert res.failed and res.result['unmigrated'] == []
    res, _rc = run(run_module, base_args(nova_host, _ansible_check_mode=True), [])
    assert res.result['unmigrated'] == [] and res.result['cell'] == ''


# --- cell: one cell, named by its cell mapping -----------------------------------------------------------------------

CELL0 = '00000000-0000-0000-0000-000000000000'
CELL0_URL = 'mysql+pymysql://nova:Cell0Secret@10.77.0.10/nova_cell0'


class CellHost:
    """run_command for the module with a cell: the snippet (python -) answers the mapping; nova-manage answers results
    in turn and records the config files it was given while it ran."""

    def __init__(self, results, mapping=None):
        self.results = list(results)
        self.mapping = mapping if mapping is not None else dict(uuid=CELL0, name='cell0', connection=CELL0_URL)
        self.snippets = []
        self.runs = []

    def __call__(self, argv, **kwargs):
        if argv[1] == '-':
            self.snippets.append(dict(argv=argv, data=kwargs.get('data')))
            return 0, 'a log line\nROLLING_NOVA_CELL=%s\n' % json.dumps(self.mapping), ''
        files = [argv[i + 1] for i, a in enumerate(argv) if a == '--config-file']
        seen = [dict(path=f, mode=stat.S_IMODE(os.stat(f).st_mode), text=open(f).read()) for f in files]
        self.runs.append(dict(argv=argv, files=seen))
        return self.results.pop(0)


@pytest.fixture
def cell_host(nova_host):
    python = os.path.join(nova_host['venv'], 'bin', 'python')
    with open(python, 'w') as handle:
        handle.write('#!/bin/sh\nexit 99\n')
    os.chmod(python, 0o755)
    return dict(nova_host, python=python)


def run_cell(run_module, args, fake):
    with mock.patch.object(basic.AnsibleModule, 'run_command', side_effect=fake), \
            mock.patch.object(odm.time, 'sleep'):
        return run_module(odm.main, args, None)


def test_cell_from_its_mapping(run_module, cell_host):
    fake = CellHost([(1, table(('populate_queued_for_delete', 3, 3)), ''), (0, table(('populate_queued_for_delete', 0, 0)), '')])
    res = run_cell(run_module, base_args(cell_host, cell='cell0'), fake)
    assert not res.failed, res.result
    r = res.result
    assert r['cell'] == 'cell0'
    assert r['migrated'] == 3 and r['runs'] == 2
    assert r['cmd'] == '%s --config-file %s db online_data_migrations --max-count 50 (cell cell0)' % (
        cell_host['manage'], cell_host['conf'])
    # the mapping was read with the venv's python and the module's config files, for this cell
    assert fake.snippets[0]['argv'] == [cell_host['python'], '-', '--config-file', cell_host['conf']]
    assert "CELL = 'cell0'" in fake.snippets[0]['data']
    paths = set()
    for one in fake.runs:
        argv = one['argv']
        # the temporary file comes after the module's config files, so that its [database] connection wins
        assert argv[:3] == [cell_host['manage'], '--config-file', cell_host['conf']]
        assert argv[3] == '--config-file' and 'rolling-nova-cell-' in argv[4]
        assert argv[5:] == ['db', 'online_data_migrations', '--max-count', '50']
        extra = one['files'][1]
        assert extra['mode'] == 0o600
        assert '[database]\nconnection = %s\n' % CELL0_URL in extra['text']
        paths.add(extra['path'])
    assert len(paths) == 1
    path = paths.pop()
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    dumped = json.dumps(r)
    assert 'Cell0Secret' not in dumped and path not in dumped


def test_cell_check_mode_reads_nothing(run_module, cell_host):
    fake = CellHost([])
    res = run_cell(run_module, base_args(cell_host, cell='cell0', _ansible_check_mode=True), fake)
    assert not res.failed, res.result
    assert fake.snippets == [] and fake.runs == []
    assert res.result['cmd'].endswith('--max-count 50 (cell cell0)')
    assert res.result['cell'] == 'cell0'


def test_unknown_cell_fails_before_nova_manage(run_module, cell_host):
    fake = CellHost([], mapping=dict(error='no cell mapping has the uuid or name cell7'))
    res = run_cell(run_module, base_args(cell_host, cell='cell7'), fake)
    assert res.failed
    assert 'no cell mapping has the uuid or name cell7' in res.result['msg']
    assert fake.runs == []


def test_cell_failure_is_scrubbed_of_the_mapping_credentials(run_module, cell_host):
    out = 'An error has occurred:\nOperationalError: access denied for nova:Cell0Secret\n'
    fake = CellHost([(255, out, '')])
    res = run_cell(run_module, base_args(cell_host, cell='cell0'), fake)
    assert res.failed
    assert 'exited 255 (an error) in run 1' in res.result['msg']
    assert 'access denied for ***' in res.result['msg']
    assert 'Cell0Secret' not in json.dumps(res.result)
    assert not os.path.exists(fake.runs[0]['files'][1]['path'])


def test_cell_with_nova_manage_cmd_and_nova_python(run_module, cell_host):
    fake = CellHost([(0, table(('populate_uuids', 0, 0)), '')])
    args = dict(nova_manage_cmd=cell_host['manage'], nova_python=cell_host['python'], config_files=[cell_host['conf']],
                cell=CELL0)
    res = run_cell(run_module, args, fake)
    assert not res.failed, res.result
    assert fake.snippets[0]['argv'][0] == cell_host['python']
    assert res.result['cell'] == CELL0

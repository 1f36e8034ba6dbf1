# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.rolling.openstack.plugins.modules import nova_status_check


def status_table(*checks):
    """nova-status's output for checks of (name, result, details)."""
    sep = '+' + '-' * 62 + '+'
    lines = [sep, '| %-60s |' % 'Upgrade Check Results', sep]
    for name, result, details in checks:
        lines += ['| %-60s |' % ('Check: ' + name), '| %-60s |' % ('Result: ' + result)]
        details_lines = (details or 'None').split('\n')
        lines.append('| %-60s |' % ('Details: ' + details_lines[0]))
        lines += ['| %-60s |' % ('  ' + d) for d in details_lines[1:]]
        lines.append(sep)
    return '\n'.join(lines) + '\n'


ALL_OK = status_table(('Cells v2', 'Success', None), ('Placement API', 'Success', None),
                      ('Cinder API', 'Success', None), ('Older than N-1 computes', 'Success', None),
                      ('hw_machine_type unset', 'Success', None),
                      ('Service User Token Configuration', 'Success', None))
WARN = status_table(('Cells v2', 'Success', None),
                    ('Older than N-1 computes', 'Warning',
                     'Current Nova version does not support computes older\nthan Epoxy.'))
FAIL = status_table(('Cells v2', 'Failure', 'No host mappings found but there are\ncompute nodes.'),
                    ('Placement API', 'Success', None))


@pytest.fixture
def nova_host(tmp_path):
    venv = tmp_path / 'nova-34.0.0'
    (venv / 'bin').mkdir(parents=True)
    status = venv / 'bin' / 'nova-status'
    status.write_text('#!/bin/sh\nexit 99\n')
    status.chmod(0o755)
    conf = tmp_path / 'nova.conf'
    conf.write_text('[DEFAULT]\n')
    return dict(venv=str(venv), status=str(status), conf=str(conf))


def run(run_module, nova_host, result, **args):
    params = dict(nova_venv=nova_host['venv'], config_files=[nova_host['conf']])
    params.update(args)
    with mock.patch.object(basic.AnsibleModule, 'run_command', return_value=result) as run_command:
        res = run_module(nova_status_check.main, params, None)
    return res, run_command


def test_all_checks_pass(run_module, nova_host):
    res, run_command = run(run_module, nova_host, (0, ALL_OK, ''))
    assert not res.failed
    r = res.result
    assert r['changed'] is False
    assert r['rc'] == 0
    assert r['result'] == 'Success'
    assert [c['check'] for c in r['checks']] == ['Cells v2', 'Placement API', 'Cinder API', 'Older than N-1 computes',
                                                 'hw_machine_type unset', 'Service User Token Configuration']
    assert all(c['result'] == 'Success' and c['details'] is None for c in r['checks'])
    assert r['warning_checks'] == [] and r['failure_checks'] == []
    # oslo.config options before the sub-command, no --format/--json (nova-status has neither)
    assert run_command.call_args.args[0] == [nova_host['status'], '--config-file', nova_host['conf'], 'upgrade',
                                             'check']


def test_warnings_are_reported_not_failed_by_default(run_module, nova_host):
    res, _rc = run(run_module, nova_host, (1, WARN, ''))
    assert not res.failed
    r = res.result
    assert r['result'] == 'Warning'
    assert r['warning_checks'] == [dict(check='Older than N-1 computes', result='Warning',
                                        details='Current Nova version does not support computes older than Epoxy.')]
    assert 'Older than N-1 computes: Current Nova version' in r['msg']


def test_warnings_fail_with_fail_on_warning(run_module, nova_host):
    res, _rc = run(run_module, nova_host, (1, WARN, ''), fail_on_warning=True)
    assert res.failed
    assert 'fail_on_warning' in res.result['msg']
    assert res.result['rc'] == 1


def test_failures_fail_with_the_details(run_module, nova_host):
    res, _rc = run(run_module, nova_host, (2, FAIL, ''))
    assert res.failed
    r = res.result
    assert r['result'] == 'Failure'
    assert 'Cells v2: No host mappings found but there are compute nodes.' in r['msg']
    assert r['failure_checks'][0]['check'] == 'Cells v2'
    assert len(r['checks']) == 2


def test_error_255_fails_with_scrubbed_traceback(run_module, nova_host):
    out = ('Error:\nTraceback (most recent call last):\n  File "nova/cmd/status.py"\n'
           "sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) (1045, \"Access denied\") "
           "url mysql+pymysql://nova_api:Sup3rSecret@10.77.0.10/nova_api\n")
    res, _rc = run(run_module, nova_host, (255, out, ''))
    assert res.failed
    r = res.result
    assert r['result'] == 'Error'
    assert r['checks'] == []
    assert 'exited 255 (an error inside nova-status)' in r['msg']
    assert 'Access denied' in r['msg']
    assert 'Sup3rSecret' not in repr(r)


def test_runs_in_check_mode_too(run_module, nova_host):
    res, run_command = run(run_module, nova_host, (0, ALL_OK, ''), _ansible_check_mode=True)
    assert not res.failed
    run_command.assert_called_once()
    assert res.result['changed'] is False


def test_nova_status_cmd_and_path_lookup(run_module, nova_host):
    with mock.patch.object(basic.AnsibleModule, 'get_bin_path', return_value='/usr/bin/nova-status') as gbp:
        res, run_command = run(run_module, nova_host, (0, ALL_OK, ''), nova_venv=None)
    assert not res.failed
    gbp.assert_called_with('nova-status')
    assert run_command.call_args.args[0][0] == '/usr/bin/nova-status'
    res, run_command = run(run_module, nova_host, (0, ALL_OK, ''), nova_venv=None,
                           nova_status_cmd=nova_host['status'])
    assert run_command.call_args.args[0][0] == nova_host['status']


def test_venv_without_nova_status(run_module, nova_host, tmp_path):
    empty = tmp_path / 'empty-venv'
    empty.mkdir()
    res, run_command = run(run_module, nova_host, (0, ALL_OK, ''), nova_venv=str(empty))
    assert res.failed
    run_command.assert_not_called()
    assert 'has no executable bin/nova-status' in res.result['msg']


def test_nova_python_runs_the_entry_point(run_module, nova_host, tmp_path):
    python = tmp_path / 'python3'
    python.write_text('#!/bin/sh\nexit 99\n')
    python.chmod(0o755)
    res, run_command = run(run_module, nova_host, (2, FAIL, ''), nova_venv=None, nova_python=str(python))
    assert res.failed and res.result['result'] == 'Failure' and res.result['rc'] == 2
    assert run_command.call_args.args[0] == [str(python), '-c', nova_status_check._STATUS_ENTRY_POINT,
                                             '--config-file', nova_host['conf'], 'upgrade', 'check']


def test_nova_status_cmd_wins_over_nova_python(run_module, nova_host, tmp_path):
    res, run_command = run(run_module, nova_host, (0, ALL_OK, ''), nova_python='/does/not/matter',
                           nova_status_cmd=nova_host['status'])
    assert not res.failed
    assert run_command.call_args.args[0][0] == nova_host['status']

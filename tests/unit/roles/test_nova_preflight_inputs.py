# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""roles/nova_preflight/tasks/inputs.yml: bad inputs are refused with a message naming the value and the fix."""

from __future__ import annotations


def _scenario(name, **facts):
    base = dict(nova_upgrade_api_group='nova_api', nova_upgrade_conductor_group='nova_conductor',
                nova_upgrade_scheduler_group='nova_scheduler', nova_upgrade_compute_group='nova_compute',
                nova_upgrade_placement_group='placement', nova_upgrade_db_group='mariadb', nova_upgrade_limit_hosts=[],
                nova_upgrade_expected_down=[], nova_upgrade_manage_host='', nova_upgrade_backup_host='',
                nova_upgrade_backup=True, nova_upgrade_target_release='2026.2', nova_upgrade_install_method='venv',
                nova_upgrade_install_tasks='', nova_upgrade_target_manage_cmd='', nova_upgrade_target_python='',
                nova_upgrade_target_placement_manage_cmd='')
    base.update(facts)
    return dict(name=name, facts=base)


def test_inputs(run_scenarios):
    out = run_scenarios('nova_preflight', 'inputs', [
        _scenario('defaults'),
        _scenario('unknown_group', nova_upgrade_compute_group='computez'),
        _scenario('empty_group', nova_upgrade_api_group='empty'),
        _scenario('no_placement', nova_upgrade_placement_group=''),
        _scenario('unknown_db_group_without_backup', nova_upgrade_db_group='nope', nova_upgrade_backup=False),
        _scenario('limit_unknown_host', nova_upgrade_limit_hosts=['cmp9', 'ctl1']),
        _scenario('limit_string', nova_upgrade_limit_hosts='cmp2, cmp3'),
        _scenario('unknown_manage_host', nova_upgrade_manage_host='ctl9'),
        _scenario('manage_host_and_expected_down', nova_upgrade_manage_host='ctl2', nova_upgrade_expected_down='cmp1'),
        _scenario('series_name', nova_upgrade_target_release='Hibiscus'),
        _scenario('nova_version', nova_upgrade_target_release='34.0.0'),
        _scenario('stable_branch', nova_upgrade_target_release='stable/2026.2'),
        _scenario('unknown_release', nova_upgrade_target_release='2030.2'),
        _scenario('custom_without_tools', nova_upgrade_install_method='custom', nova_upgrade_install_tasks='/x.yml'),
        _scenario('custom_with_tools', nova_upgrade_install_method='custom', nova_upgrade_install_tasks='/x.yml',
                  nova_upgrade_target_manage_cmd='nm', nova_upgrade_target_python='py',
                  nova_upgrade_target_placement_manage_cmd='pm'),
        _scenario('manage_host_expected_down', nova_upgrade_expected_down=['ctl1']),
    ], collect=['nova_preflight_hosts', 'nova_preflight_service_hosts', 'nova_preflight_limit',
                'nova_preflight_expected_down', 'nova_preflight_warnings', 'nova_preflight_target_release'])

    ok = out['defaults']
    assert not ok['failed'], ok['msgs']
    hosts = ok['facts']['nova_preflight_hosts']
    assert hosts['control'] == ['ctl1', 'ctl2']
    assert hosts['compute'] == hosts['compute_in_scope'] == ['cmp1', 'cmp2', 'cmp3']
    assert hosts['placement'] == ['ctl1', 'ctl2']
    assert (hosts['manage'], hosts['backup']) == ('ctl1', 'infra')
    # the host variable nova_upgrade_service_host renames a host for nova
    assert ok['facts']['nova_preflight_service_hosts'] == {
        'ctl1': 'ctl1', 'ctl2': 'ctl2', 'cmp1': 'cmp1', 'cmp2': 'cmp2', 'cmp3': 'cmp3.example'}
    assert ok['facts']['nova_preflight_warnings'] == []

    msg = out['unknown_group']['msgs']
    assert out['unknown_group']['failed'] and len(msg) == 1
    assert msg[0].startswith('nova_upgrade_compute_group=computez: there is no inventory group computez.')
    assert 'Set nova_upgrade_compute_group to the inventory group of your nova-compute hosts' in msg[0]
    assert 'nova_compute' in msg[0]  # the groups that exist are listed

    assert out['empty_group']['failed']
    assert out['empty_group']['msgs'][0].startswith('nova_upgrade_api_group=empty: group empty has no hosts.')

    assert out['no_placement']['facts']['nova_preflight_hosts']['placement'] == []
    assert not out['unknown_db_group_without_backup']['failed']
    assert out['unknown_db_group_without_backup']['facts']['nova_preflight_hosts']['backup'] == ''

    limit = out['limit_unknown_host']
    assert limit['failed'] and len(limit['msgs']) == 2
    assert limit['msgs'][0].startswith('nova_upgrade_limit_hosts: unknown host cmp9: it is not in the inventory.')
    assert limit['msgs'][1].startswith('nova_upgrade_limit_hosts: host ctl1 is not in group nova_compute '
                                       '(nova_upgrade_compute_group).')
    assert 'control hosts are always upgraded together' in limit['msgs'][1]

    limited = out['limit_string']
    assert not limited['failed'], limited['msgs']
    assert limited['facts']['nova_preflight_limit'] == ['cmp2', 'cmp3']
    assert limited['facts']['nova_preflight_hosts']['compute_in_scope'] == ['cmp2', 'cmp3']
    assert 'only cmp2, cmp3 of the computes are in this run; the others (cmp1)' in \
        limited['facts']['nova_preflight_warnings'][0]

    assert out['unknown_manage_host']['failed']
    assert out['unknown_manage_host']['msgs'][0].startswith(
        'nova_upgrade_manage_host: unknown host ctl9: it is not in the inventory.')

    manage = out['manage_host_and_expected_down']
    assert not manage['failed'], manage['msgs']
    assert manage['facts']['nova_preflight_hosts']['manage'] == 'ctl2'
    assert manage['facts']['nova_preflight_expected_down'] == ['cmp1']
    # a host expected down is left out of every loop that contacts hosts, and said so
    hosts = manage['facts']['nova_preflight_hosts']
    assert hosts['down'] == ['cmp1'] and hosts['compute'] == ['cmp1', 'cmp2', 'cmp3']
    assert hosts['compute_in_scope'] == hosts['compute_up'] == ['cmp2', 'cmp3']
    assert hosts['nova_up'] == ['ctl1', 'ctl2', 'cmp2', 'cmp3']
    assert 'nova_upgrade_expected_down: cmp1 are left out of every step' in manage['facts']['nova_preflight_warnings'][0]

    # the target release is resolved once, whatever its spelling; every later task reads the resolved one
    assert ok['facts']['nova_preflight_target_release'] == '2026.2'
    for name in ('series_name', 'nova_version', 'stable_branch'):
        assert not out[name]['failed'], out[name]['msgs']
        assert out[name]['facts']['nova_preflight_target_release'] == '2026.2', name
    assert out['unknown_release']['failed']
    assert "target '2030.2' is not a release this collection knows" in out['unknown_release']['msgs'][0]

    custom = out['custom_without_tools']
    assert custom['failed']
    assert 'Missing: nova_upgrade_target_manage_cmd, nova_upgrade_target_python, nova_upgrade_target_placement_manage_cmd.' \
        in custom['msgs'][0]
    assert not out['custom_with_tools']['failed'], out['custom_with_tools']['msgs']

    assert out['manage_host_expected_down']['failed']
    assert 'nova_upgrade_expected_down lists ctl1, the manage host ctl1' in out['manage_host_expected_down']['msgs'][0]

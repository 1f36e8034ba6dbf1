# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""roles/nova_plan: batches, phases and the readable plan, from a nova_preflight fact like the lab's."""

from __future__ import annotations

import copy

COMPUTES = ['cmp%d' % i for i in range(1, 11)]

PREFLIGHT = dict(
    ok=True, check_mode=True,
    release=dict(current='2026.1', current_name='Gazpacho', target='2026.2', target_name='Hibiscus', kind='one_step',
                 path=['2026.1', '2026.2'], current_version='33.0.2', target_version='34.0.0',
                 placement_target_version='16.0.0'),
    code=dict(current_venv='/opt/openstack/venvs/nova-33.0.2', service_version=72, compute_rpc='6.5',
              target=dict(version='34.0.0', service_version=74, compute_rpc='6.5')),
    install=dict(method='venv',
                 nova=dict(version='34.0.0', venv='/opt/openstack/venvs/nova-34.0.0',
                           url='http://10.77.0.10:8000/2026.2/nova-34.0.0.tar.zst'),
                 placement=dict(version='16.0.0', venv='/opt/openstack/venvs/placement-16.0.0',
                                url='http://10.77.0.10:8000/2026.2/placement-16.0.0.tar.zst')),
    hosts=dict(api=['ctl1', 'ctl2'], conductor=['ctl1', 'ctl2'], scheduler=['ctl1', 'ctl2'], compute=COMPUTES,
               compute_in_scope=COMPUTES, placement=['ctl1', 'ctl2'], control=['ctl1', 'ctl2'], manage='ctl1',
               backup='infra'),
    service_hosts=dict({h: h for h in COMPUTES}, ctl1='ctl1', ctl2='ctl2'),
    limit_hosts=[], expected_down=[],
    units=dict(api='nova-api', conductor='nova-conductor', scheduler='nova-scheduler', compute='nova-compute',
               placement='placement-api'),
    config_files=['/etc/nova/nova.conf'],
    services=dict(summary=dict(total=14, up=14, down=0, disabled=0, forced_down=0),
                  minimum_version={'nova-compute': 72}, minimum_compute_version=72, compute_rpc_for_minimum='6.5'),
    stale=[], inflight=[],
    databases=dict(api='nova_api', main='nova', cells=[
        dict(name='cell0', uuid='00000000-0000-0000-0000-000000000000', database='nova_cell0', is_cell0=True),
        dict(name='cell1', uuid='u1', database='nova', is_cell0=False),
        dict(name='cell2', uuid='u2', database='nova_cell2', is_cell0=False)]),
    cells=[dict(name='cell0', uuid='00000000-0000-0000-0000-000000000000', database='nova_cell0', is_cell0=True,
                source='mapping', sync='cells', text='its cell mapping (schema: nova-manage db sync fans out to cell0)'),
           dict(name='cell1', uuid='u1', database='nova', is_cell0=False, source='main', sync='cells',
                text='the configuration of the manage host'),
           dict(name='cell2', uuid='u2', database='nova_cell2', is_cell0=False, source='mapping', sync='cell',
                text='its cell mapping (a configuration file written on the manage host for the run)')],
    upgraded=False,
    status_check=dict(ran=False, skipped_reason='check mode: ...'),
    online_migrations=dict(note='not verified in check mode'),
    backup=dict(taken=False, skipped_reason='check mode: the backup is not taken', host='infra', path='/x'),
    warnings=[],
)


def scenario(name, batch='20%', canary=0, **changes):
    preflight = copy.deepcopy(PREFLIGHT)
    for key, value in changes.items():
        section, _sep, field = key.partition('__')
        if field:
            preflight[section][field] = value
        else:
            preflight[section] = value
    return dict(name=name, facts=dict(nova_preflight=preflight, nova_upgrade_compute_batch_size=batch,
                                      nova_upgrade_compute_canary_size=canary))


def test_plan(run_scenarios):
    out = run_scenarios('nova_plan', 'main', [
        scenario('percent'),
        scenario('count_with_canary', batch=4, canary=1),
        scenario('hundred_percent', batch='100%'),
        scenario('limited', hosts__compute_in_scope=['cmp2', 'cmp5'], batch=1),
        scenario('expected_down', expected_down=['cmp1'], batch='50%'),
        scenario('same_release', release__kind='same', upgraded=True),
        scenario('bad_batch', batch='0'),
        scenario('bad_percent', batch='150%'),
    ], collect=['nova_plan'])

    def plan(name):
        assert not out[name]['failed'], out[name]['msgs']
        return out[name]['facts']['nova_plan']

    p = plan('percent')
    assert p['compute_batches'] == [COMPUTES[i:i + 2] for i in range(0, 10, 2)]  # 20% of 10 = 2, in inventory order
    assert [ph['name'] for ph in p['phases']] == ['preflight', 'pin', 'expand', 'roll', 'unpin', 'migrate', 'contract']
    assert p['phases'][0]['implemented'] is True and p['phases'][0]['state'] == 'passed, check mode'
    assert p['phases'][1]['state'] == 'planned' and all(ph['implemented'] for ph in p['phases'])
    text = '\n'.join(p['text'])
    assert 'Nova upgrade plan: 2026.1 -> 2026.2 (one_step), nova 33.0.2 -> 34.0.0, install method venv, CHECK MODE' in text
    assert '/opt/openstack/venvs/nova-34.0.0/bin/nova-manage --config-file /etc/nova/nova.conf api_db sync   (nova_api)' in text
    assert 'db sync   (nova_cell0 and nova)' in text
    assert ('nova-manage db sync --local_cell   (cell cell2, database nova_cell2, from its cell mapping (a configuration '
            'file written on the manage host for the run))' in text)  # a cell that nova.conf does not point at
    assert 'every cell, each from its own source: cell0: its cell mapping' in text  # migrations: cell0 too
    assert 'once ctl1 is back on the new code, ctl2 (old code) leave the load balancer' in text
    assert [ph['name'] for ph in p['phases']][4:6] == ['unpin', 'migrate']
    assert '/opt/openstack/venvs/placement-16.0.0/bin/placement-manage db sync on ctl1' in text
    assert 'wait until it reports up with service version 74' in text
    assert 'Automatically selected compute RPC version 6.5 from minimum service version 72' in text
    assert 'db online_data_migrations --max-count 50 on ctl1' in text

    p = plan('count_with_canary')
    assert p['compute_batches'] == [['cmp1'], COMPUTES[1:5], COMPUTES[5:9], ['cmp10']]
    assert plan('hundred_percent')['compute_batches'] == [COMPUTES]

    p = plan('limited')
    assert p['compute_batches'] == [['cmp2'], ['cmp5']]
    assert p['computes_not_in_run'] == ['cmp1', 'cmp3', 'cmp4', 'cmp6', 'cmp7', 'cmp8', 'cmp9', 'cmp10']
    migrate = [ph for ph in p['phases'] if ph['name'] == 'migrate'][0]
    assert migrate['state'].startswith('blocked') and 'BLOCKED in this run' in migrate['steps'][0]

    p = plan('expected_down')
    assert p['compute_batches'] == [COMPUTES[1:5], COMPUTES[5:9], ['cmp10']]  # 50% of the 9 left = 4
    assert p['computes_not_in_run'] == ['cmp1']

    p = plan('same_release')
    assert all(ph['state'] == 'nothing to do: the cloud runs 2026.2 already' for ph in p['phases'][1:])

    for name in ('bad_batch', 'bad_percent'):
        assert out[name]['failed']
        assert 'the batch size must be a count of at least 1 (for example 2) or a percentage from 1% to 100%' \
            in out[name]['msgs'][0]


def test_phase_settings_refused_before_any_change(run_scenarios):
    """The phases' settings are checked by the plan's inputs, which the playbook runs before the preflight."""
    # scenarios share one ansible-playbook process and its facts: each one sets every setting
    base = dict(nova_upgrade_compute_batch_size='20%', nova_upgrade_compute_canary_size=0, nova_upgrade_unpin_mode='remove',
                nova_upgrade_lb_method='haproxy', nova_upgrade_pin_level='auto', nova_upgrade_compute_max_fail_percentage=0,
                nova_upgrade_online_migrations_max_count=50, nova_upgrade_gate_timeout=180, nova_upgrade_restart_settle=5,
                nova_upgrade_cell_config_files=[])
    bad = {
        'unpin_mode': dict(nova_upgrade_unpin_mode='later'),
        'lb_method': dict(nova_upgrade_lb_method='f5'),
        'pin_level': dict(nova_upgrade_pin_level=' '),
        'max_fail': dict(nova_upgrade_compute_max_fail_percentage=150),
        'max_count': dict(nova_upgrade_online_migrations_max_count=0),
        'gate_timeout': dict(nova_upgrade_gate_timeout='soon'),
        'settle': dict(nova_upgrade_restart_settle=-1),
        'cells': dict(nova_upgrade_cell_config_files=['/etc/nova/cell2.conf']),
    }
    scenarios = [dict(name='defaults', facts=dict(base))]
    scenarios += [dict(name=name, facts=dict(base, **facts)) for name, facts in bad.items()]
    scenarios.append(dict(name='good', facts=dict(base, nova_upgrade_unpin_mode='auto', nova_upgrade_lb_method='none',
                                                  nova_upgrade_compute_max_fail_percentage=34,
                                                  nova_upgrade_cell_config_files=[['/etc/nova/nova.conf', '/etc/nova/c2.conf']])))
    out = run_scenarios('nova_plan', 'inputs', scenarios, collect=[])
    assert not out['defaults']['failed'], out['defaults']['msgs']
    assert not out['good']['failed'], out['good']['msgs']
    expected = {
        'unpin_mode': 'nova_upgrade_unpin_mode=later is not known: use remove',
        'lb_method': 'nova_upgrade_lb_method=f5 is not known: use haproxy',
        'pin_level': 'nova_upgrade_pin_level=  is empty',
        'max_fail': 'nova_upgrade_compute_max_fail_percentage=150 must be a whole percentage from 0',
        'max_count': 'nova_upgrade_online_migrations_max_count=0 must be a count of rows of at least 1',
        'gate_timeout': 'nova_upgrade_gate_timeout=soon must be a number of seconds of at least 1',
        'settle': 'nova_upgrade_restart_settle=-1 must be a number of seconds, 0 or more',
        'cells': 'nova_upgrade_cell_config_files=["/etc/nova/cell2.conf"] must be a list with one list of config files',
    }
    for name, words in expected.items():
        assert out[name]['failed'], name
        assert any(words in msg for msg in out[name]['msgs']), (name, out[name]['msgs'])

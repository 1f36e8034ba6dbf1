# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""roles/nova_report: files, summary lines and timeline from a state document like a lab upgrade's."""

from __future__ import annotations

import copy
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

T0 = datetime.datetime(2026, 11, 23, 1, 38, 40, tzinfo=datetime.timezone.utc)
CONTROL = ['ctl1', 'ctl2']
COMPUTES = ['cmp1', 'cmp2', 'cmp3']


def at(seconds):
    """The state module's time format, T0 + seconds."""
    return (T0 + datetime.timedelta(seconds=seconds)).isoformat(timespec='milliseconds')


def phase(start, end, status='done', attempts=1, message='', details=None):
    return dict(status=status, started=at(start) if start is not None else None, finished=at(end) if end is not None else None,
                seconds=(end - start) if start is not None and end is not None else None, attempts=attempts,
                message=message, details=details or {})


def event(time, phase_name, host, service, kind, old, new, seconds):
    return {'time': at(time), 'phase': phase_name, 'host': host, 'service': service, 'event': kind, 'from': old,
            'to': new, 'seconds': seconds, 'message': ''}


def lab_state():
    """A finished 2026.1 -> 2026.2 upgrade of the lab: pin restarts, placement in expand, the roll, unpin."""
    events = []
    t = 85
    for unit in ('nova-conductor', 'nova-scheduler', 'nova-api'):
        for host in CONTROL:
            t += 10
            events.append(event(t, 'pin', host, unit, 'restart', '33.0.2', '33.0.2', 6.5))
    for host in CONTROL:
        events.append(event(140 + (10 if host == 'ctl2' else 0), 'expand', host, 'placement-api', 'switch',
                            '15.0.0', '16.0.0', 5.0))
    t = 190
    for unit in ('nova-conductor', 'nova-scheduler', 'nova-api'):
        for host in CONTROL:
            t += 20
            events.append(event(t, 'roll', host, unit, 'switch', '33.0.2', '34.0.0', 12.0))
    for host in COMPUTES:
        t += 60
        events.append(event(t, 'roll', host, 'nova-compute', 'switch', '33.0.2', '34.0.0', 25.0))
    t = 521
    for unit in ('nova-conductor', 'nova-scheduler', 'nova-api'):
        for host in CONTROL:
            t += 10
            events.append(event(t, 'unpin', host, unit, 'restart', '34.0.0', '34.0.0', 6.0))
    return dict(
        schema=1, id='2026.1-to-2026.2', from_release='2026.1', to_release='2026.2', from_version='33.0.2',
        to_version='34.0.0', status='done', started=at(0), finished=at(605),
        runs=[dict(started=at(0), finished=None, status='interrupted', check_mode=False),
              dict(started=at(60), finished=at(605), status='done', check_mode=False)],
        phases=dict(
            preflight=phase(0, 35),
            pin=phase(80, 150, message='compute RPC pinned to 6.5 (minimum service version 72)',
                      details=dict(restarted=6)),
            expand=phase(130, 195, attempts=2, details=dict(api_db='synced')),
            roll=phase(196, 520, details=dict(batches=[['cmp1'], ['cmp2'], ['cmp3']])),
            unpin=phase(521, 585, message='compute RPC 6.6'),
            migrate=phase(586, 600, details=dict(runs=3, migrated=120, complete=True, migrations=[
                dict(name='populate_queued_for_delete', found=100, done=100),
                dict(name='populate_user_id', total_needed=20, completed=20)],
                warnings=['populate_instance_compute_id found 1 row(s) and migrated 0 (cell1): fix them before the next upgrade'])),
            contract=phase(None, 601, status='skipped', attempts=0, message='nothing to run for nova'),
        ),
        events=events + [dict(time=at(530), phase='migrate', host='ctl1', service='', event='note', **{'from': '', 'to': ''},
                              seconds=None, message='migrations complete')],
    )


def records(version, hosts_binaries):
    return [dict(cell_name='cell1', binary=b, host=h, version=version, up=True) for h, b in hosts_binaries]


# service records name Nova hosts: cmp3's is cmp3.example (nova_preflight.service_hosts)
SERVICES = [(h, b) for b in ('nova-conductor', 'nova-scheduler') for h in CONTROL] + \
           [('cmp1', 'nova-compute'), ('cmp2', 'nova-compute'), ('cmp3.example', 'nova-compute')] + \
           [(h, 'nova-osapi_compute') for h in CONTROL]

PREFLIGHT = dict(
    ok=True, check_mode=False,
    release=dict(current='2026.1', target='2026.2', kind='one_step', path=['2026.1', '2026.2'],
                 current_version='33.0.2', target_version='34.0.0'),
    hosts=dict(api=CONTROL, conductor=CONTROL, scheduler=CONTROL, compute=COMPUTES, manage='ctl1', backup='infra'),
    service_hosts=dict(ctl1='ctl1', ctl2='ctl2', cmp1='cmp1', cmp2='cmp2', cmp3='cmp3.example'),
    units=dict(api='nova-api', conductor='nova-conductor', scheduler='nova-scheduler', compute='nova-compute',
               placement='placement-api'),
    services=dict(versions=records(72, SERVICES)),
    install=dict(method='venv', nova=dict(url='http://user:hunter2@10.77.0.10:8000/2026.2/nova-34.0.0.tar.zst')),
    online_migrations=dict(note='complete, nothing was left to migrate'),
    backup=dict(taken=True, host='infra', path='/var/backups/nova-upgrade/20261123T013840Z'),
)

PLAN = dict(compute_batches=[['cmp1'], ['cmp2'], ['cmp3']],
            phases=[dict(name=n, state='planned') for n in
                    ('preflight', 'pin', 'expand', 'roll', 'unpin', 'migrate', 'contract')])

PROBE = dict(
    version=1, complete=True, started_at=at(30), ended_at=at(610), duration_s=580.0,
    requests=dict(sent=3480, load_sent=3480, failed=3, target_rate=6.0, achieved_rate=6.0,
                  failures_by_kind={'http_503': 3}, latency_s=dict(count=3480, p50=0.045, p95=0.12, max=1.8),
                  compute_sync_sent=110, compute_rpc_timeouts=1),
    timeline=[dict(t=i * 10.0, load=60, cycle=0, failed=(3 if i == 30 else 0), skipped=0) for i in range(58)],
    cycles=dict(ok=4, failed=0, interrupted=0, hosts={'cmp1': 2, 'cmp2': 2}, list=[],
                read_backs_by_api_node={'ctl2': dict(sent=4, failed=0), 'ctl1': dict(sent=5, failed=1)}),
    cleanup=dict(deleted=[], left=[]),
    records=[dict(t=0.1, name='servers_detail', note='X-Auth-Token: must-not-appear')],
)


def test_report(run_scenarios, tmp_path):
    probe_file = tmp_path / 'probe.json'
    probe_file.write_text(json.dumps(PROBE))
    bad_probe = tmp_path / 'bad-probe.json'
    bad_probe.write_text('{not json')
    state = lab_state()
    failed_state = copy.deepcopy(state)
    failed_state.update(status='failed', finished=None)
    failed_state['phases']['roll'] = phase(196, 400, status='failed', message='cmp2 did not report up with service '
                                           'version 74 within 300 s')
    for name in ('migrate', 'unpin', 'contract'):
        del failed_state['phases'][name]
    failed_state['events'] = [e for e in failed_state['events'] if e['phase'] in ('pin', 'expand', 'roll')][:-2]
    reports = tmp_path / 'reports'
    base = dict(nova_preflight=PREFLIGHT, nova_plan=PLAN, nova_upgrade_report_dir=str(reports) + '/done')
    # facts stay set from one scenario to the next (one play): each scenario sets every input
    out = run_scenarios('nova_report', 'main', [
        dict(name='done', facts=dict(base, nova_upgrade_state=state, nova_report_probe_file=str(probe_file),
                                     nova_preflight=dict(PREFLIGHT, extra=dict(db_password='hunter3')),
                                     nova_upgrade_versions_after=dict(services=records(74, SERVICES)))),
        dict(name='failed', facts=dict(nova_upgrade_state=dict(changed=False, state=failed_state, exists=True),
                                       nova_plan=PLAN, nova_preflight=PREFLIGHT,
                                       nova_report_probe_file=str(bad_probe), nova_upgrade_versions_after={},
                                       nova_upgrade_report_dir=str(reports) + '/failed')),
        dict(name='bare', facts=dict(nova_upgrade_state=dict(schema=1, id='2026.1-to-2026.2', status='running',
                                                             started=at(0), from_release='2026.1', to_release='2026.2',
                                                             from_version='', to_version='', runs=[], phases={},
                                                             events=[]),
                                     nova_report_probe_file=str(tmp_path / 'missing.json'),
                                     nova_preflight={}, nova_plan={}, nova_upgrade_versions_after={},
                                     nova_upgrade_report_dir=str(reports) + '/bare')),
        dict(name='not_a_state', facts=dict(nova_upgrade_state=dict(changed=True),
                                            nova_upgrade_report_dir=str(reports) + '/bad')),
    ], collect=['nova_report'])

    # --- a finished upgrade with everything
    assert not out['done']['failed'], out['done']['msgs']
    report = out['done']['facts']['nova_report']
    lines = report['summary']
    text = '\n'.join(lines)
    print(text)
    assert lines[0] == 'Nova upgrade 2026.1-to-2026.2: DONE'
    assert '  release 2026.1 -> 2026.2 (one_step), nova 33.0.2 -> 34.0.0' in lines
    assert ('  started 2026-11-23 01:38:40 UTC, finished 2026-11-23 01:48:45 UTC, wall time 10m05s' in lines)
    assert '  runs: 2 (1 interrupted, 1 done)' in lines
    assert '  compute batches: [cmp1] [cmp2] [cmp3]' in lines
    # phase table
    assert '  phase     status      seconds  attempts  message' in lines
    assert '  pin       done           70.0         1  compute RPC pinned to 6.5 (minimum service version 72)' in lines
    assert '  expand    done           65.0         2' in lines
    assert '  contract  skipped           -         0  nothing to run for nova' in lines
    # versions before/after, with the code of the restarts (cmp3's Nova host name is cmp3.example)
    assert any(line.split() == ['ctl1', 'nova-conductor', 'cell1', '72', '74', '33.0.2', '->', '34.0.0', '(3',
                                'restarts)'] for line in lines), text
    assert any(line.split() == ['cmp3.example', 'nova-compute', 'cell1', '72', '74', '33.0.2', '->', '34.0.0', '(1',
                                'restart)'] for line in lines), text
    assert any(line.split() == ['ctl2', 'nova-osapi_compute', 'cell1', '72', '74', '33.0.2', '->', '34.0.0', '(3',
                                'restarts)'] for line in lines), text
    assert any(line.split() == ['ctl1', 'placement-api', '-', '-', '-', '15.0.0', '->', '16.0.0', '(1', 'restart)']
               for line in lines), text
    # online data migrations (both key spellings)
    assert 'Online data migrations: 3 run(s), 120 row(s) migrated, complete' in lines
    assert any(line.split() == ['populate_user_id', 'found', '20', 'migrated', '20'] for line in lines)
    assert ('  WARNING: populate_instance_compute_id found 1 row(s) and migrated 0 (cell1): fix them before the next '
            'upgrade') in lines
    # probe
    assert any(line.startswith('API probe (9m40s from 2026-11-23 01:39:10 UTC): 3480 requests, 3 failed (0.09%)')
               for line in lines), text
    assert '  latency p50 45 ms, p95 120 ms, max 1800 ms; boot/delete cycles: 4 ok, 0 failed' in lines
    assert '  failures: http_503: 3' in lines
    assert ('  calls that wait on a compute (GET /os-hypervisors/detail): 110 sent, 1 answered 500 MessagingTimeout'
            ' (a compute stopped during the call; not counted as failed)') in lines
    assert '  new servers read back through the API nodes: ctl1 5 (1 failed), ctl2 4 (0 failed)' in lines
    # timeline: header, legend, axis, phase row, one row per host and unit, probe row
    start = lines.index([line for line in lines if line.startswith('Timeline from')][0])
    assert lines[start] == ('Timeline from 2026-11-23 01:38:40 to 01:48:45 UTC (10m05s), one column = 10.1s')
    assert lines[start + 1] == '  legend: . old version (33.0.2)   ~ restarting   # new version (34.0.0, 16.0.0)'
    assert lines[start + 2].startswith('  phases: 1 preflight, 2 pin, 3 expand, 4 roll')
    axis = lines[start + 3]
    assert axis.startswith('  time') and '|+0.0s' in axis and '|+1m40s' in axis
    col = axis.index('|')  # the picture's first column
    rows = {line[:col].strip(): line[col:] for line in lines[start + 4:]}
    assert set(rows) == {'phase', 'ctl1 nova-conductor', 'ctl2 nova-conductor', 'ctl1 nova-scheduler',
                         'ctl2 nova-scheduler', 'ctl1 nova-api', 'ctl2 nova-api', 'ctl1 placement-api',
                         'ctl2 placement-api', 'cmp1 nova-compute', 'cmp2 nova-compute', 'cmp3 nova-compute',
                         'API probe'}
    for key, row in rows.items():
        assert set(row[:60]) <= set('1234567 ' if key == 'phase' else ' -x' if key == 'API probe' else '.~#'), row
        assert key == 'phase' or row[60:62] == '  ', row  # 60 columns, then the versions or the probe legend
    assert rows['phase'].startswith('1111') and '2' in rows['phase'] and rows['phase'][:60].rstrip().endswith('6')
    conductor = rows['ctl1 nova-conductor'][:60]
    assert conductor.startswith('.') and '~' in conductor and conductor.rstrip().endswith('#')
    assert conductor.index('#') > conductor.index('~')
    assert rows['ctl1 nova-conductor'].endswith('33.0.2 -> 34.0.0')
    compute = rows['cmp3 nova-compute'][:60]
    assert compute.count('~') >= 2 and compute.startswith('.....') and compute.endswith('#')
    placement = rows['ctl1 placement-api'][:60]
    assert placement.startswith('.') and placement.endswith('#') and placement.count('~') >= 1
    probe_row = rows['API probe']
    assert probe_row.startswith('  -') and probe_row[:60].count('x') == 2  # the probe started 30 s in
    assert probe_row.endswith('(- requests ok, x some failed)')

    # the files: text = summary, JSON = everything but the probe's records, no secrets
    assert report['text_path'].startswith(str(reports) + '/done/nova-upgrade-2026.1-to-2026.2-2')
    assert report['text_path'].endswith('Z.txt') and report['json_path'] == report['text_path'][:-4] + '.json'
    assert Path(report['text_path']).read_text() == text + '\n'
    data = json.loads(Path(report['json_path']).read_text())
    assert data['id'] == '2026.1-to-2026.2' and data['summary'] == lines and data['state'] == state
    assert data['versions_after'][0]['version'] == 74 and data['plan'] == PLAN
    assert 'records' not in data['probe'] and data['probe']['requests']['failed'] == 3
    raw = Path(report['json_path']).read_text()
    assert 'hunter2' not in raw and 'hunter3' not in raw and 'must-not-appear' not in raw
    # the one scrubber (nova_scrub): password-like values and URL credentials masked
    assert data['preflight']['extra'] == {'db_password': '***'}
    assert 'http://***@10.77.0.10:8000' in raw
    for path in (report['text_path'], report['json_path']):
        assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.stat(str(reports) + '/done').st_mode & 0o777 == 0o750

    # --- a failed run: registered module result accepted, unreadable probe ignored, phases not run shown from the plan
    assert not out['failed']['failed'], out['failed']['msgs']
    lines = out['failed']['facts']['nova_report']['summary']
    text = '\n'.join(lines)
    assert lines[0] == 'Nova upgrade 2026.1-to-2026.2: FAILED'
    assert any(line.startswith('  started 2026-11-23 01:38:40 UTC, not finished, wall time ') and line.endswith(' so far')
               for line in lines), text
    assert '  roll      failed        204.0         1  cmp2 did not report up with service version 74 within 300 s' in lines
    assert '  migrate   not run           -         0  plan: planned' in lines
    assert ('Online data migrations: not run by this upgrade (preflight, running release: complete, nothing was left '
            'to migrate)') in lines
    assert 'API probe' not in text
    assert 'Service versions (service version before -> after, after: not read; code from the restarts)' in lines
    assert any(line.split() == ['cmp1', 'nova-compute', 'cell1', '72', '-', '33.0.2', '->', '34.0.0', '(1', 'restart)']
               for line in lines), text
    assert not any(line.startswith('  cmp3 nova-compute') for line in lines)
    assert Path(out['failed']['facts']['nova_report']['json_path']).exists()

    # --- nothing but a fresh state document
    assert not out['bare']['failed'], out['bare']['msgs']
    lines = out['bare']['facts']['nova_report']['summary']
    assert lines[0] == 'Nova upgrade 2026.1-to-2026.2: RUNNING'
    assert '  release 2026.1 -> 2026.2, nova ? -> ?' in lines
    assert '  runs: none recorded' in lines
    assert 'Timeline: no restart or switch recorded' in lines
    assert '  no service records or restarts recorded' in lines

    # --- not a state document: a clear error, nothing written
    assert out['not_a_state']['failed']
    assert 'nova_upgrade_state must be the upgrade\'s state document' in out['not_a_state']['msgs'][0]
    assert not (reports / 'bad').exists()


def test_check_mode_writes_nothing(tmp_path):
    """--check: the summary is printed, no directory or file is created."""
    repo = Path(__file__).resolve().parents[3]
    collections = tmp_path / 'collections' / 'ansible_collections' / 'rolling'
    collections.mkdir(parents=True)
    (collections / 'openstack').symlink_to(repo)
    reports = tmp_path / 'reports'
    (tmp_path / 'vars.json').write_text(json.dumps(dict(nova_upgrade_state=lab_state(), nova_plan=PLAN,
                                                        nova_upgrade_report_dir=str(reports))))
    save = {'name': 'Save the fact', 'check_mode': False,
            'ansible.builtin.copy': dict(content='{{ nova_report | to_json }}', dest=str(tmp_path / 'fact.json'),
                                         mode='0600')}
    report = {'name': 'Report', 'ansible.builtin.include_role': dict(name='rolling.openstack.nova_report')}
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([dict(name='Report in check mode', hosts='localhost',
                                                            gather_facts=False, tasks=[report, save])]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / 'collections'),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false', ANSIBLE_NOCOLOR='1', ANSIBLE_HOME=str(tmp_path / 'home'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / 'ansible-playbook'), '--check', '-i', 'localhost,', '-c', 'local',
         '-e', 'ansible_python_interpreter=' + sys.executable, '-e', '@' + str(tmp_path / 'vars.json'),
         str(tmp_path / 'play.yml')],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    fact = json.loads((tmp_path / 'fact.json').read_text())
    assert fact['json_path'] == '' and fact['text_path'] == ''
    assert fact['summary'][0] == 'Nova upgrade 2026.1-to-2026.2: DONE (CHECK MODE: nothing was changed, no report file written)'
    assert 'CHECK MODE: no report file written.' in proc.stdout
    assert 'Timeline from 2026-11-23 01:38:40' in proc.stdout
    assert not reports.exists()

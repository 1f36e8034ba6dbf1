# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The analysis tasks of roles/nova_preflight: services_check.yml (compute API) and records.yml (cell databases),
fed with module results shaped like those of compute_service_info and nova_service_version_info."""

from __future__ import annotations

HOSTS = dict(api=['ctl1', 'ctl2'], conductor=['ctl1', 'ctl2'], scheduler=['ctl1', 'ctl2'],
             compute=['cmp1', 'cmp2', 'cmp3'], compute_in_scope=['cmp1', 'cmp2', 'cmp3'], placement=['ctl1', 'ctl2'],
             control=['ctl1', 'ctl2'], manage='ctl1', backup='infra')
SERVICE_HOSTS = {h: h for h in ('ctl1', 'ctl2', 'cmp1', 'cmp2', 'cmp3')}


def api_service(host, binary, state='up', status='enabled', forced_down=False, reason=None):
    return dict(id='id-%s-%s' % (host, binary), host=host, binary=binary, zone='nova', state=state, status=status,
                forced_down=forced_down, disabled_reason=reason, updated_at='2026-11-23T01:24:41.000000')


def all_up():
    return ([api_service(h, b) for h in ('ctl1', 'ctl2') for b in ('nova-conductor', 'nova-scheduler')]
            + [api_service(h, 'nova-compute') for h in ('cmp1', 'cmp2', 'cmp3')])


def services_scenario(name, services, expected_down=()):
    return dict(name=name, facts=dict(
        nova_preflight_api_services=dict(compute_services=services), nova_preflight_hosts=HOSTS,
        nova_preflight_service_hosts=SERVICE_HOSTS, nova_preflight_expected_down=list(expected_down),
        nova_upgrade_conductor_group='nova_conductor', nova_upgrade_scheduler_group='nova_scheduler',
        nova_upgrade_compute_group='nova_compute'))


def test_services(run_scenarios):
    down = all_up()
    down[4] = api_service('cmp1', 'nova-compute', state='down')
    forced = all_up()
    forced[5] = api_service('cmp2', 'nova-compute', state='down', forced_down=True)
    disabled = all_up()
    disabled[6] = api_service('cmp3', 'nova-compute', status='disabled', reason='maintenance')
    out = run_scenarios('nova_preflight', 'services_check', [
        services_scenario('all_up', all_up()),
        services_scenario('down', down),
        services_scenario('forced_down', forced),
        services_scenario('forced_down_expected', forced, expected_down=['cmp2']),
        services_scenario('disabled', disabled),
        services_scenario('missing', all_up()[:-1]),
        services_scenario('missing_expected', all_up()[:-1], expected_down=['cmp3']),
    ], collect=['nova_preflight_problems', 'nova_preflight_warnings'])

    def found(name):
        assert not out[name]['failed'], out[name]['msgs']
        return out[name]['facts']['nova_preflight_problems'], out[name]['facts']['nova_preflight_warnings']

    assert found('all_up') == ([], [])
    problems = found('down')[0]
    assert problems == ['nova-compute on cmp1 is down (last heartbeat 2026-11-23T01:24:41.000000): start it (systemctl '
                        'start nova-compute on that host) and wait until it reports up; if the host is out of service, '
                        'list cmp1 in nova_upgrade_expected_down.']
    problems = found('forced_down')[0]
    assert len(problems) == 1 and problems[0].startswith('nova-compute on cmp2 is forced down: once the host is healthy')
    assert '"openstack compute service set --up cmp2 nova-compute"' in problems[0]
    problems, warnings = found('forced_down_expected')
    assert problems == [] and len(warnings) == 1
    assert warnings[0].startswith('nova-compute on cmp2 is down, forced down and listed in nova_upgrade_expected_down')
    problems, warnings = found('disabled')
    assert problems == [] and warnings == [
        'nova-compute on cmp3 is disabled (maintenance): it is upgraded like the others; it still gets no new servers '
        'afterwards.']
    problems = found('missing')[0]
    assert len(problems) == 1 and problems[0].startswith(
        'cmp3 is in group nova_compute (nova_upgrade_compute_group) but nova has no nova-compute service on host cmp3')
    assert found('missing_expected') == ([], [])


def record(host, binary, version=72, cell='cell1', forced_down=False):
    return dict(cell_name=cell, host=host, binary=binary, version=version, counts_in_minimum=not forced_down,
                forced_down=forced_down, up=None if binary == 'nova-osapi_compute' else True)


def records():
    return ([record(h, b) for h in ('ctl1', 'ctl2') for b in ('nova-conductor', 'nova-scheduler', 'nova-osapi_compute')]
            + [record(h, 'nova-compute') for h in ('cmp1', 'cmp2', 'cmp3')])


def stale(host, counts=True):
    return dict(cell_name='cell1', uuid='uuid-' + host, host=host, binary='nova-compute', version=70,
                forced_down=not counts, counts_in_minimum=counts, reasons=['host %s is not in expected_hosts' % host],
                fix='openstack compute service set --down %s nova-compute; then ... delete uuid-%s' % (host, host))


def records_scenario(name, services, stale_records=(), kind='one_step', expected_down=(), resume=False):
    return dict(name=name, facts=dict(
        nova_preflight_versions=dict(code=dict(version='33.0.2', service_version=72), services=services,
                                     stale=list(stale_records)),
        nova_preflight_release=dict(kind=kind), nova_preflight_hosts=HOSTS, nova_preflight_service_hosts=SERVICE_HOSTS,
        nova_preflight_expected_down=list(expected_down), nova_upgrade_api_group='nova_api',
        nova_preflight_resume=resume))


def test_records(run_scenarios):
    older = records()
    older[-1] = record('cmp3', 'nova-compute', version=70)
    out = run_scenarios('nova_preflight', 'records', [
        records_scenario('clean', records()),
        records_scenario('stale_counts', records(), [stale('cmp9')]),
        records_scenario('stale_forced_down', records(), [stale('cmp9', counts=False)]),
        records_scenario('older_service', older),
        records_scenario('older_service_resumed', older, resume=True),
        records_scenario('no_api_record', [r for r in records() if r['host'] != 'ctl2' or r['binary'] != 'nova-osapi_compute']),
    ], collect=['nova_preflight_problems', 'nova_preflight_warnings'])

    def found(name):
        assert not out[name]['failed'], out[name]['msgs']
        return out[name]['facts']['nova_preflight_problems'], out[name]['facts']['nova_preflight_warnings']

    assert found('clean') == ([], [])
    problems = found('stale_counts')[0]
    assert problems == ['stale service record nova-compute on cmp9 (cell1, version 70): host cmp9 is not in expected_hosts. '
                        'It counts in the minimum service version and would keep the compute RPC pin low. Fix: '
                        'openstack compute service set --down cmp9 nova-compute; then ... delete uuid-cmp9 (or list cmp9 '
                        'in nova_upgrade_expected_down if it comes back).']
    problems, warnings = found('stale_forced_down')
    assert problems == [] and 'Forced down, so it does not count in the minimum version' in warnings[0]
    problems = found('older_service')[0]
    assert problems == ['nova-compute on cmp3 (cell1) reports service version 70, older than the running code on ctl1 '
                        '(nova 33.0.2, service version 72): an earlier upgrade is unfinished. Upgrade cmp3 to nova '
                        '33.0.2 first (or delete the record if the service is gone).']
    # (a cloud whose conductor runs the target while older records remain is not "upgraded": running.yml resumes it, see
    # tests/unit/plugins/module_utils/test_nova_upgrade.py::test_upgraded_needs_every_record_and_no_pin)
    assert found('older_service_resumed') == ([], [])  # a resumed upgrade expects old and new services side by side
    problems, warnings = found('no_api_record')
    assert problems == [] and warnings[0].startswith('ctl2 is in group nova_api but no nova-osapi_compute record')

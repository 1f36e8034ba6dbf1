# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decisions of the Nova live upgrade (plugins/module_utils/_nova_upgrade.py), above all their failure paths:
a gate that cannot decide must fail (raise, or return a problem), never pass by default."""

from __future__ import annotations

import pytest

from ansible_collections.rolling.openstack.plugins.module_utils import _nova_upgrade as decide
from ansible_collections.rolling.openstack.plugins.module_utils._nova_upgrade import UpgradeDecisionError

CELL0 = '00000000-0000-0000-0000-000000000000'
CELL1 = 'c569bcd6-c48e-4700-918e-360a24ba397f'
CELL2 = '2b7e0c35-7a6e-4c8c-9e55-4b1b0b7b2a10'

# what no gate may ever take for a service version
NOT_A_VERSION = [None, '', 0, '0', -1, 'abc', True, False, 72.5, '72.5', [], {}]


def svc(binary, host, version, cell='cell1', **extra):
    """A service record as rolling.openstack.nova_service_version_info returns it."""
    record = dict(binary=binary, host=host, version=version, cell_name=cell, forced_down=False,
                  counts_in_minimum=True)
    record.update(extra)
    return record


# --------------------------------------------------------------------------------------------------- service_version

@pytest.mark.parametrize('value, expected', [(74, 74), ('74', 74), (' 74\n', 74), (1, 1)])
def test_service_version_accepts_positive_numbers(value, expected):
    assert decide.service_version(value) == expected


@pytest.mark.parametrize('value', NOT_A_VERSION)
def test_service_version_refuses_everything_else(value):
    with pytest.raises(UpgradeDecisionError) as exc:
        decide.service_version(value)
    assert 'the target service version' in str(exc.value)


def test_service_version_names_what_and_the_fix():
    with pytest.raises(UpgradeDecisionError, match=r'the running code\'s service version is unknown \(None\)') as exc:
        decide.service_version(None, "the running code's service version")
    assert 'nova_upgrade_target_service_version' in str(exc.value)
    with pytest.raises(UpgradeDecisionError, match='is 0, not a nova service version'):
        decide.service_version(0)
    with pytest.raises(UpgradeDecisionError, match='is True, not a nova service version'):
        decide.service_version(True)


def test_upgrade_decision_error_is_a_value_error():
    assert issubclass(UpgradeDecisionError, ValueError)


# --------------------------------------------------------------------------------------------------- counted / older

@pytest.mark.parametrize('record, expected', [
    (dict(), True),
    (dict(forced_down=True), False),
    (dict(deleted=True), False),
    (dict(deleted=0, forced_down=False), True),
    (dict(counts_in_minimum=False), False),
    (dict(counts_in_minimum=True, forced_down=True), True),  # the module's own verdict wins
    (dict(counts_in_minimum=False, forced_down=False), False),
])
def test_counted(record, expected):
    assert decide.counted(record) is expected


def cloud_services():
    return [
        svc('nova-conductor', 'ctl1', 74),
        svc('nova-compute', 'cmp1', 74),
        svc('nova-compute', 'cmp2', 72),
        svc('nova-compute', 'cmp3', 70, forced_down=True, counts_in_minimum=False),
        svc('nova-compute', 'cmp4', 66, deleted=True, counts_in_minimum=None),  # counts_in_minimum decides: falsy
        svc('nova-scheduler', 'ctl2', 73, cell=''),
        svc('nova-compute', 'cmp5', None),
    ]


def test_older_services_lists_counted_older_records():
    assert decide.older_services(cloud_services(), 74) == [
        'nova-compute on cmp2 (version 72, cell1)',
        'nova-scheduler on ctl2 (version 73)',
        'nova-compute on cmp5 (version None, cell1)',  # a record without a version is not new
    ]


def test_older_services_without_counts_in_minimum_uses_forced_down_and_deleted():
    services = [dict(binary='nova-compute', host='cmp1', version=60, forced_down=True),
                dict(binary='nova-compute', host='cmp2', version=60, deleted=1),
                dict(binary='nova-compute', host='cmp3', version=60)]
    assert decide.older_services(services, '74') == ['nova-compute on cmp3 (version 60)']


def test_older_services_binaries_filter_and_newer_records():
    services = cloud_services() + [svc('nova-compute', 'cmp9', 75)]
    assert decide.older_services(services, 74, binaries=['nova-scheduler']) == ['nova-scheduler on ctl2 (version 73)']
    assert decide.older_services(services, 72, binaries=['nova-compute']) == ['nova-compute on cmp5 (version None, cell1)']


def test_older_services_none_when_all_new():
    assert decide.older_services([svc('nova-compute', 'cmp1', 74), svc('nova-compute', 'cmp2', 75)], 74) == []
    assert decide.older_services(None, 74) == []


@pytest.mark.parametrize('target', [None, '', 0, 'abc', True])
def test_older_services_never_passes_without_a_target(target):
    # with records that are all "new" and with none at all: the gate raises instead of comparing with 0 or None
    for services in ([svc('nova-compute', 'cmp1', 74)], [], None):
        with pytest.raises(UpgradeDecisionError):
            decide.older_services(services, target)


# --------------------------------------------------------------------------------------------------- status_findings

CMD = '/opt/openstack/venvs/nova-34.0.0/bin/nova-status --config-file /etc/nova/nova.conf upgrade check'


def status_result(rc, checks, msg='', **extra):
    """rolling.openstack.nova_status_check's result for rc and checks [(check, result, details)], as registered
    with failed_when: false (the module fails for rc 2, 255 and, with fail_on_warning, rc 1; `failed` is false)."""
    checks = [dict(check=c, result=r, details=d) for c, r, d in checks]
    result = dict(changed=False, cmd=CMD, rc=rc, result={0: 'Success', 1: 'Warning', 2: 'Failure'}.get(rc, 'Error'),
                  checks=checks, warning_checks=[c for c in checks if c['result'] == 'Warning'],
                  failure_checks=[c for c in checks if c['result'] == 'Failure'], stdout='(table)', msg=msg,
                  failed=False)
    if rc:
        result.update(failed_when_result=False, stderr='')
    result.update(extra)
    return result


def test_status_success_is_clean():
    found = decide.status_findings(status_result(0, [('Cells v2', 'Success', None)], msg='all 1 nova upgrade checks passed'))
    assert found == dict(problems=[], warnings=[])


def test_status_rc_2_failure_is_a_problem_although_failed_is_false():
    status = status_result(2, [('Cells v2', 'Failure', 'No host mappings found but there are compute nodes.'),
                               ('Placement API', 'Success', None),
                               ('Older than N-1 computes', 'Failure', None)],
                           msg='nova upgrade checks failed: Cells v2: No host mappings found but there are compute nodes.')
    assert status['failed'] is False
    found = decide.status_findings(status, host='ctl1')
    assert found['warnings'] == []
    assert len(found['problems']) == 1
    problem = found['problems'][0]
    assert problem.startswith('target nova-status upgrade check on ctl1 (%s) reports Failure (rc 2): ' % CMD)
    assert 'Cells v2: No host mappings found but there are compute nodes; Older than N-1 computes: Failure.' in problem
    assert 'Fix what the failing checks name' in problem


def test_status_failure_without_parsed_checks_uses_the_message():
    status = status_result(2, [], msg='nova upgrade checks failed: (raw tail)')
    found = decide.status_findings(status)
    assert found['problems'] == ['target nova-status upgrade check (%s) reports Failure (rc 2): nova upgrade checks '
                                 'failed: (raw tail). Fix what the failing checks name (nova-status upgrade check '
                                 'documents each), then run again.' % CMD]


def test_status_rc_1_warning_is_a_warning():
    status = status_result(1, [('Cells v2', 'Success', None),
                               ('Older than N-1 computes', 'Warning', 'Current Nova version does not support computes '
                                                                      'older than Epoxy.')])
    found = decide.status_findings(status, host='ctl1')
    assert found == dict(problems=[], warnings=[
        'target nova-status warning: Older than N-1 computes: Current Nova version does not support computes older '
        'than Epoxy'])


def test_status_rc_1_warning_with_fail_on_warning_is_a_problem():
    status = status_result(1, [('Older than N-1 computes', 'Warning', None)],
                           msg='nova upgrade checks passed with warnings: ... (fail_on_warning is set)')
    found = decide.status_findings(status, fail_on_warning=True, host='ctl1')
    assert found['warnings'] == []
    assert len(found['problems']) == 1
    assert 'reports Warning (rc 1) and nova_upgrade_status_fail_on_warning is set: Older than N-1 computes: Warning.' \
        in found['problems'][0]


def test_status_fail_on_warning_does_not_touch_success():
    assert decide.status_findings(status_result(0, []), fail_on_warning=True) == dict(problems=[], warnings=[])


@pytest.mark.parametrize('status', [
    status_result(255, [], msg='... exited 255 (an error inside nova-status): OperationalError'),
    # the module failed before it ran nova-status (no rc): failed_when: false keeps only the message
    dict(changed=False, failed=False, failed_when_result=False,
         msg='config file /etc/nova/nova.conf (option config_files) does not exist on this host'),
    dict(changed=False, failed=False, rc=0),  # an exit code but no result: not a result of the module
    dict(changed=False, failed=False, rc=None, result='Success'),
    dict(changed=False, failed=False, rc=3, result='Error', msg='unexpected'),
])
def test_status_that_did_not_run_to_the_end_is_a_problem(status):
    found = decide.status_findings(status, host='ctl1')
    assert found['warnings'] == []
    assert len(found['problems']) == 1
    assert 'target nova-status upgrade check on ctl1' in found['problems'][0]
    assert 'did not run to the end' in found['problems'][0]
    if status.get('msg'):
        assert status['msg'] in found['problems'][0]


def test_status_missing_rc_names_no_result_without_a_message():
    found = decide.status_findings(dict(changed=False, failed=False), host='ctl1')
    assert found['problems'] == ['target nova-status upgrade check on ctl1 (nova-status upgrade check) did not run to '
                                 'the end: no result. Fix what the failing checks name (nova-status upgrade check '
                                 'documents each), then run again.']


@pytest.mark.parametrize('status', [
    dict(changed=False, skipped=True, skip_reason='Conditional result was False', false_condition='x'),
    {},
    None,
])
def test_status_skipped_is_a_warning_with_its_reason(status):
    found = decide.status_findings(status, skipped_reason='the target venv is not on the manage host')
    assert found == dict(problems=[], warnings=[
        'target nova-status upgrade check not run: the target venv is not on the manage host'])
    assert decide.status_findings(status)['warnings'] == ['target nova-status upgrade check not run: skipped']


def test_status_skipped_is_never_a_pass_even_with_fail_on_warning():
    found = decide.status_findings(dict(skipped=True), fail_on_warning=True)
    assert found['problems'] == [] and len(found['warnings']) == 1


# --------------------------------------------------------------------------------------------------- target_code

TARGET = dict(release='2026.2', name='Hibiscus', nova_major=34, slurp=False)
SOURCE = '/opt/openstack/venvs/nova-34.0.0/lib/python3.11/site-packages/nova/objects/service.py'
CODE = dict(version='34.0.0', service_version=74, compute_rpc='6.5', oldest_supported_release='Gazpacho',
            oldest_supported_service_version=72)


def code_result(**code):
    """rolling.openstack.nova_code_info's result, registered with failed_when: false."""
    return dict(changed=False, failed=False, code=dict(CODE, **code), source=SOURCE,
                msg='nova 34.0.0: service version 74, compute RPC 6.5')


SKIPPED = dict(changed=False, skipped=True, skip_reason='Conditional result was False')


def target(result, method='venv', **kwargs):
    kwargs.setdefault('current_service_version', 72)
    kwargs.setdefault('target_release', TARGET)
    kwargs.setdefault('host', 'ctl1')
    kwargs.setdefault('venv', '/opt/openstack/venvs/nova-34.0.0')
    return decide.target_code(result, method, **kwargs)


def test_target_code_read():
    found = target(code_result())
    assert found['problems'] == [] and found['warnings'] == []
    assert found['code'] == CODE
    assert found['summary'] == 'Target code: nova 34.0.0, service version 74, compute RPC 6.5 (%s).' % SOURCE


def test_target_code_package_version_with_epoch_and_revision_is_the_target_major():
    found = target(dict(code_result(version='2:34.0.0-0ubuntu1'), source='python3-nova=2:34.0.0-0ubuntu1'),
                   method='package')
    assert found['problems'] == []
    assert found['summary'].endswith('(python3-nova=2:34.0.0-0ubuntu1).')


@pytest.mark.parametrize('result, method, kwargs, reason', [
    (SKIPPED, 'venv', dict(install_allowed=False),
     'the target venv /opt/openstack/venvs/nova-34.0.0 is not on the manage host and '
     'nova_upgrade_preflight_install_target is false'),
    (SKIPPED, 'venv', {}, 'the target venv /opt/openstack/venvs/nova-34.0.0 is not on the manage host yet'),
    (SKIPPED, 'custom', {}, 'the custom install method cannot read the target code'),
    (None, 'package', {}, 'nothing was read'),
    (dict(changed=False, failed=True, msg='boom'), 'package', {}, 'reading it failed: boom'),
    # the read ran and found no service version
    (code_result(service_version=None), 'venv', {}, '%s names no usable service version (None)' % SOURCE),
    (code_result(service_version=0), 'venv', {}, '%s names no usable service version (0)' % SOURCE),
])
def test_target_code_unknown_service_version_is_a_problem_in_a_real_run(result, method, kwargs, reason):
    found = target(result, method, **kwargs)
    assert found['code'] == {}
    assert found['warnings'] == []
    assert len(found['problems']) == 1
    problem = found['problems'][0]
    assert problem.startswith("the target code's service version is unknown on ctl1: ")
    assert reason in problem
    assert 'the upgrade does not start without it' in problem
    assert found['summary'].startswith('Target code: not read (')


def test_target_code_failed_read_registered_with_failed_when_false_names_the_failure():
    """failed_when: false sets `failed` to false: the module's message must still be the reason given."""
    result = dict(changed=False, failed=False, failed_when_result=False,
                  msg='apt-get download python3-nova failed (rc 100): E: Unable to locate package python3-nova. '
                      'Check that the target release\'s package repository is configured and apt-get update ran.')
    found = target(result, method='package')
    assert found['code'] == {}
    assert len(found['problems']) == 1
    assert 'reading it failed: apt-get download python3-nova failed (rc 100)' in found['problems'][0]


@pytest.mark.parametrize('bad', [-1, 'abc', True, '72.5'])
@pytest.mark.parametrize('current', [72, None])
def test_target_code_read_without_a_usable_service_version_is_a_problem(bad, current):
    # never taken for a version, whether a running version is known to compare with or not (and never a crash)
    found = target(code_result(service_version=bad), current_service_version=current)
    assert found['code'] == {}
    assert len(found['problems']) == 1
    assert "service version is unknown on ctl1: %s names no usable service version (%r)" % (SOURCE, bad) \
        in found['problems'][0]
    # an override stands in for the unusable read
    found = target(code_result(service_version=bad), override='74', current_service_version=current)
    assert found['code']['service_version'] == 74 and found['code']['source'] == 'nova_upgrade_target_service_version'


def test_target_code_check_mode_only_warns():
    found = target(SKIPPED, 'venv', check_mode=True)
    assert found['problems'] == []
    assert found['code'] == {}
    assert found['warnings'] == [
        'target code not read in check mode (the target venv /opt/openstack/venvs/nova-34.0.0 is not on the manage host '
        'yet); a real run reads it before anything changes, and stops when it cannot.']


def test_target_code_override_agreeing_with_the_code():
    found = target(code_result(), override='74')
    assert found['problems'] == [] and found['code']['service_version'] == 74


def test_target_code_override_disagreeing_with_the_code_is_a_problem():
    found = target(code_result(), override=73)
    assert found['problems'] == [
        'nova_upgrade_target_service_version=73, but the target code on ctl1 (%s) says 74: remove the setting, or '
        'fix it.' % SOURCE]
    found = target(code_result(), override=73, check_mode=True)  # check mode does not excuse it
    assert len(found['problems']) == 1


def test_target_code_override_stands_in_for_an_unread_code():
    found = target(SKIPPED, 'custom', override='74')
    assert found['problems'] == []
    assert found['warnings'] == [
        'target service version 74 taken from nova_upgrade_target_service_version, not read from the target code: the '
        'expand phase reads it from the code it installs on the manage host and stops before any schema sync when they '
        'differ.']
    assert found['code'] == dict(service_version=74, version='', compute_rpc=None,
                                 source='nova_upgrade_target_service_version')
    assert found['summary'] == ('Target code: nova ?, service version 74, compute RPC ? '
                                '(nova_upgrade_target_service_version).')


@pytest.mark.parametrize('override', ['abc', '0', 0, '-3', True, '74.5'])
def test_target_code_bad_override_is_a_problem(override):
    found = target(SKIPPED, 'custom', override=override)
    assert found['code'] == {}
    assert len(found['problems']) == 1  # not repeated as "unknown"
    assert found['problems'][0].startswith('nova_upgrade_target_service_version=%s is not a nova service version' % override)
    found = target(code_result(), override=override)
    assert any('is not a nova service version' in p for p in found['problems'])


@pytest.mark.parametrize('override', ['', None])
def test_target_code_empty_override_is_no_override(override):
    assert target(code_result(), override=override)['problems'] == []


@pytest.mark.parametrize('version', ['33.0.2', '3.4.0', '340.0.0', '2:33.0.2-0ubuntu1'])
def test_target_code_wrong_major_is_a_problem(version):
    found = target(code_result(version=version))
    assert len(found['problems']) == 1
    assert found['problems'][0] == (
        'the target code on ctl1 is nova %s, not a version of the target release 2026.2 (nova 34): fix '
        'nova_upgrade_target_version or the package sources.' % version)


def test_target_code_older_than_the_running_code_is_a_problem():
    found = target(code_result(service_version=72), current_service_version='74')
    assert found['problems'] == [
        'the target code on ctl1 has service version 72, older than the running code (74): that would be a downgrade, '
        'which Nova does not support.']


def test_target_code_same_service_version_as_running_is_no_downgrade():
    # within one release, or resumed (the manage host's conductor may run the target already)
    assert target(code_result(), current_service_version=74, same_release=True)['problems'] == []


@pytest.mark.parametrize('current', [None, '', 'abc', 0])
def test_target_code_unknown_current_is_not_compared(current):
    assert target(code_result(service_version=60), current_service_version=current)['problems'] == []


# --------------------------------------------------------------------------------------------------- cell_sources

CONF = ['/etc/nova/nova.conf']


def databases(**extra):
    """The document of roles/nova_preflight/files/nova_databases.py."""
    doc = dict(
        api=dict(database='nova_api', host='10.77.0.10', port=None, driver='mysql+pymysql'),
        main=dict(database='nova', host='10.77.0.10', port=None, driver='mysql+pymysql'),
        cells=[
            dict(name='cell0', uuid=CELL0, is_cell0=True, database='nova_cell0', host='10.77.0.10', port=None),
            dict(name='cell1', uuid=CELL1, is_cell0=False, database='nova', host='10.77.0.10', port=3306),
            dict(name='cell2', uuid=CELL2, is_cell0=False, database='nova_cell2', host='10.77.0.20', port=None),
        ],
        config_sets=[])
    doc.update(extra)
    return doc


def reach(**errors):
    """nova_service_version_info's cells: an error for each uuid given."""
    return [dict(uuid=u, error=errors.get(u)) for u in (CELL0, CELL1, CELL2)]


def by_name(found):
    return dict((c['name'], c) for c in found['cells'])


CELL2_SET = dict(files=['/etc/nova/nova.conf', '/etc/nova/cell2.conf'], database='nova_cell2', host='10.77.0.20',
                 port=None)


def test_cells_main_cell0_and_an_extra_reachable_cell():
    found = decide.cell_sources(databases(), reach(), CONF)
    assert found['problems'] == [] and found['warnings'] == []
    assert [c['name'] for c in found['cells']] == ['cell0', 'cell1', 'cell2']
    cells = by_name(found)
    assert cells['cell1'] == dict(uuid=CELL1, name='cell1', database='nova', is_cell0=False, cell='', config_files=CONF,
                                  source='main', sync='cells', text='the configuration of the manage host')
    # cell0: its schema comes with nova-manage db sync, its online data migrations through its mapping
    assert cells['cell0'] == dict(uuid=CELL0, name='cell0', database='nova_cell0', is_cell0=True, cell=CELL0,
                                  config_files=CONF, source='mapping', sync='cells',
                                  text='its cell mapping (schema: nova-manage db sync fans out to cell0)')
    assert cells['cell2'] == dict(uuid=CELL2, name='cell2', database='nova_cell2', is_cell0=False, cell=CELL2,
                                  config_files=CONF, source='mapping', sync='cell',
                                  text='its cell mapping (a configuration file written on the manage host for the run)')


def test_cells_unreachable_extra_cell_without_config_is_a_problem_naming_it():
    error = "OperationalError: (2003, \"Can't connect to MySQL server on '10.77.0.20'\")"
    found = decide.cell_sources(databases(), reach(**{CELL2: error}), CONF)
    assert [c['name'] for c in found['cells']] == ['cell0', 'cell1']
    assert len(found['problems']) == 1
    problem = found['problems'][0]
    assert problem.startswith('cell cell2 (%s, database nova_cell2 on 10.77.0.20) is not covered: its database does not '
                              'answer from the manage host (%s)' % (CELL2, error))
    assert 'nova_upgrade_cell_config_files' in problem


def test_cells_config_set_matching_a_cell_is_its_source():
    for errors in ({}, {CELL2: 'OperationalError: unreachable'}):  # a config set also covers an unreachable cell
        found = decide.cell_sources(databases(config_sets=[CELL2_SET]), reach(**errors), CONF)
        assert found['problems'] == []
        cell2 = by_name(found)['cell2']
        assert cell2['source'] == 'config'
        assert cell2['config_files'] == CELL2_SET['files']
        assert cell2['cell'] == '' and cell2['sync'] == 'cell'
        assert cell2['text'] == "nova_upgrade_cell_config_files ['/etc/nova/nova.conf', '/etc/nova/cell2.conf']"
        assert by_name(found)['cell1']['config_files'] == CONF


def test_cells_config_set_with_the_same_port_matches_and_another_port_does_not():
    found = decide.cell_sources(databases(config_sets=[dict(CELL2_SET, port=3306)]), reach(), CONF)
    assert found['problems'] == [] and by_name(found)['cell2']['source'] == 'config'
    cells = databases()['cells']
    cells[2]['port'] = 3307
    found = decide.cell_sources(databases(cells=cells, config_sets=[dict(CELL2_SET, port=3306)]), reach(), CONF)
    assert len(found['problems']) == 1 and 'which no cell mapping names' in found['problems'][0]


def test_cells_config_set_for_cell0():
    entry = dict(files=['/etc/nova/cell0.conf'], database='nova_cell0', host='10.77.0.10', port=None)
    found = decide.cell_sources(databases(config_sets=[entry]), reach(), CONF)
    assert found['problems'] == []
    cell0 = by_name(found)['cell0']
    assert cell0['source'] == 'config' and cell0['config_files'] == ['/etc/nova/cell0.conf']
    assert cell0['sync'] == 'cells'  # its schema still comes with the main cell's db sync
    assert found['cells'][0]['name'] == 'cell0'


def test_cells_config_set_matching_no_cell_is_a_problem():
    entry = dict(files=['/etc/nova/cell9.conf'], database='nova_cell9', host='10.77.0.99', port=None)
    found = decide.cell_sources(databases(config_sets=[entry]), reach(), CONF)
    assert found['problems'] == [
        "nova_upgrade_cell_config_files entry ['/etc/nova/cell9.conf'] names database nova_cell9 on 10.77.0.99, which "
        "no cell mapping names (cells: cell0 (%s, database nova_cell0 on 10.77.0.10), cell1 (%s, database nova on "
        "10.77.0.10), cell2 (%s, database nova_cell2 on 10.77.0.20)). Fix the entry or remove it." % (CELL0, CELL1, CELL2)]
    assert by_name(found)['cell2']['source'] == 'mapping'


def test_cells_two_sets_for_one_cell_is_a_problem():
    other = dict(CELL2_SET, files=['/etc/nova/cell2-bis.conf'])
    found = decide.cell_sources(databases(config_sets=[CELL2_SET, other]), reach(), CONF)
    assert 'cell2' not in by_name(found)
    assert len(found['problems']) == 1
    assert found['problems'][0].startswith('cell cell2 (%s, database nova_cell2 on 10.77.0.20) is covered 2 times by '
                                           'nova_upgrade_cell_config_files' % CELL2)
    assert "['/etc/nova/cell2-bis.conf']" in found['problems'][0]


def test_cells_set_for_the_main_cell_is_covered_twice():
    entry = dict(files=['/etc/nova/main.conf'], database='nova', host='10.77.0.10', port=None)
    found = decide.cell_sources(databases(config_sets=[entry]), reach(), CONF)
    assert len(found['problems']) == 1
    assert found['problems'][0].startswith('cell cell1 (%s, database nova on 10.77.0.10) is covered twice: by the '
                                           'configuration of the manage host (/etc/nova/nova.conf)' % CELL1)


def test_cells_set_with_an_error_is_a_problem():
    entry = dict(files=['/etc/nova/missing.conf'], error='/etc/nova/missing.conf: FileNotFoundError')
    found = decide.cell_sources(databases(config_sets=[entry]), reach(), CONF)
    assert found['problems'] == [
        "nova_upgrade_cell_config_files entry ['/etc/nova/missing.conf']: /etc/nova/missing.conf: FileNotFoundError, so "
        "it names no cell database. Fix the entry (each one lists the files whose [database] connection is one cell's "
        "database), or remove it."]


def test_cells_no_main_match_is_a_problem():
    found = decide.cell_sources(databases(main=dict(database='nova_old', host='10.77.0.10', port=None)), reach(), CONF)
    assert found['problems'] == [
        '[database] connection of /etc/nova/nova.conf names database nova_old on 10.77.0.10, which no cell mapping '
        'names: the manage host must be configured for one of the cells (nova-manage cell_v2 list_cells shows them).']
    assert 'main' not in [c['source'] for c in found['cells']]


def test_cells_main_matching_only_cell0_is_no_main():
    found = decide.cell_sources(databases(main=dict(database='nova_cell0', host='10.77.0.10')), reach(), CONF)
    assert len(found['problems']) == 1 and 'which no cell mapping names' in found['problems'][0]


def test_cells_host_defaults_to_localhost():
    doc = databases(main=dict(database='nova', host=None), cells=[
        dict(name='cell0', uuid=CELL0, is_cell0=True, database='nova_cell0', host=None),
        dict(name='cell1', uuid=CELL1, is_cell0=False, database='nova', host='localhost')])
    found = decide.cell_sources(doc, [], CONF)
    assert found['problems'] == [] and by_name(found)['cell1']['source'] == 'main'


def test_cells_without_any_document_is_a_problem():
    found = decide.cell_sources(None, None, None)
    assert found['cells'] == [] and len(found['problems']) == 1
    assert found['problems'][0].startswith('[database] connection of the configuration names database None')


# --------------------------------------------------------------------------------------------------- sync / unmigrated

def test_sync_records_from_a_loop():
    results = [
        dict(name='nova-manage api_db sync', cmd='/x/nova-manage api_db sync', before='b30f573d3377',
             after='13863f4e1612', seconds=4.6, summary='nova-manage api_db sync b30f573d3377 -> 13863f4e1612',
             item=dict(schema='api')),
        dict(changed=False, skipped=True, skip_reason='Conditional result was False'),
        'not a result',
        dict(cmd='/x/nova-manage db sync'),
    ]
    assert decide.sync_records(results, host='ctl1') == [
        dict(name='nova-manage api_db sync', host='ctl1', before='b30f573d3377', after='13863f4e1612', seconds=4.6,
             summary='nova-manage api_db sync b30f573d3377 -> 13863f4e1612'),
        dict(name='/x/nova-manage db sync', host='ctl1', before='', after='', seconds=0, summary=''),
    ]
    assert decide.sync_records(None) == []


def test_unmigrated_warnings():
    results = [
        dict(cell='', unmigrated=[dict(name='populate_instance_compute_id', found=3, migrated=1)]),
        dict(cell=CELL0, unmigrated=[dict(name='populate_user_id', found='2', migrated='0')]),
        dict(cell='cell2', unmigrated=[]),
        'junk',
    ]
    warnings = decide.unmigrated_warnings(results)
    assert len(warnings) == 2
    assert warnings[0] == (
        "online data migration populate_instance_compute_id found 2 row(s) in the main cell it could not migrate (1 "
        "migrated). Such rows can block the next release's nova-manage db sync. Look at servers whose compute node no "
        "longer exists (an ERROR server that never got a host, or one on a deleted compute): delete those servers, or "
        "rebuild or evacuate them onto an existing compute; then run nova-manage db online_data_migrations again (and "
        "nova-manage db archive_deleted_rows for deleted rows).")
    assert warnings[1].startswith('online data migration populate_user_id found 2 row(s) in cell %s it could not '
                                  'migrate (0 migrated)' % CELL0)
    assert 'the rows that migration selects (nova-manage.log names them)' in warnings[1]
    assert decide.unmigrated_warnings(None) == []


def test_unmigrated_warnings_name_the_cell_of_the_loop_item():
    """In the migrate role's loop, a cell migrated with its own configuration files (source config) has cell ''. It is
    not the main cell: the warning must name the cell of the loop item."""
    results = [
        dict(cell='', item=dict(name='cell1', source='main', cell=''),
             unmigrated=[dict(name='populate_user_id', found=1, migrated=0)]),
        dict(cell='', item=dict(name='cell2', source='config', cell=''),
             unmigrated=[dict(name='populate_user_id', found=1, migrated=0)]),
    ]
    warnings = decide.unmigrated_warnings(results)
    assert ' in cell cell1 ' in warnings[0]
    assert ' in cell cell2 ' in warnings[1]


# --------------------------------------------------------------------------------------------------- hosts

def test_service_hosts():
    hostvars = {'ctl1': dict(nova_upgrade_service_host='ctl1.cloud.example'), 'cmp1': {},
                'cmp2': dict(nova_upgrade_service_host='')}
    assert decide.service_hosts(['ctl1', 'cmp1', 'cmp2', 'cmp3'], hostvars) == {
        'ctl1': 'ctl1.cloud.example', 'cmp1': 'cmp1', 'cmp2': 'cmp2', 'cmp3': 'cmp3'}
    assert decide.service_hosts(None, {}) == {}


HOSTS = dict(api=['ctl1', 'ctl2'], conductor=['ctl1', 'ctl2'], scheduler=['ctl1', 'ctl2'], placement=['ctl1', 'ctl2'],
             control=['ctl1', 'ctl2'], compute=['cmp1', 'cmp2', 'cmp3'], compute_in_scope=['cmp1', 'cmp2'],
             manage='ctl1', backup='db1')
NAMES = dict(ctl1='ctl1', ctl2='ctl2', cmp1='cmp1', cmp2='cmp2.cloud.example', cmp3='cmp3')


def test_hosts_without_down():
    out = decide.hosts_without_down(HOSTS, NAMES, ['cmp2.cloud.example', 'ctl2'])
    assert out['down'] == ['ctl2', 'cmp2']
    for key in ('api', 'conductor', 'scheduler', 'placement', 'control'):
        assert out[key] == ['ctl1'], key
    assert out['compute'] == ['cmp1', 'cmp2', 'cmp3']  # kept whole, for the report
    assert out['compute_in_scope'] == ['cmp1']
    assert out['compute_up'] == ['cmp1', 'cmp3']
    assert out['nova_up'] == ['ctl1', 'cmp1', 'cmp3']
    assert out['manage'] == 'ctl1' and out['backup'] == 'db1'
    assert HOSTS['api'] == ['ctl1', 'ctl2']  # the input is not changed


def test_hosts_without_down_matches_nova_names_not_inventory_names():
    out = decide.hosts_without_down(HOSTS, NAMES, ['cmp2'])  # cmp2 is cmp2.cloud.example to nova
    assert out['down'] == [] and out['compute_up'] == ['cmp1', 'cmp2', 'cmp3']


def test_hosts_without_down_nothing_down():
    out = decide.hosts_without_down(HOSTS, NAMES, None)
    assert out['down'] == []
    assert out['nova_up'] == ['ctl1', 'ctl2', 'cmp1', 'cmp2', 'cmp3']


# --------------------------------------------------------------------------------------------------- upgraded

def new_cloud(version=74):
    return [svc('nova-conductor', 'ctl1', version), svc('nova-scheduler', 'ctl1', version),
            svc('nova-compute', 'cmp1', version), svc('nova-compute', 'cmp2', version, cell='cell2')]


LEVELS = {'ctl1': dict(compute='auto'), 'cmp1': dict(compute=''), 'cmp2': {}, 'ctl2': None}


def test_upgraded_needs_every_record_and_no_pin():
    done = decide.upgraded(new_cloud(), 74, LEVELS, target_release='2026.2', code_version='34.0.0', unpin_mode='auto')
    assert done == dict(upgraded=True, reasons=[], from_release='2026.2', oldest_service_version=74)
    done = decide.upgraded(new_cloud(), 74, dict(LEVELS, ctl1={}), target_release='2026.2', code_version='34.0.0')
    assert done == dict(upgraded=True, reasons=[], from_release='2026.2', oldest_service_version=74)

    # one record older than the code: not upgraded, whatever the conductor on the manage host runs
    services = new_cloud()
    services[3]['version'] = 72
    found = decide.upgraded(services, 74, LEVELS, target_release='2026.2', code_version='34.0.0', unpin_mode='auto')
    assert found['upgraded'] is False
    assert found['reasons'] == ['1 service record(s) older than the code on the manage host (nova 34.0.0, service '
                                'version 74): nova-compute on cmp2 (version 72, cell2)']

    # every record new, one host keeps a pin: not upgraded
    for pin in ('6.4', 'gazpacho', ' 6.4 '):
        found = decide.upgraded(new_cloud(), 74, dict(LEVELS, cmp1=dict(compute=pin)), code_version='34.0.0',
                                unpin_mode='auto')
        assert found['upgraded'] is False
        assert found['reasons'] == ['cmp1 keeps [upgrade_levels] compute = %s' % pin.strip()]

    # auto is no pin with unpin mode auto (kolla-ansible keeps it for good); neither is an empty or missing option
    for value in ('auto', ' auto ', '', None):
        assert decide.upgraded(new_cloud(), 74, {'cmp1': dict(compute=value)}, unpin_mode='auto')['upgraded'] is True
    for value in ('', None):
        assert decide.upgraded(new_cloud(), 74, {'cmp1': dict(compute=value)})['upgraded'] is True
    # with unpin mode remove (the default) an auto left means the unpin did not run: the state file was lost after the
    # roll, every record is new, the services still cache the old compute RPC and the migrations never ran
    for mode in ('', 'remove'):
        found = decide.upgraded(new_cloud(), 74, {'ctl1': dict(compute='auto')}, unpin_mode=mode)
        assert found['upgraded'] is False
        assert found['reasons'] == ['ctl1 keeps [upgrade_levels] compute = auto, which the unpin '
                                    '(nova_upgrade_unpin_mode=remove) removes: the unpin did not run']

    # both
    services = new_cloud()
    services[0]['version'] = 73
    found = decide.upgraded(services, '74', dict(ctl2=dict(compute='6.4'), ctl1=dict(compute='6.3')))
    assert found['upgraded'] is False
    assert len(found['reasons']) == 3
    assert found['reasons'][1:] == ['ctl1 keeps [upgrade_levels] compute = 6.3', 'ctl2 keeps [upgrade_levels] compute = 6.4']


def test_upgraded_record_without_version_is_not_new():
    services = new_cloud() + [svc('nova-compute', 'cmp3', None)]
    assert decide.upgraded(services, 74, {})['upgraded'] is False


def test_upgraded_many_old_records_are_cut():
    services = [svc('nova-compute', 'cmp%d' % i, 72) for i in range(12)] + new_cloud()
    found = decide.upgraded(services, 74, {})
    assert found['reasons'][0].startswith('12 service record(s) older than the code on the manage host (nova ?, ')
    assert found['reasons'][0].endswith(' ...')
    assert found['reasons'][0].count('nova-compute on') == 10


def test_upgraded_forced_down_and_deleted_records_do_not_count():
    services = new_cloud() + [
        svc('nova-compute', 'cmp8', 66, forced_down=True, counts_in_minimum=False),
        dict(binary='nova-compute', host='cmp9', version=60, deleted=True),
        dict(binary='nova-compute', host='cmp7', version=60, forced_down=True),
    ]
    found = decide.upgraded(services, 74, {}, target_release='2026.2')
    assert found['upgraded'] is True
    assert found['oldest_service_version'] == 74  # nor in where a resumed upgrade starts
    assert found['from_release'] == '2026.2'


@pytest.mark.parametrize('oldest, release', [
    (72, '2026.1'),   # Gazpacho
    (73, '2026.1'),   # a Gazpacho service with a backport
    (70, '2025.2'),
    (71, '2025.2'),
    (68, '2025.1'),
    (67, '2024.2'),
    (66, '2024.1'),   # Antelope, Bobcat and Caracal share 66: the newest of them
])
def test_upgraded_from_release_is_the_release_of_the_oldest_record(oldest, release):
    services = new_cloud() + [svc('nova-compute', 'cmp9', oldest), svc('nova-compute', 'cmp8', 73)]
    found = decide.upgraded(services, 74, {}, target_release='2026.2')
    assert found['upgraded'] is False
    assert found['oldest_service_version'] == oldest
    assert found['from_release'] == release


def test_upgraded_from_release_older_than_every_known_release_falls_back_to_the_target():
    found = decide.upgraded(new_cloud() + [svc('nova-compute', 'cmp9', 61)], 74, {}, target_release='2026.2')
    assert found['upgraded'] is False and found['from_release'] == '2026.2'
    assert found['oldest_service_version'] == 61


@pytest.mark.parametrize('code', [None, '', 0, 'abc', True])
def test_upgraded_without_the_code_service_version_raises(code):
    with pytest.raises(UpgradeDecisionError, match="the running code's service version"):
        decide.upgraded(new_cloud(), code, {})


@pytest.mark.parametrize('services', [
    [], None, [svc('nova-compute', 'cmp1', 74, forced_down=True, counts_in_minimum=False)]])
def test_upgraded_without_any_counted_record_cannot_decide(services):
    """No counted record at all (a read that returned nothing) is no proof of an upgraded cloud: it must not pass."""
    with pytest.raises(UpgradeDecisionError, match='no counted service record'):
        decide.upgraded(services, 74, {}, target_release='2026.2')


# --------------------------------------------------------------------------------------------------- load balancer

def test_lb_servers():
    hostvars = {'ctl1': dict(nova_upgrade_lb_server='ctl1-api'), 'ctl2': {}}
    assert decide.lb_servers(['ctl1', 'ctl2', 'ctl3'], hostvars) == ['ctl1-api', 'ctl2', 'ctl3']
    assert decide.lb_servers(None, hostvars) == []


def test_restart_events_switch_with_lb_and_drained_others():
    events = decide.restart_events('roll', 'ctl1', 'nova-api', '33.0.2', '34.0.0', '14.26', lb=True,
                                   backend='nova_api_back', server='ctl1-api',
                                   drained={'ctl3': 'ctl3-api', 'ctl2': 'ctl2-api'})
    assert events == [
        {'phase': 'roll', 'host': 'ctl1', 'service': 'nova-api', 'event': 'switch', 'from': '33.0.2', 'to': '34.0.0',
         'seconds': 14.3},
        dict(phase='roll', event='lb_ready', host='ctl1', service='nova-api', backend='nova_api_back', server='ctl1-api'),
        dict(phase='roll', event='lb_drain', host='ctl2', service='nova-api', backend='nova_api_back', server='ctl2-api',
             message='drained as ctl1 came back on the new code'),
        dict(phase='roll', event='lb_drain', host='ctl3', service='nova-api', backend='nova_api_back', server='ctl3-api',
             message='drained as ctl1 came back on the new code'),
    ]


def test_lb_drain_events_are_the_drained_others_alone():
    assert decide.lb_drain_events('roll', 'ctl1', 'nova-api', 'nova_api_back', {'ctl2': 'ctl2-api'}) == [
        dict(phase='roll', event='lb_drain', host='ctl2', service='nova-api', backend='nova_api_back', server='ctl2-api',
             message='drained as ctl1 came back on the new code')]
    assert decide.lb_drain_events('roll', 'ctl1', 'nova-api', 'nova_api_back', {}) == []


def test_restart_events_plain_restart():
    events = decide.restart_events('unpin', 'cmp1', 'nova-compute', '34.0.0', '34.0.0', 3)
    assert events == [{'phase': 'unpin', 'host': 'cmp1', 'service': 'nova-compute', 'event': 'restart',
                       'from': '34.0.0', 'to': '34.0.0', 'seconds': 3.0}]


def drain(host, server, service='nova-api', backend='nova_api_back', **extra):
    return dict(event='lb_drain', host=host, service=service, backend=backend, server=server, **extra)


def ready(host, server, service='nova-api', backend='nova_api_back'):
    return dict(event='lb_ready', host=host, service=service, backend=backend, server=server)


def switch(host, to='34.0.0', service='nova-api'):
    return {'event': 'switch', 'host': host, 'service': service, 'from': '33.0.2', 'to': to}


API = ['ctl1', 'ctl2', 'ctl3']


def test_lb_restore_last_event_per_backend_and_server_decides():
    events = [
        drain('ctl1', 'ctl1'), ready('ctl1', 'ctl1'),                      # back: nothing to do
        ready('ctl2', 'ctl2'), drain('ctl2', 'ctl2'),                      # drained last: put back
        drain('ctl1', 'ctl1', service='placement-api', backend='placement_back'),  # same server, other backend
        dict(event='lb_drain', host='ctl3', service='nova-api'),           # no backend/server: not ours
        dict(event='restart', host='ctl3', service='nova-api'),
    ]
    found = decide.lb_restore(events, API, 'nova-api', '34.0.0')
    assert found == dict(keep=[], drain=[], lead={}, restore=[
        dict(host='ctl2', backend='nova_api_back', server='ctl2', service='nova-api'),
        dict(host='ctl1', backend='placement_back', server='ctl1', service='placement-api'),
    ])
    assert decide.lb_restore(None, API) == dict(restore=[], keep=[], drain=[], lead={})


def test_lb_restore_keeps_old_api_nodes_out_while_another_runs_the_target():
    # ctl1 came back on the new code and drained ctl2 and ctl3 at the same moment; then the run was interrupted
    events = [drain('ctl1', 'ctl1'), switch('ctl1')]
    events += decide.restart_events('roll', 'ctl1', 'nova-api', '33.0.2', '34.0.0', 10, lb=True,
                                    backend='nova_api_back', server='ctl1', drained={'ctl2': 'ctl2', 'ctl3': 'ctl3'})
    found = decide.lb_restore(events, API, 'nova-api', '34.0.0')
    assert found['restore'] == []
    assert found['keep'] == [dict(host='ctl2', backend='nova_api_back', server='ctl2', service='nova-api'),
                             dict(host='ctl3', backend='nova_api_back', server='ctl3', service='nova-api')]

    # ctl2's own restart switched it and stopped before it came back: it goes back; ctl3 (old) stays out
    events += [drain('ctl2', 'ctl2'), switch('ctl2')]
    found = decide.lb_restore(events, API, 'nova-api', '34.0.0')
    assert [r['server'] for r in found['restore']] == ['ctl2']
    assert [r['server'] for r in found['keep']] == ['ctl3']

    # a placement backend drained on the same host is put back all the same
    events += [drain('ctl3', 'ctl3', service='placement-api', backend='placement_back')]
    found = decide.lb_restore(events, API, 'nova-api', '34.0.0')
    assert [(r['backend'], r['server']) for r in found['restore']] == [('nova_api_back', 'ctl2'), ('placement_back', 'ctl3')]


@pytest.mark.parametrize('target_version, api_hosts', [
    ('35.0.0', API),          # the switch was to another version: no API node runs this target
    ('', API),                # no target known: nothing kept out
    ('34.0.0', ['ctl2', 'ctl3']),  # the switched node is no API host of this run
])
def test_lb_restore_puts_everything_back_without_a_new_api_node(target_version, api_hosts):
    events = [drain('ctl1', 'ctl1'), switch('ctl1'), ready('ctl1', 'ctl1'), drain('ctl2', 'ctl2'), drain('ctl3', 'ctl3')]
    found = decide.lb_restore(events, api_hosts, 'nova-api', target_version)
    assert found['keep'] == []
    assert [r['server'] for r in found['restore']] == ['ctl2', 'ctl3']


def test_lb_restore_switch_of_another_unit_is_no_new_api():
    events = [switch('ctl1', service='nova-conductor'), drain('ctl2', 'ctl2')]
    found = decide.lb_restore(events, API, 'nova-api', '34.0.0')
    assert found['keep'] == [] and [r['server'] for r in found['restore']] == ['ctl2']


# --------------------------------------------------------------------------------------------------- unit_code

def show(active='active', since='@1764700000', reload='no', cmdline=None, exe=None):
    lines = ['LoadState=loaded', 'FragmentPath=/etc/systemd/system/nova-compute.service', 'ActiveState=%s' % active,
             'ActiveEnterTimestamp=%s' % since, 'MainPID=4242', 'NeedDaemonReload=%s' % reload]
    if cmdline is not None:
        lines.append('ProcCmdline=%s' % cmdline)
    if exe is not None:
        lines.append('ProcExe=%s' % exe)
    return '\n'.join(lines) + '\n'


OLD_CMDLINE = ('/opt/openstack/venvs/nova-33.0.2/bin/python3 /opt/openstack/venvs/nova-33.0.2/bin/nova-compute '
               '--config-file /etc/nova/nova.conf ')
NEW_FILES = ['/opt/openstack/venvs/nova-34.0.0', '/opt/openstack/venvs/nova-34.0.0']


def test_unit_code_ctrl_c_case_files_name_the_new_venv_the_process_runs_the_old():
    code = decide.unit_code(show(cmdline=OLD_CMDLINE, exe='/usr/bin/python3.11', reload='yes'), 'venv',
                            file_venvs=NEW_FILES)
    assert code == dict(active=True, since=1764700000.0, need_reload=True, running='33.0.2', files='34.0.0')
    # and so the restart is not skipped
    assert decide.restart_skip_reason(code, True, '34.0.0') == ''


def test_unit_code_venv_running_the_target():
    cmdline = OLD_CMDLINE.replace('33.0.2', '34.0.0')
    code = decide.unit_code(show(cmdline=cmdline), 'venv', file_venvs=NEW_FILES)
    assert code['running'] == '34.0.0' and code['files'] == '34.0.0' and code['need_reload'] is False


def test_unit_code_venv_from_the_executable_and_another_component():
    code = decide.unit_code(show(cmdline='placement-api --port 8778',
                                 exe='/srv/venvs/placement-16.0.0/bin/python3.11'),
                            'venv', component='placement', venvs_dir='/srv/venvs/',
                            file_venvs=['/srv/venvs/placement-16.0.0', '/srv/venvs/placement-15.1.0',
                                        '/srv/venvs/nova-34.0.0'])
    assert code['running'] == '16.0.0'
    assert code['files'] == '15.1.0,16.0.0'


def test_unit_code_venv_process_outside_any_venv():
    code = decide.unit_code(show(cmdline='/usr/bin/python3 /usr/bin/nova-compute', exe='/usr/bin/python3.11'), 'venv',
                            file_venvs=NEW_FILES)
    assert code['running'] == '' and code['files'] == '34.0.0'


def test_unit_code_inactive_unit_runs_nothing():
    code = decide.unit_code(show(active='inactive', since=''), 'venv', file_venvs=NEW_FILES)
    assert code == dict(active=False, since=0.0, need_reload=False, running='', files='34.0.0')
    # a process line of a unit that is not active does not count either
    code = decide.unit_code(show(active='failed', cmdline=OLD_CMDLINE), 'venv', file_venvs=NEW_FILES)
    assert code['active'] is False and code['running'] == ''
    assert decide.restart_skip_reason(code, True, '33.0.2') == ''


@pytest.mark.parametrize('since', ['', 'n/a', 'Tue 2026-12-01 10:00:00 UTC'])
def test_unit_code_unreadable_timestamp_is_0(since):
    assert decide.unit_code(show(since=since), 'custom')['since'] == 0.0


def test_unit_code_package_installed_after_the_process_started_is_older():
    dpkg = 'Version=2:34.0.0-0ubuntu1\nInstalled=1764700500\n'
    code = decide.unit_code(show(since='@1764700000'), 'package', dpkg=dpkg)
    assert code == dict(active=True, since=1764700000.0, need_reload=False, running='older than 34.0.0-0ubuntu1',
                        files='34.0.0-0ubuntu1')
    assert decide.restart_skip_reason(code, True, '34.0.0-0ubuntu1') == ''


def test_unit_code_package_process_started_after_the_install_runs_it():
    dpkg = 'Version=2:34.0.0-0ubuntu1\nInstalled=1764700500\n'
    code = decide.unit_code(show(since='@1764700500'), 'package', dpkg=dpkg)
    assert code['running'] == '34.0.0-0ubuntu1'
    # the preflight records the target candidate without its epoch too: a re-run does not restart it again
    assert decide.restart_skip_reason(code, True, '34.0.0-0ubuntu1').startswith('its running process runs the target')


@pytest.mark.parametrize('dpkg, running', [
    # no readable install time: nothing says the process started after the install, so it fails closed
    ('Version=2:34.0.0-0ubuntu1\nInstalled=0\n', 'older than 34.0.0-0ubuntu1 (or unknown)'),
    ('Version=2:34.0.0-0ubuntu1\nInstalled=\n', 'older than 34.0.0-0ubuntu1 (or unknown)'),
    ('Version=2:34.0.0-0ubuntu1\nInstalled=garbage\n', 'older than 34.0.0-0ubuntu1 (or unknown)'),
    ('Version=\nInstalled=0\n', ''),   # not installed
    ('', ''),
])
def test_unit_code_package_edge_cases(dpkg, running):
    code = decide.unit_code(show(), 'package', dpkg=dpkg)
    assert code['running'] == running
    # a unit whose install time cannot be read is restarted (it is never taken to run the target already)
    assert decide.restart_skip_reason(code, True, '34.0.0-0ubuntu1') == ''


def test_unit_code_package_without_a_start_time_is_restarted():
    code = decide.unit_code(show(since=''), 'package', dpkg='Version=2:34.0.0-0ubuntu1\nInstalled=1764700500\n')
    assert code['running'].startswith('older than') and decide.restart_skip_reason(code, True, '34.0.0-0ubuntu1') == ''


def test_unit_code_package_inactive():
    code = decide.unit_code(show(active='inactive'), 'package', dpkg='Version=34.0.0\nInstalled=1\n')
    assert code['running'] == '' and code['files'] == '34.0.0'


def test_unit_code_custom_knows_no_code():
    code = decide.unit_code(show(cmdline=OLD_CMDLINE), 'custom')
    assert code['running'] == '' and code['files'] == '' and code['active'] is True


def test_unit_code_first_value_of_a_property_wins():
    code = decide.unit_code('ActiveState=active\nActiveState=inactive\n', 'custom')
    assert code['active'] is True


# --------------------------------------------------------------------------------------------------- restart_skip_reason

def code_of(active=True, running='34.0.0', need_reload=False, since=1000.0):
    return dict(active=active, since=since, need_reload=need_reload, running=running, files=running)


@pytest.mark.parametrize('code, switch, target_version, started_before, skipped', [
    # switch: skipped only when the process runs the target and systemd has the unit as it is on disk
    (code_of(), True, '34.0.0', None, True),
    (code_of(need_reload=True), True, '34.0.0', None, False),
    (code_of(running='33.0.2'), True, '34.0.0', None, False),
    (code_of(running=''), True, '', None, False),                 # no target: never skipped
    (code_of(running='older than 34.0.0'), True, '34.0.0', None, False),
    (code_of(active=False), True, '34.0.0', None, False),         # not running: restart (start) it
    # no switch: skipped when it has run since after its configuration changed
    (code_of(since=1000.0), False, '', 999.0, True),
    (code_of(since=1000.0), False, '', '1000', True),
    (code_of(since=1000.0), False, '', 1000.5, False),
    (code_of(since=0.0), False, '', 1000, False),
    (code_of(since=5000.0), False, '', None, False),             # nothing to compare with: restart
    (code_of(since=5000.0), False, '', '', False),
    (code_of(active=False, since=5000.0), False, '', 1000, False),
    (code_of(since=None), False, '', 1000, False),
])
def test_restart_skip_reason(code, switch, target_version, started_before, skipped):
    reason = decide.restart_skip_reason(code, switch, target_version, started_before)
    assert bool(reason) is skipped, reason


def test_restart_skip_reason_texts():
    assert decide.restart_skip_reason(code_of(), True, '34.0.0') == (
        'its running process runs the target code 34.0.0 already (an earlier run switched and restarted it)')
    assert decide.restart_skip_reason(code_of(), False, '', 10) == 'it has been running since after its configuration changed'


# --------------------------------------------------------------------------------------------------- backup_space

DBS = ['nova_api', 'nova', 'nova_cell0', 'placement']
MIB = 1048576


def measured(avail, size, directory='/var/backups/nova'):
    return dict(rc=0, stdout='avail=%d\ndir=%s\nsize=%d\n' % (avail, directory, size), stderr='')


def test_backup_space_enough_room():
    found = decide.backup_space(measured(10240 * MIB, 100 * MIB), 1.2, host='db1', directory='/var/backups',
                                databases=DBS)
    assert found == dict(problems=[], size=100 * MIB, avail=10240 * MIB, summary=(
        'Backup room on db1: 100.0 MiB of databases (nova_api, nova, nova_cell0, placement), 120.0 MiB needed (x1.2), '
        '10240.0 MiB free in /var/backups/nova.'))


def test_backup_space_exactly_enough():
    assert decide.backup_space(measured(120 * MIB, 100 * MIB), '1.2', host='db1', databases=DBS)['problems'] == []


def test_backup_space_not_enough_names_both_sizes_and_the_fix():
    found = decide.backup_space(measured(50 * MIB, 100 * MIB), 1.2, host='db1', directory='/var/backups', databases=DBS)
    assert found['problems'] == [
        'the backup needs 120.0 MiB (1.2 times the 100.0 MiB of nova_api, nova, nova_cell0, placement) but '
        '/var/backups/nova has only 50.0 MiB free on db1: free some space, set nova_upgrade_backup_dir to a larger '
        'file system, or lower nova_upgrade_backup_space_factor.']
    assert found['size'] == 100 * MIB and found['avail'] == 50 * MIB


def test_backup_space_directory_when_the_command_names_none():
    read = dict(rc=0, stdout='avail=1\nsize=100\n')
    found = decide.backup_space(read, 2, host='db1', directory='/srv/backup', databases=['nova'])
    assert '/srv/backup has only' in found['problems'][0]
    assert found['summary'].endswith('free in /srv/backup.')


@pytest.mark.parametrize('read, rc, text', [
    (dict(rc=1, stdout='', stderr="ERROR 1045 (28000): Access denied for user 'root'@'localhost'\n"), 1,
     "ERROR 1045 (28000): Access denied for user 'root'@'localhost'"),
    (dict(rc=0, stdout='avail=abc\nsize=100\n', stderr=''), 0, 'no output'),
    (dict(rc=0, stdout='avail=100\n', stderr=''), 0, 'no output'),
    (dict(rc=0, stdout='size=\navail=100\n', stderr=''), 0, 'no output'),
    (None, None, 'no output'),
    ({}, None, 'no output'),
])
def test_backup_space_unreadable_measurement_is_a_problem(read, rc, text):
    found = decide.backup_space(read, 1.2, host='db1', directory='/var/backups', databases=DBS)
    assert found['size'] is None and found['avail'] is None
    assert found['summary'] == 'Backup room: not measured.'
    assert len(found['problems']) == 1
    assert found['problems'][0].startswith('the room for the database backup on db1 could not be measured (rc %s: %s)'
                                           % (rc, text))
    assert 'nova_upgrade_backup=false' in found['problems'][0]


# --- lock_left_by_gone_run --------------------------------------------------------------------------------------------

def _lock_found(controller='ctl-a', pid=4242, held_by_other=True):
    return dict(held_by_other=held_by_other, holder=dict(id='r1', user='op', controller=controller, pid=pid))


def test_lock_of_a_gone_run_of_this_controller_can_be_taken_over():
    reason = decide.lock_left_by_gone_run(_lock_found(), 'ctl-a', '')
    assert reason == ('run r1 of op@ctl-a (pid 4242) holds it, and pid 4242 no longer runs ansible-playbook on this '
                      'controller')


def test_lock_whose_pid_now_runs_something_else_is_gone():
    assert decide.lock_left_by_gone_run(_lock_found(), 'ctl-a', '/usr/sbin/sshd -D')


@pytest.mark.parametrize('found, controller, process', [
    (_lock_found(), 'ctl-a', '/venv/bin/python /venv/bin/ansible-playbook -i inv nova_upgrade.yml'),  # still runs
    (_lock_found(controller='awx-job-7'), 'ctl-a', ''),        # another controller: cannot tell
    (_lock_found(pid=None), 'ctl-a', ''),                       # a lock without a pid
    (_lock_found(pid='x'), 'ctl-a', ''),
    (_lock_found(pid=0), 'ctl-a', ''),
    (_lock_found(held_by_other=False), 'ctl-a', ''),            # no lock, or ours
    (dict(held_by_other=True), 'ctl-a', ''),                    # unreadable lock: no holder
    ({}, 'ctl-a', ''),
    (None, 'ctl-a', ''),
])
def test_lock_is_not_taken_over_unless_its_run_is_known_gone(found, controller, process):
    assert decide.lock_left_by_gone_run(found, controller, process) == ''


def osapi(host, version):
    return dict(binary='nova-osapi_compute', host=host, version=version, up=True)


LB = dict(backend='nova_api_back', servers={'ctl1': 'api-1', 'ctl2': 'api-2', 'ctl3': 'api-3'})


def test_lb_restore_sees_a_new_api_node_whose_switch_an_interrupt_kept_out_of_the_state():
    # ctl1 was drained, switched and restarted; the run was interrupted before any record of its switch. Its
    # service record says it runs the target (74): ctl1 goes back, and ctl2 and ctl3 (old, serving) are taken out.
    events = [drain('ctl1', 'api-1')]
    records = [osapi('ctl1', 74), osapi('ctl2', 72), osapi('ctl3', 72), dict(binary='nova-conductor', host='ctl2', version=74)]
    found = decide.lb_restore(events, API, 'nova-api', '34.0.0', records=records, target_service_version=74, **LB)
    assert found['restore'] == [] and found['keep'] == []
    assert found['lead'] == dict(host='ctl1', backend='nova_api_back', server='api-1', service='nova-api')
    assert found['drain'] == [dict(host='ctl2', backend='nova_api_back', server='api-2', service='nova-api'),
                              dict(host='ctl3', backend='nova_api_back', server='api-3', service='nova-api')]
    # without the records (or without a target service version) only the state counts: everything goes back
    for kwargs in (dict(records=None, target_service_version=74), dict(records=records, target_service_version=0)):
        found = decide.lb_restore(events, API, 'nova-api', '34.0.0', **kwargs, **LB)
        assert [r['server'] for r in found['restore']] == ['api-1'] and found['drain'] == [] and found['keep'] == []
        assert found['lead'] == {}


def test_lb_restore_drains_only_old_api_nodes_that_are_not_out_already():
    # ctl1 new (state), ctl2 kept out by the state, ctl3 old and serving (the interrupt came before its drain record)
    events = [switch('ctl1'), drain('ctl2', 'api-2')]
    records = [osapi('ctl1', 74), osapi('ctl2', 72), osapi('ctl3', 'x')]
    found = decide.lb_restore(events, API, 'nova-api', '34.0.0', records=records, target_service_version=74, **LB)
    assert [r['server'] for r in found['keep']] == ['api-2'] and found['restore'] == []
    # ctl2 too: the interrupt may have come between its lb_drain record and the drain itself
    assert [r['server'] for r in found['drain']] == ['api-2', 'api-3'] and found['lead'] == {}  # ctl1 serves already
    # every API node on the new code: nothing to drain
    records = [osapi('ctl1', 74), osapi('ctl2', 74), osapi('ctl3', 75)]
    found = decide.lb_restore(events, API, 'nova-api', '34.0.0', records=records, target_service_version=74, **LB)
    assert found['drain'] == [] and found['keep'] == [] and [r['server'] for r in found['restore']] == ['api-2']


def test_lb_restore_maps_inventory_hosts_to_nova_host_names():
    records = [osapi('ctl1.cloud', 74), osapi('ctl2.cloud', 72)]
    names = {'ctl1': 'ctl1.cloud', 'ctl2': 'ctl2.cloud'}
    found = decide.lb_restore([], ['ctl1', 'ctl2'], 'nova-api', '34.0.0', records=records, service_hosts=names,
                              target_service_version=74, **LB)
    assert [r['host'] for r in found['drain']] == ['ctl2']
    found = decide.lb_restore([], ['ctl1', 'ctl2'], 'nova-api', '34.0.0', records=records, target_service_version=74, **LB)
    assert found['drain'] == []  # unmapped, the inventory names are no nova host names here


def test_lb_restore_redrains_old_api_nodes_whose_drain_record_came_before_an_interrupted_drain():
    # ctl1 back on the new code: the drain of ctl2 was recorded, then the ready+drain_others call was cut off
    # (Ctrl-C while it waited for ctl1 UP): ctl2 may still serve; the re-run puts ctl1 back and takes ctl2 out
    events = [drain('ctl1', 'api-1'), drain('ctl2', 'api-2', message='drained as ctl1 came back on the new code')]
    records = [osapi('ctl1', 74), osapi('ctl2', 72)]
    found = decide.lb_restore(events, ['ctl1', 'ctl2'], 'nova-api', '34.0.0', records=records, target_service_version=74, **LB)
    assert found['lead']['server'] == 'api-1' and found['restore'] == []
    assert [r['server'] for r in found['keep']] == ['api-2'] and [r['server'] for r in found['drain']] == ['api-2']


def test_migrate_blocked_by_old_services_or_an_unpin_not_done():
    assert decide.migrate_blocked([], 'done') == ''
    assert decide.migrate_blocked(['nova-compute on cmp2 (version 72, cell1)'], 'done') == (
        'blocked: nova-compute on cmp2 (version 72, cell1) still run older code; run the playbook again once they are rolled')
    # every record new, but the unpin's restarts have not happened: the services still cache the old minimum version
    for status, shown in (('', 'not run'), (None, 'not run'), ('skipped', 'skipped'), ('failed', 'failed'),
                          ('running', 'running'), ('incomplete', 'incomplete')):
        assert decide.migrate_blocked([], status) == (
            'blocked: the unpin is not done (%s); the online data migrations run only after its restarts' % shown)


def test_target_code_equal_to_the_running_service_version_is_a_problem_across_releases():
    # a custom-method typo: the running release's service version given as the target's would open every gate
    found = target(SKIPPED, 'custom', override='72', current_service_version=72)
    assert found['problems'] == ["the target code on ctl1 has service version 72, the running code's own, though the "
                                 'target is another release (%s): every nova release raises it, so the gates could not '
                                 'tell old services from new. Fix nova_upgrade_target_service_version.' % TARGET['release']]
    found = target(code_result(), current_service_version=74)
    assert any("the running code's own" in p and 'Check that the target code' in p for p in found['problems'])
    # within one release it is fine; a higher one is fine
    assert target(SKIPPED, 'custom', override='72', current_service_version=72, same_release=True)['problems'] == []
    assert target(SKIPPED, 'custom', override='74', current_service_version=72)['problems'] == []


@pytest.mark.parametrize('not_in_run, failed, status', [
    ([], [], 'done'),
    ([], ['cmp2'], 'incomplete'),          # failed within nova_upgrade_compute_max_fail_percentage (defect 11)
    (['cmp3'], [], 'incomplete'),          # left out by nova_upgrade_limit_hosts or expected down
    (['cmp3'], ['cmp2'], 'incomplete'),
])
def test_roll_status_is_done_only_when_every_compute_rolled(not_in_run, failed, status):
    assert decide.roll_status(not_in_run, failed) == status


def test_roll_status_refuses_what_is_not_a_list():
    with pytest.raises(decide.UpgradeDecisionError):
        decide.roll_status(None, [])


# --------------------------------------------------------------------------------------------------- confirm_target_code

TYPED = dict(service_version=74, version='', compute_rpc=None, source='nova_upgrade_target_service_version')


def test_confirm_target_code_agreeing():
    assert decide.confirm_target_code(code_result(), TYPED, host='ctl1') == []
    assert decide.confirm_target_code(code_result(), CODE, host='ctl1') == []


def test_confirm_target_code_typed_version_the_code_contradicts():
    assert decide.confirm_target_code(code_result(service_version=75), TYPED, host='ctl1') == [
        'the target code installed on ctl1 (%s) has service version 75, but the preflight planned with 74 (from '
        'nova_upgrade_target_service_version): fix nova_upgrade_target_service_version, then run again.' % SOURCE]


def test_confirm_target_code_package_changed_since_the_preflight():
    problems = decide.confirm_target_code(code_result(service_version=73), dict(CODE, source='python3-nova=34.0.0'),
                                          method='package')
    assert problems[0].startswith('the target code installed (%s) has service version 73, but the preflight planned '
                                  'with 74 (from python3-nova=34.0.0): the package sources changed' % SOURCE)


def test_confirm_target_code_custom_code_changed_since_the_preflight():
    problems = decide.confirm_target_code(code_result(service_version=75), CODE, method='custom')
    assert problems[0].endswith('(from the target code read at the preflight): the target code changed since the '
                                'preflight; check what the custom install tasks installed, then run again.')


def test_target_code_custom_python_that_imports_the_running_nova_is_not_the_target_yet():
    # an in-place custom install (the target Python is the running one until the install): not a contradiction
    running = code_result(service_version=72, version='33.0.2')
    found = target(running, 'custom', override='74')
    assert found['problems'] == []
    assert found['code']['service_version'] == 74 and found['code']['source'] == 'nova_upgrade_target_service_version'
    assert found['warnings'][0].startswith('nova_upgrade_target_python on ctl1 imports the running nova (service '
                                           'version 72), not the target yet')
    found = target(running, 'custom')
    assert len(found['problems']) == 1 and 'nova_upgrade_target_python imports the running nova: set ' \
        'nova_upgrade_target_service_version' in found['problems'][0]
    # a resumed upgrade whose manage host has the target installed already: that IS the target
    found = target(code_result(), 'custom', current_service_version=74, same_release=True)
    assert found['problems'] == [] and found['code']['service_version'] == 74


@pytest.mark.parametrize('result', [
    dict(changed=False, failed=False, msg='nova_python /opt/t/bin/python3 is not an executable on this host'),
    dict(changed=False, failed=True, msg='boom'),
    SKIPPED,
    None,
    code_result(service_version=None),
])
def test_confirm_target_code_unreadable_is_a_problem(result):
    problems = decide.confirm_target_code(result, TYPED, host='ctl1')
    assert len(problems) == 1
    assert problems[0].startswith('the target code installed on ctl1 cannot be read (')
    assert 'the service version 74 the gates will compare with (from nova_upgrade_target_service_version) is ' \
        'unconfirmed' in problems[0]


@pytest.mark.parametrize('expected', [{}, None, dict(service_version=0), dict(service_version='x')])
def test_confirm_target_code_without_a_planned_version_fails_closed(expected):
    problems = decide.confirm_target_code(code_result(), expected)
    assert problems == ['the preflight recorded no target service version: run the preflight again (it reads the '
                        'target code, or takes nova_upgrade_target_service_version).']

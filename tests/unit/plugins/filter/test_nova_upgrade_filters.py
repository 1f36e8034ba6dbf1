# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""plugins/filter/nova_upgrade.py: each filter is its decision function, and a decision that cannot be made is an
AnsibleFilterError (the task fails), never a pass."""

from __future__ import annotations

from unittest import mock

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.rolling.openstack.plugins.filter import nova_upgrade as filters
from ansible_collections.rolling.openstack.plugins.module_utils import _nova_upgrade as decide

EXPECTED = {
    'nova_status_findings': 'status_findings',
    'nova_target_code': 'target_code',
    'nova_target_confirm': 'confirm_target_code',
    'nova_older_services': 'older_services',
    'nova_migrate_blocked': 'migrate_blocked',
    'nova_service_version': 'service_version',
    'nova_cell_sources': 'cell_sources',
    'nova_sync_records': 'sync_records',
    'nova_unmigrated_warnings': 'unmigrated_warnings',
    'nova_service_hosts': 'service_hosts',
    'nova_hosts_without_down': 'hosts_without_down',
    'nova_upgraded': 'upgraded',
    'nova_restart_events': 'restart_events',
    'nova_lb_drain_events': 'lb_drain_events',
    'nova_lb_servers': 'lb_servers',
    'nova_lb_restore': 'lb_restore',
    'nova_unit_code': 'unit_code',
    'nova_backup_space': 'backup_space',
    'nova_restart_skip_reason': 'restart_skip_reason',
    'nova_lock_left_by_gone_run': 'lock_left_by_gone_run',
    'nova_roll_status': 'roll_status',
}


def test_every_filter_name_is_there():
    # nova_scrub is the one scrubber of module_utils/_nova_manage, not a decision of _nova_upgrade
    assert sorted(filters.FilterModule().filters()) == sorted(list(EXPECTED) + ['nova_scrub'])


@pytest.mark.parametrize('name, function', sorted(EXPECTED.items()))
def test_each_filter_calls_its_function_with_all_arguments(name, function):
    fake = mock.Mock(return_value='answer', __name__=function, __doc__='doc of %s' % function)
    with mock.patch.object(decide, function, fake):
        wrapped = filters.FilterModule().filters()[name]
        assert wrapped('input', 1, two=2) == 'answer'
    fake.assert_called_once_with('input', 1, two=2)
    assert wrapped.__name__ == function
    assert wrapped.__doc__ == 'doc of %s' % function


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_the_real_functions_are_wrapped(name):
    wrapped = filters.FilterModule().filters()[name]
    function = getattr(decide, EXPECTED[name])
    assert wrapped.__name__ == function.__name__
    assert wrapped.__doc__ == function.__doc__


@pytest.mark.parametrize('name, args', [
    ('nova_service_version', (None,)),
    ('nova_service_version', ('',)),
    ('nova_service_version', (0,)),
    ('nova_service_version', ('abc',)),
    ('nova_service_version', (True,)),
    ('nova_older_services', ([dict(binary='nova-compute', host='cmp1', version=74)], None)),
    ('nova_older_services', ([], '')),
    ('nova_upgraded', ([dict(binary='nova-compute', host='cmp1', version=74)], 0, {})),
    ('nova_upgraded', ([], 74, {})),
])
def test_a_decision_that_cannot_be_made_is_a_filter_error(name, args):
    wrapped = filters.FilterModule().filters()[name]
    with pytest.raises(AnsibleFilterError) as exc:
        wrapped(*args)
    assert not isinstance(exc.value, decide.UpgradeDecisionError)
    assert exc.value.__cause__ is None and exc.value.__suppress_context__ is True  # "from None": the message alone
    with pytest.raises(decide.UpgradeDecisionError) as direct:
        getattr(decide, EXPECTED[name])(*args)
    assert str(direct.value) in str(exc.value)


def test_other_errors_are_not_turned_into_filter_errors():
    def broken(*_args):
        raise KeyError('x')

    with mock.patch.object(decide, 'backup_space', broken):
        wrapped = filters.FilterModule().filters()['nova_backup_space']
        with pytest.raises(KeyError):
            wrapped({})


def test_filters_pass_values_through():
    f = filters.FilterModule().filters()
    assert f['nova_service_version']('74') == 74
    assert f['nova_older_services']([dict(binary='nova-compute', host='cmp1', version=72)], 74) == [
        'nova-compute on cmp1 (version 72)']
    assert f['nova_restart_skip_reason'](dict(active=False), True, '34.0.0') == ''


def test_nova_scrub_masks_url_credentials_for_task_names():
    scrub = filters.FilterModule().filters()["nova_scrub"]
    assert scrub('https://mirror:s3cret@releases.example.com/2026.2/nova-34.0.0.tar.zst') == \
        'https://***@releases.example.com/2026.2/nova-34.0.0.tar.zst'
    assert scrub('http://10.77.0.10:8000/2026.2/nova-34.0.0.tar.zst') == 'http://10.77.0.10:8000/2026.2/nova-34.0.0.tar.zst'

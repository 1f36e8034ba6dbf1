# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of the Nova live upgrade's roles: thin wrappers over plugins/module_utils/_nova_upgrade.py, where the
decisions live and are unit-tested. A decision that cannot be made raises an error: a gate never passes by default."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.rolling.openstack.plugins.module_utils import _nova_manage
from ansible_collections.rolling.openstack.plugins.module_utils import _nova_upgrade as decide


def _wrap(function):
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except decide.UpgradeDecisionError as exc:
            raise AnsibleFilterError('%s' % exc) from None
    call.__name__ = function.__name__
    call.__doc__ = function.__doc__
    return call


class FilterModule:
    """rolling.openstack.nova_* filters (see plugins/module_utils/_nova_upgrade.py for each one's contract)."""

    def filters(self):
        return {
            'nova_status_findings': _wrap(decide.status_findings),
            'nova_target_code': _wrap(decide.target_code),
            'nova_target_confirm': _wrap(decide.confirm_target_code),
            'nova_older_services': _wrap(decide.older_services),
            'nova_migrate_blocked': _wrap(decide.migrate_blocked),
            'nova_service_version': _wrap(decide.service_version),
            'nova_cell_sources': _wrap(decide.cell_sources),
            'nova_sync_records': _wrap(decide.sync_records),
            'nova_unmigrated_warnings': _wrap(decide.unmigrated_warnings),
            'nova_service_hosts': _wrap(decide.service_hosts),
            'nova_hosts_without_down': _wrap(decide.hosts_without_down),
            'nova_upgraded': _wrap(decide.upgraded),
            'nova_restart_events': _wrap(decide.restart_events),
            'nova_lb_drain_events': _wrap(decide.lb_drain_events),
            'nova_lb_servers': _wrap(decide.lb_servers),
            'nova_lb_restore': _wrap(decide.lb_restore),
            # the one scrubber (module_utils/_nova_manage.scrub): URL credentials and password-like values masked
            'nova_scrub': _wrap(_nova_manage.scrub),
            'nova_unit_code': _wrap(decide.unit_code),
            'nova_backup_space': _wrap(decide.backup_space),
            'nova_restart_skip_reason': _wrap(decide.restart_skip_reason),
            'nova_lock_left_by_gone_run': _wrap(decide.lock_left_by_gone_run),
            'nova_roll_status': _wrap(decide.roll_status),
        }

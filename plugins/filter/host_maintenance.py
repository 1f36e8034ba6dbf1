# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of the compute host maintenance roles (drain, evacuate, restore): thin wrappers over
plugins/module_utils/_host_maintenance.py, where the decisions live and are unit-tested."""

from __future__ import annotations

from ansible_collections.rolling.openstack.plugins.module_utils import _host_maintenance as hm


class FilterModule:
    """rolling.openstack.host_* filters."""

    def filters(self):
        return {
            # rows | host_table(title) -> the per-server table as text
            'host_table': hm.table_text,
            # row | host_plan_line -> one server of the plan, for the log
            'host_plan_line': hm.plan_line,
            # row | host_left_line -> one server left on the host, for the failure message
            'host_left_line': hm.left_line,
            # reports | host_move_back_ids(host, disabled_reason) -> the servers to move back onto host
            'host_move_back_ids': hm.move_back_ids,
            # result | host_unfinished -> one line per server not moved (left on the host, or failed elsewhere)
            'host_unfinished': hm.unfinished,
            # disabled_reason | host_disabled_by_us -> whether the disable was ours
            'host_disabled_by_us': hm.is_ours,
            # 'drain' | host_disabled_reason(when) -> the disabled_reason that marks a disable as ours
            'host_disabled_reason': hm.reason,
        }

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options of the modules that run Nova's own tools on a Nova host (module_utils._nova_manage)."""

    DOCUMENTATION = r"""
options:
  config_files:
    description:
      - Nova configuration files, in order, as C(--config-file) arguments.
    type: list
    elements: path
    default: [/etc/nova/nova.conf]
  config_dir:
    description:
      - A directory of further configuration files (C(--config-dir)), such as C(/etc/nova/nova.conf.d).
    type: path
"""

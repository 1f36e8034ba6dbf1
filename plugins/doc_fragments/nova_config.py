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

    # The modules that run a snippet with Nova's Python (module_utils._nova_snippet); they document nova_venv.
    NOVA_PYTHON = r"""
options:
  nova_python:
    description:
      - The Python interpreter that can import C(nova), a path or a name on C(PATH). Overrides O(nova_venv).
      - Default is C(<nova_venv>/bin/python), or without O(nova_venv) the interpreter of C(nova-manage) on C(PATH).
    type: str
notes:
  - Nova's Python is run as a subprocess (Nova is not importable by the host's system Python). It is found from
    O(nova_python), then O(nova_venv), then the C(#!) line of C(nova-manage) on C(PATH).
"""

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Shared C(attributes:) documentation (the community.docker / community.general pattern).

    Use the default fragment together with one of the variants, for example::

        extends_documentation_fragment:
          - rolling.openstack.attributes
          - rolling.openstack.attributes.info_module
          - rolling.openstack.attributes.action_group
    """

    # Standard documentation fragment: declares the attributes every module documents.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    # For modules that only read state (C(*_info) modules). Use with the standard fragment.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
"""

    # For modules listed in the C(openstack) action group of meta/runtime.yml.
    ACTION_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/rolling.openstack.openstack) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - rolling.openstack.openstack
"""

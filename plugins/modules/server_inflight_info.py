#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: server_inflight_info
short_description: List the servers of every project with a migration, resize or evacuation in flight
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Lists the servers whose status (C(MIGRATING), C(RESIZE), C(VERIFY_RESIZE), C(REVERT_RESIZE), C(REBUILD)) or task
    state (C(migrating), C(resize_*), C(rebuilding) ...) says that a migration, a resize or an evacuation is in flight,
    in every project. A restart of their source or destination compute, or of the conductors, can leave them in
    C(ERROR); an upgrade reports them before it starts.
  - Returns only what that check needs (id, name, project, status, task state, host), never the rest of a server
    record; C(user_data), metadata and addresses of every tenant would otherwise land in the task result, which AWX
    stores and C(-v) prints.
  - Returns an empty list, and does not fail, when no server has anything in flight.
options: {}
extends_documentation_fragment:
  - openstack.cloud.openstack
  - rolling.openstack.attributes
  - rolling.openstack.attributes.info_module
  - rolling.openstack.attributes.action_group
seealso:
  - module: openstack.cloud.server_info
    description: Every field of every server (including C(user_data)).
"""

EXAMPLES = r"""
- name: Report the servers with a migration or resize in flight before restarting computes
  rolling.openstack.server_inflight_info:
    cloud: prod
  register: inflight

- name: Stop when one is in flight
  ansible.builtin.fail:
    msg: "{{ inflight.servers | map(attribute='id') | join(', ') }} are migrating or resizing"
  when: inflight.servers | length > 0
"""

RETURN = r"""
servers:
  description: The servers with something in flight, sorted by id.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The server's id.
      type: str
    name:
      description: The server's name.
      type: str
    project_id:
      description: The server's project.
      type: str
    status:
      description: The server's status, for example C(MIGRATING).
      type: str
    task_state:
      description: The server's task state (C(OS-EXT-STS:task_state)), or null.
      type: str
    host:
      description: The compute host the server is on (C(OS-EXT-SRV-ATTR:host)), or null.
      type: str
"""

from ansible_collections.openstack.cloud.plugins.module_utils.openstack import OpenStackModule
# imported for its side effect: openstack.version for openstack.cloud < 2.6 with openstacksdk >= 4.15
from ansible_collections.rolling.openstack.plugins.module_utils import _compute_services  # noqa: F401, pylint: disable=unused-import

INFLIGHT_STATUSES = ('MIGRATING', 'RESIZE', 'VERIFY_RESIZE', 'REVERT_RESIZE', 'REBUILD')
INFLIGHT_TASKS = ('migrating', 'resize_prep', 'resize_migrating', 'resize_migrated', 'resize_finish', 'resize_reverting',
                  'resize_confirming', 'rebuilding', 'rebuild_block_device_mapping', 'rebuild_spawning')


def inflight(server):
    """The fields the check needs, for a server with something in flight; None otherwise."""
    status = (server.status or '').upper()
    task = server.task_state or None
    if status not in INFLIGHT_STATUSES and task not in INFLIGHT_TASKS:
        return None
    return dict(id=server.id, name=server.name, project_id=server.project_id, status=server.status, task_state=task,
                host=server.compute_host)


class ServerInflightInfoModule(OpenStackModule):
    argument_spec = dict()
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        found = [inflight(s) for s in self.conn.compute.servers(details=True, all_projects=True)]
        servers = sorted((s for s in found if s), key=lambda s: s['id'] or '')
        self.exit_json(changed=False, servers=servers)


def main():
    module = ServerInflightInfoModule()
    module()


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_db_sync
short_description: Bring a Nova or Placement database schema to the head of the installed code (expand)
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Reads the schema version, runs the schema sync of the code in O(nova_venv) when it is not at head, and reads the
    version again. The syncs are C(nova-manage api_db sync) (O(schema=api)); C(nova-manage db sync) (O(schema=cells), the cell of
    C([database] connection) and cell0), C(nova-manage db sync --local_cell) for one other cell (O(schema=cell)), or
    C(placement-manage db sync) (O(schema=placement)).
  - Nova's and Placement's schema migrations are additive (expand only), so the old services keep running while the
    new code's schema is applied. A sync at head changes nothing.
  - Everything the tools print is scrubbed of credentials (database and transport URLs, passwords of the
    configuration files) before it is returned; no output of the tools is returned unscrubbed.
options:
  schema:
    description:
      - Which schema. V(api) the API database; V(cells) the cell of C([database] connection) and cell0 (Nova's C(db
        sync) fans out to cell0); V(cell) only one cell, with C(--local_cell); V(placement) Placement's database.
    type: str
    required: true
    choices: [api, cells, cell, placement]
  cell:
    description:
      - With O(schema=cell) (and ignored otherwise), the cell to sync, by uuid or name, when O(config_files) do not name
        its database. Its cell mapping's database URL is read with Nova's code and given to C(nova-manage) in a
        configuration file of its own (mode 0600, removed afterwards); the URL is never returned.
    type: str
  manage_cmd:
    description:
      - The C(nova-manage) or C(placement-manage) to run, a path or a name on C(PATH). Default
        C(<nova_venv>/bin/<tool>), or the tool on C(PATH) without O(nova_venv).
    type: str
  nova_venv:
    description:
      - The virtualenv the tool is installed in (Nova's for V(api), V(cells) and V(cell); Placement's for V(placement)),
        for example C(/opt/openstack/venvs/nova-34.0.0). Give the venv of the B(new) release.
      - Leave unset for a distribution-packaged Nova (the tool on C(PATH)); see O(manage_cmd).
    type: path
extends_documentation_fragment:
  - rolling.openstack.nova_config
  - rolling.openstack.nova_config.nova_python
  - rolling.openstack.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the schema version and reports the command it would run; runs no sync.
  diff_mode:
    support: full
    details:
      - The schema version before and after.
  idempotent:
    support: full
    details:
      - A schema at head is left alone (the tool's sync is itself idempotent).
notes:
  - Run it as the service's user (C(become_user=nova)), so that the tool's log file keeps its owner.
  - C(changed) is true when the schema version moved.
seealso:
  - module: rolling.openstack.nova_online_data_migrations
  - name: Nova upgrades
    description: Nova's rolling upgrade procedure (expand with the new code while the old services run).
    link: https://docs.openstack.org/nova/latest/admin/upgrades.html
"""

EXAMPLES = r"""
- name: Expand the nova API database with the new code
  rolling.openstack.nova_db_sync:
    nova_venv: /opt/openstack/venvs/nova-34.0.0
    schema: api
  become: true
  become_user: nova

- name: Expand cell0 and the main cell
  rolling.openstack.nova_db_sync:
    nova_venv: /opt/openstack/venvs/nova-34.0.0
    schema: cells
  become: true
  become_user: nova

- name: Expand a second cell, named by its mapping
  rolling.openstack.nova_db_sync:
    nova_venv: /opt/openstack/venvs/nova-34.0.0
    schema: cell
    cell: cell2
  become: true
  become_user: nova

- name: Placement's schema, with the new placement code
  rolling.openstack.nova_db_sync:
    nova_venv: /opt/openstack/venvs/placement-16.0.0
    schema: placement
    config_files: [/etc/placement/placement.conf]
  become: true
  become_user: placement
"""

RETURN = r"""
cmd:
  description: The sync command (run, or that would run in check mode).
  returned: always
  type: str
  sample: /opt/openstack/venvs/nova-34.0.0/bin/nova-manage --config-file /etc/nova/nova.conf api_db sync
before:
  description: The schema version before, as the tool prints it (an alembic revision).
  returned: always
  type: str
  sample: b30f573d3377
after:
  description: The schema version after (the same as RV(before) in check mode).
  returned: always
  type: str
  sample: 13863f4e1612
seconds:
  description: How long the sync took (0 when it did not run).
  returned: always
  type: float
  sample: 4.6
name:
  description: The sync, without paths, for example C(nova-manage db sync --local_cell (cell cell2)).
  returned: always
  type: str
  sample: nova-manage api_db sync
summary:
  description: One line for the log and the state, for example C(nova-manage api_db sync b30f573d3377 -> 13863f4e1612).
  returned: always
  type: str
stdout:
  description: The sync's output, scrubbed of credentials.
  returned: always
  type: str
"""

import contextlib
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rolling.openstack.plugins.module_utils._nova_cells import cell_config
from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import (
    check_config_files,
    command_text,
    config_args,
    find_python,
    find_tool,
    last_line,
    nova_host_argument_spec,
    run_tool,
    tail,
)

_COMMANDS = {
    'api': ('nova-manage', ['api_db', 'version'], ['api_db', 'sync']),
    'cells': ('nova-manage', ['db', 'version'], ['db', 'sync']),
    'cell': ('nova-manage', ['db', 'version'], ['db', 'sync', '--local_cell']),
    'placement': ('placement-manage', ['db', 'version'], ['db', 'sync']),
}


def _version(module, argv, what):
    rc, out, err, _secrets = run_tool(module, argv)
    if rc != 0:
        module.fail_json(msg='%s exited %d: %s\n%s' % (what, rc, last_line(out + '\n' + err), tail(out + '\n' + err)),
                         rc=rc)
    return ' '.join((out or '').split())


def main():
    argument_spec = nova_host_argument_spec(
        schema=dict(type='str', required=True, choices=list(_COMMANDS)),
        cell=dict(type='str'),
        manage_cmd=dict(type='str'),
        nova_python=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    check_config_files(module)
    tool, version_args, sync_args = _COMMANDS[params['schema']]
    manage = find_tool(module, tool, 'manage_cmd')
    with contextlib.ExitStack() as stack:
        if params['schema'] == 'cell' and params['cell']:
            extra = stack.enter_context(cell_config(module, find_python(module), params['cell']))
            # after the module's own files, so that its [database] connection wins; config_secrets() reads it too
            params['config_files'] = list(params['config_files'] or []) + [extra]
        shown = dict(params, config_files=[f for f in params['config_files'] if 'rolling-nova-cell-' not in f])
        which = ' (cell %s)' % params['cell'] if params['cell'] and params['schema'] == 'cell' else ''
        cmd = command_text([manage] + config_args(shown) + sync_args) + which
        name = '%s %s' % (tool, ' '.join(sync_args)) + which
        before = _version(module, [manage] + config_args(params) + version_args, '%s %s' % (tool, ' '.join(version_args)))
        result = dict(changed=False, cmd=cmd, name=name, before=before, after=before, seconds=0.0, stdout='',
                      diff=dict(before='%s\n' % before, after='%s\n' % before))
        if module.check_mode:
            result['summary'] = '%s: at %s (check mode: not run)' % (name, before)
            module.exit_json(msg='check mode: would run %s' % cmd, **result)
        started = time.monotonic()
        rc, out, err, _secrets = run_tool(module, [manage] + config_args(params) + sync_args)
        result['seconds'] = round(time.monotonic() - started, 1)
        result['stdout'] = out
        if rc != 0:
            module.fail_json(msg='%s exited %d: %s\n%s' % (cmd, rc, last_line(out + '\n' + err), tail(out + '\n' + err)),
                             rc=rc, stderr=err, **result)
        after = _version(module, [manage] + config_args(params) + version_args, '%s %s' % (tool, ' '.join(version_args)))
    result.update(after=after, changed=after != before, diff=dict(before='%s\n' % before, after='%s\n' % after))
    result['summary'] = ('%s %s -> %s' % (name, before, after) if after != before
                         else '%s (already at head %s)' % (name, after))
    module.exit_json(msg=result['summary'], **result)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_online_data_migrations
short_description: Run Nova's online data migrations in chunks until they are done
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Runs C(nova-manage db online_data_migrations --max-count N) on a Nova controller host again and again, as Nova
    asks. Exit code 1 means some rows were migrated and there may be more, so the module waits O(throttle) seconds
    and runs it again (at most O(max_runs) times); exit code 0 means nothing is left, and the module succeeds.
  - Exit code 2 (some migrations failed and none could make progress) fails the module with the migrations table
    Nova printed; any other exit code (127 invalid input, 255 an exception) fails it with Nova's output. All
    output is scrubbed of database and message-queue credentials.
  - Returns the migrations table summed over the runs, the number of runs, and C(changed=true) when any row
    was migrated.
  - B(Run it only after every Nova service, computes included, runs the new release.) Online data migrations move
    data to the format of the new code; old services may not understand it. Nova's documented order is all
    services upgraded, then online data migrations, then unpin. They must be complete before the next release's
    C(nova-manage db sync), which refuses to run while rows are left to migrate.
notes:
  - C(nova-manage db online_data_migrations) works on the API database and on the one cell database of
    C([database] connection) in O(config_files); it does not fan out to other cells. To migrate another cell
    (cell0 included, which holds the servers that failed to schedule), run the module again with O(cell), or with a
    configuration file that points C([database] connection) at that cell's database (for example a second entry in
    O(config_files) that only sets it).
  - Nova writes its log (C(nova-manage.log) under C([DEFAULT] log_dir), when set) as the user running the module;
    run the task as Nova's user (C(become_user)) where a root-owned log file would be a problem.
  - The total_needed column is Nova's "rows found" per run; summed over runs, rows still pending are counted once
    per run.
options:
  max_count:
    description:
      - The C(--max-count) of each run, the most rows one run migrates. Small chunks keep each transaction short
        on a live cloud.
    type: int
    default: 50
  throttle:
    description:
      - Seconds to wait between two runs, to spread the load on the database.
    type: float
    default: 1.0
  max_runs:
    description:
      - The most runs to make. When Nova still reports more to do after this many runs the module fails (a re-run
        continues where it stopped).
    type: int
    default: 1000
  nova_venv:
    description:
      - The virtualenv Nova is installed in on this host, for example C(/opt/openstack/venvs/nova-34.0.0). Its
        C(bin/nova-manage) is run, so give the venv of the B(new) release.
      - Leave unset for a distribution-packaged Nova (C(nova-manage) on C(PATH)); see O(nova_manage_cmd).
    type: path
  nova_manage_cmd:
    description:
      - The C(nova-manage) to run, a path or a name on C(PATH). Overrides O(nova_venv).
      - Default is C(<nova_venv>/bin/nova-manage), or C(nova-manage) on C(PATH) without O(nova_venv).
    type: str
  cell:
    description:
      - Migrate this cell (uuid or name, C(cell0) included) instead of the cell of C([database] connection). Its cell
        mapping's database URL is read with Nova's code and given to C(nova-manage) in a configuration file of its own
        (mode 0600, in a private temporary directory, removed afterwards); the URL is never returned.
    type: str
extends_documentation_fragment:
  - rolling.openstack.nova_config
  - rolling.openstack.nova_config.nova_python
  - rolling.openstack.attributes
attributes:
  check_mode:
    support: partial
    details:
      - In check mode nothing is run; the module returns the command it would run in RV(cmd) and C(changed=false),
        since Nova cannot tell how many rows are left without migrating them.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Once every migration is done a run migrates nothing and reports no change.
seealso:
  - module: rolling.openstack.nova_service_version_info
    description: Check that no service of the old release is left before migrating.
  - name: nova-manage db online_data_migrations
    description: Nova's documentation of the command and its exit codes.
    link: https://docs.openstack.org/nova/latest/cli/nova-manage.html#db-online-data-migrations
"""

EXAMPLES = r"""
- name: Complete the online data migrations after every service runs the new release
  rolling.openstack.nova_online_data_migrations:
    nova_venv: /opt/openstack/venvs/nova-34.0.0
    max_count: 100
    throttle: 2
  register: nova_odm
  run_once: true
  become: true
  become_user: nova

- name: Show what was migrated
  ansible.builtin.debug:
    msg: "{{ nova_odm.migrations | selectattr('completed') | list }} in {{ nova_odm.runs }} runs"

- name: The same for a second cell, whose database a config snippet names
  rolling.openstack.nova_online_data_migrations:
    nova_venv: /opt/openstack/venvs/nova-34.0.0
    config_files:
      - /etc/nova/nova.conf
      - /etc/nova/cell2-database.conf
  run_once: true
"""

RETURN = r"""
cmd:
  description: The command run each time (or that would run, in check mode).
  returned: always
  type: str
  sample: /opt/openstack/venvs/nova-34.0.0/bin/nova-manage --config-file /etc/nova/nova.conf db online_data_migrations --max-count 50
runs:
  description: How many times the command ran (0 in check mode).
  returned: always
  type: int
  sample: 3
complete:
  description: Whether Nova reported that nothing is left to migrate (exit code 0).
  returned: always
  type: bool
  sample: true
migrations:
  description: Nova's migrations table, summed over the runs, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The migration.
      type: str
      sample: populate_queued_for_delete
    total_needed:
      description: Rows found that need the migration, summed over the runs.
      type: int
      sample: 2
    completed:
      description: Rows migrated, summed over the runs.
      type: int
      sample: 2
run_results:
  description: One entry per run.
  returned: always
  type: list
  elements: dict
  contains:
    rc:
      description: The exit code of the run.
      type: int
      sample: 1
    completed:
      description: Rows migrated in this run.
      type: int
      sample: 50
    errors:
      description: The migrations Nova reported as failing in this run (its "Error attempting to run" lines).
      type: list
      elements: str
      sample: []
unmigrated:
  description:
    - The migrations whose rows the last run found but could not migrate (Nova exits 0 once nothing moves). Such rows
      can block the next release's C(nova-manage db sync); for example C(populate_instance_compute_id) cannot migrate a
      server whose compute node no longer exists.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The migration.
      type: str
      sample: populate_instance_compute_id
    found:
      description: Rows the last run found.
      type: int
      sample: 1
    migrated:
      description: Rows the last run migrated.
      type: int
      sample: 0
cell:
  description: The O(cell) migrated, or an empty string for the cell of C([database] connection).
  returned: always
  type: str
  sample: cell0
migrated:
  description: Rows migrated in all runs.
  returned: always
  type: int
  sample: 2
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
    parse_online_migrations,
    run_tool,
    sum_migrations,
    tail,
)


def _table_text(out):
    """The migrations table of nova-manage's output (its separator and | lines), for an error message."""
    lines = [line for line in (out or '').splitlines() if line.strip()[:1] in ('+', '|')]
    return '\n'.join(lines)


def main():
    argument_spec = nova_host_argument_spec(
        max_count=dict(type='int', default=50),
        throttle=dict(type='float', default=1.0),
        max_runs=dict(type='int', default=1000),
        nova_manage_cmd=dict(type='str'),
        cell=dict(type='str'),
        nova_python=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    for name, minimum in (('max_count', 1), ('max_runs', 1), ('throttle', 0)):
        if params[name] < minimum:
            module.fail_json(msg='%s must be at least %s, got %s' % (name, minimum, params[name]))

    check_config_files(module)
    manage = find_tool(module, 'nova-manage', 'nova_manage_cmd')
    tail_args = ['db', 'online_data_migrations', '--max-count', '%d' % params['max_count']]
    shown = command_text([manage] + config_args(params) + tail_args) + (' (cell %s)' % params['cell'] if params['cell'] else '')
    result = dict(changed=False, cmd=shown, runs=0, complete=False, migrations=[], run_results=[], migrated=0,
                  cell=params['cell'] or '', unmigrated=[])
    if module.check_mode:
        module.exit_json(msg='check mode: would run %s until it exits 0' % result['cmd'], **result)
    with contextlib.ExitStack() as stack:
        if params['cell']:
            extra = stack.enter_context(cell_config(module, find_python(module), params['cell']))
            # after the module's own files, so that its [database] connection wins; config_secrets() reads it too
            params['config_files'] = list(params['config_files'] or []) + [extra]
        _migrate(module, [manage] + config_args(params) + tail_args, result)


def _migrate(module, argv, result):
    params = module.params

    totals = {}

    def finish(**extra):
        result['migrations'] = [totals[name] for name in sorted(totals)]
        result['migrated'] = sum(r['completed'] for r in result['migrations'])
        result['changed'] = result['migrated'] > 0
        result.update(extra)
        return result

    while result['runs'] < params['max_runs']:
        if result['runs']:
            time.sleep(params['throttle'])
        rc, out, err, _secrets = run_tool(module, argv)
        result['runs'] += 1
        rows, errors = parse_online_migrations(out)
        sum_migrations(totals, rows)
        result['run_results'].append(dict(rc=rc, completed=sum(r['completed'] for r in rows), errors=errors))
        if rc == 0:
            # rows the last run found but could not migrate: nova returns 0 once nothing moves, yet such rows can
            # block the next release's schema migrations (for example instances whose compute node is gone)
            left = [dict(name=r['name'], found=r['total_needed'], migrated=r['completed'])
                    for r in rows if r['total_needed'] > r['completed']]
            module.exit_json(msg='online data migrations complete after %d run(s)%s' % (
                result['runs'], '; rows found but not migrated: ' + ', '.join(
                    '%s %d' % (r['name'], r['found'] - r['migrated']) for r in left) if left else ''),
                **finish(complete=True, unmigrated=left))
        if rc == 1:
            continue
        if rc == 2:
            module.fail_json(
                msg='nova-manage db online_data_migrations exited 2 in run %d: some migrations failed and none '
                    'could make progress; see the table and nova-manage.log, fix the cause, then run again.\n%s\n%s'
                    % (result['runs'], '\n'.join(errors), _table_text(out)),
                rc=rc, stdout=out, stderr=err, **finish())
        what = {127: 'invalid input', 255: 'an error'}.get(rc, 'an unexpected exit code')
        module.fail_json(msg='nova-manage db online_data_migrations exited %d (%s) in run %d: %s\n%s'
                             % (rc, what, result['runs'], last_line(out + '\n' + err), tail(out + '\n' + err)),
                         rc=rc, stdout=out, stderr=err, **finish())
    module.fail_json(msg='nova-manage db online_data_migrations still reports more to do after max_runs=%d runs of '
                         '--max-count %d: run the module again (it continues where it stopped) or raise max_runs '
                         'or max_count' % (params['max_runs'], params['max_count']), **finish())


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_rpc_version_info
short_description: Which compute RPC version Nova's services select, from their configuration, the databases and their logs
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Runs on a Nova controller host (a host with Nova's configuration and database access). With the Python of
    the Nova installation it loads Nova's configuration (O(config_files), O(config_dir)) and reads
    C([upgrade_levels] compute), what the installed code knows (its version, service version and compute RPC
    API version) and the minimum C(nova-compute) service version, as Nova computes it.
  - From these it tells which compute RPC version cap a Nova service started now with that configuration and
    code would select, the way C(nova/compute/rpcapi.py) does. With C(compute = auto) that is the compute RPC
    version of the minimum C(nova-compute) service version across all cells (or the code's own when there is no
    compute yet); with an explicit value, the value or the version of its release alias; without the option,
    the newest version of the code.
  - It also reads the log files in O(log_files) for the message Nova logs when it selects a version
    automatically (C(Automatically selected compute RPC version 6.4 from minimum service version 70)), so that
    a play can check that restarted services really selected the pinned version.
  - Never changes anything. Never returns or prints a database or message-queue URL or password; errors are
    scrubbed of credentials.
notes:
  - Nova selects the version lazily, at the first compute RPC call of a process, and keeps it for the life of
    the process (it does not cache it while there is no compute, version 0). So a restarted service logs its
    selection only once it sends its first compute RPC message, and a service that runs since before a change of
    the service versions keeps the version it selected then. RV(selected) is what a service started now would
    select; RV(log_latest) is what running processes last said.
  - Only selections with C(compute = auto) are logged. With an explicit value or without the option Nova logs
    nothing, and RV(log_selections) stays empty.
  - Log times are compared with O(since) in the host's local time, the time oslo.log writes without a zone.
    Lines without a time of their own (another log format) are returned only when O(since) is not set.
  - Reading the minimum service version needs the Nova Python packages and a configuration with
    C([api_database] connection) (without it, like Nova, only the cell of C([database] connection) is read), so
    run it on a controller (conductor or API host), not on a compute. Nova ignores a cell database that does not
    answer when it computes the minimum; so does this module, with a warning.
options:
  nova_venv:
    description:
      - The virtualenv Nova is installed in on this host, for example C(/opt/openstack/venvs/nova-33.0.2). Its
        C(bin/python) is used. Give the venv of the code whose selection you want to know (the running one).
      - Leave unset for a distribution-packaged Nova; see O(nova_python).
    type: path
  log_files:
    description:
      - Nova log files to read for the selections services logged, for example
        C(/var/log/nova/nova-conductor.log). Rotated files are not read unless listed.
      - A file that does not exist or cannot be read is listed in RV(missing_log_files) with a warning; the module
        does not fail.
    type: list
    elements: path
    default: []
  since:
    description:
      - Only log lines at or after this time count, for example the time the services were restarted.
      - Epoch seconds (C(1795400000), as C(ansible_date_time.epoch) gives) or an ISO 8601 date-time
        (C(2026-11-23T02:10:00+00:00); without a zone, local time of the host).
      - Default is every line of the files.
    type: str
extends_documentation_fragment:
  - rolling.openstack.nova_config
  - rolling.openstack.nova_config.nova_python
  - rolling.openstack.attributes
  - rolling.openstack.attributes.info_module
seealso:
  - module: rolling.openstack.nova_upgrade_levels
    description: Set or remove the C([upgrade_levels] compute) pin.
  - module: rolling.openstack.nova_service_version_info
    description: Every service record with its version, and the stale records that keep the minimum low.
  - name: Nova rolling upgrades
    description: Nova's documentation of the live-upgrade procedure and of the upgrade_levels pin.
    link: https://docs.openstack.org/nova/latest/admin/upgrades.html
"""

EXAMPLES = r"""
- name: Note the time before restarting the control services with the pin
  ansible.builtin.set_fact:
    nova_pin_restart_time: "{{ ansible_facts.date_time.epoch }}"

- name: Read what the conductor selects and what it logged since the restart
  rolling.openstack.nova_rpc_version_info:
    nova_venv: /opt/openstack/venvs/nova-33.0.2
    log_files:
      - /var/log/nova/nova-conductor.log
      - /var/log/nova/nova-scheduler.log
    since: "{{ nova_pin_restart_time }}"
  register: nova_rpc

- name: The services are pinned to the oldest compute
  ansible.builtin.assert:
    that:
      - nova_rpc.setting == 'auto'
      - nova_rpc.log_latest['/var/log/nova/nova-conductor.log'].rpc == nova_rpc.selected
    fail_msg: >-
      nova-conductor selected {{ nova_rpc.log_latest['/var/log/nova/nova-conductor.log'] }},
      expected {{ nova_rpc.selected }}

- name: Unpin only when the pin no longer holds anything back
  ansible.builtin.assert:
    that: not nova_rpc.pinned
"""

RETURN = r"""
setting:
  description: The value of C([upgrade_levels] compute) in the configuration, C('') when it is not set.
  returned: success
  type: str
  sample: auto
code:
  description: What the Nova code that ran the query (the one in O(nova_venv)) knows.
  returned: success
  type: dict
  contains:
    version:
      description: The Nova package version.
      type: str
      sample: 33.0.2
    service_version:
      description: The service version this code reports when its services start (C(SERVICE_VERSION)).
      type: int
      sample: 72
    compute_rpc:
      description: The newest compute RPC API version of this code.
      type: str
      sample: "6.5"
minimum_compute_version:
  description:
    - The minimum C(nova-compute) service version across all cells, as Nova computes it for C(compute = auto)
      (records that are forced down or have version 0 do not count; a cell that does not answer is ignored).
      0 when there is no compute.
  returned: success
  type: int
  sample: 70
minimum_scope:
  description:
    - C(all cells) when the configuration has C([api_database] connection) and the minimum is read from every
      cell, C(local cell) when only the cell database of C([database] connection) is read (as Nova does then).
  returned: success
  type: str
  sample: all cells
selected:
  description:
    - The compute RPC version cap a Nova service started now with this configuration and code selects.
    - Null when such a service would fail its compute RPC calls with C(ServiceTooOld) (the minimum compute is
      newer than the code); a warning says so.
  returned: success
  type: str
  sample: "6.4"
pinned:
  description:
    - Whether RV(selected) differs from the newest compute RPC version of the code (RV(code.compute_rpc)), that
      is, whether the setting holds compute RPC messages back. Null when RV(selected) is null.
  returned: success
  type: bool
  sample: true
log_selections:
  description:
    - The selections logged in O(log_files) at or after O(since), oldest first (lines without a time first, in
      file order).
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The log file.
      type: str
      sample: /var/log/nova/nova-conductor.log
    time:
      description: The time of the line, ISO 8601 in the host's local time as logged, or null when the line has none.
      type: str
      sample: "2026-11-23T02:10:01.123"
    pid:
      description: The process ID oslo.log wrote, or null.
      type: int
      sample: 1234
    rpc:
      description: The compute RPC version the process selected.
      type: str
      sample: "6.4"
    service_version:
      description: The minimum service version it selected it from.
      type: int
      sample: 70
log_latest:
  description:
    - For every path of O(log_files), the last selection of that file at or after O(since) (same keys as
      RV(log_selections)), or null when there is none or the file is missing.
  returned: success
  type: dict
  sample: {/var/log/nova/nova-conductor.log: {path: /var/log/nova/nova-conductor.log, time: "2026-11-23T02:10:01.123",
           pid: 1234, rpc: "6.4", service_version: 70}}
missing_log_files:
  description: The paths of O(log_files) that do not exist or cannot be read on the host.
  returned: success
  type: list
  elements: str
  sample: [/var/log/nova/nova-scheduler.log]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import (
    check_config_files,
    find_python,
    nova_host_argument_spec,
    scrub,
)
from ansible_collections.rolling.openstack.plugins.module_utils._nova_snippet import run_snippet, snippet
from ansible_collections.rolling.openstack.plugins.module_utils._upgrade_levels import (
    parse_since,
    read_selections,
    select_compute_rpc,
    version_tuple,
)

_MARKER = 'ROLLING_OPENSTACK_NOVA_RPC_JSON:'

# Run with the nova installation's python after module_utils._nova_snippet's prelude (remember, scrub, emit,
# bootstrap, finish, run). It returns raw facts; the module decides what they mean (select_compute_rpc), so that
# logic is tested without nova.
_SNIPPET = snippet(_MARKER, r'''
import logging

WARNINGS = []


class Collect(logging.Handler):
    """Nova's warnings while it computes the minimum (a cell that did not answer), for the module's warnings."""

    def emit(self, record):
        try:
            WARNINGS.append(scrub(record.getMessage()))
        except Exception:
            pass


def main(argv):
    conf = bootstrap('rolling-nova-rpc-version-info', argv)
    from nova import context
    from nova import objects
    from nova import version
    from nova.compute import rpcapi as compute_rpcapi
    from nova.objects import service as service_obj

    handler = Collect(level=logging.WARNING)
    logging.getLogger('nova').addHandler(handler)

    history = [entry.get('compute_rpc') for entry in service_obj.SERVICE_VERSION_HISTORY]
    doc = dict(
        code=dict(version=version.version_string(), service_version=service_obj.SERVICE_VERSION,
                  compute_rpc_history=history),
        aliases=dict(getattr(compute_rpcapi.ComputeAPI, 'VERSION_ALIASES', {}) or {}),
        setting=conf.upgrade_levels.compute or '',
        warnings=WARNINGS,
    )
    ctxt = context.get_admin_context()
    # As nova/compute/rpcapi.py's _determine_version_cap: every cell with the API database, else the local one.
    try:
        if conf.api_database.connection:
            doc['minimum_scope'] = 'all cells'
            try:
                for mapping in objects.CellMappingList.get_all(ctxt):
                    for field in ('database_connection', 'transport_url'):
                        remember(getattr(mapping, field, None))
            except Exception:
                pass
            doc['minimum_compute_version'] = service_obj.get_minimum_version_all_cells(ctxt, ['nova-compute'])
        else:
            doc['minimum_scope'] = 'local cell'
            doc['minimum_compute_version'] = objects.Service.get_minimum_version(ctxt, 'nova-compute')
    except Exception as exc:
        emit(dict(error='cannot read the minimum nova-compute service version: %s: %s'
                  % (type(exc).__name__, scrub(exc))))
        return 1
    return finish(doc)


run(main)
''')


def _iso(value):
    return value.isoformat(timespec='milliseconds') if value is not None else None


def read_logs(paths, since):
    """Read the selections of the log files: (log_selections, log_latest, missing, problems)."""
    selections = []
    latest = {}
    missing = []
    problems = []
    for order, path in enumerate(paths):
        latest[path] = None
        try:
            with open(path, 'r', encoding='utf-8', errors='replace') as handle:
                found = read_selections(handle, since)
        except FileNotFoundError:
            missing.append(path)
            problems.append('log file %s does not exist on this host' % path)
            continue
        except (IOError, OSError) as exc:
            missing.append(path)
            problems.append('cannot read log file %s: %s' % (path, to_native(exc)))
            continue
        for number, selection in enumerate(found):
            entry = dict(path=path, time=_iso(selection['time']), pid=selection['pid'], rpc=selection['rpc'],
                         service_version=selection['service_version'])
            selections.append((selection['time'], order, number, entry))
            latest[path] = entry
    # oldest first; lines without a time (another log format) first, in file order
    selections.sort(key=lambda item: (item[0] is not None, item[0] or 0, item[1], item[2]))
    return [item[3] for item in selections], latest, missing, problems


def analyse(doc):
    """The module's result (without logs) from the snippet's document: (result, warnings)."""
    code = doc['code']
    history = code.get('compute_rpc_history') or []
    service_version = int(code['service_version'])
    minimum = int(doc.get('minimum_compute_version') or 0)
    setting = doc.get('setting') or ''
    newest = history[service_version] if 0 <= service_version < len(history) else (history[-1] if history else None)
    selected, problem = select_compute_rpc(setting, minimum, history, service_version, doc.get('aliases') or {})
    warnings = list(doc.get('warnings') or [])
    if problem:
        warnings.append(problem)
    if selected is None:
        pinned = None
    else:
        selected_tuple, newest_tuple = version_tuple(selected), version_tuple(newest)
        pinned = (selected_tuple != newest_tuple) if selected_tuple and newest_tuple else selected != newest
    return dict(
        setting=setting,
        code=dict(version=code['version'], service_version=service_version, compute_rpc=newest),
        minimum_compute_version=minimum,
        minimum_scope=doc.get('minimum_scope'),
        selected=selected,
        pinned=pinned,
    ), warnings


def main():
    argument_spec = nova_host_argument_spec(
        nova_python=dict(type='str'),
        log_files=dict(type='list', elements='path', default=[]),
        since=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        since = parse_since(module.params['since'])
    except ValueError as exc:
        module.fail_json(msg='%s' % exc)
    check_config_files(module)
    python = find_python(module)
    # Every text from the snippet that the module returns goes through scrub() with the configuration's secrets.
    doc, secrets = run_snippet(module, python, _SNIPPET, _MARKER, 'the compute RPC settings')
    result, warnings = analyse(doc)
    selections, latest, missing, problems = read_logs(module.params['log_files'], since)
    for warning in warnings + problems:
        module.warn(scrub(warning, secrets))
    module.exit_json(changed=False, log_selections=selections, log_latest=latest, missing_log_files=missing,
                     **result)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_service_version_info
short_description: Read the code version of every Nova service, in every cell, from the databases
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Runs on a Nova controller host (a host with Nova's configuration and database access). With the Python of
    the Nova installation it loads Nova's configuration (O(config_files)), reads the cell mappings of the API
    database and, in every cell including C(cell0), the service records with the code version each service
    reported (the C(services.version) column, which the compute API does not show).
  - Returns every service with its cell, host, binary, version, disabled/forced-down flags, heartbeat and
    whether it is up; the minimum version per binary per cell and across cells, as Nova computes it for
    C([upgrade_levels] compute = auto); and the stale service records that would keep that minimum low,
    each with the commands that remove it.
  - Never changes anything. Never returns or prints a database or message-queue URL or password; errors are
    scrubbed of credentials.
notes:
  - Nova's own minimum-version query counts every service record that is not deleted and not forced down,
    disabled or not. A record left by a removed or renamed host therefore keeps the pin low until it is forced
    down or deleted; RV(stale) lists such records.
  - A service is up when it is not forced down and its last heartbeat (C(last_seen_up), or C(created_at) when it
    never reported) is at most C([DEFAULT] service_down_time) seconds old, as Nova's database service group
    driver decides. With another C(servicegroup_driver) the result is flagged in RV(servicegroup_driver).
  - Reading the databases needs the Nova Python packages and a configuration with C([api_database] connection),
    so run it on a controller (conductor or API host), not on a compute. Errors of one cell database fail the
    module, since the minimum version would be wrong without it.
options:
  nova_venv:
    description:
      - The virtualenv Nova is installed in on this host, for example C(/opt/openstack/venvs/nova-33.0.2).
        Its C(bin/python) is used.
      - Leave unset for a distribution-packaged Nova; see O(nova_python).
    type: path
  expected_hosts:
    description:
      - The hosts that should run Nova services (for example every controller and compute of the inventory).
        A service record on any other host is reported in RV(stale), including records of API services.
      - When empty or unset, only services that are down count as stale.
    type: list
    elements: str
  stale_after:
    description:
      - A service that has not reported for more than this many seconds is reported in RV(stale).
      - Default is Nova's C([DEFAULT] service_down_time), so every down service is a stale candidate. Set a
        larger value to ignore services that are only briefly down, such as during a restart.
    type: int
extends_documentation_fragment:
  - rolling.openstack.nova_config
  - rolling.openstack.nova_config.nova_python
  - rolling.openstack.attributes
  - rolling.openstack.attributes.info_module
seealso:
  - module: rolling.openstack.compute_service_info
    description: The services as the compute API shows them (up/down, enabled/disabled), without versions.
  - module: rolling.openstack.nova_status_check
  - name: Nova rolling upgrades
    description: Nova's documentation of the live-upgrade procedure and of the upgrade_levels pin.
    link: https://docs.openstack.org/nova/latest/admin/upgrades.html
"""

EXAMPLES = r"""
- name: Read the service versions with the nova venv of the lab
  rolling.openstack.nova_service_version_info:
    nova_venv: /opt/openstack/venvs/nova-33.0.2
  register: nova_versions

- name: Stop when a stale service record would keep the compute RPC pin low
  ansible.builtin.assert:
    that: nova_versions.stale | length == 0
    fail_msg: "{{ nova_versions.stale | map(attribute='fix') | list }}"

- name: Services not in the inventory are stale too
  rolling.openstack.nova_service_version_info:
    nova_venv: /opt/openstack/venvs/nova-33.0.2
    expected_hosts: "{{ groups['nova_api'] + groups['nova_conductor'] + groups['nova_compute'] }}"
  register: nova_versions

- name: Unpin only when no service older than the new code is left in any cell
  ansible.builtin.assert:
    that: nova_versions.minimum_compute_version == nova_versions.code.service_version
"""

RETURN = r"""
services:
  description:
    - Every service record that is not deleted, in every cell, sorted by cell, binary and host.
  returned: success
  type: list
  elements: dict
  contains:
    cell_uuid:
      description: UUID of the cell whose database holds the record.
      type: str
      sample: 8b0c2b1e-6d3a-4c1e-9f1e-3c4b4a3d2e1f
    cell_name:
      description: Name of the cell (C(cell0), C(cell1) ...), or null.
      type: str
      sample: cell1
    id:
      description: The record's integer ID in its cell database.
      type: int
      sample: 7
    uuid:
      description: The service UUID, which the compute API (microversion 2.53 and later) uses as its ID.
      type: str
      sample: 4b0b0d5c-d7e0-4fa0-8c0f-3a5c7a1cc0d2
    host:
      description: The service host, as Nova names it.
      type: str
      sample: cmp1
    binary:
      description: The service binary.
      type: str
      sample: nova-compute
    version:
      description: The service version the service's code reported (C(services.version)); 0 if never set.
      type: int
      sample: 72
    disabled:
      description: Whether the service is disabled.
      type: bool
      sample: false
    disabled_reason:
      description: The reason given when it was disabled, or null.
      type: str
      sample: null
    forced_down:
      description: Whether the service is forced down (fenced).
      type: bool
      sample: false
    last_seen_up:
      description: The last heartbeat, ISO 8601 in UTC, or null when the service never reported.
      type: str
      sample: "2026-11-22T10:15:02+00:00"
    updated_at:
      description: When the record was last updated, ISO 8601 in UTC, or null.
      type: str
      sample: "2026-11-22T10:15:02+00:00"
    created_at:
      description: When the record was created, ISO 8601 in UTC.
      type: str
      sample: "2026-11-01T08:00:00+00:00"
    seconds_since_seen:
      description: Seconds since the last heartbeat (or since creation when it never reported).
      type: int
      sample: 4
    up:
      description:
        - Whether the service is up (not forced down and heard from within C(service_down_time)).
        - Null for C(nova-osapi_compute) and C(nova-metadata), which record their version but send no heartbeat
          (the compute API does not list them either).
      type: bool
      sample: true
    reports_heartbeat:
      description: False for the API services (C(nova-osapi_compute), C(nova-metadata)), true for the others.
      type: bool
      sample: true
    counts_in_minimum:
      description: Whether Nova counts this record in the minimum service version (true unless forced down).
      type: bool
      sample: true
cells:
  description: The cells of the API database, with their minimum service version per binary.
  returned: success
  type: list
  elements: dict
  contains:
    uuid:
      description: Cell UUID (C(cell0) is C(00000000-0000-0000-0000-000000000000)).
      type: str
      sample: 00000000-0000-0000-0000-000000000000
    name:
      description: Cell name, or null.
      type: str
      sample: cell0
    is_cell0:
      description: Whether this is C(cell0), which holds servers that failed to schedule and no services normally.
      type: bool
      sample: true
    disabled:
      description: Whether the cell is disabled for scheduling.
      type: bool
      sample: false
    services:
      description: Number of service records in the cell.
      type: int
      sample: 0
    minimum_version:
      description:
        - Per binary, the minimum version of the records that are not forced down, as Nova's
          C(Service.get_minimum_version) computes it for this cell.
      type: dict
      sample: {nova-compute: 72, nova-conductor: 72, nova-scheduler: 72}
    error:
      description:
        - Why the cell's database could not be read (scrubbed of credentials), or null. The module fails when any
          cell has one, and still returns the cells.
      type: str
      sample: null
minimum_version:
  description:
    - Per binary, the minimum version across all cells, ignoring cells where the binary has no record or version
      0 (like Nova's C(get_minimum_version_all_cells)).
  returned: success
  type: dict
  sample: {nova-compute: 72, nova-conductor: 72, nova-scheduler: 72}
minimum_compute_version:
  description:
    - The minimum C(nova-compute) version across all cells; what C([upgrade_levels] compute = auto) pins the
      compute RPC API to. 0 when there is no compute.
  returned: success
  type: int
  sample: 72
compute_rpc_version_for_minimum:
  description:
    - The compute RPC API version that RV(minimum_compute_version) maps to in the installed code's service
      version history, or null when that version is unknown to the code (0, or newer than the code).
  returned: success
  type: str
  sample: "6.5"
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
      description: The compute RPC API version of this code.
      type: str
      sample: "6.5"
    oldest_supported_release:
      description:
        - The oldest release whose computes this code's conductor and API accept (C(OLDEST_SUPPORTED_SERVICE_VERSION));
          older computes make them refuse to start (TooOldComputeService).
      type: str
      sample: Epoxy
    oldest_supported_service_version:
      description: The service version of RV(code.oldest_supported_release), or null when unknown.
      type: int
      sample: 68
service_down_time:
  description: Nova's C([DEFAULT] service_down_time) in seconds, from O(config_files).
  returned: success
  type: int
  sample: 60
servicegroup_driver:
  description: Nova's C([DEFAULT] servicegroup_driver). RV(services[].up) is exact only for C(db).
  returned: success
  type: str
  sample: db
stale:
  description:
    - Service records that are down for longer than O(stale_after), or whose host is not in O(expected_hosts).
      API services send no heartbeat, so only O(expected_hosts) can make them stale.
    - They count in the minimum version (unless forced down) and so can keep the compute RPC pin low.
  returned: success
  type: list
  elements: dict
  contains:
    cell_name:
      description: Cell of the record.
      type: str
      sample: cell1
    uuid:
      description: The service UUID.
      type: str
      sample: 4b0b0d5c-d7e0-4fa0-8c0f-3a5c7a1cc0d2
    host:
      description: The service host.
      type: str
      sample: cmp9
    binary:
      description: The service binary.
      type: str
      sample: nova-compute
    version:
      description: The service version of the record.
      type: int
      sample: 70
    reasons:
      description: Why the record is listed.
      type: list
      elements: str
      sample: ["down for 86400 s (service_down_time 60 s)", "host cmp9 is not in expected_hosts"]
    fix:
      description: The commands that remove the record (run them with admin credentials).
      type: str
      sample: >-
        openstack compute service set --down cmp9 nova-compute; then, once no server is left on cmp9,
        openstack --os-compute-api-version 2.53 compute service delete 4b0b0d5c-d7e0-4fa0-8c0f-3a5c7a1cc0d2
summary:
  description: Counts over RV(services).
  returned: success
  type: dict
  sample: {total: 7, up: 7, down: 0, disabled: 0, forced_down: 0, stale: 0, cells: 2}
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import (
    check_config_files,
    find_python,
    nova_host_argument_spec,
    scrub,
)
from ansible_collections.rolling.openstack.plugins.module_utils._nova_snippet import run_snippet, snippet

_MARKER = 'ROLLING_OPENSTACK_NOVA_JSON:'

# API services record their version but send no heartbeat (the compute API hides them for that reason).
_API_BINARIES = ('nova-osapi_compute', 'nova-metadata')

# Run with the nova installation's python after module_utils._nova_snippet's prelude (remember, scrub, emit,
# bootstrap, finish, run).
_SNIPPET = snippet(_MARKER, r'''
import datetime


def iso(value):
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).isoformat()


def main(argv):
    conf = bootstrap('rolling-nova-service-version-info', argv)
    from nova import context
    from nova import objects
    from nova import version
    from nova.objects import service as service_obj

    history = [entry.get('compute_rpc') for entry in service_obj.SERVICE_VERSION_HISTORY]
    aliases = dict(getattr(service_obj, 'SERVICE_VERSION_ALIASES', {}) or {})
    oldest = getattr(service_obj, 'OLDEST_SUPPORTED_SERVICE_VERSION', None)
    doc = dict(
        code=dict(
            version=version.version_string(),
            service_version=service_obj.SERVICE_VERSION,
            compute_rpc=history[-1] if history else None,
            compute_rpc_history=history,
            oldest_supported_release=oldest,
            oldest_supported_service_version=aliases.get(oldest),
        ),
        service_down_time=conf.service_down_time,
        servicegroup_driver=conf.servicegroup_driver,
        now=iso(datetime.datetime.now(datetime.timezone.utc)),
        cells=[],
    )

    ctxt = context.get_admin_context()
    try:
        mappings = objects.CellMappingList.get_all(ctxt)
    except Exception as exc:
        emit(dict(error='cannot read the cell mappings of the API database: %s: %s'
                  % (type(exc).__name__, scrub(exc))))
        return 1
    for mapping in mappings:
        for field in ('database_connection', 'transport_url'):
            try:
                remember(getattr(mapping, field))
            except Exception:
                pass
    for mapping in mappings:
        cell = dict(uuid=mapping.uuid, name=mapping.name, is_cell0=mapping.is_cell0(),
                    disabled=bool(getattr(mapping, 'disabled', False)), services=[], error=None)
        try:
            with context.target_cell(ctxt, mapping) as cctxt:
                services = objects.ServiceList.get_all(cctxt)
                for svc in services:
                    cell['services'].append(dict(
                        id=svc.id, uuid=svc.uuid if svc.obj_attr_is_set('uuid') else None, host=svc.host, binary=svc.binary,
                        version=svc.version, disabled=bool(svc.disabled),
                        disabled_reason=svc.disabled_reason, forced_down=bool(svc.forced_down),
                        last_seen_up=iso(svc.last_seen_up), updated_at=iso(svc.updated_at),
                        created_at=iso(svc.created_at)))
        except Exception as exc:
            cell['error'] = '%s: %s' % (type(exc).__name__, scrub(exc))
        doc['cells'].append(cell)
    return finish(doc)


run(main)
''')


def _parse_time(value):
    """Parse the ISO 8601 timestamps the snippet prints (always with an offset) into aware datetimes."""
    if not value:
        return None
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def _fix(service):
    """The commands that remove a stale service record, as text."""
    if service.get('uuid'):
        delete = 'openstack --os-compute-api-version 2.53 compute service delete %s' % service['uuid']
    else:  # a record from before service UUIDs: the API before 2.53 takes the integer ID
        delete = 'openstack --os-compute-api-version 2.52 compute service delete %s' % service['id']
    if service['binary'] != 'nova-compute':
        return 'stop %s on %s if it still runs there, then %s' % (service['binary'], service['host'], delete)
    if service['forced_down']:
        return ('once no server is left on %s (migrate or evacuate them), %s' % (service['host'], delete))
    return ('openstack compute service set --down %s nova-compute; then, once no server is left on %s '
            '(migrate or evacuate them), %s' % (service['host'], service['host'], delete))


def _minimum(versions):
    """min() of the versions that are set and not 0, or None."""
    relevant = [v for v in versions if v]
    return min(relevant) if relevant else None


def _analyse(doc, expected_hosts, stale_after):
    """Turn the snippet's raw document into the module's result (without changed)."""
    now = _parse_time(doc['now'])
    down_time = int(doc['service_down_time'])
    stale_limit = down_time if stale_after is None else stale_after
    expected = set(expected_hosts or [])
    services = []
    cells = []
    stale = []
    overall = {}
    for cell in doc['cells']:
        per_binary = {}
        for raw in cell['services']:
            svc = dict(raw)
            svc['cell_uuid'] = cell['uuid']
            svc['cell_name'] = cell['name']
            svc['version'] = int(svc['version'] or 0)
            seen = _parse_time(svc['last_seen_up']) or _parse_time(svc['created_at'])
            elapsed = abs(int((now - seen).total_seconds())) if seen and now else None
            svc['seconds_since_seen'] = elapsed
            svc['reports_heartbeat'] = svc['binary'] not in _API_BINARIES
            if svc['reports_heartbeat']:
                svc['up'] = bool(not svc['forced_down'] and elapsed is not None and elapsed <= down_time)
            else:
                svc['up'] = None
            svc['counts_in_minimum'] = not svc['forced_down']
            if svc['counts_in_minimum']:
                # Nova: SELECT binary, min(version) ... WHERE deleted = 0 AND forced_down = false GROUP BY binary
                per_binary.setdefault(svc['binary'], []).append(svc['version'])
            reasons = []
            if svc['up'] is False and (elapsed is None or elapsed > stale_limit):
                reasons.append('down for %s s (service_down_time %d s)' % (elapsed, down_time) if elapsed is not None
                               else 'never reported')
            if expected and svc['host'] not in expected:
                reasons.append('host %s is not in expected_hosts' % svc['host'])
            if reasons:
                stale.append(dict(cell_name=cell['name'], uuid=svc['uuid'], host=svc['host'],
                                  binary=svc['binary'], version=svc['version'], forced_down=svc['forced_down'],
                                  counts_in_minimum=svc['counts_in_minimum'], reasons=reasons, fix=_fix(svc)))
            services.append(svc)
        minimum = {binary: min(versions) for binary, versions in per_binary.items()}
        for binary, version in minimum.items():
            if version:
                overall[binary] = min(overall.get(binary, version), version)
        cells.append(dict(uuid=cell['uuid'], name=cell['name'], is_cell0=bool(cell['is_cell0']),
                          disabled=bool(cell.get('disabled')), services=len(cell['services']),
                          minimum_version=minimum, error=cell.get('error')))
    services.sort(key=lambda s: (s['cell_name'] or '', s['cell_uuid'], s['binary'] or '', s['host'] or '', s['id']))
    stale.sort(key=lambda s: (s['cell_name'] or '', s['binary'] or '', s['host'] or ''))
    min_compute = overall.get('nova-compute', 0)
    history = doc['code'].get('compute_rpc_history') or []
    code = dict(doc['code'])
    code.pop('compute_rpc_history', None)
    return dict(
        services=services,
        cells=cells,
        minimum_version=overall,
        minimum_compute_version=min_compute,
        compute_rpc_version_for_minimum=history[min_compute] if 0 < min_compute < len(history) else None,
        code=code,
        service_down_time=down_time,
        servicegroup_driver=doc.get('servicegroup_driver'),
        stale=stale,
        summary=dict(
            total=len(services),
            up=sum(1 for s in services if s['up'] is True),
            down=sum(1 for s in services if s['up'] is False),
            disabled=sum(1 for s in services if s['disabled']),
            forced_down=sum(1 for s in services if s['forced_down']),
            stale=len(stale),
            cells=len(cells),
        ),
    )


def main():
    argument_spec = nova_host_argument_spec(
        nova_python=dict(type='str'),
        expected_hosts=dict(type='list', elements='str'),
        stale_after=dict(type='int'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params['stale_after'] is not None and module.params['stale_after'] < 0:
        module.fail_json(msg='stale_after must be 0 or more seconds, got %d' % module.params['stale_after'])
    check_config_files(module)
    python = find_python(module)
    # Every text from the snippet that the module returns goes through scrub() with the configuration's secrets.
    doc, secrets = run_snippet(module, python, _SNIPPET, _MARKER, 'the nova services')
    for cell in doc['cells']:
        if cell.get('error'):
            cell['error'] = scrub(cell['error'], secrets)
    failed_cells = [c for c in doc['cells'] if c.get('error')]
    result = _analyse(doc, module.params['expected_hosts'], module.params['stale_after'])
    if failed_cells:
        module.fail_json(msg='could not read the services of cell %s: the minimum service versions would be '
                             'wrong without them. Fix the cell database connection (nova-manage cell_v2 '
                             'list_cells --verbose shows it) or the database server.'
                             % '; '.join('%s (%s): %s' % (c['name'], c['uuid'], c['error'])
                                         for c in failed_cells), **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()

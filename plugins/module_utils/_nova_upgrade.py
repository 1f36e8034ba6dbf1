# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decisions of the Nova live upgrade, in Python so that they are unit-tested (kolla-ansible's nova_filters.py
is the precedent): the roles call them through the filters of plugins/filter/nova_upgrade.py and keep only the steps
an operator reads in the log.

Private module_utils (``_`` prefix): not a public API of the collection. Every function takes plain data (module
results, facts) and returns plain data; a gate that cannot decide raises UpgradeDecisionError instead of passing.
"""

from __future__ import annotations

import re


class UpgradeDecisionError(ValueError):
    """A decision that cannot be made from its inputs (a gate fails closed instead of passing)."""


# --------------------------------------------------------------------------------------------------- versions

def service_version(value, what='the target service version'):
    """The positive int of a nova service version, or UpgradeDecisionError: a gate never compares with 0 or None."""
    if isinstance(value, bool):
        raise UpgradeDecisionError('%s is %r, not a nova service version' % (what, value))
    try:
        number = int('%s' % value)
    except (TypeError, ValueError):
        raise UpgradeDecisionError(
            '%s is unknown (%r): the preflight reads it from the target code (nova/objects/service.py, SERVICE_VERSION); '
            'no gate can decide without it. Run the preflight again (it stops when it cannot read it), or set '
            'nova_upgrade_target_service_version.' % (what, value)) from None
    if number <= 0:
        raise UpgradeDecisionError('%s is %d, not a nova service version (they start at 1)' % (what, number))
    return number


def counted(service):
    """Whether a service record counts in nova's minimum service version (not deleted, not forced down)."""
    if 'counts_in_minimum' in service:
        return bool(service['counts_in_minimum'])
    return not service.get('forced_down') and not service.get('deleted')


def older_services(services, target_service_version, binaries=None):
    """The counted service records older than the target's service version: ['nova-compute on cmp3 (72)', ...].

    services: nova_service_version_info's services (every cell). binaries: only these binaries (default all).
    Raises UpgradeDecisionError when the target's service version is unknown (never treats it as 0).
    """
    target = service_version(target_service_version)
    found = []
    for s in services or []:
        if binaries and s.get('binary') not in binaries:
            continue
        if not counted(s):
            continue
        version = s.get('version')
        if version is None or int(version) < target:
            found.append('%s on %s (%s%s)' % (s.get('binary'), s.get('host'), 'version %s' % version,
                                              ', ' + s['cell_name'] if s.get('cell_name') else ''))
    return found


# --------------------------------------------------------------------------------------------------- nova-status

def status_findings(status, fail_on_warning=False, host='', skipped_reason=''):
    """Problems and warnings of the target's `nova-status upgrade check` (rolling.openstack.nova_status_check's
    result, registered with failed_when: false): {'problems': [...], 'warnings': [...]}.

    The result, not the task's `failed` flag, decides: failed_when: false makes `failed` false whatever happened.
    Failure and Error are problems; Warning is a problem with fail_on_warning, else a warning; a check that did not
    run is a warning with its reason; a result without an exit code (the module itself failed) is a problem.
    """
    status = status or {}
    where = ' on %s' % host if host else ''
    if status.get('skipped') or not status:
        return dict(problems=[], warnings=['target nova-status upgrade check not run: %s'
                                           % (skipped_reason or 'skipped')])
    cmd = status.get('cmd') or 'nova-status upgrade check'
    result = status.get('result')
    rc = status.get('rc')
    fix = ' Fix what the failing checks name (nova-status upgrade check documents each), then run again.'
    if rc is None or result not in ('Success', 'Warning', 'Failure'):
        return dict(problems=['target nova-status upgrade check%s (%s) did not run to the end: %s.%s'
                              % (where, cmd, status.get('msg') or 'no result', fix)], warnings=[])
    if result == 'Failure':
        failed = status.get('failure_checks') or []
        text = '; '.join('%s: %s' % (c.get('check'), _sentence(c.get('details')) or 'Failure') for c in failed)
        return dict(problems=['target nova-status upgrade check%s (%s) reports Failure (rc %s): %s.%s'
                              % (where, cmd, rc, text or _sentence(status.get('msg')), fix)], warnings=[])
    warned = ['%s: %s' % (c.get('check'), _sentence(c.get('details')) or 'Warning') for c in status.get('warning_checks') or []]
    if result == 'Warning' and fail_on_warning:
        return dict(problems=['target nova-status upgrade check%s (%s) reports Warning (rc %s) and '
                              'nova_upgrade_status_fail_on_warning is set: %s.%s' % (where, cmd, rc, '; '.join(warned), fix)],
                    warnings=[])
    return dict(problems=[], warnings=['target nova-status warning: %s' % w for w in warned])


def _sentence(text):
    """nova-status details without their closing period (the message adds its own)."""
    return ('%s' % (text or '')).strip().rstrip('.')


# --------------------------------------------------------------------------------------------------- target code

def _positive_int(value):
    try:
        number = int('%s' % value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and not isinstance(value, bool) else None


def target_code(result, method, override='', current_service_version=None, target_release=None, check_mode=False,
                host='', venv='', install_allowed=True, same_release=False):
    """The target code's versions for the preflight: {'code', 'problems', 'warnings', 'summary'}.

    result: rolling.openstack.nova_code_info's result (registered with failed_when: false; skipped when the code could
    not be read where it lives). override: nova_upgrade_target_service_version ('' when not set). A real run without
    a service version is a problem (the gates fail closed); --check only warns, since it installs nothing.
    same_release: the step is within one release, or a resumed upgrade (whose manage host may run the target already):
    no SERVICE_VERSION bump expected; otherwise a target service version equal to the running one is a problem (every
    nova release raises it: a typo there would open every gate).
    """
    result = result or {}
    problems, warnings = [], []
    target_release = target_release or {}
    read = result.get('code') if not result.get('skipped') and not result.get('failed') and result.get('code') else None
    unusable = None
    if read and _positive_int(read.get('service_version')) is None:
        unusable, read = read.get('service_version'), None  # no usable service version: no read, never compared with
    running_code = None
    current = _positive_int(current_service_version)
    if read and method == 'custom' and current and not same_release and int(read['service_version']) <= current:
        # the target Python imports the running nova (an in-place install, not done yet): the target is not there
        running_code, read = read, None
        warnings.append('nova_upgrade_target_python on %s imports the running nova (service version %s), not the '
                        'target yet: the target code is read again once the custom install tasks installed it, in the '
                        'expand phase, before any schema sync.' % (host or 'the manage host', running_code['service_version']))
    # registered with failed_when: false, a failed read has `failed` false: its message without a code says so
    read_failed = bool(result.get('failed') or (not result.get('skipped') and not result.get('code') and result.get('msg')))
    given = None
    if override not in (None, ''):
        given = _positive_int(override)
        if given is None:
            problems.append('nova_upgrade_target_service_version=%s is not a nova service version: give the SERVICE_VERSION '
                            'of the target release\'s nova (for example 74 for nova 34.0.0), or leave it empty so that the '
                            'preflight reads it from the target code.' % override)
    code = dict(read or {})
    where = ' on %s' % host if host else ''
    if read and given and int(read['service_version']) != given:
        problems.append('nova_upgrade_target_service_version=%s, but the target code%s (%s) says %s: remove the setting, or '
                        'fix it.' % (given, where, result.get('source') or venv, read['service_version']))
    if not read and given:
        code = dict(service_version=given, version='', compute_rpc=None, source='nova_upgrade_target_service_version')
        if method in ('custom', 'package'):
            warnings.append('target service version %s taken from nova_upgrade_target_service_version, not read from '
                            'the target code: the expand phase reads it from the code it installs on the manage host '
                            'and stops before any schema sync when they differ.' % given)
    if not code.get('service_version'):
        if running_code:
            reason = ('nova_upgrade_target_python imports the running nova: set nova_upgrade_target_service_version to '
                      'the target release\'s service version; the expand phase confirms it with the installed code')
        elif read_failed:
            reason = 'reading it failed: %s' % (result.get('msg') or 'no message')
        elif result.get('code') and not result.get('skipped'):
            reason = '%s names no usable service version (%r)' % (result.get('source') or 'the code read', unusable)
        elif method == 'custom':
            reason = ('the target Python (nova_upgrade_target_python) is not on the manage host yet, so the custom '
                      'install method cannot read the target code: set nova_upgrade_target_service_version (or have '
                      'nova_upgrade_install_check_tasks set it); the expand phase confirms it with the target code '
                      'once the custom install tasks have installed it, before any schema sync')
        elif method == 'venv' and not install_allowed:
            reason = ('the target venv %s is not on the manage host and nova_upgrade_preflight_install_target is false: '
                      'install it there, allow the preflight to, or set nova_upgrade_target_service_version' % venv)
        elif method == 'venv':
            reason = 'the target venv %s is not on the manage host yet' % venv
        else:
            reason = 'nothing was read'
        if check_mode:
            warnings.append('target code not read in check mode (%s); a real run reads it before anything changes, '
                            'and stops when it cannot.' % reason)
        elif not problems:
            problems.append('the target code\'s service version is unknown%s: %s. The roll, unpin and migrate gates '
                            'compare every service record with it, so the upgrade does not start without it.'
                            % (where, reason))
        return dict(code={}, problems=problems, warnings=warnings,
                    summary='Target code: not read (%s).' % reason)
    major = target_release.get('nova_major')
    version = code.get('version') or ''
    if major and version and not re.match(r'^(\d+:)?%d\.' % int(major), version):
        problems.append('the target code%s is nova %s, not a version of the target release %s (nova %s): fix '
                        'nova_upgrade_target_version or the package sources.'
                        % (where, version, target_release.get('release'), major))
    if current and int(code['service_version']) < current:
        problems.append('the target code%s has service version %s, older than the running code (%s): that would be a '
                        'downgrade, which Nova does not support.' % (where, code['service_version'], current))
    elif current and int(code['service_version']) == current and not same_release:
        fix = ('Fix nova_upgrade_target_service_version.' if code.get('source') == 'nova_upgrade_target_service_version'
               else 'Check that the target code is the target release\'s.')
        problems.append('the target code%s has service version %s, the running code\'s own, though the target is another '
                        'release (%s): every nova release raises it, so the gates could not tell old services from new. %s'
                        % (where, current, target_release.get('release') or '?', fix))
    summary = 'Target code: nova %s, service version %s, compute RPC %s (%s).' % (
        version or '?', code['service_version'], code.get('compute_rpc') or '?', result.get('source') or code.get('source'))
    return dict(code=code, problems=problems, warnings=warnings, summary=summary)


def confirm_target_code(result, expected, host='', method=''):
    """Problems of the target code installed by the expand phase (package or custom method) on the manage host.

    result: rolling.openstack.nova_code_info's result (failed_when: false) read from the installed target code;
    expected: nova_preflight.code.target, what the preflight planned with (read from the package candidate or the
    target Python, or typed in nova_upgrade_target_service_version). The roll, unpin and migrate gates compare service
    records with that service version: an installed code that says otherwise, or that cannot be read, stops the run
    before any schema sync.
    """
    result = result or {}
    expected = expected or {}
    where = ' on %s' % host if host else ''
    planned = _positive_int(expected.get('service_version'))
    came_from = expected.get('source') or 'the target code read at the preflight'
    if planned is None:
        return ['the preflight recorded no target service version: run the preflight again (it reads the target code, '
                'or takes nova_upgrade_target_service_version).']
    code = result.get('code') if not result.get('skipped') and not result.get('failed') else None
    found = _positive_int((code or {}).get('service_version'))
    if found is None:
        return ['the target code installed%s cannot be read (%s), so the service version %s the gates will compare '
                'with (from %s) is unconfirmed: check the install, then run again.'
                % (where, result.get('msg') or 'no result', planned, came_from)]
    if found != planned:
        fix = ('fix nova_upgrade_target_service_version' if came_from == 'nova_upgrade_target_service_version'
               else 'the package sources changed since the preflight; check them' if method == 'package'
               else 'the target code changed since the preflight; check what the custom install tasks installed')
        return ['the target code installed%s (%s) has service version %s, but the preflight planned with %s (from %s): '
                '%s, then run again.' % (where, result.get('source') or '?', found, planned, came_from, fix)]
    return []


# --------------------------------------------------------------------------------------------------- cells

def _same_database(a, b):
    """Whether two database locations ({database, host, port}) name the same database."""
    if not a or not b or not a.get('database') or a.get('database') != b.get('database'):
        return False
    if (a.get('host') or 'localhost') != (b.get('host') or 'localhost'):
        return False
    return not (a.get('port') and b.get('port') and int(a['port']) != int(b['port']))


def _cell_label(cell):
    return '%s (%s, database %s on %s)' % (cell.get('name') or '?', cell.get('uuid'), cell.get('database'),
                                           cell.get('host') or 'localhost')


def cell_sources(databases, version_cells=None, config_files=None):
    """Map every cell of the cell mappings to exactly one source for its schema sync and online data migrations.

    databases: the document of roles/nova_preflight/files/nova_databases.py ({api, main, cells, config_sets}).
    version_cells: nova_service_version_info's cells ({uuid, error}: a cell whose database does not answer from the
    manage host has an error). config_files: the main configuration files (nova_upgrade_config_files).

    Returns {'cells': [...], 'problems': [...], 'warnings': [...]}; each cell: uuid, name, database, is_cell0, source
    (main: the cell of [database] connection; config: an entry of nova_upgrade_cell_config_files; mapping: its cell
    mapping's database URL, given to nova-manage by the module on the host), config_files (for nova-manage), cell
    (the uuid, for the mapping source), sync (cells: nova-manage db sync, main cell and cell0; cell: db sync
    --local_cell with this source), text (for the plan).
    """
    databases = databases or {}
    config_files = list(config_files or [])
    reach = dict((c.get('uuid'), c.get('error')) for c in (version_cells or []))
    problems, warnings, out = [], [], []
    sets = databases.get('config_sets') or []
    claimed = {}
    for entry in sets:
        if entry.get('error'):
            problems.append('nova_upgrade_cell_config_files entry %s: %s, so it names no cell database. Fix the entry (each '
                            'one lists the files whose [database] connection is one cell\'s database), or remove it.'
                            % (entry.get('files'), entry['error']))
            continue
        matches = [c for c in databases.get('cells') or [] if _same_database(c, entry)]
        if not matches:
            problems.append('nova_upgrade_cell_config_files entry %s names database %s on %s, which no cell mapping names '
                            '(cells: %s). Fix the entry or remove it.'
                            % (entry.get('files'), entry.get('database'), entry.get('host'),
                               ', '.join(_cell_label(c) for c in databases.get('cells') or []) or 'none'))
            continue
        claimed.setdefault(matches[0]['uuid'], []).append(entry)
    main = databases.get('main')
    main_cells = [c for c in databases.get('cells') or [] if not c.get('is_cell0') and _same_database(c, main)]
    if not main_cells:
        problems.append('[database] connection of %s names database %s on %s, which no cell mapping names: the manage host '
                        'must be configured for one of the cells (nova-manage cell_v2 list_cells shows them).'
                        % (', '.join(config_files) or 'the configuration', (main or {}).get('database'),
                           (main or {}).get('host')))
    for cell in databases.get('cells') or []:
        uuid = cell.get('uuid')
        entries = claimed.get(uuid, [])
        row = dict(uuid=uuid, name=cell.get('name'), database=cell.get('database'), is_cell0=bool(cell.get('is_cell0')),
                   cell='', config_files=config_files)
        is_main = bool(main_cells) and uuid == main_cells[0]['uuid']
        if is_main or (cell.get('is_cell0') and not entries):
            if entries:
                problems.append('cell %s is covered twice: by the configuration of the manage host (%s) and by '
                                'nova_upgrade_cell_config_files %s. Remove the entry.'
                                % (_cell_label(cell), ', '.join(config_files), entries[0]['files']))
            if is_main:
                row.update(source='main', sync='cells', text='the configuration of the manage host')
            else:
                # nova-manage db sync fans out to cell0; its online data migrations need its own database
                row.update(source='mapping', cell=uuid, sync='cells',
                           text='its cell mapping (schema: nova-manage db sync fans out to cell0)')
        elif len(entries) > 1:
            problems.append('cell %s is covered %d times by nova_upgrade_cell_config_files (%s): keep one entry.'
                            % (_cell_label(cell), len(entries), '; '.join('%s' % e['files'] for e in entries)))
            continue
        elif entries:
            row.update(source='config', config_files=list(entries[0]['files']), sync='cells' if row['is_cell0'] else 'cell',
                       text='nova_upgrade_cell_config_files %s' % entries[0]['files'])
        elif reach.get(uuid):
            problems.append('cell %s is not covered: its database does not answer from the manage host (%s) and no '
                            'nova_upgrade_cell_config_files entry names it. Make its database answer from the manage host '
                            'through its cell mapping (nova-manage cell_v2 list_cells --verbose shows it): the preflight and '
                            'the roll, unpin and migrate gates read every cell\'s service records through it, as nova-api '
                            'does; an entry of nova_upgrade_cell_config_files covers the schema steps only. A cell left '
                            'out would keep the old schema and block the next upgrade.' % (_cell_label(cell), reach[uuid]))
            continue
        else:
            row.update(source='mapping', cell=uuid, sync='cell',
                       text='its cell mapping (a configuration file written on the manage host for the run)')
        out.append(row)
    out.sort(key=lambda c: (not c['is_cell0'], c['source'] != 'main', c['name'] or ''))
    return dict(cells=out, problems=problems, warnings=warnings)


def sync_records(results, host=''):
    """[{name, host, before, after, seconds, summary}] of rolling.openstack.nova_db_sync results (a loop's results or
    single results), for the expand phase's state and report."""
    records = []
    for r in results or []:
        if not isinstance(r, dict) or r.get('skipped'):
            continue
        records.append(dict(name=r.get('name') or r.get('cmd') or '', host=host, before=r.get('before') or '',
                            after=r.get('after') or '', seconds=r.get('seconds') or 0, summary=r.get('summary') or ''))
    return records


def unmigrated_warnings(results):
    """Warnings for the online data migrations that found rows they could not migrate (nova exits 0 once nothing
    moves, yet such rows can block the next release's schema migrations), from nova_online_data_migrations results."""
    hints = {
        'populate_instance_compute_id': 'servers whose compute node no longer exists (an ERROR server that never '
                                        'got a host, or one on a deleted compute): delete those servers, or rebuild '
                                        'or evacuate them onto an existing compute',
    }
    warnings = []
    for r in results or []:
        if not isinstance(r, dict):
            continue
        # in the migrate role's loop the item is the cell: one migrated with its own configuration files has cell ''
        item = r.get('item') if isinstance(r.get('item'), dict) else {}
        name = item.get('name') or r.get('cell')
        where = 'cell %s' % name if name else 'the main cell'
        for m in r.get('unmigrated') or []:
            warnings.append('online data migration %s found %d row(s) in %s it could not migrate (%d migrated). Such rows '
                            'can block the next release\'s nova-manage db sync. Look at %s; then run nova-manage db '
                            'online_data_migrations again (and nova-manage db archive_deleted_rows for deleted rows).'
                            % (m.get('name'), int(m.get('found') or 0) - int(m.get('migrated') or 0), where,
                               int(m.get('migrated') or 0),
                               hints.get(m.get('name'), 'the rows that migration selects (nova-manage.log names them)')))
    return warnings


# --------------------------------------------------------------------------------------------------- hosts

def service_hosts(hosts, hostvars):
    """{inventory host: the host name nova uses} (host variable nova_upgrade_service_host, default the inventory name)."""
    names = {}
    for host in hosts or []:
        try:
            name = hostvars[host].get('nova_upgrade_service_host')
        except (KeyError, AttributeError):
            name = None
        names[host] = '%s' % name if name else host
    return names


def hosts_without_down(hosts, names, expected_down):
    """The preflight's host lists with the hosts of nova_upgrade_expected_down (nova host names) left out of every list
    that a step loops over, which may not answer; `compute` keeps every compute (for the report), `down` lists them,
    `compute_up` and `nova_up` are what the pin and the unpin touch."""
    down_names = set('%s' % d for d in expected_down or [])
    down = [h for h in (hosts.get('control') or []) + (hosts.get('compute') or []) if names.get(h, h) in down_names]
    down = list(dict.fromkeys(down))
    out = dict(hosts)
    for key in ('api', 'conductor', 'scheduler', 'placement', 'control', 'compute_in_scope'):
        out[key] = [h for h in hosts.get(key) or [] if h not in down]
    out['compute_up'] = [h for h in hosts.get('compute') or [] if h not in down]
    out['nova_up'] = list(dict.fromkeys(out['control'] + out['compute_up']))
    out['down'] = down
    return out


# --------------------------------------------------------------------------------------------------- migrate gate

def migrate_blocked(old_services, unpin_status):
    """Why the online data migrations must not run yet ('' when they may): a service record older than the target
    (old_services: older_services()), or an unpin phase that is not done (unpin_status: its state status; Nova's
    upgrade guide runs the migrations after every service restarted knowing all the others run the new code)."""
    if old_services:
        return ('blocked: %s still run older code; run the playbook again once they are rolled'
                % ', '.join('%s' % s for s in old_services))
    if (unpin_status or '') != 'done':
        return ('blocked: the unpin is not done (%s); the online data migrations run only after its restarts'
                % (unpin_status or 'not run'))
    return ''


# --------------------------------------------------------------------------------------------------- done?

def upgraded(services, code_service_version, levels, target_release='', code_version='', unpin_mode=''):
    """Whether the cloud is upgraded to the code the manage host's conductor runs: {'upgraded', 'reasons', 'from_release'}.

    "Upgraded" means every counted service record of every cell reports the code's service version and no nova
    host keeps a compute RPC pin ([upgrade_levels] compute set to a version or a release). auto counts as a pin unless
    unpin_mode (nova_upgrade_unpin_mode, '' = its default remove) is auto: with remove, a finished upgrade's unpin
    removed it, so an auto left means the unpin (and the online data migrations after it) did not run; deployment tools
    that keep auto for good (kolla-ansible) run with unpin mode auto. One conductor on the new code proves nothing: a lost state file,
    another manage host or an upgrade begun by other means all look like that.
    services: nova_service_version_info's services; levels: {host: [upgrade_levels] options} of every nova host
    that answers. from_release: the release of the oldest counted record, where a resumed upgrade starts.
    """
    from ansible_collections.rolling.openstack.plugins.module_utils._releases import release_of_service_version

    target = service_version(code_service_version, 'the running code\'s service version')
    if not any(counted(s) for s in services or []):
        # every record "new" is true of no record at all: a read that returned nothing proves nothing
        raise UpgradeDecisionError('no counted service record was read (%d record(s), none counted): whether the cloud '
                                   'is upgraded cannot be decided without them. Check the nova service records '
                                   '(openstack compute service list) and the manage host\'s access to every cell\'s '
                                   'database.' % len(services or []))
    old = older_services(services, target)
    reasons = []
    if old:
        reasons.append('%d service record(s) older than the code on the manage host (nova %s, service version %d): %s'
                       % (len(old), code_version or '?', target, ', '.join(old[:10]) + (' ...' if len(old) > 10 else '')))
    for host in sorted(levels or {}):
        value = ((levels[host] or {}).get('compute') or '').strip()
        if value == 'auto' and (unpin_mode or 'remove') != 'auto':
            reasons.append('%s keeps [upgrade_levels] compute = auto, which the unpin (nova_upgrade_unpin_mode=%s) removes: '
                           'the unpin did not run' % (host, unpin_mode or 'remove'))
        elif value and value != 'auto':
            reasons.append('%s keeps [upgrade_levels] compute = %s' % (host, value))
    versions = [int(s['version']) for s in services or [] if counted(s) and s.get('version')]
    oldest = min(versions) if versions else target
    return dict(upgraded=not reasons, reasons=reasons, from_release=release_of_service_version(oldest) or target_release,
                oldest_service_version=oldest)


# --------------------------------------------------------------------------------------------------- load balancer

def lb_servers(hosts, hostvars):
    """The load balancer server names of inventory hosts (host variable nova_upgrade_lb_server, default the host)."""
    names = []
    for host in hosts or []:
        try:
            name = hostvars[host].get('nova_upgrade_lb_server')
        except (KeyError, AttributeError):
            name = None
        names.append('%s' % name if name else host)
    return names


def restart_events(phase, host, unit, before, after, seconds, lb=False, backend='', server='', drained=None):
    """The state events of one restart (rolling.openstack.nova_restart): the restart or switch, and with a load
    balancer its return (lb_ready) and the old API nodes drained at the same moment (lb_drain, {host: server})."""
    events = [{'phase': phase, 'host': host, 'service': unit, 'event': 'switch' if before != after else 'restart',
               'from': before, 'to': after, 'seconds': round(float(seconds), 1)}]
    if lb:
        events.append(dict(phase=phase, event='lb_ready', host=host, service=unit, backend=backend, server=server))
    return events + lb_drain_events(phase, host, unit, backend, drained)


def lb_drain_events(phase, host, unit, backend, drained):
    """The lb_drain events of the old API nodes taken out as host comes back on the new code ({host: server}),
    recorded before the load balancer call that drains them."""
    return [dict(phase=phase, event='lb_drain', host=other, service=unit, backend=backend, server=drained[other],
                 message='drained as %s came back on the new code' % host) for other in sorted(drained or {})]


def lb_restore(events, api_hosts=(), api_unit='nova-api', target_version='', records=None, service_hosts=None,
               target_service_version=0, backend='', servers=None):
    """What the load balancer needs at the start of a run: {'restore': [...], 'keep': [...], 'drain': [...]}, rows
    {host, backend, server, service}.

    From the state's lb_drain / lb_ready events, the last one per (backend, server) decides what an earlier run
    drained and did not put back. An API node runs the new code when the state records its switch to the target
    version, or when its nova-osapi_compute service record (records: the preflight's, service_hosts: {inventory host:
    nova host}) reports target_service_version or newer: the state misses a switch that an interrupt cut off before
    its record. While an API node runs the new code, the old ones stay out (keep) and the old ones that serve are
    taken out now, recorded out or not (drain, in backend with servers {host: server}): old and new API code never
    serve side by side; the
    roll puts each back once it is upgraded. Everything else drained is put back (restore). When there are old API
    nodes to drain and a new API node to put back, that node leads: it goes back and they leave in one command.
    """
    last = {}
    switched = set()
    for e in events or []:
        if e.get('event') in ('lb_drain', 'lb_ready') and e.get('backend') and e.get('server'):
            last[(e['backend'], e['server'])] = e
        if e.get('event') == 'switch' and e.get('service') == api_unit and target_version and e.get('to') == target_version:
            switched.add(e.get('host'))
    names = service_hosts or {}
    try:
        want = int(target_service_version or 0)
    except (TypeError, ValueError):
        want = 0
    if want > 0:
        new_records = set()
        for r in records or []:
            try:
                version = int(r.get('version') or 0)
            except (TypeError, ValueError):
                version = 0
            if r.get('binary') == 'nova-osapi_compute' and version >= want:
                new_records.add(r.get('host'))
        switched |= set(h for h in api_hosts or [] if names.get(h, h) in new_records)
    restore, keep, drain = [], [], []
    new_api = [h for h in api_hosts or [] if h in switched]
    for (be, server), e in sorted(last.items()):
        if e['event'] != 'lb_drain':
            continue
        row = dict(host=e.get('host'), backend=be, server=server, service=e.get('service'))
        if e.get('service') == api_unit and new_api and e.get('host') not in switched:
            keep.append(row)
        else:
            restore.append(row)
    # every old API node is (re)drained while a new one exists, those the state says are out too: the interrupt may have
    # fallen after their lb_drain record and before the load balancer call that drains them (a drain is idempotent)
    if new_api and backend:
        for host in api_hosts or []:
            if host not in switched:
                drain.append(dict(host=host, backend=backend, server=(servers or {}).get(host, host), service=api_unit))
    # with old API nodes to take out, a new API node that goes back leads: it is put back and they are taken out in
    # one load balancer command once it is UP (never no API node serving, never old and new side by side)
    lead = {}
    if drain:
        for row in restore:
            if row['service'] == api_unit and row['host'] in switched and row['backend'] == backend:
                lead = row
                break
    return dict(restore=[r for r in restore if r is not lead], keep=keep, drain=drain, lead=lead)


# --------------------------------------------------------------------------------------------------- restarts

def _show(text):
    props = {}
    for line in (text or '').splitlines():
        key, sep, value = line.partition('=')
        if sep and key not in props:
            props[key] = value
    return props


def unit_code(show, method='venv', component='nova', venvs_dir='/opt/openstack/venvs', file_venvs=(), dpkg=''):
    """Which code a unit's running process runs, and which its files name, from code.yml's reads:
    {active, since (epoch s), need_reload, running, files}.

    running is what the PROCESS runs: venv, the <venvs_dir>/<component>-<version> in its command line or executable
    ('' when it runs none, or is not running); package, the installed version when the process started after the
    package was installed, else 'older than <version>'; custom, ''. files is what a restart would start (the venv
    versions the unit's files name; the installed package version).
    """
    props = _show(show)
    active = props.get('ActiveState') == 'active'
    try:
        since = float(re.sub(r'^@', '', props.get('ActiveEnterTimestamp') or '0') or 0)
    except ValueError:
        since = 0.0
    need_reload = props.get('NeedDaemonReload') == 'yes'
    running, files = '', ''
    if method == 'venv':
        pattern = re.compile(re.escape(venvs_dir.rstrip('/')) + '/' + re.escape(component) + r'-([0-9][^/\s"\';]*)')
        found = pattern.findall('%s %s' % (props.get('ProcCmdline', ''), props.get('ProcExe', '')))
        running = found[0] if active and found else ''
        names = sorted(set(pattern.findall(' '.join(file_venvs or []))))
        files = ','.join(names)
    elif method == 'package':
        pkg = _show(dpkg)
        # without the epoch ("3:34.0.0-0ubuntu1" -> "34.0.0-0ubuntu1"), as the preflight records the target candidate
        files = re.sub(r'^\d+:', '', pkg.get('Version', ''))
        try:
            installed = float(pkg.get('Installed') or 0)
        except ValueError:
            installed = 0.0
        # fail closed: without a readable install time (0, empty, garbage) or a start time, nothing says the running
        # process started after the install, so it is taken to run older code and is restarted
        if active and files:
            known = installed > 0 and since > 0
            if not known:
                running = 'older than %s (or unknown)' % files
            else:
                running = files if since >= installed else 'older than %s' % files
    return dict(active=active, since=since, need_reload=need_reload, running=running, files=files)


def restart_skip_reason(code, switch, target_version='', started_before=None):
    """Why a unit is NOT restarted ('' when it must be): with switch, its running process runs the target already and
    systemd has the unit loaded as it is on disk; without, it has run since after its configuration changed."""
    target = '%s' % (target_version or '')
    if not code.get('active'):
        return ''
    if switch:
        if target and code.get('running') == target and not code.get('need_reload'):
            return 'its running process runs the target code %s already (an earlier run switched and restarted it)' % target
        return ''
    if started_before not in (None, '') and float(code.get('since') or 0) >= float(started_before):
        return 'it has been running since after its configuration changed'
    return ''


# --------------------------------------------------------------------------------------------------- lock

def lock_left_by_gone_run(found, controller, process=''):
    """Why the run holding the upgrade lock is known to be gone ('' when that is not known): it is a run of THIS
    controller whose ansible-playbook process is gone (killed, or a host lost mid-run, which ends the play before its
    unlock). The refusal says so; the lock is still taken over only with nova_upgrade_lock_takeover. found:
    upgrade_lock's state=query result; process: `ps -o args= -p <its pid>` here ('' when there is no such process). A
    lock of another controller, or without a pid, is never known gone: this controller cannot see that run."""
    found = found or {}
    holder = found.get('holder') if isinstance(found.get('holder'), dict) else {}
    if not found.get('held_by_other') or not holder or holder.get('controller') != controller:
        return ''
    try:
        pid = int(holder.get('pid'))
    except (TypeError, ValueError):
        return ''
    if pid <= 0 or 'ansible-playbook' in ('%s' % (process or '')):
        return ''
    return ('run %s of %s@%s (pid %d) holds it, and pid %d no longer runs ansible-playbook on this controller'
            % (holder.get('id'), holder.get('user') or 'unknown', controller, pid, pid))


# --------------------------------------------------------------------------------------------------- backup

def _mib(value):
    return '%.1f MiB' % (value / 1048576.0)


def backup_space(read, factor=1.2, host='', directory='', databases=()):
    """Whether the backup directory's file system has room for the dump: {'problems', 'summary', 'size', 'avail'}.

    read: the result of backup_check.yml's measuring command (lines avail=, dir=, size=). The room needed is factor
    times the databases' data and index size (a dump is about that size, less once compressed).
    """
    read = read or {}
    values = {}
    for line in (read.get('stdout') or '').splitlines():
        key, sep, value = line.partition('=')
        if sep:
            values[key.strip()] = value.strip()
    try:
        avail = int(values['avail'])
        size = int(values['size'])
    except (KeyError, ValueError):
        return dict(problems=['the room for the database backup on %s could not be measured (rc %s: %s): check that the '
                              'database client there can read information_schema as the backup will (nova_upgrade_backup_size_cmd), '
                              'or set nova_upgrade_backup=false if you take the backup yourself.'
                              % (host, read.get('rc'), (read.get('stderr') or 'no output').strip()[-300:])],
                    summary='Backup room: not measured.', size=None, avail=None)
    need = int(size * float(factor))
    summary = ('Backup room on %s: %s of databases (%s), %s needed (x%s), %s free in %s.'
               % (host, _mib(size), ', '.join(databases), _mib(need), factor, _mib(avail), values.get('dir') or directory))
    problems = []
    if avail < need:
        problems.append('the backup needs %s (%s times the %s of %s) but %s has only %s free on %s: free some space, set '
                        'nova_upgrade_backup_dir to a larger file system, or lower nova_upgrade_backup_space_factor.'
                        % (_mib(need), factor, _mib(size), ', '.join(databases), values.get('dir') or directory,
                           _mib(avail), host))
    return dict(problems=problems, summary=summary, size=size, avail=avail)


def roll_status(not_in_run, failed):
    """The roll phase's end status: 'done' only when every in-scope compute runs the new code. Computes left out of
    this run (nova_upgrade_limit_hosts, nova_upgrade_expected_down) or failed within
    nova_upgrade_compute_max_fail_percentage leave it 'incomplete', so that the next run rolls them and migrate and
    unpin stay blocked until then."""
    if not isinstance(not_in_run, (list, tuple)) or not isinstance(failed, (list, tuple)):
        raise UpgradeDecisionError('roll_status needs two lists (computes not in the run, computes failed), got %r and %r'
                                   % (not_in_run, failed))
    return 'done' if not not_in_run and not failed else 'incomplete'

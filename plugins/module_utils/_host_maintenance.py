# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decisions of the compute host maintenance (drain, evacuate, restore), kept apart from the API calls so that
they are unit-tested: which host is meant, what each server gets, where it may go, how long it may take, and
whether it really moved.

Private module_utils (``_`` prefix): not a public API of the collection.
"""

from __future__ import annotations

# A disable whose reason starts with this is ours: only such a host is enabled again by us.
MARKER = 'rolling.openstack'

# Server statuses (the API's) and what a drain does with them.
MOVE = {'ACTIVE': 'live', 'PAUSED': 'live', 'SHUTOFF': 'cold', 'VERIFY_RESIZE': 'confirm'}
# Every other status a server on a host can have, and the policy key that decides it (a server with a task in
# flight is decided by the key 'task', whatever its status).
POLICY_KEYS = ('suspended', 'error', 'rescued', 'shelved', 'task', 'other')
POLICIES = ('skip', 'fail')
_STATUS_KEY = {'SUSPENDED': 'suspended', 'ERROR': 'error', 'RESCUE': 'rescued', 'SHELVED': 'shelved'}

# Migration record statuses (nova/objects/migration.py and the compute manager), per kind of move.
FINAL_GOOD = {'live': ('completed',), 'cold': ('confirmed',), 'confirm': ('confirmed',), 'evacuate': ('done', 'completed')}
FINAL_BAD = ('error', 'failed', 'cancelled')
# a cold migration waits for its confirm in this status (server VERIFY_RESIZE)
COLD_FINISHED = 'finished'

GIB = 1024


def reason(kind, when):
    """The disabled_reason of a host we take out of service: starts with MARKER."""
    return '%s %s %s' % (MARKER, kind, when)


def is_ours(disabled_reason):
    """Whether a disable was ours (its reason starts with MARKER)."""
    return bool(disabled_reason) and disabled_reason.startswith(MARKER)


def resolve_host(name, services):
    """The nova-compute service of host `name`, matched exactly. services: dicts with host, binary.

    Returns (service or None, problem or None). A name that matches no host, or only part of one, is a problem
    naming the known compute hosts; never a pattern match.
    """
    computes = [s for s in services if s.get('binary') == 'nova-compute']
    known = sorted(set(s.get('host') for s in computes))
    exact = [s for s in computes if s.get('host') == name]
    if len(exact) == 1:
        return exact[0], None
    if len(exact) > 1:
        return None, ('%d nova-compute services are recorded for host %s: delete the stale ones first '
                      '(openstack compute service delete).' % (len(exact), name))
    partial = [h for h in known if name and (name in h or h in name)]
    other = sorted(set(s.get('host') for s in services if s.get('host') == name))
    if other:
        why = 'host %s runs no nova-compute (only %s)' % (name, ', '.join(
            sorted(s.get('binary') for s in services if s.get('host') == name)))
    elif partial:
        why = 'host %r is not a compute host; it is only part of (or contains) %s, and names are matched exactly' % (
            name, ', '.join(partial))
    else:
        why = 'host %r is not a compute host' % (name,)
    return None, '%s. Known compute hosts: %s. Give one of them, spelled as Nova spells it.' % (
        why, ', '.join(known) or 'none')


def check_policies(policies):
    """Problems of a state policy dict (keys POLICY_KEYS, values POLICIES)."""
    problems = []
    for key, value in sorted((policies or {}).items()):
        if key not in POLICY_KEYS:
            problems.append('state_policy key %r is not a state the drain knows: use one of %s.'
                            % (key, ', '.join(POLICY_KEYS)))
        elif value not in POLICIES:
            problems.append('state_policy %s=%r is not a policy: use skip (leave the server, report it) or fail '
                            '(refuse before anything moves).' % (key, value))
    return problems


def policy_key(server):
    """The state_policy key that decides a server that cannot simply be moved, or None when it can."""
    if server.get('task_state'):
        return 'task'
    if server.get('status') in MOVE:
        return None
    return _STATUS_KEY.get(server.get('status'), 'other')


def plan_server(server, policies):
    """What a drain does with one server on the host: a dict with method (live, cold, confirm, skip) and why.

    server: id, name, status, task_state, power_state, flavor (ram MiB, disk GiB). policies: state_policy.
    A skip whose policy is 'fail' is a blocker: the drain refuses before anything moves.
    """
    key = policy_key(server)
    if key is None:
        method = MOVE[server['status']]
        why = {'live': 'live migration (block_migration auto)', 'cold': 'cold migration, then confirm',
               'confirm': 'a resize waits for its confirm: confirm it, then move the server by its status'}[method]
        return dict(method=method, why=why, blocker=False)
    policy = (policies or {}).get(key, 'skip')
    state = 'task %s in flight' % server['task_state'] if key == 'task' else 'status %s' % server.get('status')
    effect = ' (refused before anything moves)' if policy == 'fail' else ' (left on the host and reported)'
    return dict(method='skip', blocker=policy == 'fail',
                why='%s: state_policy %s=%s%s' % (state, key, policy, effect))


# task states of a move in flight (live: migrating; cold: resize_*), which a re-run follows rather than issues again
MOVE_TASKS = ('migrating', 'resize_prep', 'resize_migrating', 'resize_migrated', 'resize_finish')
# power state (the API's OS-EXT-STS:power_state) -> the status a server had before its move
_STATUS_BY_POWER = {1: 'ACTIVE', 3: 'PAUSED', 4: 'SHUTOFF'}


def status_before_move(power_state):
    """The status a server in the middle of a move had before it (its power state does not change with the move)."""
    return _STATUS_BY_POWER.get(power_state)


def after_confirm(status):
    """How a server confirmed on the host moves next, by the status it has after the confirm."""
    return MOVE.get(status) if MOVE.get(status) in ('live', 'cold') else None


def server_timeout(flavor, base, per_gib):
    """Seconds one server's move may take: base + per_gib x (RAM GiB + root and ephemeral disk GiB)."""
    flavor = flavor or {}
    size = (flavor.get('ram') or 0) / float(GIB) + (flavor.get('disk') or 0) + (flavor.get('ephemeral') or 0)
    return int(round(base + per_gib * size))


def destinations(services, source, target_host=None, aggregate_hosts=None):
    """The nova-compute hosts a server of `source` may go to: enabled, up, not forced down, not the source, and
    target_host / in the aggregate when given. services: dicts with host, binary, status, state, forced_down."""
    out = []
    for s in services:
        if s.get('binary') != 'nova-compute' or s.get('host') == source:
            continue
        if s.get('status') != 'enabled' or s.get('state') != 'up' or s.get('forced_down'):
            continue
        if target_host and s.get('host') != target_host:
            continue
        if aggregate_hosts is not None and s.get('host') not in aggregate_hosts:
            continue
        out.append(s['host'])
    return sorted(set(out))


def no_destination(services, source, target_host=None, aggregate=None, aggregate_hosts=None):
    """The refusal when no destination is left (None when there is one)."""
    if destinations(services, source, target_host, aggregate_hosts):
        return None
    others = ['%s (%s, %s%s)' % (s['host'], s.get('status'), s.get('state'), ', forced down' if s.get('forced_down') else '')
              for s in services if s.get('binary') == 'nova-compute' and s.get('host') != source]
    where = ('target_host %s' % target_host if target_host else
             'target_aggregate %s (hosts: %s)' % (aggregate, ', '.join(sorted(aggregate_hosts or [])) or 'none')
             if aggregate is not None else 'the other computes')
    return ('no destination is left for the servers of %s: %s has no enabled, up nova-compute (computes: %s). Enable '
            'or repair a destination, or choose another target; nothing was moved.'
            % (source, where, ', '.join(others) or 'none'))


def judge(kind, before, server, migration, source):
    """Whether one server's move succeeded: (True, None) or (False, why).

    kind: live, cold, confirm or evacuate. before: the server as it was (status, power_state); for an evacuation,
    the status and power state it must end with (evacuated_state). server: as it is now (host, status,
    power_state, task_state). migration: its migration record (status) or None.
    Success is BOTH the migration record final-good AND the server on another host, no task pending, with the
    status and power state of `before`.
    """
    good = FINAL_GOOD[kind]
    mstatus = (migration or {}).get('status')
    problems = []
    if mstatus not in good:
        problems.append('its migration record is %s (want %s)' % (mstatus or 'missing', ' or '.join(good)))
    if server.get('host') == source:
        problems.append('it is still on %s' % source)
    if server.get('task_state'):
        problems.append('task %s is still pending' % server['task_state'])
    verb = 'want' if kind == 'evacuate' else 'was'
    if server.get('status') != before.get('status'):
        problems.append('its status is %s (%s %s)' % (server.get('status'), verb, before.get('status')))
    if server.get('power_state') != before.get('power_state'):
        problems.append('its power state is %s (%s %s)' % (server.get('power_state'), verb, before.get('power_state')))
    if problems:
        return False, '; '.join(problems)
    return True, None


# ---------------------------------------------------------------------------------------------------- evacuate

# Nova evacuates a server whose vm_state is active, stopped or error (nova/compute/api.py), whatever its task state
# (since Zed). The API's status is derived from both, so the plan reads the vm_state: a server the failed host left
# with a task (powering-off, rebooting, ...) still shows the status of that task. ERROR is left to state_policy: its
# guest's state is unknown.
EVACUATE_VM_STATES = {'active': dict(status='ACTIVE', power_state=1), 'stopped': dict(status='SHUTOFF', power_state=4)}
# task states of an evacuation in flight (a re-run follows it rather than issues it again)
EVACUATE_TASKS = ('rebuilding', 'rebuild_block_device_mapping', 'rebuild_spawning')
# tasks whose guest may run on another host now (a migration in flight when the host failed): never evacuated
# without the operator (state_policy key 'task')
MOVING_TASKS = MOVE_TASKS + ('resize_confirming', 'resize_reverting')
# Evacuation records the source's nova-compute has not cleaned up yet: it deletes the evacuated guests when it
# starts again and then moves them to 'completed' (nova/compute/manager.py, _destroy_evacuated_instances). Nova
# refuses forced_down=false while one is 'done'.
EVACUATION_UNCLEANED = ('accepted', 'pre-migrating', 'done')
# end_state -> the microversion of the evacuate call: from 2.68 `force` is refused (never sent anyway); up to 2.94
# a server ends as it was; from 2.95 it ends stopped, and Nova needs every nova-compute at service version 62+.
END_STATES = ('preserve', 'stopped')
STOPPED = dict(status='SHUTOFF', power_state=4)


def evacuate_microversion(end_state, api_max):
    """The microversion of the evacuate call for end_state, given the API's maximum (a tuple), or None when the
    API cannot give that end state."""
    if end_state == 'stopped':
        return '2.95' if api_max >= (2, 95) else None
    return '2.94' if api_max >= (2, 94) else '%d.%d' % api_max if api_max >= (2, 68) else None


def evacuated_state(before, end_state):
    """The status and power state a server must have after its evacuation."""
    if end_state == 'stopped':
        return dict(STOPPED)
    return dict(status=before.get('status'), power_state=before.get('power_state'))


def evacuation_before(server):
    """The status and power state a server of the failed host counts as having (from its vm_state), or None when
    Nova does not evacuate its vm_state (or it is ERROR: left to state_policy)."""
    known = EVACUATE_VM_STATES.get(server.get('vm_state'))
    return dict(known) if known else None


def plan_evacuation(server, policies):
    """What an evacuation does with one server of the failed host: a dict with method (evacuate, skip), why and
    blocker, like plan_server. server: status, vm_state, task_state."""
    task = server.get('task_state')
    before = evacuation_before(server)
    if before and task not in MOVING_TASKS + EVACUATE_TASKS:
        why = 'evacuate (rebuilt on another host from its image%s)' % (
            ', stays stopped' if before['status'] == 'SHUTOFF' else '')
        if task:
            why += '; task %s was left by the failed host (Nova evacuates whatever the task)' % task
        return dict(method='evacuate', blocker=False, why=why)
    key = 'task' if task else _STATUS_KEY.get(server.get('status'), 'other')
    policy = (policies or {}).get(key, 'skip')
    state = 'task %s in flight' % task if key == 'task' else 'status %s' % server.get('status')
    if task in MOVING_TASKS:
        state += ' (its guest may run on the destination of that move now)'
    effect = ' (refused before anything is evacuated)' if policy == 'fail' else ' (left on the host and reported)'
    return dict(method='skip', blocker=policy == 'fail', why='%s: state_policy %s=%s%s' % (state, key, policy, effect))


def refused_stopped(microversion, error):
    """Whether Nova refused an evacuate call at 2.95 because a nova-compute is older than service version 62: it
    answers HTTP 400 whose message is the exception's dict, {'currently': N, 'expected': 62}."""
    return microversion == '2.95' and bool(error) and error.startswith('HTTP 400') and (
        ('currently' in error and 'expected' in error) or '2.95' in error)


def host_problems(service, fenced, check_mode):
    """Why the host may not be evacuated now (empty when it may). service: its nova-compute (state, status,
    forced_down, updated_at). Outside check mode the service must also be forced down and disabled already: the
    caller forces it down, then disables it, in that order, before the evacuation (Nova's rule)."""
    problems = []
    host = service.get('host')
    if not fenced:
        problems.append('%s is not fenced: evacuate only a host that is powered off or cut off, or its servers run '
                        'twice. Give a fencing hook (compute_evacuate_fence_tasks, e.g. an IPMI or Redfish power-off '
                        'that reports the host off), or set fenced=true once you have fenced it yourself.' % host)
    if service.get('state') == 'up' and not service.get('forced_down'):
        problems.append('the nova-compute of %s is up (last report %s): a live host is drained, not evacuated '
                        '(rolling.openstack.compute_drain). If it has just failed, wait until Nova reports it down '
                        '(service_down_time, 60 s by default) and run again.' % (host, service.get('updated_at')))
    elif not check_mode and not problems:
        if not service.get('forced_down'):
            problems.append('the nova-compute of %s is not forced down: force it down first, then disable it '
                            '(rolling.openstack.compute_service forced_down=true status=disabled).' % host)
        elif service.get('status') != 'disabled':
            problems.append('the nova-compute of %s is enabled: disable it after forcing it down '
                            '(rolling.openstack.compute_service status=disabled).' % host)
    return problems


def down_share_problem(services, host, max_share, aggregate=None, aggregate_hosts=None):
    """The refusal when more than max_share of the nova-compute hosts (of the aggregate when given) are down or
    forced down, the host itself counted: that points at a network partition or a control plane fault, not at one
    failed host. None when within the share (max_share 1 never refuses)."""
    computes = [s for s in services if s.get('binary') == 'nova-compute'
                and (aggregate_hosts is None or s.get('host') in aggregate_hosts)]
    if not computes or max_share >= 1:
        return None
    down = sorted(s['host'] for s in computes if s.get('state') != 'up' or s.get('forced_down'))
    if host not in down and (aggregate_hosts is None or host in aggregate_hosts):
        down = sorted(down + [host])
    share = len(down) / float(len(computes))
    if share <= max_share:
        return None
    where = 'of aggregate %s' % aggregate if aggregate is not None else 'of the cloud'
    return ('%d of the %d nova-compute hosts %s are down or forced down (%s: %.0f %% > max_down_share %.0f %%): '
            'that looks like a network partition or a control plane fault, not a failed host. Find the cause first; '
            'raise max_down_share only when these hosts really are down.'
            % (len(down), len(computes), where, ', '.join(down), 100 * share, 100 * max_share))


RESOURCES = ('VCPU', 'MEMORY_MB', 'DISK_GB')


def flavor_need(flavor):
    """The placement resources one server of `flavor` takes (root and ephemeral disk counted; a boot-from-volume
    server is counted with its flavor's disk too, which errs on the safe side)."""
    flavor = flavor or {}
    return dict(VCPU=flavor.get('vcpus') or 0, MEMORY_MB=flavor.get('ram') or 0,
                DISK_GB=(flavor.get('disk') or 0) + (flavor.get('ephemeral') or 0))


def free_room(inventories, usages):
    """What a resource provider can still take, per resource class: (total - reserved) x ratio - used, and its
    max_unit. inventories/usages: placement's documents."""
    free = {}
    for rc in RESOURCES:
        inv = inventories.get(rc)
        if not inv:
            free[rc] = dict(free=0, max_unit=0)
            continue
        total = int((inv.get('total', 0) - inv.get('reserved', 0)) * inv.get('allocation_ratio', 1.0))
        free[rc] = dict(free=total - usages.get(rc, 0), max_unit=inv.get('max_unit', total))
    return free


def room_problem(source, needs, room):
    """The refusal when the destinations have no room for the servers (None when they have).

    needs: the flavor_need of each server to evacuate. room: {destination host: free_room}. Refuses when, per
    resource class, the sum of the needs exceeds the sum of what the destinations can take, or when the largest
    server fits on no destination."""
    if not needs:
        return None
    problems = []
    for rc in RESOURCES:
        want = sum(n[rc] for n in needs)
        have = sum(max(r[rc]['free'], 0) for r in room.values())
        if want > have:
            problems.append('%s: the servers need %d, the destinations can take %d' % (rc, want, have))
    for need in needs:
        if not any(all(need[rc] <= min(r[rc]['free'], r[rc]['max_unit']) for rc in RESOURCES) for r in room.values()):
            problems.append('a server of %s' % ', '.join('%s %d' % (rc, need[rc]) for rc in RESOURCES)
                            + ' fits on no destination')
            break
    if not problems:
        return None
    return ('the destinations (%s) have no room for the servers of %s: %s. Free or add capacity, or choose another '
            'target; nothing was evacuated.' % (', '.join(sorted(room)) or 'none', source, '; '.join(problems)))


def migration_over(kind, migration):
    """Whether a migration record no longer changes by itself (final, or a cold one waiting for its confirm)."""
    status = (migration or {}).get('status')
    return status in FINAL_GOOD[kind] or status in FINAL_BAD or (kind == 'cold' and status == COLD_FINISHED)


def pick_destination(candidates, load):
    """The candidate with the fewest servers sent to it so far in this run (ties: by name)."""
    return sorted(candidates, key=lambda h: (load.get(h, 0), h))[0] if candidates else None


def plan_line(row):
    """One server of a plan, for the log."""
    return '%s %s (%s, power %s): %s -> %s' % (row.get('id'), row.get('name'), (row.get('before') or {}).get('status'),
                                               (row.get('before') or {}).get('power_state'), row.get('method'),
                                               row.get('why'))


def left_line(row):
    """One server left on the host, for the failure message."""
    return '%s %s (%s): %s' % (row.get('id'), row.get('name'), row.get('status'), row.get('error') or 'not moved')


def move_back_ids(reports, host, disabled_reason):
    """The servers to move back onto `host` once it is in service again: those that the drain or the evacuation
    which took it out of service moved away. reports: the host's report documents (kind drain, evacuate or
    move-back; generated; servers). disabled_reason: the host's reason before the return to service.

    A disable of ours names the operation (drain or evacuate) and its time: only that operation's report, written at
    or after it, counts. A disable that is not ours: nothing (the host stays disabled). No reason (the host was
    returned to service by an earlier run): the newest drain or evacuation report, less the servers a move-back
    report written after it moved back already (they may have been placed elsewhere on purpose since). An older
    report's servers stay where they are."""
    ops = [d for d in reports or [] if isinstance(d, dict) and d.get('kind') in ('drain', 'evacuate')]
    if disabled_reason and not is_ours(disabled_reason):
        return []
    if is_ours(disabled_reason) and len(disabled_reason.split()) >= 3:
        _marker, kind, when = disabled_reason.split()[:3]
        ops = [d for d in ops if d.get('kind') == kind and (d.get('generated') or '') >= when]
    ops = sorted(ops, key=lambda d: d.get('generated') or '')[-1:]
    if not ops:
        return []
    done = set()
    for doc in reports or []:
        if isinstance(doc, dict) and doc.get('kind') == 'move-back' and \
                (doc.get('generated') or '') >= (ops[0].get('generated') or ''):
            done.update(r.get('id') for r in doc.get('servers') or [] if r.get('status') == 'moved')
    ids = []
    for row in ops[0].get('servers') or []:
        if row.get('status') == 'moved' and row.get('from') == host and row.get('id') not in ids \
                and row.get('id') not in done:
            ids.append(row['id'])
    return ids


def plan_move_back(server, host):
    """How one server goes back onto `host`: a dict with method (live, cold, confirm, skip) and why; here=True for a
    server already there and settled. A server on the host in VERIFY_RESIZE is a cold move back that waits for its
    confirm (an interrupted earlier run): confirm it."""
    task = server.get('task_state')
    if server.get('host') == host:
        if server.get('status') == 'VERIFY_RESIZE' and not task:
            return dict(method='confirm', why='a cold migration back to %s waits for its confirm: confirm it' % host)
        if not task:
            return dict(method='skip', why='already on %s' % host, here=True)
    method = MOVE.get(server.get('status')) if not task else None
    if method in ('live', 'cold'):
        return dict(method=method, why='%s back to %s' % ('live migration' if method == 'live' else
                                                          'cold migration, then confirm', host))
    state = 'task %s in flight' % task if task else 'status %s' % server.get('status')
    return dict(method='skip', why='%s: not moved back (move it yourself when it is settled)' % state)


def unfinished(result):
    """The servers a drain or an evacuation did not finish, one line each: those still on the host (left), then the
    rows that failed, timed out or did not start although their server left the host (a rebuild that ended in the
    wrong state, a move still running at its timeout). Empty when everything moved."""
    left = result.get('left') or []
    here = set(r.get('id') for r in left)
    lines = [left_line(r) for r in left]
    for row in result.get('servers') or []:
        if row.get('id') not in here and row.get('status') in ('failed', 'timeout', 'not started'):
            lines.append('%s %s (now on %s): %s' % (row.get('id'), row.get('name'), row.get('to') or 'unknown',
                                                    row.get('error') or row.get('status')))
    return lines


def table_text(rows, title):
    """The per-server table as text (for the report file and the log)."""
    cols = ('id', 'name', 'from', 'to', 'method', 'migration', 'status', 'seconds', 'error')
    lines = [title, '']
    widths = dict((c, len(c)) for c in cols)
    cells = []
    for r in rows:
        cell = dict((c, '' if r.get(c) is None else str(r.get(c))) for c in cols)
        cells.append(cell)
        for c in cols[:-1]:
            widths[c] = max(widths[c], len(cell[c]))
    lines.append('  '.join(c.ljust(widths[c]) for c in cols).rstrip())
    for cell in cells:
        lines.append('  '.join(cell[c].ljust(widths[c]) for c in cols).rstrip())
    return '\n'.join(lines) + '\n'

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compute_host_drain
short_description: Move every server off a live compute host, wait for each move, and report per server
version_added: 0.2.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Takes stock of every server on one compute host (the exact service host, every project, every status), gives
    each a plan, moves them with bounded concurrency and waits for every move to end.
  - "Plans: C(ACTIVE) and C(PAUSED) servers are live-migrated (C(block_migration: auto)); C(SHUTOFF) servers are
    cold-migrated, then the resize is confirmed; a server in C(VERIFY_RESIZE) is confirmed first, then moved by the
    status it has after the confirm; a cold migration away from the host that waits for its confirm (an interrupted
    earlier drain) is confirmed. Every other server (C(SUSPENDED), C(ERROR), C(RESCUE), C(SHELVED), other statuses,
    and any server with a task in flight) is decided by O(state_policy): skip it (left on the host and reported) or
    fail before anything moves."
  - "A server counts as moved only when BOTH its migration record is final-good (live C(completed), cold
    C(confirmed)) AND it is on another host, with no task pending and the status and power state it had before.
    Anything else is a failure, reported with Nova's own reason (the server's fault, or the error of the instance
    action's failed event). A migration record can say C(completed) while the server is still on the source: that is
    a failure here."
  - Refuses before anything moves, naming the value and the fix, when the host is not exactly a nova-compute
    service host (no substring or pattern matching; the known names are listed), when no enabled, up destination is
    left (in O(target_host) or O(target_aggregate) when given), when a server's state policy is C(fail), and when
    the host is still enabled (disable it first, with M(rolling.openstack.compute_service), so that nothing new lands
    on it while it drains).
  - Never sends C(force) (refused by Nova from API 2.68) and never pattern-matches host names; the servers are
    listed with the exact C(host) filter and checked again here.
  - Does not fail for servers that could not move; they are in RV(servers) with their error and in RV(left), so
    that the caller can write its report first; M(rolling.openstack.compute_host_drain) leaves the host disabled.
  - A re-run resumes. Servers already moved are no longer on the host; a migration still in flight for a server on
    the host is followed rather than issued again; rows of an earlier run given in O(previous) for servers no longer
    on the host are kept in RV(servers).
options:
  host:
    description:
      - The compute host to drain, exactly as Nova names its nova-compute service host.
    type: str
    required: true
  live_concurrency:
    description:
      - Live migrations in flight at once from the host. Set it to the source compute's
        C([DEFAULT] max_concurrent_live_migrations) (Nova's default is 1); more would only queue inside nova-compute.
    type: int
    default: 1
  on_timeout:
    description:
      - What to do with a live migration that is still running at its timeout. C(abort) asks Nova to abort it (the
        server stays on the host, running); C(force_complete) asks Nova to complete it (the guest is paused for the
        last copy); C(leave) lets it run. Either way the server is reported as timed out. A cold migration cannot be
        aborted and is left to run.
    type: str
    choices: [abort, force_complete, leave]
    default: abort
  timeout:
    description:
      - Seconds the whole drain may take. Moves not started by then are reported as not started; moves in flight are
        treated as timed out.
    type: int
    default: 3600
extends_documentation_fragment:
  - openstack.cloud.openstack
  - rolling.openstack.compute_host
  - rolling.openstack.attributes
  - rolling.openstack.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Returns the plan (every server with the method it would get, and the blockers) and moves nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A drained host has no server left to move; the re-run changes nothing.
notes:
  - Needs the C(admin) role (listing the servers of every project by host, migrations, instance actions).
  - Uses Compute API microversion 2.84 (live migration with C(block_migration auto) and a host checked by the
    scheduler, cold migration to a host, migration records by server, the failed events' details), so Nova 2023.1 or
    newer.
seealso:
  - module: rolling.openstack.compute_service
    description: Disables the host first, with a reason that marks the disable as ours.
"""

EXAMPLES = r"""
- name: Take cmp1 out of scheduling, marking the disable as ours
  rolling.openstack.compute_service:
    cloud: prod
    host: cmp1
    status: disabled
    disabled_reason: "rolling.openstack drain 2026-12-03T10:00:00Z"

- name: Move every server off cmp1, two at a time
  rolling.openstack.compute_host_drain:
    cloud: prod
    host: cmp1
    concurrency: 2
    state_policy:
      error: fail
  register: drain

- name: Say what is left on cmp1
  ansible.builtin.fail:
    msg: "left on cmp1: {{ drain.left | map(attribute='id') | join(', ') }}"
  when: drain.left | length > 0
"""

RETURN = r"""
servers:
  description:
    - One row per server of the host (and per earlier row kept from O(previous)), in the order they were planned.
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
    from:
      description: The host it was on.
      type: str
    to:
      description: The host it is on now (when it moved).
      type: str
    method:
      description: C(live), C(cold), C(confirm) or C(skip).
      type: str
    migration:
      description: The id of its migration record.
      type: int
    status:
      description: >-
        C(moved), C(failed), C(timeout), C(skipped), C(not started) (the overall timeout), C(planned) (check mode).
      type: str
    seconds:
      description: How long its move took.
      type: float
    error:
      description: Why it did not move (Nova's reason where Nova gives one).
      type: str
    why:
      description: Why it got its method.
      type: str
    before:
      description: Its status and power state before.
      type: dict
  sample:
    - {id: 9f0c1e6a-0d55-4f52-9d1c-2f6c3c9f7e11, name: web-1, from: cmp1, to: cmp2, method: live, migration: 14,
       status: moved, seconds: 6.2, error: null}
left:
  description: The servers still on the host at the end (id, name, status, error).
  returned: always
  type: list
  elements: dict
blockers:
  description: Why the drain refused before anything moved (empty when it did not).
  returned: always
  type: list
  elements: str
destinations:
  description: The hosts the servers could go to.
  returned: always
  type: list
  elements: str
summary:
  description: Counts of RV(servers) by status, and the seconds the drain took.
  returned: always
  type: dict
  sample: {moved: 7, failed: 1, skipped: 0, seconds: 41.3}
"""

import time

from ansible_collections.rolling.openstack.plugins.module_utils import _host_maintenance as hm
from ansible_collections.rolling.openstack.plugins.module_utils import _compute_host as ch


class ComputeHostDrainModule(ch.MigrationMoves):
    argument_spec = dict(
        host=dict(required=True),
        **ch.MOVE_ARGUMENT_SPEC,
        live_concurrency=dict(type='int', default=1),
        on_timeout=dict(choices=['abort', 'force_complete', 'leave'], default='abort'),
    )
    module_kwargs = dict(
        supports_check_mode=True,
        mutually_exclusive=[('target_host', 'target_aggregate')],
    )

    def _unconfirmed_from(self, host):
        """Cold migrations away from host that wait for their confirm (status finished)."""
        return self._migrations_from(host, 'migration', 'finished')

    # ------------------------------------------------------------------------------------------ checks

    def _check_params(self):
        problems = ch.check_common(self.params, keys_ge1=('concurrency', 'live_concurrency'))
        if problems:
            self.fail_json(msg='Bad input, nothing was changed: ' + ' '.join(problems), blockers=problems)

    # ------------------------------------------------------------------------------------------ run

    def run(self):
        p = self.params
        self._check_params()
        self._check_api(what='the drain')
        started = time.monotonic()
        services = self._services()
        service, problem = hm.resolve_host(p['host'], services)
        if problem:
            self.fail_json(msg='host=%s: %s Nothing was changed.' % (p['host'], problem), blockers=[problem])
        source = service['host']
        if p['target_host']:
            target, problem = hm.resolve_host(p['target_host'], services)
            if problem:
                self.fail_json(msg='target_host=%s: %s Nothing was changed.' % (p['target_host'], problem),
                               blockers=[problem])
        aggregate_hosts = self._aggregate_hosts(p['target_aggregate']) if p['target_aggregate'] else None
        dests = hm.destinations(services, source, p['target_host'], aggregate_hosts)

        rows, blockers = self._stock(source)
        moving = [r for r in rows if r['method'] != 'skip']
        refusal = hm.no_destination(services, source, p['target_host'], p['target_aggregate'], aggregate_hosts) \
            if moving else None
        if refusal:
            blockers.insert(0, refusal)
        if not self.ansible.check_mode and service['status'] == 'enabled' and moving:
            blockers.insert(0, 'the nova-compute of %s is enabled, so new servers could land on it while it drains: '
                               'disable it first (rolling.openstack.compute_service status=disabled, with a '
                               'disabled_reason starting with "%s").' % (source, hm.MARKER))
        kept = self._earlier(rows)
        if blockers or self.ansible.check_mode:
            result = dict(changed=bool(moving) and not blockers, servers=kept + rows, left=self._left(rows),
                          blockers=blockers, destinations=dests, summary=self._summary(kept + rows, started))
            if blockers:
                self.fail_json(msg='The drain of %s refused before anything moved: %s' % (source, ' '.join(blockers)),
                               **result)
            self.exit_json(**result)
        self._moves(source, rows, dests, aggregate_hosts is not None, started, 'drain')
        left = self._remaining(source, rows)
        self.exit_json(changed=any(r['status'] in ('moved', 'failed', 'timeout') or r.get('migration') for r in rows),
                       servers=kept + rows, left=left, blockers=[], destinations=dests,
                       summary=self._summary(kept + rows, started))

    def _stock(self, source):
        """Every server of the host with its plan, the cold migrations away from it that wait for a confirm, and
        the blockers (servers whose state policy is fail)."""
        rows, blockers = [], []
        for server in sorted(self._servers_on(source), key=lambda s: (s['name'] or '', s['id'])):
            plan = hm.plan_server(server, self.params['state_policy'])
            row = ch.row(server, source, plan)
            if plan['method'] == 'skip':
                adopted = self._adoptable(server['id'], source) if server.get('task_state') in hm.MOVE_TASKS else None
                if adopted and hm.status_before_move(server['power_state']):
                    row['before']['status'] = hm.status_before_move(server['power_state'])
                    row.update(method=adopted[0], migration=adopted[1], status='planned', adopted=True,
                               why='a %s migration of an earlier run is in flight: followed, not issued again'
                                   % adopted[0])
                elif plan['blocker']:
                    blockers.append('server %s (%s): %s' % (server['id'], server['name'], plan['why']))
                else:
                    row['error'] = plan['why']
            rows.append(row)
        for mig in self._unconfirmed_from(source):
            sid = mig.get('instance_uuid')
            if any(r['id'] == sid for r in rows):
                continue
            server = self._server(sid)
            if server is None:
                continue
            why = 'a cold migration to %s waits for its confirm (an interrupted earlier drain?): confirm it' % (
                mig.get('dest_compute'))
            row = ch.row(server, source, dict(method='confirm', why=why))
            row.update(migration=mig.get('id'), before=dict(
                status=hm.status_before_move(server['power_state']) or server['status'],
                power_state=server['power_state']))
            rows.append(row)
        return rows, blockers

    def _adoptable(self, sid, source):
        for mig in sorted(self._migrations(sid), key=lambda m: m.get('created_at') or '', reverse=True):
            if mig.get('source_compute') == source and mig.get('status') not in hm.FINAL_BAD + ('completed', 'confirmed'):
                kind = 'live' if mig.get('migration_type') == 'live-migration' else 'cold'
                return kind, mig.get('id')
        return None

    # ------------------------------------------------------------------------------------------ the moves


def main():
    module = ComputeHostDrainModule()
    module()


if __name__ == '__main__':
    main()

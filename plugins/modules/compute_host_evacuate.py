#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compute_host_evacuate
short_description: Evacuate every server of a failed, fenced compute host, wait for each rebuild, report per server
version_added: 0.2.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Rebuilds every server of one failed compute host on other hosts (Nova's evacuate), with bounded concurrency,
    and waits for each rebuild to end.
  - "Refuses before anything is evacuated, naming the value and the fix: a host that is not exactly a nova-compute
    service host; a host that is not fenced (O(fenced)); a host whose nova-compute Nova reports up (a live host is
    drained, not evacuated); outside check mode, a host not yet forced down and disabled (in that order: Nova's
    rule); more than O(max_down_share) of the computes down or forced down (a partition, not a failed host); no
    enabled, up destination, or destinations without room for the servers (placement's inventories and usages);
    O(end_state=stopped) on an API older than 2.95; a server whose state policy is C(fail)."
  - "Plans: C(ACTIVE) and C(SHUTOFF) servers are evacuated. Every other server (C(ERROR), C(PAUSED),
    C(SUSPENDED), C(RESCUE), C(SHELVED), other statuses, and any server with a task in flight) is decided by
    O(state_policy): skip it (left on the host and reported) or fail before anything is evacuated."
  - "A server counts as evacuated only when BOTH its evacuation migration record is C(done) (or C(completed), once
    the source's nova-compute has cleaned up) AND it is on another host, with no task pending and the status and
    power state O(end_state) says. Anything else is a failure with Nova's own reason."
  - Never sends C(force) (refused from API 2.68) and never pattern-matches host names.
  - Does not fail for servers that could not be evacuated; they are in RV(servers) with their error and in RV(left),
    so that the caller can write its report first.
  - A re-run resumes. Evacuated servers are no longer on the host; an evacuation still in flight for a server on the
    host is followed rather than issued again; rows of an earlier run given in O(previous) are kept.
options:
  host:
    description:
      - The failed compute host, exactly as Nova names its nova-compute service host.
    type: str
    required: true
  fenced:
    description:
      - The caller's statement that the host is fenced (powered off or cut off, so that its guests cannot run twice),
        from a fencing step that reported the host off, or an operator's acknowledgement. Without it the module
        refuses.
    type: bool
    default: false
  end_state:
    description:
      - "How the servers end. C(preserve): as they were (an C(ACTIVE) server runs again, a C(SHUTOFF) one stays
        stopped), with the evacuate call at microversion 2.94 or lower. C(stopped): every server ends stopped, with
        microversion 2.95 (Nova needs every nova-compute at service version 62 or newer and refuses otherwise; the
        error says so)."
    type: str
    choices: [preserve, stopped]
    default: preserve
  max_down_share:
    description:
      - Refuse when more than this share (0 to 1) of the nova-compute hosts (of O(guard_aggregate) when given) are
        down or forced down, the host itself counted. C(1) turns the guard off.
    type: float
    default: 0.5
  guard_aggregate:
    description:
      - Count the share of O(max_down_share) among the hosts of this aggregate (name or id) only.
    type: str
  heartbeat_wait:
    description:
      - Nova calls a forced-down host down whatever its heartbeat. When the host is forced down already (in check
        mode, the plan; outside it, when its C(disabled_reason) is not ours), watch its service record this many
        seconds (longer than nova-compute's C(report_interval), 10 s by default) and refuse when it still reports.
        C(0) does not watch.
    type: int
    default: 15
  check_room:
    description:
      - Refuse when the destinations' free placement resources (VCPU, MEMORY_MB, DISK_GB, allocation ratios and
        reservations applied) cannot take the servers, or the largest server fits on none of them.
    type: bool
    default: true
  timeout:
    description:
      - Seconds the whole evacuation may take. Moves not started by then are reported as not started; moves in flight are
        treated as timed out (an evacuation cannot be aborted; it goes on in Nova).
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
      - Returns the plan (every server with the method it would get, and the blockers) and evacuates nothing. The
        host need not be forced down and disabled yet.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - An evacuated host has no server left to evacuate; the re-run changes nothing.
notes:
  - Needs the C(admin) role (servers of every project by host, migrations, services, placement).
  - Reads at Compute API microversion 2.84 (Nova 2023.1 or newer); evacuates at 2.94 (O(end_state=preserve)) or 2.95.
  - The room check reads placement (resource providers of the destinations' compute nodes).
seealso:
  - module: rolling.openstack.compute_service
    description: Forces the host down, then disables it, before the evacuation.
  - module: rolling.openstack.compute_host_restore
    description: Returns the host to service once it is repaired and its nova-compute has cleaned up.
"""

EXAMPLES = r"""
- name: Force cmp2 down, then disable it, marking the disable as ours
  rolling.openstack.compute_service:
    cloud: prod
    host: cmp2
    forced_down: true
    status: disabled
    disabled_reason: "rolling.openstack evacuate 2026-12-07T10:00:00Z"

- name: Evacuate every server of the fenced host cmp2
  rolling.openstack.compute_host_evacuate:
    cloud: prod
    host: cmp2
    fenced: true
    end_state: preserve
  register: evacuation

- name: Say what is left on cmp2
  ansible.builtin.fail:
    msg: "left on cmp2: {{ evacuation.left | map(attribute='id') | join(', ') }}"
  when: evacuation.left | length > 0
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
      description: The failed host.
      type: str
    to:
      description: The host it was rebuilt on.
      type: str
    method:
      description: C(evacuate) or C(skip).
      type: str
    migration:
      description: The id of its evacuation migration record.
      type: int
    status:
      description: >-
        C(moved), C(failed), C(timeout), C(skipped), C(not started) (the overall timeout), C(planned) (check mode).
      type: str
    seconds:
      description: How long its evacuation took.
      type: float
    error:
      description: Why it was not evacuated (Nova's reason where Nova gives one).
      type: str
    why:
      description: Why it got its method.
      type: str
    before:
      description: Its status and power state before.
      type: dict
    expect:
      description: The status and power state it must end with (O(end_state)).
      type: dict
  sample:
    - {id: 9f0c1e6a-0d55-4f52-9d1c-2f6c3c9f7e11, name: web-1, from: cmp2, to: cmp3, method: evacuate, migration: 21,
       status: moved, seconds: 8.4, error: null}
left:
  description: The servers still on the host at the end (id, name, status, error).
  returned: always
  type: list
  elements: dict
blockers:
  description: Why the evacuation refused before anything was evacuated (empty when it did not).
  returned: always
  type: list
  elements: str
destinations:
  description: The hosts the servers could go to.
  returned: always
  type: list
  elements: str
service:
  description: The host's nova-compute service as read at the start (state, status, forced_down, disabled_reason).
  returned: always
  type: dict
microversion:
  description: The microversion of the evacuate calls (from O(end_state) and the API).
  returned: always
  type: str
summary:
  description: Counts of RV(servers) by status, and the seconds the evacuation took.
  returned: always
  type: dict
  sample: {moved: 4, failed: 0, skipped: 1, seconds: 22.5}
"""

import time

from ansible_collections.rolling.openstack.plugins.module_utils import _host_maintenance as hm
from ansible_collections.rolling.openstack.plugins.module_utils import _compute_host as ch
from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import scrub

PLACEMENT_MV = '1.6'


class ComputeHostEvacuateModule(ch.ComputeHostModule):
    argument_spec = dict(
        host=dict(required=True),
        **ch.MOVE_ARGUMENT_SPEC,
        fenced=dict(type='bool', default=False),
        end_state=dict(choices=list(hm.END_STATES), default='preserve'),
        max_down_share=dict(type='float', default=0.5),
        heartbeat_wait=dict(type='int', default=15),
        guard_aggregate=dict(),
        check_room=dict(type='bool', default=True),
    )
    module_kwargs = dict(
        supports_check_mode=True,
        mutually_exclusive=[('target_host', 'target_aggregate')],
    )
    _mv = None  # the microversion of the evacuate calls, decided in run()

    # ------------------------------------------------------------------------------------------ checks

    def _check_params(self):
        p = self.params
        problems = ch.check_common(p)
        if p['heartbeat_wait'] < 0:
            problems.append('heartbeat_wait=%d: use 0 (do not watch) or more seconds.' % p['heartbeat_wait'])
        if not 0 < p['max_down_share'] <= 1:
            problems.append('max_down_share=%s: use a share above 0 and at most 1 (1 turns the guard off).'
                            % p['max_down_share'])
        if problems:
            self.fail_json(msg='Bad input, nothing was changed: ' + ' '.join(problems), blockers=problems)

    def _room(self, dests, rows):
        """The room problem of the destinations for the servers to evacuate (None when they have room)."""
        needs = [hm.flavor_need(r['flavor']) for r in rows if r['method'] == 'evacuate' and r['status'] == 'planned'
                 and not r.get('adopted')]
        if not needs or not dests:
            return None
        doc = self._get('/os-hypervisors/detail')
        room = {}
        for hyp in doc.get('hypervisors') or []:
            host = (hyp.get('service') or {}).get('host')
            if host not in dests:
                continue
            inv, err = self._placement('/resource_providers/%s/inventories' % hyp.get('id'))
            use, err2 = self._placement('/resource_providers/%s/usages' % hyp.get('id'))
            if err or err2:
                return ('the room on %s could not be read from placement (%s): nothing was evacuated. Fix placement, '
                        'or set check_room=false.' % (host, err or err2))
            free = hm.free_room(inv.get('inventories') or {}, use.get('usages') or {})
            if host in room:  # several nodes of one host: add them up
                free = dict((rc, dict(free=room[host][rc]['free'] + free[rc]['free'],
                                      max_unit=max(room[host][rc]['max_unit'], free[rc]['max_unit'])))
                            for rc in hm.RESOURCES)
            room[host] = free
        return hm.room_problem(self.params['host'], needs, room)

    def _placement(self, url):
        resp = self.conn.placement.get(url, microversion=PLACEMENT_MV, raise_exc=False)
        if resp.status_code != 200:
            return None, ch.error_text(resp)
        return resp.json(), None

    # ------------------------------------------------------------------------------------------ run

    def run(self):
        p = self.params
        check = self.ansible.check_mode
        self._check_params()
        api_max = self._check_api(what='the evacuation')
        mv = hm.evacuate_microversion(p['end_state'], api_max)
        if mv is None:
            self.fail_json(msg='end_state=%s needs Compute API microversion %s; this cloud answers %s at most. Use '
                               'end_state=preserve. Nothing was changed.'
                               % (p['end_state'], '2.95' if p['end_state'] == 'stopped' else '2.68',
                                  '.'.join(str(x) for x in api_max)))
        started = time.monotonic()
        services = self._services()
        service, problem = hm.resolve_host(p['host'], services)
        if problem:
            self.fail_json(msg='host=%s: %s Nothing was changed.' % (p['host'], problem), blockers=[problem])
        source = service['host']
        if p['target_host']:
            _target, problem = hm.resolve_host(p['target_host'], services)
            if problem:
                self.fail_json(msg='target_host=%s: %s Nothing was changed.' % (p['target_host'], problem),
                               blockers=[problem])
        aggregate_hosts = self._aggregate_hosts(p['target_aggregate']) if p['target_aggregate'] else None
        guard_hosts = self._aggregate_hosts(p['guard_aggregate'], 'guard_aggregate') if p['guard_aggregate'] else None
        dests = hm.destinations(services, source, p['target_host'], aggregate_hosts)

        blockers = hm.host_problems(service, p['fenced'], check)
        # Nova calls a forced-down host down whatever its heartbeat: watch it in the plan (the role forces it down
        # only after the plan), and in a run on a host forced down by someone else
        if not blockers and service['forced_down'] and p['heartbeat_wait'] > 0 \
                and (check or not hm.is_ours(service.get('disabled_reason'))):
            blockers.extend(self._heartbeat(service))
        share = hm.down_share_problem(services, source, p['max_down_share'], p['guard_aggregate'], guard_hosts)
        if share:
            blockers.append(share)
        rows, server_blockers = self._stock(source)
        blockers.extend(server_blockers)
        moving = [r for r in rows if r['method'] != 'skip']
        if moving:
            refusal = hm.no_destination(services, source, p['target_host'], p['target_aggregate'], aggregate_hosts)
            if refusal is None and p['check_room']:
                refusal = self._room(dests, rows)
            if refusal:
                blockers.append(refusal)
        kept = self._episode(source, rows)
        common = dict(destinations=dests, microversion=mv, service=service)
        if blockers or check:
            blockers = [scrub(b) for b in blockers]
            result = dict(changed=bool(moving) and not blockers, servers=kept + rows, left=self._left(rows),
                          blockers=blockers, summary=self._summary(kept + rows, started), **common)
            if blockers:
                self.fail_json(msg='The evacuation of %s refused before anything was evacuated: %s'
                                   % (source, ' '.join(blockers)), **result)
            self.exit_json(**result)
        self._mv = mv
        self._moves(source, rows, dests, aggregate_hosts is not None, started, 'evacuation')
        self.exit_json(changed=any(r['status'] in ('moved', 'failed', 'timeout') or r.get('migration') for r in rows),
                       servers=kept + rows, left=self._remaining(source, rows), blockers=[],
                       summary=self._summary(kept + rows, started), **common)

    def _heartbeat(self, service):
        """A host forced down by someone else may still run: Nova calls it down whatever its heartbeat. Watch its
        service record for heartbeat_wait seconds; a heartbeat (updated_at moves) refuses the evacuation."""
        first = service.get('updated_at')
        deadline = time.monotonic() + self.params['heartbeat_wait']
        for _look in range(int(self.params['heartbeat_wait'] / 2.0) + 2):
            if time.monotonic() >= deadline:
                return []
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
            now, _problem = hm.resolve_host(service['host'], self._services())
            if now and now.get('updated_at') != first:
                return ['%s is forced down (disabled_reason %r), but its nova-compute still reports (its record '
                        'moved from %s to %s): it is alive, whatever a fence said. Fence it for real, or drain it if '
                        'it is healthy.' % (service['host'], service.get('disabled_reason'), first,
                                            now.get('updated_at'))]
        return []

    def _stock(self, source):
        """Every server of the host with its plan, and the blockers (servers whose state policy is fail)."""
        rows, blockers = [], []
        end_state = self.params['end_state']
        for server in sorted(self._servers_on(source), key=lambda s: (s['name'] or '', s['id'])):
            plan = hm.plan_evacuation(server, self.params['state_policy'])
            row = ch.row(server, source, plan)
            in_flight = server.get('task_state') in hm.EVACUATE_TASKS and hm.evacuation_before(server)
            adopted = self._adoptable(server['id'], source) if plan['method'] == 'skip' and in_flight else None
            if plan['method'] == 'evacuate':
                row['before'] = hm.evacuation_before(server)
            elif adopted:
                row.update(method='evacuate', migration=adopted, status='planned', adopted=True,
                           before=hm.evacuation_before(server),
                           why='an evacuation of an earlier run is in flight: followed, not issued again')
            elif plan['blocker']:
                blockers.append('server %s (%s): %s' % (server['id'], server['name'], plan['why']))
            else:
                row['error'] = plan['why']
            if row['method'] == 'evacuate':
                row['expect'] = hm.evacuated_state(row['before'], end_state)
            rows.append(row)
        return rows, blockers

    def _adoptable(self, sid, source):
        """The id of the evacuation record of an earlier run still to follow for this server (not cleaned up, not
        failed), else None."""
        for mig in sorted(self._migrations(sid), key=lambda m: m.get('created_at') or '', reverse=True):
            if mig.get('source_compute') == source and mig.get('migration_type') == 'evacuation' \
                    and mig.get('status') in hm.EVACUATION_UNCLEANED:
                return mig.get('id')
        return None

    def _episode(self, source, rows):
        """The servers of this failure of the host that are no longer on it: its evacuation records not cleaned up
        (the host has not started since). Those in flight are followed (added to rows, adopted); those done are kept
        as moved (marked earlier), with the row of O(previous) when it has one. An older incident's records are
        completed, and its rows are not kept."""
        here = set(r['id'] for r in rows)
        previous = dict((r.get('id'), r) for r in (self.params['previous'] or [])[:10000] if isinstance(r, dict))
        kept = []
        for mig in self._migrations_from(source, 'evacuation'):
            sid = mig.get('instance_uuid')
            if sid in here or mig.get('status') not in hm.EVACUATION_UNCLEANED:
                continue
            server = self._server(sid)
            if server is None or server['host'] == source:
                continue
            here.add(sid)
            if mig.get('status') == 'done':
                # judged again now: the end state it must have, from its row of O(previous), else from its vm_state
                before = (previous.get(sid) or {}).get('before') or hm.evacuation_before(server) or {}
                expect = hm.evacuated_state(before, self.params['end_state'])
                good, why = hm.judge('evacuate', expect, server, mig, source)
                row = dict(ch.row(server, source, dict(method='evacuate', why='evacuated by an earlier run')),
                           **(previous.get(sid) or {}))
                row.update(status='moved' if good else 'failed', error=None if good else scrub(why),
                           migration=mig.get('id'), to=server['host'], expect=expect, earlier=True)
                kept.append(row)
            else:  # in flight, already on its new host: follow it
                before = (previous.get(sid) or {}).get('before') or hm.evacuation_before(server)
                if not before:
                    continue
                row = ch.row(server, source, dict(method='evacuate', why='an evacuation of an earlier run is in '
                                                  'flight: followed, not issued again'))
                row.update(before=before, expect=hm.evacuated_state(before, self.params['end_state']),
                           migration=mig.get('id'), adopted=True)
                rows.append(row)
        return kept

    # ------------------------------------------------------------------------------------------ the evacuations

    def _start(self, row, dest):
        """Issue the evacuation of one row (or adopt the one in flight). True when it is in flight; on Nova's
        refusal the row is closed as failed (a refusal of 2.95 for old computes stops issuing the others)."""
        row['t0'] = time.monotonic()
        row['deadline'] = row['t0'] + hm.server_timeout(row['flavor'], self.params['server_timeout'],
                                                        self.params['server_timeout_per_gib'])
        if row.pop('adopted', False):
            return True  # an earlier run's evacuation in flight: followed, not issued again
        row['known'] = [m.get('id') for m in self._migrations(row['id'])]
        body = {'evacuate': {'host': dest} if dest else {}}
        _doc, err = self._api('post', '/servers/%s/action' % row['id'], body, microversion=self._mv)
        if err:
            text = 'Nova refused the evacuation: %s' % err
            if hm.refused_stopped(self._mv, err):
                text += ' (end_state=stopped needs every nova-compute at service version 62 or newer: finish their ' \
                        'upgrade, or use end_state=preserve)'
                self._stop_issuing = scrub('Nova refused end_state=stopped for an earlier server (%s)' % err)
            row.update(status='failed', error=scrub(text), seconds=0.0)
            for key in ('t0', 'deadline', 'known'):
                row.pop(key, None)
            return False
        return True

    def _poll(self, row, source, deadline):
        """Look at one evacuation in flight: None while it goes on, False when it ended (the row is closed). A look
        the API does not answer (a passing error) is a look again, until the row's deadline."""
        migs = self._migrations_or_none(row['id']) or []
        if row.get('migration'):
            mig = next((m for m in migs if m.get('id') == row['migration']), None)
        else:
            new = sorted((m for m in migs if m.get('id') not in (row.get('known') or [])
                          and m.get('migration_type') == 'evacuation'), key=lambda m: m.get('created_at') or '')
            mig = new[-1] if new else None
            if mig:
                row['migration'] = mig.get('id')
        if mig and hm.migration_over('evacuate', mig) and self._server(row['id']) is None \
                and time.monotonic() < row['deadline']:
            return None  # the server could not be read: look again
        if mig and hm.migration_over('evacuate', mig):
            server = self._server(row['id']) or {}
            good, why = hm.judge('evacuate', row['expect'], server, mig, source)
            if not good and server.get('task_state') and mig.get('status') in hm.FINAL_GOOD['evacuate'] \
                    and time.monotonic() < row['deadline']:
                return None  # the record is final, the server's task not yet: look again
            if not good:
                reason = self._nova_reason(row['id'], server.get('fault'))
                why = '%s%s' % (why, ('. Nova: %s' % reason) if reason else '')
            return self._end(row, good, why, server)
        if time.monotonic() >= min(row['deadline'], deadline):
            return self._timeout(row, mig)
        return None

    def _timeout(self, row, mig):
        self._end(row, False, 'timed out after %d s with its evacuation record %s; an evacuation cannot be aborted: '
                  'it goes on in Nova (openstack server migration list --server %s)'
                  % (round(time.monotonic() - row['t0']), (mig or {}).get('status') or 'not yet created', row['id']))
        row['status'] = 'timeout'
        return False


def main():
    module = ComputeHostEvacuateModule()
    module()


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compute_host_move_back
short_description: Move servers back onto a compute host that is in service again (the drain in reverse)
version_added: 0.2.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Moves the given servers from wherever they are now back onto one compute host, with bounded concurrency, and
    waits for each move. C(ACTIVE) and C(PAUSED) servers are live-migrated (C(block_migration auto)), C(SHUTOFF)
    servers are cold-migrated and the resize confirmed. The host is given to Nova as the target, so the scheduler
    still checks it; C(force) is never sent.
  - A server already on the host is left as it is; a deleted one is skipped; one in another status or with a task in
    flight is skipped and reported. A server on the host in C(VERIFY_RESIZE), a cold migration back that waits for
    its confirm (an interrupted earlier run), is confirmed.
  - "A server counts as moved back only when BOTH its migration record is final-good AND it is on the host, with no
    task pending and the status and power state it had. Anything else is a failure with Nova's reason."
  - Refuses before anything moves when the host is not exactly a nova-compute host, or is not in service (disabled,
    down or forced down); return it to service first with M(rolling.openstack.compute_host_restore).
options:
  host:
    description:
      - The compute host to move the servers back onto, exactly as Nova names its nova-compute service host.
    type: str
    required: true
  servers:
    description:
      - The ids of the servers to move back (for example those the drain or the evacuation of the host moved away).
    type: list
    elements: str
    required: true
  concurrency:
    description:
      - Moves in flight at once, overall.
    type: int
    default: 2
  live_concurrency:
    description:
      - Live migrations in flight at once.
    type: int
    default: 1
  server_timeout:
    description:
      - Seconds one server's move may take, plus O(server_timeout_per_gib) per GiB of its flavor's RAM and disk.
    type: int
    default: 300
  server_timeout_per_gib:
    description:
      - Seconds added to O(server_timeout) per GiB of the flavor's RAM, root and ephemeral disk.
    type: int
    default: 10
  timeout:
    description:
      - Seconds the whole run may take.
    type: int
    default: 3600
  on_timeout:
    description:
      - What to do with a live migration still running at its timeout (C(abort), C(force_complete), C(leave)).
    type: str
    choices: [abort, force_complete, leave]
    default: abort
  poll_interval:
    description:
      - Seconds between two looks at the moves in flight.
    type: float
    default: 2.0
extends_documentation_fragment:
  - openstack.cloud.openstack
  - rolling.openstack.attributes
  - rolling.openstack.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Returns the plan (every server with the method it would get) and moves nothing. A host not in service yet is
        a warning there (the plan may come before the return to service), not a refusal.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Servers already on the host are left as they are; the re-run changes nothing.
notes:
  - Needs the C(admin) role. Uses Compute API microversion 2.84.
seealso:
  - module: rolling.openstack.compute_host_restore
    description: Returns the host to service first.
"""

EXAMPLES = r"""
- name: Move the servers the drain of cmp1 moved away back onto cmp1
  rolling.openstack.compute_host_move_back:
    cloud: prod
    host: cmp1
    servers: "{{ drain.servers | selectattr('status', 'equalto', 'moved') | map(attribute='id') | list }}"
"""

RETURN = r"""
servers:
  description:
    - One row per server given, with the columns of M(rolling.openstack.compute_host_drain) (id, name, from, to, method,
      migration, status, seconds, error, why, before). C(from) is where the server was; C(status) C(skipped) with
      C(why) C(already on <host>) for a server already there.
  returned: always
  type: list
  elements: dict
left:
  description: The servers that are not on the host at the end and should have been (id, name, status, error).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts of RV(servers) by status, and the seconds the run took.
  returned: always
  type: dict
"""

import time

from ansible_collections.rolling.openstack.plugins.module_utils import _host_maintenance as hm
from ansible_collections.rolling.openstack.plugins.module_utils import _compute_host as ch


class ComputeHostMoveBackModule(ch.MigrationMoves):
    argument_spec = dict(
        host=dict(required=True),
        servers=dict(type='list', elements='str', required=True),
        concurrency=dict(type='int', default=2),
        live_concurrency=dict(type='int', default=1),
        server_timeout=dict(type='int', default=300),
        server_timeout_per_gib=dict(type='int', default=10),
        timeout=dict(type='int', default=3600),
        on_timeout=dict(choices=['abort', 'force_complete', 'leave'], default='abort'),
        poll_interval=dict(type='float', default=2.0),
    )
    module_kwargs = dict(
        supports_check_mode=True,
    )

    def run(self):
        p = self.params
        problems = ch.check_common(p, keys_ge1=('concurrency', 'live_concurrency'))
        if problems:
            self.fail_json(msg='Bad input, nothing was changed: ' + ' '.join(problems))
        self._check_api(what='moving servers back')
        started = time.monotonic()
        service, problem = hm.resolve_host(p['host'], self._services())
        if problem:
            self.fail_json(msg='host=%s: %s Nothing was changed.' % (p['host'], problem))
        host = service['host']
        if service['status'] != 'enabled' or service['state'] != 'up' or service['forced_down']:
            why = ('%s is not in service (its nova-compute is %s, %s%s): return it to service first '
                   '(rolling.openstack.compute_restore)' % (host, service['state'], service['status'],
                                                            ', forced down' if service['forced_down'] else ''))
            if not self.ansible.check_mode:  # a plan may come before the return to service it follows
                self.fail_json(msg=why + '; nothing was moved.')
            self.warn(why + '.')
        rows = []
        for sid in list(dict.fromkeys(p['servers']))[:10000]:
            server = self._server(sid)
            if server is None:
                rows.append(dict(id=sid, name=None, method='skip', why='deleted since', status='skipped',
                                 before={}, flavor={}, error=None, migration=None, to=None, seconds=None,
                                 **{'from': None}))
                continue
            plan = hm.plan_move_back(server, host)
            row = ch.row(server, server['host'], plan)
            if plan['method'] == 'confirm':
                # the cold migration back waits for its confirm: its source is the host it came from
                mig = next((m for m in sorted(self._migrations(sid), key=lambda m: m.get('created_at') or '',
                                              reverse=True)
                            if m.get('dest_compute') == host and m.get('status') == hm.COLD_FINISHED), None)
                if mig is None:
                    plan = dict(method='skip', why='VERIFY_RESIZE on %s with no cold migration to it waiting for '
                                                   'its confirm: confirm or revert it yourself' % host)
                    row = ch.row(server, server['host'], plan)
                else:
                    row.update(migration=mig.get('id'), before=dict(
                        status=hm.status_before_move(server['power_state']) or 'ACTIVE',
                        power_state=server['power_state']), **{'from': mig.get('source_compute')})
            if plan['method'] == 'skip' and not plan.get('here'):
                row['error'] = plan['why']
            rows.append(row)
        moving = [r for r in rows if r['method'] != 'skip']
        if self.ansible.check_mode or not moving:
            self.exit_json(changed=bool(moving), servers=rows, left=self._not_back(rows),
                           summary=self._summary(rows, started))
        self._moves(None, rows, [host], False, started, 'move back', target=host)
        for row in rows:  # the target was given to Nova: a server that moved elsewhere did not come back
            if row['status'] == 'moved' and row.get('to') != host:
                row.update(status='failed', error='it moved to %s, not to %s' % (row.get('to'), host))
        self.exit_json(changed=True, servers=rows, left=self._not_back(rows), summary=self._summary(rows, started))

    @staticmethod
    def _not_back(rows):
        return [dict(id=r['id'], name=r['name'], status=(r.get('before') or {}).get('status'),
                     error=r.get('error') or r['why'])
                for r in rows if r['status'] not in ('moved', 'planned') and r.get('error')]


def main():
    module = ComputeHostMoveBackModule()
    module()


if __name__ == '__main__':
    main()

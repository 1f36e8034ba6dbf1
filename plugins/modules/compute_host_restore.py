#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compute_host_restore
short_description: Return a repaired compute host to service once its nova-compute is back and has cleaned up
version_added: 0.2.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - "Waits (at most O(wait_timeout)) until the host's nova-compute is back: its service record's C(updated_at)
    moves while the module watches (a heartbeat: nova-compute reports every C(report_interval), 10 s by default; a
    change of the record by an API call, such as forcing it down or disabling it, also moves C(updated_at), so only
    a move seen after the first look counts, and Nova's C(up) is not trusted for that either), and it has cleaned up
    the guests evacuated from it: no evacuation migration record from the host is left C(accepted), C(pre-migrating)
    or C(done) (nova-compute deletes those guests when it starts and moves the records to C(completed)). Until then
    it refuses, naming the records and the last report, and changes nothing."
  - Then, in this order, unsets the service's C(forced_down), waits until Nova reports it C(up), and enables it,
    but only when its C(disabled_reason) marks the disable as ours (it starts with C(rolling.openstack)). A host
    disabled by an operator or another tool stays disabled, and RV(kept_disabled) says so.
  - After enabling, waits until placement no longer marks the host's resource providers C(COMPUTE_STATUS_DISABLED)
    (the scheduler's filter for disabled computes), so that the host really takes new servers; fails when it still
    does at O(wait_timeout).
  - A host that is enabled, up and not forced down is left as it is (idempotent).
options:
  host:
    description:
      - The compute host to return to service, exactly as Nova names its nova-compute service host.
    type: str
    required: true
  wait_timeout:
    description:
      - Seconds to wait for the nova-compute to be back and cleaned up, and then for it to be reported up. It must
        be longer than nova-compute's C(report_interval) for a heartbeat to be seen. C(0) looks once and refuses.
    type: int
    default: 300
  enable:
    description:
      - Enable the service when the disable was ours. C(false) only unsets C(forced_down).
    type: bool
    default: true
  poll_interval:
    description:
      - Seconds between two looks.
    type: float
    default: 3.0
extends_documentation_fragment:
  - openstack.cloud.openstack
  - rolling.openstack.attributes
  - rolling.openstack.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Looks once (no wait, so no heartbeat is awaited), returns what it would do in RV(actions) and the blockers
        it sees (evacuation records not cleaned up), and changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A restored host is enabled, up and not forced down; the re-run changes nothing.
notes:
  - Needs the C(admin) role (services, migration records, placement traits). Uses Compute API microversion 2.84.
seealso:
  - module: rolling.openstack.compute_host_evacuate
    description: Evacuates the host while it is down.
"""

EXAMPLES = r"""
- name: Return cmp2 to service once its nova-compute is back and has deleted the evacuated guests
  rolling.openstack.compute_host_restore:
    cloud: prod
    host: cmp2
    wait_timeout: 600
  register: restore
"""

RETURN = r"""
service:
  description: The host's nova-compute service at the end (state, status, forced_down, disabled_reason, updated_at).
  returned: always
  type: dict
previous:
  description: The service as it was at the start.
  returned: always
  type: dict
actions:
  description: What was done (in check mode, what would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["unset forced_down", "wait until up", "enable (the disable was ours)"]
blockers:
  description: Why the host is not returned to service (empty when it is).
  returned: always
  type: list
  elements: str
uncleaned:
  description: The evacuation migration records from the host not yet cleaned up (id, server, status) at the end.
  returned: always
  type: list
  elements: dict
kept_disabled:
  description: The disabled_reason of a disable that is not ours (the host stays disabled), else null.
  returned: always
  type: str
seconds:
  description: How long it took, waits included.
  returned: always
  type: float
"""

import time

from ansible_collections.rolling.openstack.plugins.module_utils import _host_maintenance as hm
from ansible_collections.rolling.openstack.plugins.module_utils import _compute_host as ch
from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import scrub

TRAIT_DISABLED = 'COMPUTE_STATUS_DISABLED'


class ComputeHostRestoreModule(ch.ComputeHostModule):
    argument_spec = dict(
        host=dict(required=True),
        wait_timeout=dict(type='int', default=300),
        enable=dict(type='bool', default=True),
        poll_interval=dict(type='float', default=3.0),
    )
    module_kwargs = dict(
        supports_check_mode=True,
    )

    def _service(self):
        service, problem = hm.resolve_host(self.params['host'], self._services())
        if problem:
            self.fail_json(msg='host=%s: %s Nothing was changed.' % (self.params['host'], problem), blockers=[problem])
        return service

    @staticmethod
    def _blockers(service, first, heartbeat, uncleaned, check_mode, watched):
        problems = []
        host = service['host']
        if not heartbeat and not check_mode:
            problems.append('no heartbeat from the nova-compute of %s in %d s (its record was last updated at %s): it '
                            'is not back. Repair and start the host, check that nova-compute runs there, and give a '
                            'wait_timeout longer than its report_interval.' % (host, watched, first))
        if uncleaned:
            records = ', '.join('%s server %s %s' % (m['id'], m['server'], m['status']) for m in uncleaned[:10])
            problems.append('%d evacuation record(s) from %s are not cleaned up yet (%s): the host\'s nova-compute '
                            'deletes the evacuated guests when it starts, then marks them completed; until then Nova '
                            'refuses to unset forced_down. Start nova-compute on %s and wait.'
                            % (len(uncleaned), host, records, host))
        return problems

    def _unschedulable(self, host, deadline):
        """Why the enabled host still takes no new server (None when it does), after a bounded wait."""
        marked = self._wait_schedulable(host, deadline)
        if not marked:
            return None
        return ('%s is enabled, but placement still marks its resource provider(s) %s COMPUTE_STATUS_DISABLED after '
                '%d s, so the scheduler places nothing there: its nova-compute syncs that trait at start and every '
                'update_available_resource_interval. Look at nova-compute on %s, then run again: it checks again.'
                % (host, ', '.join(marked), self.params['wait_timeout'], host))

    def _wait_schedulable(self, host, deadline):
        """Wait (bounded) until placement no longer marks the host's resource providers COMPUTE_STATUS_DISABLED
        (Nova clears that trait by an RPC to the compute when it is enabled, or at its next resource sync). Returns
        the providers still marked."""
        rps = [h.get('id') for h in self._get('/os-hypervisors/detail').get('hypervisors') or []
               if (h.get('service') or {}).get('host') == host]
        marked = list(rps)
        for _look in range(int(self.params['wait_timeout'] / self.params['poll_interval']) + 2):
            marked = []
            for rp in rps:
                resp = self.conn.placement.get('/resource_providers/%s/traits' % rp, microversion='1.6',
                                               raise_exc=False)
                traits = [TRAIT_DISABLED]  # unreadable: counted as still marked
                if resp.status_code == 200:
                    traits = (resp.json() or {}).get('traits') or []
                if TRAIT_DISABLED in traits:
                    marked.append(rp)
            if not marked or time.monotonic() >= deadline:
                return marked
            time.sleep(self.params['poll_interval'])
        return marked

    def _uncleaned(self, host):
        return [dict(id=m.get('id'), server=m.get('instance_uuid'), status=m.get('status'))
                for m in self._migrations_from(host, 'evacuation') if m.get('status') in hm.EVACUATION_UNCLEANED]

    def run(self):
        p = self.params
        if p['wait_timeout'] < 0:
            self.fail_json(msg='wait_timeout=%d: use 0 or more seconds. Nothing was changed.' % p['wait_timeout'])
        if p['poll_interval'] <= 0:
            self.fail_json(msg='poll_interval=%s: use a number of seconds above 0. Nothing was changed.'
                               % p['poll_interval'])
        self._check_api(what='the return to service')
        started = time.monotonic()
        deadline = started + p['wait_timeout']
        service = self._service()
        previous = dict(service)
        host = service['host']
        ours = hm.is_ours(service.get('disabled_reason'))
        unforce = service['forced_down']
        enable = service['status'] == 'disabled' and ours and p['enable']
        actions = []
        if unforce or enable:
            actions.append('wait for a heartbeat of its nova-compute and for its evacuated guests to be cleaned up')
        if unforce:
            actions += ['unset forced_down', 'wait until up']
        if enable:
            actions.append('enable (the disable was ours)')
        kept = service.get('disabled_reason') if service['status'] == 'disabled' and not ours else None
        result = dict(previous=previous, actions=actions, kept_disabled=kept)

        if not actions:  # not forced down, and enabled or disabled by someone else: nothing of ours to undo
            blockers = []
            if service['state'] != 'up':
                self.warn('the nova-compute of %s is down: nothing of ours to undo, but it is not in service.' % host)
            elif service['status'] == 'enabled' and not self.ansible.check_mode:
                # an earlier run enabled it: the scheduler must be able to use it (read-only, bounded)
                problem = self._unschedulable(host, deadline)
                if problem:
                    blockers.append(problem)
            if blockers:
                self.fail_json(msg=' '.join(blockers), changed=False, service=service, blockers=blockers,
                               uncleaned=[], seconds=round(time.monotonic() - started, 1), **result)
            self.exit_json(changed=False, service=service, blockers=[], uncleaned=self._uncleaned(host),
                           seconds=round(time.monotonic() - started, 1), **result)

        # 1. back (a heartbeat seen while we watch) and cleaned up: bounded wait; check mode looks once
        first, heartbeat = service.get('updated_at'), False
        for _look in range(int(p['wait_timeout'] / p['poll_interval']) + 2):
            uncleaned = self._uncleaned(host)
            blockers = self._blockers(service, first, heartbeat, uncleaned, self.ansible.check_mode,
                                      time.monotonic() - started)
            if not blockers or self.ansible.check_mode or time.monotonic() >= deadline:
                break
            time.sleep(p['poll_interval'])
            service = self._service()
            heartbeat = heartbeat or service.get('updated_at') != first
        result.update(uncleaned=uncleaned, blockers=blockers)
        if blockers:
            self.fail_json(msg=scrub('%s is not returned to service, nothing was changed: %s'
                                     % (host, ' '.join(blockers))), changed=False, service=service,
                           seconds=round(time.monotonic() - started, 1), **result)
        if self.ansible.check_mode:
            self.exit_json(changed=True, service=service, seconds=round(time.monotonic() - started, 1), **result)

        # 2. unset forced_down (Nova checks the evacuation records again)
        if service['forced_down']:
            _doc, err = self._api('put', '/os-services/%s' % service['id'], {'forced_down': False})
            if err:
                self.fail_json(msg=scrub('Nova refused to unset forced_down of %s: %s' % (host, err)), changed=False,
                               service=service, seconds=round(time.monotonic() - started, 1), **result)
        # 3. wait until up
        for _look in range(int(p['wait_timeout'] / p['poll_interval']) + 2):
            service = self._service()
            if service['state'] == 'up' or time.monotonic() >= deadline:
                break
            time.sleep(p['poll_interval'])
        if service['state'] != 'up':
            self.fail_json(msg='forced_down of %s is unset, but Nova does not report its nova-compute up after %d s '
                               '(wait_timeout): it stays disabled. Look at nova-compute on %s, then run again.'
                               % (host, p['wait_timeout'], host), changed=True, service=service,
                           seconds=round(time.monotonic() - started, 1), **result)
        # 4. enable, only when the disable was ours; then the scheduler must be able to place servers on it again
        if service['status'] == 'disabled' and ours and p['enable']:
            _doc, err = self._api('put', '/os-services/%s' % service['id'], {'status': 'enabled'})
            if err:
                self.fail_json(msg=scrub('Nova refused to enable %s: %s' % (host, err)), changed=True,
                               service=service, seconds=round(time.monotonic() - started, 1), **result)
            service = self._service()
            problem = self._unschedulable(host, deadline)
            if problem:
                self.fail_json(msg=problem, changed=True, service=service,
                               seconds=round(time.monotonic() - started, 1), **result)
        self.exit_json(changed=True, service=service, seconds=round(time.monotonic() - started, 1), **result)


def main():
    module = ComputeHostRestoreModule()
    module()


if __name__ == '__main__':
    main()

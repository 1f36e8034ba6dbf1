#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compute_service
short_description: Enable or disable a Nova service, force it down or up, and wait for the builds on its host
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Sets the administrative status of one Nova service (by default the C(nova-compute) of one host) through the
    Compute (Nova) C(os-services) API, the way C(openstack compute service set --disable) does.
  - The scheduler does not place new servers on a host whose C(nova-compute) is disabled; servers already on the
    host keep running, and moves and deletes still work. Upgrade and drain procedures disable a compute before its
    C(nova-compute) restarts, because Nova puts a server whose build a restart interrupts into C(ERROR).
  - With O(builds_timeout), after disabling, waits until no server on the host is still building (status
    C(BUILD)), so that a build the scheduler sent to the host just before it was disabled finishes before the
    restart. Builds still running at the timeout are returned in RV(builds) with a warning; the module does not
    fail for them.
  - With O(forced_down), sets or unsets the service's C(forced_down) flag, the way C(openstack compute service set
    --down) does. Forcing down a fenced host's nova-compute lets Nova evacuate it without waiting for its heartbeat to
    age out. When both are given, the order is Nova's rule (forcing down comes before disabling, and unsetting
    C(forced_down) comes before enabling). Nova refuses to unset it while evacuation records from the host are
    C(done) (the restarted nova-compute has not cleaned up yet); the error says so.
  - Host and binary names are matched exactly. Fails, naming the host and binary, when no such service exists.
options:
  host:
    description:
      - The host of the service, as Nova names it (the service host, for example C(cmp1)).
    type: str
    required: true
  binary:
    description:
      - The binary name of the service.
    type: str
    default: nova-compute
  status:
    description:
      - C(disabled) takes the service out of scheduling; C(enabled) puts it back.
      - One of O(status) and O(forced_down) is required.
    type: str
    choices: [enabled, disabled]
  forced_down:
    description:
      - C(true) marks the service down whatever its heartbeat says (only for a host that is fenced, or whose
        nova-compute is stopped); C(false) unsets it. Not given, the flag is left as it is.
    type: bool
  disabled_reason:
    description:
      - Why the service is disabled, shown by C(openstack compute service list --long). Only used with
        O(status=disabled). A disabled service whose reason differs is updated to this reason.
      - When not given, a disabled service keeps whatever reason it has.
    type: str
  builds_timeout:
    description:
      - With O(status=disabled), seconds to wait until no server on O(host) has the status C(BUILD). C(0) does not
        wait.
    type: int
    default: 0
extends_documentation_fragment:
  - openstack.cloud.openstack
  - rolling.openstack.attributes
  - rolling.openstack.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Returns what would change and does not call the API to change it, nor wait for builds.
  diff_mode:
    support: full
    details:
      - The service's C(status), C(disabled_reason) and C(forced_down) before and after.
  idempotent:
    support: full
notes:
  - Enabling a service clears its C(disabled_reason) (Nova does that itself).
  - Needs the C(admin) role (the default policy of C(os-services) and of listing servers of every project by host).
seealso:
  - module: rolling.openstack.compute_service_info
    description: Lists the services with their status and reason.
"""

EXAMPLES = r"""
- name: Take cmp1 out of scheduling before its nova-compute restarts, and let builds in flight finish
  rolling.openstack.compute_service:
    cloud: prod
    host: cmp1
    status: disabled
    disabled_reason: "nova upgrade: nova-compute restarting"
    builds_timeout: 120

- name: Put cmp1 back into scheduling
  rolling.openstack.compute_service:
    cloud: prod
    host: cmp1
    status: enabled

- name: Force the fenced host cmp2 down, then disable it
  rolling.openstack.compute_service:
    cloud: prod
    host: cmp2
    forced_down: true
    status: disabled
    disabled_reason: "rolling.openstack evacuate 2026-12-07T10:00:00Z"
"""

RETURN = r"""
compute_service:
  description:
    - The service after the change (in check mode, as it would be), with the field names of
      M(rolling.openstack.compute_service_info).
  returned: always
  type: dict
  sample:
    id: 4b0b0d5c-d7e0-4fa0-8c0f-3a5c7a1cc0d2
    binary: nova-compute
    host: cmp1
    zone: nova
    status: disabled
    state: up
    forced_down: false
    disabled_reason: "nova upgrade: nova-compute restarting"
    updated_at: "2026-11-22T10:15:02.000000"
previous:
  description: The service's C(status), C(disabled_reason) and C(forced_down) before this task.
  returned: always
  type: dict
  sample:
    status: enabled
    disabled_reason: null
    forced_down: false
builds:
  description:
    - With O(builds_timeout), the servers on the host still in C(BUILD) when the wait ended (empty when every build
      finished). Each has C(id), C(name) and C(task_state).
  returned: always
  type: list
  elements: dict
  sample: []
builds_waited:
  description: Seconds spent waiting for builds on the host.
  returned: always
  type: float
  sample: 2.1
"""

import time

from ansible_collections.openstack.cloud.plugins.module_utils.openstack import OpenStackModule
from ansible_collections.rolling.openstack.plugins.module_utils._compute_services import service_to_dict
from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import scrub

_POLL_SECONDS = 2


def _wanted(current, status, reason):
    """The (status, disabled_reason) the service must end with, from its current values (status None: as it is)."""
    if status is None:
        return current['status'], current['disabled_reason']
    if status == 'enabled':
        return 'enabled', None
    return 'disabled', reason if reason is not None else current['disabled_reason']


def _builds(conn, host):
    """The servers of every project on host whose status is BUILD."""
    return [
        dict(id=s.id, name=s.name, task_state=s.task_state)
        for s in conn.compute.servers(all_projects=True, compute_host=host, status='BUILD')
    ]


class ComputeServiceModule(OpenStackModule):
    argument_spec = dict(
        host=dict(required=True),
        binary=dict(default='nova-compute'),
        status=dict(choices=['enabled', 'disabled']),
        forced_down=dict(type='bool'),
        disabled_reason=dict(),
        builds_timeout=dict(type='int', default=0),
    )

    module_kwargs = dict(
        supports_check_mode=True,
        required_one_of=[('status', 'forced_down')],
    )

    def _find(self):
        host, binary = self.params['host'], self.params['binary']
        found = [s for s in self.conn.compute.services(host=host, binary=binary)
                 if s.host == host and s.binary == binary]
        if not found:
            self.fail_json(msg='No %s service on host %s is known to Nova: check the host name as `openstack compute '
                               'service list` shows it (the service host, not necessarily the inventory name).'
                               % (binary, host))
        if len(found) > 1:
            self.fail_json(msg='%d %s services are recorded for host %s: delete the stale ones first '
                               '(`openstack compute service delete`).' % (len(found), binary, host))
        return found[0]

    def _set_forced_down(self, service, forced):
        """Set or unset forced_down (at microversion 2.53+, by the service's id). Nova's refusal fails the task."""
        try:
            return self.conn.compute.update_service_forced_down(service, service.host, service.binary,
                                                                forced=forced) or service
        except Exception as exc:  # pylint: disable=broad-exception-caught
            self.fail_json(msg=scrub('Nova refused to %s the %s of %s: %s' % (
                'force down' if forced else 'unset forced_down of', service.binary, service.host, exc)),
                previous=service_to_dict(service))

    def _wait_for_builds(self):
        deadline = time.monotonic() + self.params['builds_timeout']
        start = time.monotonic()
        while True:
            builds = _builds(self.conn, self.params['host'])
            if not builds or time.monotonic() >= deadline:
                return builds, round(time.monotonic() - start, 1)
            time.sleep(min(_POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def run(self):
        if self.params['builds_timeout'] < 0:
            self.fail_json(msg='builds_timeout=%d: use 0 (do not wait) or a number of seconds.'
                               % self.params['builds_timeout'])
        service = self._find()
        current = service_to_dict(service)
        previous = dict(status=current['status'], disabled_reason=current['disabled_reason'],
                        forced_down=current['forced_down'])
        status, reason = _wanted(current, self.params['status'], self.params['disabled_reason'])
        forced = self.params['forced_down']
        change_status = current['status'] != status or (status == 'disabled' and current['disabled_reason'] != reason)
        change_forced = forced is not None and current['forced_down'] != forced
        after = dict(current, status=status, disabled_reason=reason,
                     forced_down=current['forced_down'] if forced is None else forced)

        if not self.ansible.check_mode:
            # Nova's order: force down before disabling; unset forced_down before enabling
            if change_forced:
                service = self._set_forced_down(service, forced)
            if change_status:
                if status == 'disabled':
                    service = self.conn.compute.disable_service(service, host=service.host, binary=service.binary,
                                                                disabled_reason=reason) or service
                else:
                    service = self.conn.compute.enable_service(service, host=service.host,
                                                               binary=service.binary) or service
            if change_status or change_forced:
                after = service_to_dict(service)
        changed = change_status or change_forced

        builds, waited = [], 0.0
        if status == 'disabled' and self.params['builds_timeout'] > 0 and not self.ansible.check_mode:
            builds, waited = self._wait_for_builds()
            if builds:
                self.warn('%d server(s) on %s still building after %d s (builds_timeout): %s. A restart of its '
                          'nova-compute now puts them into ERROR.'
                          % (len(builds), self.params['host'], self.params['builds_timeout'],
                             ', '.join(b['id'] for b in builds)))

        result = dict(changed=changed, compute_service=after, previous=previous, builds=builds, builds_waited=waited)
        if self.ansible._diff:
            result['diff'] = dict(before=previous,
                                  after=dict(status=after['status'], disabled_reason=after['disabled_reason'],
                                             forced_down=after['forced_down']))
        self.exit_json(**result)


def main():
    module = ComputeServiceModule()
    module()


if __name__ == '__main__':
    main()

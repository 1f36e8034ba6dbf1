#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compute_service_info
short_description: List Nova services and which of them are down
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Lists the services that the Compute (Nova) C(os-services) API knows about, such as C(nova-compute),
    C(nova-conductor) and C(nova-scheduler), optionally only those of one binary and/or one host.
  - Host and binary names are matched exactly, never as substrings, so O(host=cmp1) does not match C(cmp10).
  - Returns an empty list, and does not fail, when no service matches.
  - Also returns RV(services_down), the matching services whose state is C(down), and a count RV(summary),
    which is what upgrade and drain procedures check before and after each step.
  - The API does not show which code version a service runs (that is the C(services.version) column of
    each cell database). Use the C(updated_at) heartbeat and the C(state) to see whether a restarted service
    has come back.
notes:
  - Service records that are disabled but not deleted are listed too; they count in Nova's minimum service
    version and can keep an upgrade pin low.
options:
  binary:
    description:
      - Only list services with exactly this binary name, for example C(nova-compute).
    type: str
  host:
    description:
      - Only list services on exactly this host, as Nova names it (the service host, for example C(cmp1)).
    type: str
extends_documentation_fragment:
  - openstack.cloud.openstack
  - rolling.openstack.attributes
  - rolling.openstack.attributes.info_module
  - rolling.openstack.attributes.action_group
seealso:
  - module: openstack.cloud.compute_service_info
    description: Returns the raw openstacksdk representation, without exact matching or a summary.
"""

EXAMPLES = r"""
- name: List every Nova service
  rolling.openstack.compute_service_info:
    cloud: prod
  register: nova_services

- name: Stop when any nova-compute service is down
  rolling.openstack.compute_service_info:
    cloud: prod
    binary: nova-compute
  register: computes
  failed_when: computes.services_down | length > 0

- name: Wait until nova-compute on cmp1 reports up again after a restart
  rolling.openstack.compute_service_info:
    cloud: prod
    binary: nova-compute
    host: cmp1
  register: cmp1_compute
  until: >-
    cmp1_compute.compute_services | length == 1
    and cmp1_compute.compute_services[0].state == 'up'
  retries: 30
  delay: 5
"""

RETURN = r"""
compute_services:
  description:
    - The matching services, sorted by binary and host. Empty when none matches.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The service ID (a UUID from microversion 2.53 on).
      type: str
      sample: 4b0b0d5c-d7e0-4fa0-8c0f-3a5c7a1cc0d2
    binary:
      description: The binary name of the service.
      type: str
      sample: nova-compute
    host:
      description: The host the service runs on, as Nova names it.
      type: str
      sample: cmp1
    zone:
      description: The availability zone of the service's host.
      type: str
      sample: nova
    status:
      description: Whether the service is administratively C(enabled) or C(disabled).
      type: str
      sample: enabled
    state:
      description: Whether the service is C(up) or C(down), from its heartbeat.
      type: str
      sample: up
    forced_down:
      description: Whether the service was forced down (fenced) through the API.
      type: bool
      sample: false
    disabled_reason:
      description: The reason given when the service was disabled, or null.
      type: str
      sample: drained for upgrade
    updated_at:
      description: The time of the service's last heartbeat, as reported by the API.
      type: str
      sample: "2026-11-22T10:15:02.000000"
services_down:
  description:
    - The subset of RV(compute_services) whose C(state) is C(down), same elements.
  returned: always
  type: list
  elements: dict
summary:
  description: Counts over RV(compute_services).
  returned: always
  type: dict
  contains:
    total:
      description: Number of matching services.
      type: int
      sample: 7
    up:
      description: Number of services whose state is C(up).
      type: int
      sample: 6
    down:
      description: Number of services whose state is C(down).
      type: int
      sample: 1
    disabled:
      description: Number of services whose status is C(disabled).
      type: int
      sample: 1
    forced_down:
      description: Number of services that are forced down.
      type: int
      sample: 0
"""

from ansible_collections.openstack.cloud.plugins.module_utils.openstack import OpenStackModule
from ansible_collections.rolling.openstack.plugins.module_utils._compute_services import service_to_dict


def summarize(services):
    """Count the services by state and status."""
    return dict(
        total=len(services),
        up=sum(1 for s in services if s['state'] == 'up'),
        down=sum(1 for s in services if s['state'] == 'down'),
        disabled=sum(1 for s in services if s['status'] == 'disabled'),
        forced_down=sum(1 for s in services if s['forced_down']),
    )


class ComputeServiceInfoModule(OpenStackModule):
    argument_spec = dict(
        binary=dict(),
        host=dict(),
    )

    module_kwargs = dict(
        supports_check_mode=True,
    )

    def run(self):
        filters = {k: self.params[k] for k in ('binary', 'host') if self.params[k] is not None}
        # The API filters too, but only an exact match here is guaranteed whatever the Nova release.
        services = [
            service_to_dict(s)
            for s in self.conn.compute.services(**filters)
            if all(getattr(s, k) == v for k, v in filters.items())
        ]
        services.sort(key=lambda s: (s['binary'] or '', s['host'] or '', s['id'] or ''))
        self.exit_json(
            changed=False,
            compute_services=services,
            services_down=[s for s in services if s['state'] == 'down'],
            summary=summarize(services),
        )


def main():
    module = ComputeServiceInfoModule()
    module()


if __name__ == '__main__':
    main()

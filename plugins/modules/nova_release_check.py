#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_release_check
short_description: Check that an OpenStack release upgrade is one Nova supports
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Resolves the O(current) and O(target) releases, each given as a release (C(2026.1)), a series name
    (C(Gazpacho)) or a Nova version (C(33.0.2)), and checks that Nova supports upgrading from one to the other
    while the cloud keeps running.
  - Nova supports control services one release newer than the computes, or two releases newer when both ends are
    SLURP releases (the C(.1) releases from 2023.1 on). So the upgrade is either one release forward
    (RV(kind=one_step)), or a skip from a SLURP release to the next SLURP release (RV(kind=slurp_skip), for
    example 2025.1 to 2026.1). The same release on both ends is RV(kind=same) and succeeds.
  - Fails, naming the value and what to do instead, on a downgrade, on any other skip, and on a release, series or
    Nova version this collection does not know.
  - Pure logic. It reads and changes nothing and runs on any host (usually the controller, C(localhost)).
notes:
  - Known releases are 2023.1 (Antelope, nova 27) to 2026.2 (Hibiscus, nova 34).
options:
  current:
    description:
      - The release the cloud runs now; a release such as C(2026.1), a series name such as C(Gazpacho), or a Nova
        version such as C(33.0.2) (its major version names the release).
      - Leave it out to resolve O(target) alone (a release, series name, Nova version or C(stable/<release>)); RV(target)
        is then the release it names, and RV(kind) is C(same).
    type: str
  target:
    description:
      - The release to upgrade to, in the same forms as O(current).
    type: str
    required: true
extends_documentation_fragment:
  - rolling.openstack.attributes
  - rolling.openstack.attributes.info_module
seealso:
  - name: OpenStack release cadence and SLURP
    description: Which releases are SLURP releases and what skip-level upgrades they allow.
    link: https://governance.openstack.org/tc/resolutions/20220210-release-cadence-adjustment.html
"""

EXAMPLES = r"""
- name: Refuse anything but a supported upgrade before changing anything
  rolling.openstack.nova_release_check:
    current: "{{ nova_current_version }}"   # for example 33.0.2, read from the running services
    target: "2026.2"
  register: nova_release

- name: Skip the upgrade when the cloud already runs the target release
  ansible.builtin.meta: end_play
  when: nova_release.kind == 'same'

- name: A SLURP skip-level upgrade, 2025.1 to 2026.1
  rolling.openstack.nova_release_check:
    current: Epoxy
    target: "2026.1"
  register: nova_release   # kind is slurp_skip, skipped is ['2025.2']
"""

RETURN = r"""
current:
  description: The current release.
  returned: success
  type: dict
  contains:
    release:
      description: The release, C(YYYY.N).
      type: str
      sample: "2026.1"
    name:
      description: The series name.
      type: str
      sample: Gazpacho
    nova_major:
      description: The major version of Nova in this release.
      type: int
      sample: 33
    slurp:
      description: Whether the release is a SLURP release.
      type: bool
      sample: true
target:
  description: The target release, same fields as RV(current).
  returned: success
  type: dict
  sample: {release: "2026.2", name: Hibiscus, nova_major: 34, slurp: false}
kind:
  description:
    - C(same) when both are the same release, C(one_step) for the next release, C(slurp_skip) for a skip from a
      SLURP release to the next SLURP release.
  returned: success
  type: str
  sample: one_step
steps:
  description: How many releases forward the target is (0 for C(same), 1 for C(one_step), 2 for C(slurp_skip)).
  returned: success
  type: int
  sample: 1
skipped:
  description: The releases a C(slurp_skip) passes over; empty otherwise.
  returned: success
  type: list
  elements: str
  sample: ["2025.2"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rolling.openstack.plugins.module_utils._releases import ReleaseError, check_upgrade, resolve


def main():
    module = AnsibleModule(
        argument_spec=dict(
            current=dict(type='str'),
            target=dict(type='str', required=True),
        ),
        supports_check_mode=True,
    )
    try:
        if module.params['current'] is None:
            # only the target: resolve it (a release, series name, nova version or stable/<release>) and say so
            resolve(module.params['target'], 'target')
            module.params['current'] = module.params['target']
        result = check_upgrade(module.params['current'], module.params['target'])
    except ReleaseError as exc:
        module.fail_json(msg='%s' % exc)
    msg = {
        'same': 'current and target are both %s: nothing to upgrade',
        'one_step': 'upgrade to the next release %s: supported',
        'slurp_skip': 'skip-level upgrade between SLURP releases to %s: supported',
    }[result['kind']] % result['target']['release']
    module.exit_json(changed=False, msg=msg, **result)


if __name__ == '__main__':
    main()

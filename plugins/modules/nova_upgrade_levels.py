#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_upgrade_levels
short_description: Set or remove Nova's [upgrade_levels] RPC version pins in a Nova configuration file
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Sets (O(state=present)) or removes (O(state=absent)) options of the C([upgrade_levels]) section of a Nova
    configuration file, in place. The pin phase of a live upgrade sets C(compute = auto); the unpin phase removes
    it.
  - Edits only the lines of the options in O(levels), and keeps every other line, comment and the order of the
    file as they are. The file is replaced atomically and keeps its owner, group, mode and SELinux context; a
    symbolic link is followed and its target edited.
  - Reads the file like oslo.config does (C(key = value), C(key=value) and C(key:value) are assignments; an
    indented line continues the previous value; C(#) or C(;) start a comment only at the start of a line; a
    section may appear several times and oslo.config merges them; section names are compared in lower case).
    A file oslo.config could not parse is refused with the line, and left unchanged.
  - With O(state=present) each option ends up assigned exactly once with its value. An existing assignment is
    rewritten in place (keeping its spacing); duplicates, in the same or another C([upgrade_levels]) section,
    are removed (the last one, which Nova uses, is the one rewritten). A missing option is added after its
    commented-out form (C(#compute = <None>) of a generated sample file, which stays), else after the last
    option of the last C([upgrade_levels]) section, else right after the section header. A missing section is
    appended at the end of the file.
  - With O(state=absent) every assignment of the options named in O(levels) is removed from every
    C([upgrade_levels]) section, whatever its value (the values of O(levels) are ignored). Commented-out lines
    stay.
  - In both states, when a section the module removes lines from is left with nothing but blank lines, its
    header goes too (with those blank lines), so that a pin and an unpin leave the file as it was. A section
    that still has comments or other options keeps its header, since the comments usually document its options
    and an empty section changes nothing for Nova.
  - Runs on the Nova host itself, with the host's Python (no Nova virtualenv needed). It does not restart any
    service; Nova reads the setting when a service starts.
notes:
  - Only the file in O(path) is read. When several configuration files are given to Nova (C(--config-file),
    C(--config-dir)), a later file can override the value; pin in the last one, or check with
    M(rolling.openstack.nova_rpc_version_info), which reads them all as Nova does.
  - Option names are checked against Nova's C([upgrade_levels]) options (C(compute), C(conductor), C(scheduler),
    C(baseapi)) with O(state=present); only C(compute) accepts C(auto). With O(state=absent) any name is
    accepted, so that options of older releases (for example C(cert)) can be removed.
options:
  path:
    description:
      - The Nova configuration file to edit, for example C(/etc/nova/nova.conf). It must exist.
    type: path
    required: true
  levels:
    description:
      - The C([upgrade_levels]) options, name to value.
      - A value is C(auto) (C(compute) only), a version such as C("6.4") or a release name in lower case such as
        C(flamingo). Quote versions in YAML (an unquoted C(6.10) is the number 6.1); numbers are refused.
      - With O(state=absent) only the names count.
    type: dict
    default: {compute: auto}
  state:
    description:
      - V(present) sets the options, V(absent) removes them, V(query) only reads the C([upgrade_levels]) options
        (RV(before)) and changes nothing.
    type: str
    choices: [present, absent, query]
    default: present
  backup:
    description:
      - Keep a copy of the file, with a timestamp in its name, before changing it.
    type: bool
    default: false
extends_documentation_fragment:
  - rolling.openstack.attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written; C(changed), RV(before), RV(after) and the diff say what would change.
  diff_mode:
    support: full
    details:
      - The C([upgrade_levels]) options before and after, as oslo.config reads them; never the rest of the file, which
        holds database and message queue URLs and passwords.
  idempotent:
    support: full
seealso:
  - module: rolling.openstack.nova_rpc_version_info
    description: Which compute RPC version the services select with this setting, and what their logs say.
  - name: Nova rolling upgrades
    description: Nova's documentation of the live-upgrade procedure and of the upgrade_levels pin.
    link: https://docs.openstack.org/nova/latest/admin/upgrades.html
"""

EXAMPLES = r"""
- name: Pin the compute RPC API to the oldest compute (pin phase)
  rolling.openstack.nova_upgrade_levels:
    path: /etc/nova/nova.conf
  become: true

- name: Remove the pin once every compute runs the new code (unpin phase)
  rolling.openstack.nova_upgrade_levels:
    path: /etc/nova/nova.conf
    state: absent
  become: true

- name: Pin to an explicit version (quoted) and a release alias
  rolling.openstack.nova_upgrade_levels:
    path: /etc/nova/nova.conf
    levels:
      compute: "6.4"
      conductor: flamingo
    backup: true

- name: Remove options of an older release, whatever their value
  rolling.openstack.nova_upgrade_levels:
    path: /etc/nova/nova.conf
    levels: {cert: "", compute: ""}
    state: absent
"""

RETURN = r"""
path:
  description: The file edited (as given in O(path)).
  returned: always
  type: str
  sample: /etc/nova/nova.conf
before:
  description: The C([upgrade_levels]) options of the file before the change, as oslo.config reads them.
  returned: success
  type: dict
  sample: {}
after:
  description:
    - The C([upgrade_levels]) options of the file after the change (in check mode, what they would be).
  returned: success
  type: dict
  sample: {compute: auto}
backup_file:
  description: The copy made with O(backup=true) before the file changed.
  returned: when changed and O(backup=true), outside check mode
  type: str
  sample: /etc/nova/nova.conf.12345.2026-11-23@02:10:01~
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.rolling.openstack.plugins.module_utils._upgrade_levels import (
    ConfigSyntaxError,
    check_levels,
    edit,
    options,
    parse,
)


def _read(module, path):
    if not os.path.exists(path):
        module.fail_json(msg='path %s does not exist on this host: nova must be configured before it is pinned '
                             '(deploy nova first, or set path to its configuration file, for example '
                             '/etc/nova/nova.conf)' % path, path=path)
    if not os.path.isfile(path):
        module.fail_json(msg='path %s is not a regular file: set path to the nova configuration file, for example '
                             '/etc/nova/nova.conf' % path, path=path)
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot read %s: %s (run the task as root, become: true)' % (path, to_native(exc)),
                         path=path)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        module.fail_json(msg='%s is not UTF-8 text (%s), which oslo.config cannot read either: fix the file first'
                             % (path, exc), path=path)
    return None  # not reached


def _write(module, path, text):
    """Replace path atomically with text, keeping its owner, group, mode and SELinux context."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(real), dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(text))
            handle.flush()
            os.fsync(handle.fileno())
        # atomic_move copies the mode, owner and SELinux context of the existing destination onto tmp.
        module.atomic_move(tmp, real)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _section_text(levels):
    """The [upgrade_levels] options as the lines of a section, for the diff."""
    return '[upgrade_levels]\n' + ''.join('%s = %s\n' % (key, levels[key]) for key in sorted(levels))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            levels=dict(type='dict', default=dict(compute='auto')),
            state=dict(type='str', choices=['present', 'absent', 'query'], default='present'),
            backup=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    path = module.params['path']
    levels = module.params['levels']
    state = module.params['state']
    if state == 'query':
        text = _read(module, path)
        try:
            before = options(parse(text))
        except ConfigSyntaxError as exc:
            module.fail_json(msg='%s is not a valid oslo.config file (%s)' % (path, exc), path=path)
        module.exit_json(changed=False, path=path, before=before, after=before)
    errors = check_levels(levels, state)
    if errors:
        module.fail_json(msg='; '.join(errors) + '. Nothing was changed.', path=path)
    text = _read(module, path)
    try:
        before = options(parse(text))
        new_text = edit(text, levels, state)
        after = options(parse(new_text))
    except ConfigSyntaxError as exc:
        module.fail_json(msg='%s is not a valid oslo.config file (%s): nova cannot read it either; fix the file '
                             'first. Nothing was changed.' % (path, exc), path=path)
    changed = new_text != text
    result = dict(changed=changed, path=path, before=before, after=after)
    if module._diff:
        # only the section this module edits: the rest of nova.conf holds secrets (AWX stores every diff)
        result['diff'] = dict(before=_section_text(before), after=_section_text(after),
                              before_header='%s [upgrade_levels]' % path, after_header='%s [upgrade_levels]' % path)
    if changed and not module.check_mode:
        if module.params['backup']:
            result['backup_file'] = module.backup_local(os.path.realpath(path))
        _write(module, path, new_text)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nova_status_check
short_description: Run Nova's upgrade readiness checks (nova-status upgrade check)
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Runs C(nova-status upgrade check) on a Nova controller host and returns each check (Cells v2, Placement API,
    older than N-1 computes, service user token ...) with its result (C(Success), C(Warning) or C(Failure)) and
    details.
  - Run it with the B(target) release's code (O(nova_venv) of the new release) before upgrading, as Nova
    intends; the checks read the databases and the service catalog and change nothing.
  - Fails when a check fails (exit code 2), and also on warnings (exit code 1) with O(fail_on_warning=true). Fails
    on any other exit code (255 is an error inside C(nova-status)) with its output, scrubbed of credentials.
notes:
  - C(nova-status) in Nova 33 (2026.1) and 34 (2026.2) prints only a human-readable table (it has no
    C(--format) or C(--json) option, because its sub-command parser does not take oslo.upgradecheck's C(--json), and an
    unknown option exits 2, like a failed check). The module parses that table; it also understands
    oslo.upgradecheck's JSON document should a release print one.
  - The exit code decides success or failure; the parsed RV(checks) are for reporting.
options:
  fail_on_warning:
    description:
      - Also fail when a check reports a warning (exit code 1).
    type: bool
    default: false
  nova_venv:
    description:
      - The virtualenv Nova is installed in on this host, for example C(/opt/openstack/venvs/nova-34.0.0). Its
        C(bin/nova-status) is run.
      - Leave unset for a distribution-packaged Nova (C(nova-status) on C(PATH)); see O(nova_status_cmd).
    type: path
  nova_python:
    description:
      - A Python interpreter that imports the Nova to check (a path or a name on C(PATH)), for a Nova installed without
        a C(nova-status) script the module can find, for example the target release of a custom install. It runs
        C(nova.cmd.status)'s entry point, as the C(nova-status) script does. Overrides O(nova_venv).
    type: str
  nova_status_cmd:
    description:
      - The C(nova-status) to run, a path or a name on C(PATH). Overrides O(nova_python) and O(nova_venv).
      - Default is C(<nova_venv>/bin/nova-status), or C(nova-status) on C(PATH) without O(nova_venv).
    type: str
extends_documentation_fragment:
  - rolling.openstack.nova_config
  - rolling.openstack.attributes
  - rolling.openstack.attributes.info_module
seealso:
  - module: rolling.openstack.nova_service_version_info
  - name: nova-status
    description: Nova's documentation of the upgrade checks and their exit codes.
    link: https://docs.openstack.org/nova/latest/cli/nova-status.html
"""

EXAMPLES = r"""
- name: Check the cloud is ready for the new release, with the new release's code
  rolling.openstack.nova_status_check:
    nova_venv: /opt/openstack/venvs/nova-34.0.0
  register: nova_status
  run_once: true

- name: Report the warnings
  ansible.builtin.debug:
    msg: "{{ item.check }}: {{ item.details }}"
  loop: "{{ nova_status.warning_checks }}"

- name: Treat warnings as failures
  rolling.openstack.nova_status_check:
    nova_venv: /opt/openstack/venvs/nova-34.0.0
    fail_on_warning: true
"""

RETURN = r"""
cmd:
  description: The command that ran.
  returned: always
  type: str
  sample: /opt/openstack/venvs/nova-34.0.0/bin/nova-status --config-file /etc/nova/nova.conf upgrade check
rc:
  description: The exit code of C(nova-status); 0 all passed, 1 warnings, 2 failures, 255 an error.
  returned: always
  type: int
  sample: 0
result:
  description: C(Success), C(Warning) or C(Failure) from RV(rc), or C(Error) for any other exit code.
  returned: always
  type: str
  sample: Success
checks:
  description: Each check Nova ran, in order. Empty when C(nova-status) printed no table (an error).
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: The check's name.
      type: str
      sample: Cells v2
    result:
      description: C(Success), C(Warning) or C(Failure).
      type: str
      sample: Success
    details:
      description: What the check found and how to fix it, or null.
      type: str
      sample: null
warning_checks:
  description: The RV(checks) whose result is C(Warning).
  returned: always
  type: list
  elements: dict
failure_checks:
  description: The RV(checks) whose result is C(Failure).
  returned: always
  type: list
  elements: dict
stdout:
  description: The output of C(nova-status), scrubbed of credentials.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import (
    UPGRADE_CHECK_RESULTS,
    check_config_files,
    command_text,
    config_args,
    find_tool,
    last_line,
    nova_host_argument_spec,
    parse_upgrade_check,
    run_tool,
    tail,
)


_STATUS_ENTRY_POINT = 'from nova.cmd.status import main; raise SystemExit(main())'


def _describe(checks):
    return '; '.join('%s: %s' % (c['check'], c['details'] or c['result']) for c in checks)


def main():
    argument_spec = nova_host_argument_spec(
        fail_on_warning=dict(type='bool', default=False),
        nova_status_cmd=dict(type='str'),
        nova_python=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    check_config_files(module)
    if module.params['nova_python'] and not module.params['nova_status_cmd']:
        # what the nova-status console script does; with -c, sys.argv[1:] are the arguments below
        status = [find_tool(module, 'python', 'nova_python'), '-c', _STATUS_ENTRY_POINT]
    else:
        status = [find_tool(module, 'nova-status', 'nova_status_cmd')]
    # oslo.config options go before the sub-command: nova-status [--config-file F] upgrade check
    argv = status + config_args(module.params) + ['upgrade', 'check']
    # cwd /: with `python -c` the working directory comes first on sys.path, where a stray nova/ must not be found
    rc, out, err, _secrets = run_tool(module, argv, cwd='/' if argv[1:2] == ['-c'] else None)
    checks = parse_upgrade_check(out)
    warnings = [c for c in checks if c['result'] == 'Warning']
    failures = [c for c in checks if c['result'] == 'Failure']
    result = dict(changed=False, cmd=command_text(argv), rc=rc, result=UPGRADE_CHECK_RESULTS.get(rc, 'Error'),
                  checks=checks, warning_checks=warnings, failure_checks=failures, stdout=out)
    if rc == 0:
        module.exit_json(msg='all %d nova upgrade checks passed' % len(checks), **result)
    if rc == 1:
        msg = 'nova upgrade checks passed with warnings: %s' % _describe(warnings)
        if module.params['fail_on_warning']:
            module.fail_json(msg=msg + ' (fail_on_warning is set)', stderr=err, **result)
        module.warn(msg)
        module.exit_json(msg=msg, **result)
    if rc == 2:
        module.fail_json(msg='nova upgrade checks failed: %s' % (_describe(failures) or tail(out)),
                         stderr=err, **result)
    module.fail_json(msg='%s exited %d (%s): %s\n%s'
                         % (result['cmd'], rc, 'an error inside nova-status' if rc == 255 else 'unexpected',
                            last_line(out + '\n' + err), tail(out + '\n' + err)),
                     stderr=err, **result)


if __name__ == '__main__':
    main()

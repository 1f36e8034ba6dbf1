# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers to run OpenStackModule-based modules in-process against a mocked openstacksdk connection."""

from __future__ import annotations

import contextlib
import json
import warnings
from unittest import mock

import pytest

with warnings.catch_warnings():
    # openstacksdk 4.14 imports its own deprecated openstack.version module: not ours to fix.
    warnings.simplefilter('ignore', DeprecationWarning)
    import openstack

from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args=None):
        payload = json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}).encode()
        with mock.patch.object(basic, '_ANSIBLE_ARGS', payload):
            yield


class ModuleExit(Exception):
    """Raised instead of sys.exit() by exit_json; carries the result."""

    def __init__(self, result, failed=False):
        super().__init__(result)
        self.result = result
        self.failed = failed


def _exit_json(self, **kwargs):
    kwargs.setdefault('changed', False)
    raise ModuleExit(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs['msg'] = msg
    kwargs['failed'] = True
    raise ModuleExit(kwargs, failed=True)


@pytest.fixture
def run_module():
    """Return run(module_main, args, conn) -> ModuleExit; conn replaces the openstacksdk connection."""
    from ansible_collections.openstack.cloud.plugins.module_utils.openstack import OpenStackModule

    def run(main, args, conn):
        with patch_module_args(dict(args)), \
                mock.patch.object(basic.AnsibleModule, 'exit_json', _exit_json), \
                mock.patch.object(basic.AnsibleModule, 'fail_json', _fail_json), \
                mock.patch.object(OpenStackModule, 'openstack_cloud_from_module',
                                  return_value=(openstack, conn)):
            with pytest.raises(ModuleExit) as excinfo:
                main()
        return excinfo.value

    return run

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers to run modules in-process: OpenStackModule-based ones against a mocked openstacksdk connection, and
the modules that run a snippet with Nova's python (module_utils._nova_snippet) on a stand-in Nova host."""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap
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


# --- modules that run a snippet with Nova's python (nova_rpc_version_info, nova_service_version_info) ---------------

@pytest.fixture
def nova_host(tmp_path):
    """A nova venv whose bin/python must not run (exit 99), a nova.conf and a log directory (a Path)."""
    venv = tmp_path / 'nova-33.0.2'
    (venv / 'bin').mkdir(parents=True)
    python = venv / 'bin' / 'python'
    python.write_text('#!/bin/sh\nexit 99\n')
    python.chmod(0o755)
    conf = tmp_path / 'nova.conf'
    conf.write_text('[DEFAULT]\n')
    logs = tmp_path / 'log'
    logs.mkdir()
    return dict(venv=str(venv), python=str(python), conf=str(conf), logs=logs)


@pytest.fixture
def run_on_nova_host(run_module, nova_host):
    """Return run(module_main, result, **args) -> (ModuleExit, the run_command mock): the module runs with nova_host's
    venv and nova.conf (and args), and its snippet "prints" result, an (rc, stdout, stderr) tuple."""

    def run(main, result, **args):
        params = dict(nova_venv=nova_host['venv'], config_files=[nova_host['conf']])
        params.update(args)
        with mock.patch.object(basic.AnsibleModule, 'run_command', return_value=result) as run_command:
            res = run_module(main, params, None)
        return res, run_command

    return run


# The stand-in for the nova package that every snippet needs: the prelude's bootstrap (monkey_patch, config.parse_args,
# nova.conf.CONF, the URLs it remembers) and finish (rpc.cleanup). parse_args loads the scenario (the JSON file
# $FAKE_NOVA_SCENARIO) into CONF. Each test module adds the nova modules its snippet calls.
FAKE_NOVA_COMMON = {
    '__init__.py': '',
    'monkey_patch.py': 'PATCHED = []\ndef patch(backend="eventlet"):\n    PATCHED.append(backend)\n',
    'version.py': 'def version_string():\n    return "33.0.2"\n',
    'rpc.py': 'def cleanup():\n    pass\n',
    'conf/__init__.py': textwrap.dedent('''\
        class Group(object):
            def __init__(self, **kw):
                self.__dict__.update(kw)
        class Conf(object):
            def __getitem__(self, name):
                return getattr(self, name)
        CONF = Conf()
        '''),
    'config.py': textwrap.dedent('''\
        import json, os
        import nova.conf
        def parse_args(argv, default_config_files=None, configure_db=True, init_rpc=True, prog=None):
            assert argv[1:] == ['--config-file', '/etc/nova/nova.conf'], argv
            scenario = json.load(open(os.environ['FAKE_NOVA_SCENARIO']))
            conf = nova.conf.CONF
            conf.database = nova.conf.Group(connection=scenario['db'])
            conf.api_database = nova.conf.Group(connection=scenario['api_db'])
            conf.transport_url = scenario['transport_url']
            conf.upgrade_levels = nova.conf.Group(compute=scenario.get('compute'))
            conf.service_down_time = 60
            conf.servicegroup_driver = 'db'
            conf.scenario = scenario
        '''),
}


@pytest.fixture
def fake_nova_site(tmp_path, monkeypatch):
    """Return install(files, base) -> write(scenario).

    install writes a fake nova package (FAKE_NOVA_COMMON and files, {path in the package: text}) to a directory on
    the PYTHONPATH of the snippet; write(scenario) writes base updated with scenario to tmp_path / 'scenario.json',
    the scenario the fake nova reads.
    """

    def install(files, base):
        root = tmp_path / 'site'
        for name, text in dict(FAKE_NOVA_COMMON, **files).items():
            path = root / 'nova' / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        scenario_path = tmp_path / 'scenario.json'
        monkeypatch.setenv('PYTHONPATH', str(root))
        monkeypatch.setenv('FAKE_NOVA_SCENARIO', str(scenario_path))

        def write(scenario):
            doc = dict(base)
            doc.update(scenario)
            scenario_path.write_text(json.dumps(doc))

        return write

    return install


@pytest.fixture
def run_with_this_python(run_module, tmp_path):
    """Return run(module_main) -> ModuleExit: the module runs its snippet for real with this test's Python as
    nova_python and a nova.conf that the fake nova sees as /etc/nova/nova.conf."""

    def run(main):
        conf = tmp_path / 'nova.conf'
        conf.write_text('[DEFAULT]\n')
        params = dict(nova_python=sys.executable, config_files=[str(conf)])
        real_run_command = basic.AnsibleModule.run_command

        def run_command(self, argv, **kwargs):
            # the fake nova checks the arguments; give it the path a controller would have
            argv = [a if a != str(conf) else '/etc/nova/nova.conf' for a in argv]
            return real_run_command(self, argv, **kwargs)

        with mock.patch.object(basic.AnsibleModule, 'run_command', run_command):
            return run_module(main, params, None)

    return run

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every role variable is documented in meta/argument_specs.yml with the default of defaults/main.yml, and a
variable that several roles declare (the shared nova_upgrade_* settings) has the same default in each."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLES = REPO / 'roles'


def load_yaml(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


UPGRADE_ROLES = sorted(p.parent.parent.name for p in ROLES.glob('nova_*/meta/argument_specs.yml'))
# every role of the collection: the upgrade's and the host maintenance ones
ALL_ROLES = sorted(p.parent.parent.name for p in ROLES.glob('*/meta/argument_specs.yml'))


def _normal(value):
    """Defaults written as folded YAML and as one line compare equal."""
    return ' '.join(value.split()) if isinstance(value, str) else value


def _defaults(role):
    path = ROLES / role / 'defaults' / 'main.yml'
    return (load_yaml(path) or {}) if path.exists() else {}


def _options(role):
    return load_yaml(ROLES / role / 'meta' / 'argument_specs.yml')['argument_specs']['main']['options']


def test_roles_found():
    assert {'nova_preflight', 'nova_plan'} <= set(UPGRADE_ROLES)
    assert {'compute_drain'} <= set(ALL_ROLES)


@pytest.mark.parametrize('role', ALL_ROLES)
def test_defaults_documented(role):
    defaults, options = _defaults(role), _options(role)
    assert sorted(set(defaults) - set(options)) == [], 'defaults without argument_specs entry'
    for name, spec in options.items():
        if spec.get('required'):
            assert name not in defaults and 'default' not in spec, name
            continue
        assert name in defaults, '%s is documented but has no default in defaults/main.yml' % name
        assert _normal(spec.get('default')) == _normal(defaults[name]), name
        assert spec.get('description'), name


@pytest.mark.parametrize('role', ALL_ROLES)
def test_every_task_named(role):
    for path in (ROLES / role / 'tasks').glob('*.yml'):
        for task in load_yaml(path) or []:
            assert task.get('name'), '%s: a task without a name' % path.name


def test_shared_variables_agree():
    seen = {}
    for role in UPGRADE_ROLES:
        for name, value in _defaults(role).items():
            if name.startswith('nova_upgrade_'):
                seen.setdefault(name, {})[role] = _normal(value)
    for name, per_role in seen.items():
        assert len(set(map(repr, per_role.values()))) == 1, '%s has different defaults: %s' % (name, per_role)


def test_playbook_composes_roles():
    plays = load_yaml(REPO / 'playbooks' / 'nova_upgrade.yml')
    assert plays[0]['hosts'] == 'all'  # the --limit guard
    assert plays[1]['hosts'] == 'localhost'
    run = plays[1]['tasks'][0]
    assert run['always'][0]['ansible.builtin.include_role'] == dict(name='rolling.openstack.nova_preflight',
                                                                    tasks_from='unlock')  # the lock is always released
    tasks = run['block']
    included = [t['ansible.builtin.include_role']['name'] for t in tasks if 'ansible.builtin.include_role' in t]
    assert included == ['rolling.openstack.nova_plan', 'rolling.openstack.nova_preflight', 'rolling.openstack.nova_plan',
                        'rolling.openstack.nova_report']
    phases = next(t for t in tasks if 'block' in t)
    assert [t['ansible.builtin.include_role']['name'].split('.')[-1] for t in phases['block']] == [
        'nova_restart', 'nova_pin', 'nova_expand', 'nova_roll', 'nova_unpin', 'nova_migrate',
        'nova_contract']  # the load balancer restore, then the phases in order: unpin BEFORE migrate

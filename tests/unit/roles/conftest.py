# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run task files of the collection's roles with ansible-playbook on localhost, scenario by scenario.

Each scenario sets facts (which rank above role defaults, so they stand in for variables and for the results of
the tasks a task file expects to have run), includes one task file of a role, and records whether it failed, the
failure messages, and the facts asked for. All scenarios of one call run in ONE ansible-playbook process (a block
and rescue per scenario), because starting ansible-playbook is the slow part. No host is contacted: the inventory's
hosts use the local connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLES = REPO / 'roles'

# The default lab-like inventory of the tests: two controllers, three computes, a database host.
INVENTORY = {
    'all': {
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
        'children': {
            'nova_api': {'hosts': {'ctl1': {}, 'ctl2': {}}},
            'nova_conductor': {'hosts': {'ctl1': {}, 'ctl2': {}}},
            'nova_scheduler': {'hosts': {'ctl1': {}, 'ctl2': {}}},
            'nova_compute': {'hosts': {'cmp1': {}, 'cmp2': {}, 'cmp3': {'nova_upgrade_service_host': 'cmp3.example'}}},
            'placement': {'hosts': {'ctl1': {}, 'ctl2': {}}},
            'mariadb': {'hosts': {'infra': {}}},
            'empty': {'hosts': {}},
        },
    },
}

_SCENARIO_TASKS = """
- name: "Scenario {{ scenario.name }}"
  block:
    - name: Set the scenario's facts
      ansible.builtin.set_fact:
        "{{ item.key }}": "{{ item.value }}"
      loop: "{{ scenario.facts | dict2items }}"
      loop_control:
        label: "{{ item.key }}"
    - name: Run the task file
      ansible.builtin.include_role:
        name: "rolling.openstack.{{ scenario.role }}"
        tasks_from: "{{ scenario.tasks_from }}"
    - name: Record success
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | combine({scenario.name: {'failed': false, 'msgs': [], 'facts': scenario_facts}}) }}"
      vars:
        scenario_facts: "{{ dict(scenario.collect | zip(query('ansible.builtin.vars', *scenario.collect, default=''))) }}"
  rescue:
    - name: Record the failure
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | combine({scenario.name: {'failed': true, 'msgs': failure_msgs, 'facts': scenario_facts}}) }}"
      vars:
        failure_msgs: >-
          {{ (ansible_failed_result.results | default([]) | selectattr('failed', 'defined') | selectattr('failed')
              | map(attribute='msg') | list) or [ansible_failed_result.msg | default('')] }}
        scenario_facts: "{{ dict(scenario.collect | zip(query('ansible.builtin.vars', *scenario.collect, default=''))) }}"
"""

_PLAYBOOK = """
- name: Role scenarios
  hosts: localhost
  gather_facts: false
  vars:
    outcomes: {}
  tasks:
    - name: Run each scenario
      ansible.builtin.include_tasks: scenario.yml
      loop: "{{ scenarios }}"
      loop_control:
        loop_var: scenario
        label: "{{ scenario.name }}"
    - name: Write the outcomes
      ansible.builtin.copy:
        content: "{{ outcomes | to_json }}"
        dest: "{{ outcomes_file }}"
        mode: "0600"
"""


def _collections_dir(tmp_path):
    """A collections tree with this checkout as rolling.openstack (what the tests test, whatever is installed)."""
    root = tmp_path / 'collections'
    link = root / 'ansible_collections' / 'rolling' / 'openstack'
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    return root


@pytest.fixture
def run_scenarios(tmp_path):
    """run_scenarios(role, tasks_from, scenarios, collect=(), inventory=None, env=None) -> {name: outcome}.

    scenarios: list of dicts with name and facts. collect: fact names to return per scenario.
    """

    def run(role, tasks_from, scenarios, collect=(), inventory=None, env=None):
        (tmp_path / 'scenario.yml').write_text(_SCENARIO_TASKS)
        (tmp_path / 'play.yml').write_text(_PLAYBOOK)
        (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inventory or INVENTORY))
        outcomes_file = tmp_path / 'outcomes.json'
        extra = dict(
            outcomes_file=str(outcomes_file),
            scenarios=[dict(name=s['name'], role=role, tasks_from=tasks_from,
                            facts=dict(dict(nova_preflight_problems=[], nova_preflight_warnings=[]), **s.get('facts', {})),
                            collect=list(collect)) for s in scenarios],
        )
        (tmp_path / 'extra.json').write_text(json.dumps(extra))
        environment = dict(os.environ)
        environment.update(
            ANSIBLE_COLLECTIONS_PATH=str(_collections_dir(tmp_path)),
            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
            ANSIBLE_NOCOLOR='1',
            ANSIBLE_RETRY_FILES_ENABLED='false',
            ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
            ANSIBLE_HOME=str(tmp_path / 'ansible-home'),
        )
        environment.update(env or {})
        proc = subprocess.run(
            [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(tmp_path / 'inventory.yml'),
             str(tmp_path / 'play.yml'), '-e', '@' + str(tmp_path / 'extra.json')],
            cwd=str(tmp_path), env=environment, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0 and outcomes_file.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]
        return json.loads(outcomes_file.read_text())

    return run

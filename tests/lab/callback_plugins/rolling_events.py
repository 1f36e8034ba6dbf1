# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only notification callback of the lab tests: every event of a playbook run, one JSON document per line, in
the file ROLLING_EVENTS_FILE. What AWX stores (its callback records each event with the task's result as the
strategy hands it to callbacks: no_log results already censored), for the lab's secrets scan. ansible-core 2.19
moved the json callback to ansible.posix, which the lab's controller does not install."""

from __future__ import annotations

DOCUMENTATION = r"""
name: rolling_events
type: notification
short_description: Every event of a run as JSON lines (lab tests only)
description:
  - Writes every playbook, play, task, result, item, diff and stats event to the file named by the environment variable
    E(ROLLING_EVENTS_FILE), one JSON document per line.
requirements:
  - enable in callbacks_enabled (E(ANSIBLE_CALLBACKS_ENABLED=rolling_events))
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'rolling_events'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get('ROLLING_EVENTS_FILE', '')
        self._fh = open(path, 'a', encoding='utf-8') if path else None  # pylint: disable=consider-using-with

    def _emit(self, event, **data):
        if self._fh is None:
            return
        self._fh.write(json.dumps(dict(event=event, **data), default=str, sort_keys=True) + '\n')
        self._fh.flush()

    def _result(self, event, result):
        task = result._task  # pylint: disable=protected-access
        self._emit(event, host=result._host.get_name(), task=task.get_name(),  # pylint: disable=protected-access
                   action=task.action, result=result._result)  # pylint: disable=protected-access

    def v2_playbook_on_start(self, playbook):
        self._emit('playbook_on_start', playbook=getattr(playbook, '_file_name', ''))

    def v2_playbook_on_play_start(self, play):
        self._emit('playbook_on_play_start', play=play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit('playbook_on_task_start', task=task.get_name(), action=task.action,
                   args=task.args if not task.no_log else 'censored (no_log)')

    def v2_runner_on_ok(self, result):
        self._result('runner_on_ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('runner_on_failed', result)

    def v2_runner_on_skipped(self, result):
        self._result('runner_on_skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._result('runner_on_unreachable', result)

    def v2_runner_item_on_ok(self, result):
        self._result('runner_item_on_ok', result)

    def v2_runner_item_on_failed(self, result):
        self._result('runner_item_on_failed', result)

    def v2_runner_item_on_skipped(self, result):
        self._result('runner_item_on_skipped', result)

    def v2_runner_retry(self, result):
        self._result('runner_retry', result)

    def v2_on_file_diff(self, result):
        self._result('on_file_diff', result)

    def v2_playbook_on_stats(self, stats):
        self._emit('playbook_on_stats', stats={h: stats.summarize(h) for h in sorted(stats.processed)})
        if self._fh is not None:
            self._fh.close()
            self._fh = None

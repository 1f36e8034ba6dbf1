# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the stand-in Compute APIs of the host module tests share: a response, a clock that sleeps at once, and the
runner that wires a stand-in to a module's openstacksdk connection."""

from __future__ import annotations

import json
from unittest import mock

from ansible_collections.rolling.openstack.plugins.module_utils import _compute_host as compute_host


class Resp:
    """An openstacksdk response: status_code, content, json()."""

    def __init__(self, status, doc=None):
        self.status_code = status
        self._doc = doc
        self.content = b'' if doc is None else json.dumps(doc).encode()

    def json(self):
        return self._doc


class Clock:
    """The module's time: sleep() advances monotonic() at once."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def runner(run_module, monkeypatch, module, defaults):
    """go(nova, check=False, **args): run `module` (its main) against the stand-in `nova`, whose get/post/put/delete
    (and placement_get, when it has one) answer the connection's calls, with `defaults` under args. The module's and
    module_utils._compute_host's time is a Clock."""
    clock = Clock()
    monkeypatch.setattr(module, 'time', clock)
    monkeypatch.setattr(compute_host, 'time', clock)

    def go(nova, check=False, **args):
        conn = mock.MagicMock()
        for verb in ('get', 'post', 'put', 'delete'):
            if hasattr(nova, verb):
                getattr(conn.compute, verb).side_effect = getattr(nova, verb)
        if hasattr(nova, 'placement_get'):
            conn.placement.get.side_effect = nova.placement_get
        args = dict(defaults, **args)
        if check:
            args['_ansible_check_mode'] = True
        return run_module(module.main, args, conn)
    return go

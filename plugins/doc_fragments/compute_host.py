# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The options that compute_host_drain and compute_host_evacuate share (a move is a migration or an evacuation).

    C(timeout) is not here: openstack.cloud's fragment documents its own (the API timeout, 180 s), so each module
    documents the meaning it gives it."""

    DOCUMENTATION = r"""
options:
  target_host:
    description:
      - Move every server to this compute host (the scheduler still checks it). Default is to let the scheduler choose.
    type: str
  target_aggregate:
    description:
      - Move the servers to the hosts of this host aggregate (name or id), each server to the one that received the
        fewest so far in this run.
    type: str
  concurrency:
    description:
      - Moves in flight at once, overall.
    type: int
    default: 2
  state_policy:
    description:
      - What to do with a server that is not simply moved, per state. Keys C(suspended), C(error), C(rescued),
        C(shelved), C(task) (a task in flight, whatever the status), C(other) (any other status); values C(skip)
        (leave it on the host and report it) or C(fail) (refuse before anything moves). A missing key means C(skip).
    type: dict
    default: {}
  server_timeout:
    description:
      - Seconds one server's move may take, plus O(server_timeout_per_gib) per GiB of its flavor's RAM and disk.
    type: int
    default: 300
  server_timeout_per_gib:
    description:
      - Seconds added to O(server_timeout) per GiB of the flavor's RAM, root and ephemeral disk.
    type: int
    default: 10
  poll_interval:
    description:
      - Seconds between two looks at the moves in flight.
    type: float
    default: 2.0
  previous:
    description:
      - The RV(servers) rows of an earlier, unfinished run (its report). Rows of servers that moved, still exist and
        are no longer on the host are kept in RV(servers), marked C(earlier=true); the others are taken stock of again.
    type: list
    elements: dict
    default: []
"""

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The upgrade that crosses a compute RPC change: 2025.2 (nova 32.2.1, compute RPC 6.4, service version 70)
-> 2026.1 (nova 33.0.2, compute RPC 6.5, service version 72), with nova_upgrade_unpin_mode=auto (the
services keep `[upgrade_levels] compute = auto` and re-select at their restart, logging their choice).

Run 1 rolls only cmp1 (nova_upgrade_limit_hosts): the control services and cmp1 run the new code, the
online data migrations and the unpin are blocked by cmp2/cmp3. A server booted then makes a conductor
send a compute RPC: its log says "Automatically selected compute RPC version 6.4 from minimum service
version 70" (the new code, held back by the old computes). Run 2 without the limit completes; a server
booted after it is built by a conductor that the unpin restarted: "... 6.5 from minimum service version 72";
the state's unpin details say 6.5 too.

Run: .venv/bin/python -m pytest tests/lab/test_nova_upgrade_rpc.py (~10 min + a lab redeploy at 2025.2,
~6 min; the first time ~4 min more to build the 2025.2 venvs). scripts/test brings the lab up at 2025.2 for it
and runs test_nova_upgrade.py next on the 2026.1 lab it leaves (no redeploy between them).
"""

from __future__ import annotations

import time
import types
import uuid

import pytest

import upgrade_helpers as uh

pytestmark = pytest.mark.lab

RELEASE, TARGET = "2025.2", "2026.1"
TEST = "test_nova_upgrade_rpc"
RUN_TIMEOUT = 1500
OLD_RPC, OLD_SV = "6.4", 70
NEW_RPC, NEW_SV = "6.5", 72
EXTRA_VARS = {"nova_upgrade_target_release": TARGET, "nova_upgrade_unpin_mode": "auto"}


@pytest.fixture(scope="module")
def ctx(fresh_lab, artifacts):
    lab = fresh_lab(RELEASE, TARGET)
    work = artifacts / TEST
    work.mkdir(exist_ok=True)
    conn = uh.connect(lab.state / "clouds.yaml")
    uh.wait_services_up(conn, uh.expected_services(lab), timeout=180)
    computes = lab.group("nova_compute")
    c = types.SimpleNamespace(lab=lab, conn=conn, work=work, manage=lab.group("nova_conductor")[0],
                              conductors=lab.group("nova_conductor"), computes=computes,
                              old=uh.release_services(RELEASE)["nova"], new=uh.release_services(TARGET)["nova"],
                              tag=uuid.uuid4().hex[:6], booted=[], done=set())
    yield c
    left = uh.delete_servers(conn, c.booted)
    if left:
        print(f"servers not deleted in time: {left}")
    conn.close()


def _selections(ctx, since):
    rows = []
    for host in ctx.conductors:
        rows += uh.rpc_selections(ctx.lab, host, since=since)
    return rows


def _boot_and_read(ctx, name, since, timeout=60):
    """Boot a server (the conductor casts build_and_run_instance to a compute: a compute RPC), then read the
    conductors' selections since `since` until one shows up (a process logs it at its first compute call)."""
    srv = uh.boot_server(ctx.conn, f"rpc-{ctx.tag}-{name}")
    ctx.booted.append(srv.id)
    deadline = time.monotonic() + timeout
    rows = _selections(ctx, since)
    while not rows and time.monotonic() < deadline:
        time.sleep(3)
        rows = _selections(ctx, since)
    return srv, rows


def test_run1_rolls_cmp1_and_keeps_rpc_64(ctx, figures):
    first = ctx.computes[0]
    run = uh.run_playbook(ctx.work / "playbook-run1.log", timeout=RUN_TIMEOUT,
                          extra_vars={**EXTRA_VARS, "nova_upgrade_limit_hosts": [first]})
    figures(TEST, run1_s=round(run.seconds, 1), run1_rc=run.rc)
    assert run.rc == 0, run.fail_text(60)

    code = uh.nova_code(ctx.lab)
    for (host, unit), st in code.items():
        want = ctx.new if unit != "nova-compute" or host == first else ctx.old
        assert st["version"] == want and st["active"], f"{unit} on {host}: {st} (want {want})"

    state = uh.state_file(ctx.lab, ctx.manage)
    phases = state["phases"]
    assert state["status"] != "done", state["status"]
    assert {n: phases[n]["status"] for n in ("preflight", "pin", "expand")} == dict.fromkeys(("preflight", "pin", "expand"), "done")
    # Defect 11: the roll stays incomplete while computes of the cloud are on the old code (here: left out).
    assert phases["roll"]["status"] == "incomplete", phases["roll"]
    assert all(h in phases["roll"]["message"] for h in ctx.computes[1:]), phases["roll"]["message"]
    for name in ("migrate", "unpin"):
        assert phases[name]["status"] == "skipped" and "blocked" in phases[name]["message"], phases[name]
        assert all(h in phases[name]["message"] for h in ctx.computes[1:]), phases[name]["message"]
    assert phases["pin"]["details"]["selected"] == [OLD_RPC], phases["pin"]

    roll_start = uh.parse_time(phases["roll"]["started"])
    srv, rows = _boot_and_read(ctx, "after-run1", roll_start)
    figures(TEST, run1_phase_seconds=uh.phase_seconds(state), run1_selections=rows)
    assert rows, f"no conductor logged its compute RPC selection since the roll ({roll_start}) after booting {srv.name}"
    wrong = [r for r in rows if (r["rpc"], r["service_version"]) != (OLD_RPC, OLD_SV)]
    assert not wrong, f"conductors selected other than {OLD_RPC} from {OLD_SV} while cmp2/cmp3 are old: {wrong}"
    ctx.done.add("run1")


def test_run2_completes_and_selects_rpc_65(ctx, figures):
    if "run1" not in ctx.done:
        pytest.fail("run 1 did not pass, so run 2 cannot be judged", pytrace=False)
    run = uh.run_playbook(ctx.work / "playbook-run2.log", timeout=RUN_TIMEOUT, extra_vars=EXTRA_VARS)
    figures(TEST, run2_s=round(run.seconds, 1), run2_rc=run.rc)
    assert run.rc == 0, run.fail_text(60)

    wrong = {f"{u} on {h}": v for (h, u), v in uh.nova_code(ctx.lab).items() if v["version"] != ctx.new or not v["active"]}
    assert not wrong, f"not on {ctx.new}: {wrong}"
    state = uh.state_file(ctx.lab, ctx.manage)
    assert state["status"] == "done" and all(p["status"] == "done" for p in state["phases"].values()), state["phases"]
    unpin = state["phases"]["unpin"]
    assert unpin["details"]["selected"] == [NEW_RPC], unpin
    assert unpin["details"]["setting"] == ["auto"], unpin
    assert unpin["details"]["minimum_compute_version"] == [NEW_SV], unpin
    # defect 12: the unpin restarts every compute that started with the pin loaded, cmp1 too (rolled by run 1)
    unpinned = {e["host"] for e in state.get("events", []) if e.get("phase") == "unpin"
                and e.get("service") == "nova-compute" and e.get("event") in ("restart", "switch")}
    figures(TEST, run2_unpin_restarted_computes=sorted(unpinned))
    assert set(ctx.computes) <= unpinned, f"the unpin did not restart {sorted(set(ctx.computes) - unpinned)}: {sorted(unpinned)}"

    unpin_start = uh.parse_time(unpin["started"])
    srv, rows = _boot_and_read(ctx, "after-run2", unpin_start)
    figures(TEST, run2_phase_seconds=uh.phase_seconds(state), run2_selections=rows)
    assert rows, f"no conductor logged its compute RPC selection since the unpin ({unpin_start}) after booting {srv.name}"
    wrong = [r for r in rows if (r["rpc"], r["service_version"]) != (NEW_RPC, NEW_SV)]
    assert not wrong, f"conductors selected other than {NEW_RPC} from {NEW_SV} after the unpin: {wrong}"

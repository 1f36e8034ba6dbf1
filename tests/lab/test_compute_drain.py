# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The drain of a live compute host on the real lab (playbook rolling.openstack.compute_drain), on the lab as it
is (in scripts/test: after test_nova_upgrade.py, on 2026.2; no redeployment):

1. 11 servers forced onto the computes: 3 per compute, one of them stopped (SHUTOFF), plus two members of an
   anti-affinity server group on cmp2 and cmp3;
2. bad inputs, each refused before any change, naming the value and the fix: an unknown host, a partial host
   name (the inventory check, and the API's exact match with the inventory check off), a host that is not a
   compute, concurrency 0, an unknown state policy;
3. --check of the drain of cmp1: rc 0, the plan printed (each server with its method), nothing changed;
4. the drain of cmp1 with concurrency 2 under tests/lab/probe.py (Compute API reads at 6 requests/s through
   haproxy): rc 0, every server of cmp1 on another host with the status and power state it had, cmp1 disabled
   with our disabled_reason and empty, 0 failed probe requests, the report files written with the table;
5. a re-run: rc 0, changed=0;
6. the drain of cmp2 (cmp1 is disabled now, so cmp3 is the only destination): the anti-affinity member cannot go
   to cmp3, where the other member is; the table names it with Nova's reason, the other servers of cmp2 moved, and
   the play fails saying what is left.

At the end every server and the group are deleted and the computes we disabled are enabled again (the restore
playbook of issue 9 is not written yet; this is the test's own clean-up).

Run: .venv/bin/python -m pytest tests/lab/test_compute_drain.py (~4 min on a deployed lab).
"""

from __future__ import annotations

import json
import time
import types
import uuid

import pytest

import upgrade_helpers as uh

pytestmark = pytest.mark.lab

TEST = "test_compute_drain"
PLAYBOOK = uh.REPO / "playbooks" / "compute_drain.yml"
RUN_TIMEOUT = 900
MARKER = "rolling.openstack"
QUOTA = 40  # instances and cores of the admin project while the test runs
REPORT_DIR = uh.REPORT_DIR


def _enable_ours(conn):
    """Enable every compute whose disable is ours (a failed earlier run may have left one)."""
    for s in conn.compute.services(binary="nova-compute"):
        if s.status == "disabled" and (s.disabled_reason or "").startswith(MARKER):
            conn.compute.enable_service(s, host=s.host, binary=s.binary)


@pytest.fixture(scope="module")
def ctx(lab, artifacts, figures):
    work = artifacts / TEST
    work.mkdir(exist_ok=True)
    clouds_yaml = lab.state / "clouds.yaml"
    conn = uh.connect(clouds_yaml)
    computes = lab.group("nova_compute")
    assert computes[:3] == ["cmp1", "cmp2", "cmp3"], computes
    _enable_ours(conn)
    uh.wait_services_up(conn, uh.expected_services(lab), timeout=180)
    for host in ("cmp1", "cmp2"):  # reports of an earlier run of this test: this one asserts its own rows
        for suffix in (".json", ".txt"):
            (REPORT_DIR / f"compute-drain-{host}{suffix}").unlink(missing_ok=True)
    # the admin project's default quota (10 instances, 20 cores) is below what the test boots
    conn.compute.update_quota_set(conn.current_project_id, instances=QUOTA, cores=QUOTA)
    tag = uuid.uuid4().hex[:6]
    group = conn.compute.create_server_group(name=f"drn-aa-{tag}", policy="anti-affinity")
    t0 = time.monotonic()
    placements = [(f"drn-{tag}-{h}-{i}", h, None) for h in computes[:3] for i in range(3)]
    placements += [(f"drn-{tag}-aa-cmp2", "cmp2", group.id), (f"drn-{tag}-aa-cmp3", "cmp3", group.id)]
    try:
        servers = uh.boot_servers(conn, placements)
        names = {sid: conn.compute.get_server(sid).name for sid in servers}
        stopped = [sid for sid, name in names.items() if name.endswith("-0")]
        for sid in stopped:
            conn.compute.stop_server(sid)
        for sid in stopped:
            uh.wait_server(conn, sid, "SHUTOFF", 120)
    except BaseException:
        _cleanup(conn, tag, group)
        raise
    figures(TEST, servers=len(servers), stopped=len(stopped), boot_s=round(time.monotonic() - t0, 1))
    extra = {"compute_host_cloud": "lab", "compute_host_clouds_yaml": str(clouds_yaml),
             "compute_host_report_dir": str(REPORT_DIR)}
    c = types.SimpleNamespace(lab=lab, conn=conn, work=work, servers=servers, names=names, group=group, tag=tag,
                              extra=extra, before=uh.where(conn, servers), runs={})
    yield c
    _cleanup(conn, tag, group)
    conn.close()


def _cleanup(conn, tag, group):
    """Delete the test's servers (by name: a failed boot leaves some the fixture does not know) and group, and
    enable the computes we disabled."""
    ids = [s.id for s in conn.compute.servers(all_projects=True) if (s.name or "").startswith(f"drn-{tag}-")]
    left = uh.delete_servers(conn, ids)
    if left:
        print(f"servers not deleted in time: {left}")
    conn.compute.delete_server_group(group, ignore_missing=True)
    _enable_ours(conn)


def _run(ctx, name, figures, check=False, **extra_vars):
    return uh.run_host_playbook(ctx, TEST, name, figures, PLAYBOOK, RUN_TIMEOUT, check=check, **extra_vars)


BAD = [
    ("unknown_host", {"compute_drain_host": "cmp9"},
     ["compute_drain_host=cmp9 is not in the inventory group nova_compute", "cmp1, cmp2, cmp3"]),
    ("partial_name", {"compute_drain_host": "cmp"}, ["compute_drain_host=cmp is not in the inventory group"]),
    ("partial_name_api", {"compute_drain_host": "cmp", "compute_host_compute_group": "no_such_group"},
     ["host 'cmp' is not a compute host; it is only part of (or contains) cmp1, cmp2, cmp3",
      "Known compute hosts: cmp1, cmp2, cmp3"]),
    ("not_a_compute", {"compute_drain_host": "ctl1", "compute_host_compute_group": "no_such_group"},
     ["host 'ctl1' is not a compute host", "Known compute hosts"]),
    ("concurrency_0", {"compute_drain_host": "cmp1", "compute_drain_concurrency": 0},
     ["concurrency=0", "use 1 or more"]),
    ("unknown_policy", {"compute_drain_host": "cmp1", "compute_drain_state_policy": {"error": "ignore"}},
     ["state_policy error='ignore' is not a policy", "use skip"]),
]


@pytest.mark.parametrize("case, extra_vars, texts", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_before_any_change(ctx, figures, case, extra_vars, texts):
    run = _run(ctx, case, figures, **extra_vars)
    assert run.rc not in (0, None), f"{case}: the playbook did not fail: {run.fail_text()}"
    missing = [t for t in texts if t not in run.output]
    assert not missing, f"{case}: the failure does not say {missing}: {run.fail_text()}"
    services = uh.computes_by_host(ctx.conn)
    assert all(s.status == "enabled" for s in services.values()), {h: s.status for h, s in services.items()}
    assert uh.where(ctx.conn, ctx.servers) == ctx.before, f"{case}: a server changed"


def test_check_prints_the_plan_and_changes_nothing(ctx, figures):
    run = _run(ctx, "check", figures, check=True, compute_drain_host="cmp1")
    assert run.rc == 0, run.fail_text()
    assert not uh.changed_hosts(run), run.recap()
    on_cmp1 = [ctx.names[sid] for sid, host in ctx.servers.items() if host == "cmp1"]
    out = run.output
    missing = [n for n in on_cmp1 if n not in out]
    assert not missing and ": live -> " in out and ": cold -> " in out, f"the plan does not list {missing}: {run.fail_text(60)}"
    assert uh.computes_by_host(ctx.conn)["cmp1"].status == "enabled", "--check disabled cmp1"
    assert uh.where(ctx.conn, ctx.servers) == ctx.before, "--check moved a server"


@pytest.fixture(scope="module")
def drain_cmp1(ctx, figures):
    probe = uh.ProbeRun(ctx.work, ctx.lab.state / "clouds.yaml", max_seconds=RUN_TIMEOUT + 60).start()
    try:
        run = _run(ctx, "drain-cmp1", figures, compute_drain_host="cmp1", compute_drain_concurrency=2)
    finally:
        result = probe.stop()
    figures(TEST, drain_cmp1_s=round(run.seconds, 1), probe=uh.probe_figures(result))
    return types.SimpleNamespace(run=run, probe=result)


def test_drain_moves_every_server_and_keeps_its_state(ctx, drain_cmp1):
    run = drain_cmp1.run
    assert run.rc == 0, run.fail_text(80)
    after = uh.where(ctx.conn, ctx.servers)
    for sid, host in ctx.servers.items():
        b, a = ctx.before[sid], after[sid]
        if host == "cmp1":
            assert a[0] not in ("cmp1", None) and a[1:] == b[1:], f"{ctx.names[sid]}: {b} -> {a}"
        else:
            assert a == b, f"{ctx.names[sid]} was not on cmp1 but changed: {b} -> {a}"
    left = list(ctx.conn.compute.servers(all_projects=True, compute_host="cmp1"))
    assert not left, f"servers left on cmp1: {[s.name for s in left]}"
    svc = uh.computes_by_host(ctx.conn)["cmp1"]
    assert svc.status == "disabled" and (svc.disabled_reason or "").startswith(f"{MARKER} drain "), \
        (svc.status, svc.disabled_reason)


def test_drain_under_the_probe_failed_no_request(drain_cmp1):
    result = drain_cmp1.probe
    assert result["requests"]["sent"] > 0, result["requests"]
    assert result["requests"]["failed"] == 0, uh.probe_figures(result)


def test_drain_report_has_the_table(ctx, drain_cmp1):
    doc = json.loads((REPORT_DIR / "compute-drain-cmp1.json").read_text())
    rows = {r["name"]: r for r in doc["servers"]}
    on_cmp1 = [ctx.names[sid] for sid, host in ctx.servers.items() if host == "cmp1"]
    assert sorted(rows) == sorted(on_cmp1), sorted(rows)
    assert all(r["status"] == "moved" and r["migration"] and r["to"] for r in rows.values()), rows
    assert {r["method"] for r in rows.values()} == {"live", "cold"}, rows
    text = (REPORT_DIR / "compute-drain-cmp1.txt").read_text()
    assert "id" in text.splitlines()[2] and "method" in text.splitlines()[2], text
    assert "Report: " in drain_cmp1.run.output


def test_redrain_changes_nothing(ctx, drain_cmp1, figures):
    run = _run(ctx, "drain-cmp1-again", figures, compute_drain_host="cmp1")
    assert run.rc == 0, run.fail_text()
    assert not uh.changed_hosts(run), run.recap()


def test_a_server_that_cannot_move_is_named_and_the_rest_moves(ctx, drain_cmp1, figures):
    before = uh.where(ctx.conn, ctx.servers)
    run = _run(ctx, "drain-cmp2", figures, compute_drain_host="cmp2", compute_drain_concurrency=2)
    assert run.rc not in (0, None), f"the drain of cmp2 did not fail: {run.fail_text()}"
    aa = f"drn-{ctx.tag}-aa-cmp2"
    tail = "\n".join(run.lines[-60:])
    assert "server(s) not moved off cmp2" in tail and aa in tail, run.fail_text(60)
    doc = json.loads((REPORT_DIR / "compute-drain-cmp2.json").read_text())
    rows = {r["name"]: r for r in doc["servers"]}
    assert rows[aa]["status"] == "failed" and "No valid host" in (rows[aa]["error"] or ""), rows[aa]
    after = uh.where(ctx.conn, ctx.servers)
    for sid, host in before.items():
        if host[0] == "cmp2" and ctx.names[sid] != aa:
            assert after[sid][0] == "cmp3" and after[sid][1:] == before[sid][1:], f"{ctx.names[sid]}: {after[sid]}"
    aa_id = next(sid for sid, n in ctx.names.items() if n == aa)
    assert after[aa_id] == before[aa_id], f"the anti-affinity member changed: {before[aa_id]} -> {after[aa_id]}"

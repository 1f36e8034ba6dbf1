# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Evacuating a failed compute host and returning it to service on the real lab (playbooks
rolling.openstack.compute_evacuate and rolling.openstack.compute_restore), on the lab as it is (in scripts/test:
after test_compute_drain.py, on 2026.2; no redeployment). The host "fails" by the lab's power switch
(lab/bin/lab kill: its link cut, every process killed, its disk kept), which is also the fencing hook's tool
(tests/lab/fence_lab_host.yml).

1. 8 servers forced onto the computes: on cmp2 three running and one stopped (SHUTOFF); on cmp1 one running and
   one stopped; two running on cmp3;
2. bad inputs, each refused before any change, naming the value and the fix: an unknown host, a partial host
   name, a host that is not a compute, concurrency 0, an unknown state policy, max_down_share 0, an end_state that
   does not exist, a fencing hook that does not exist;
3. cmp2 alive: the evacuation is refused (Nova reports it up: drain it instead), nothing changes;
4. cmp2 fails (lab kill); once Nova reports it down: refused without fencing, refused by the partition guard
   (max_down_share 0.2, 1 of 3 down), stopped by a fencing hook that does not report the host off (and by an extra
   var that tries to), --check prints the plan and changes nothing;
5. the evacuation with the fencing hook under tests/lab/probe.py: every server of cmp2 is rebuilt on another host
   with the status and power state it had (end_state preserve), its evacuation record done, cmp2 forced down and
   disabled with our reason, the report has the table, 0 failed probe requests; a re-run changes nothing;
6. the return to service refused while cmp2 is off (no heartbeat, evacuation records not cleaned up), nothing
   changes; cmp2 started (lab start): the return to service succeeds (heartbeat seen, records completed, forced
   down unset, up, enabled), and the evacuated guests are gone from cmp2's lab driver state; a re-run changes
   nothing; then with compute_restore_move_back the evacuated servers come back to cmp2 as they were (live, and
   cold + confirm for the stopped one); a re-run changes nothing;
7. end_state stopped with the operator's acknowledgement (compute_evacuate_fenced) instead of a hook: cmp3 fails,
   its two running servers are rebuilt stopped (microversion 2.95); cmp3 started and returned to service.

At the end every server is deleted, every host started and every compute we disabled or forced down is returned.

Run: .venv/bin/python -m pytest tests/lab/test_compute_evacuate.py (~5 min on a deployed lab).
"""

from __future__ import annotations

import json
import subprocess
import time
import types
import uuid

import pytest

import upgrade_helpers as uh

pytestmark = pytest.mark.lab

TEST = "test_compute_evacuate"
EVACUATE = uh.REPO / "playbooks" / "compute_evacuate.yml"
RESTORE = uh.REPO / "playbooks" / "compute_restore.yml"
HOOK = uh.REPO / "tests" / "lab" / "fence_lab_host.yml"
LAB = uh.REPO / "lab" / "bin" / "lab"
RUN_TIMEOUT = 900
MARKER = "rolling.openstack"
REPORT_DIR = uh.REPORT_DIR
DOWN_TIMEOUT = 150  # Nova's service_down_time (60 s) after the last heartbeat, with room


def _lab(*args, timeout=180):
    proc = subprocess.run([str(LAB), *args], capture_output=True, text=True, timeout=timeout, check=False)
    return proc


def _wait_state(conn, host, state, timeout=DOWN_TIMEOUT) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if uh.computes_by_host(conn)[host].state == state:
            return round(time.monotonic() - t0, 1)
        time.sleep(3)
    pytest.fail(f"Nova did not report the nova-compute of {host} {state} within {timeout} s")


def _return_all(conn, work, extra):
    """Start every compute that is off and return to service (with the restore playbook) every compute forced down
    or disabled by us: the test's own clean-up after a failure, bounded."""
    for host in ("cmp1", "cmp2", "cmp3"):
        if _lab("power", host).returncode == 3:
            _lab("start", host)
    for s in conn.compute.services(binary="nova-compute"):
        if s.is_forced_down or (s.status == "disabled" and (s.disabled_reason or "").startswith(MARKER)):
            run = uh.run_playbook(work / f"playbook-cleanup-restore-{s.host}.log", playbook=RESTORE, timeout=400,
                                  extra_vars={**extra, "compute_restore_host": s.host})
            if run.rc != 0:
                print(f"clean-up: the restore of {s.host} failed: {run.fail_text(20)}")


@pytest.fixture(scope="module")
def ctx(lab, artifacts, figures):
    work = artifacts / TEST
    work.mkdir(exist_ok=True)
    clouds_yaml = lab.state / "clouds.yaml"
    conn = uh.connect(clouds_yaml)
    assert lab.group("nova_compute")[:3] == ["cmp1", "cmp2", "cmp3"], lab.group("nova_compute")
    extra = {"compute_host_cloud": "lab", "compute_host_clouds_yaml": str(clouds_yaml),
             "compute_host_report_dir": str(REPORT_DIR)}
    _return_all(conn, work, extra)
    uh.wait_services_up(conn, uh.expected_services(lab), timeout=180)
    for host in ("cmp2", "cmp3"):
        for kind in ("evacuate", "move-back"):
            for suffix in (".json", ".txt"):
                (REPORT_DIR / f"compute-{kind}-{host}{suffix}").unlink(missing_ok=True)
    tag = uuid.uuid4().hex[:6]
    placements = [(f"evc-{tag}-cmp2-{i}", "cmp2", None) for i in range(4)]
    placements += [(f"evc-{tag}-cmp1-{i}", "cmp1", None) for i in range(2)]
    placements += [(f"evc-{tag}-cmp3-{i}", "cmp3", None) for i in range(1, 3)]
    t0 = time.monotonic()
    try:
        servers = uh.boot_servers(conn, placements)
        names = {sid: conn.compute.get_server(sid).name for sid in servers}
        stopped = [sid for sid, name in names.items() if name.endswith("-0")]  # one on cmp2, one on cmp1
        for sid in stopped:
            conn.compute.stop_server(sid)
        for sid in stopped:
            uh.wait_server(conn, sid, "SHUTOFF", 120)
    except BaseException:
        _cleanup(conn, tag, work, extra)
        raise
    figures(TEST, servers=len(servers), stopped=len(stopped), boot_s=round(time.monotonic() - t0, 1))
    c = types.SimpleNamespace(lab=lab, conn=conn, work=work, servers=servers, names=names, tag=tag, extra=extra,
                              before=uh.where(conn, servers), runs={})
    yield c
    _cleanup(conn, tag, work, extra)
    conn.close()


def _cleanup(conn, tag, work, extra):
    _return_all(conn, work, extra)
    ids = [s.id for s in conn.compute.servers(all_projects=True) if (s.name or "").startswith(f"evc-{tag}-")]
    left = uh.delete_servers(conn, ids)
    if left:
        print(f"servers not deleted in time: {left}")


def _run(ctx, name, figures, playbook=EVACUATE, check=False, **extra_vars):
    return uh.run_host_playbook(ctx, TEST, name, figures, playbook, RUN_TIMEOUT, check=check, **extra_vars)


def _assert_refused(ctx, run, name, texts):
    assert run.rc not in (0, None), f"{name}: the playbook did not fail: {run.fail_text()}"
    missing = [t for t in texts if t not in run.output]
    assert not missing, f"{name}: the failure does not say {missing}: {run.fail_text()}"
    assert uh.where(ctx.conn, ctx.servers) == ctx.before, f"{name}: a server changed"


def _on(ctx, host):
    return [sid for sid, h in ctx.servers.items() if h == host]


HOOK_VARS = {"compute_evacuate_fence_tasks": str(HOOK), "lab_repo": str(uh.REPO)}

BAD = [
    ("unknown_host", {"compute_evacuate_host": "cmp9", "compute_evacuate_fenced": True},
     ["compute_evacuate_host=cmp9 is not in the inventory group nova_compute", "cmp1, cmp2, cmp3"]),
    ("partial_name_api", {"compute_evacuate_host": "cmp", "compute_host_compute_group": "no_such_group",
                          "compute_evacuate_fenced": True},
     ["host 'cmp' is not a compute host; it is only part of (or contains) cmp1, cmp2, cmp3"]),
    ("not_a_compute", {"compute_evacuate_host": "ctl1", "compute_host_compute_group": "no_such_group",
                       "compute_evacuate_fenced": True},
     ["host 'ctl1' is not a compute host", "Known compute hosts"]),
    ("concurrency_0", {"compute_evacuate_host": "cmp2", "compute_evacuate_concurrency": 0},
     ["concurrency=0", "use 1 or more"]),
    ("unknown_policy", {"compute_evacuate_host": "cmp2", "compute_evacuate_state_policy": {"error": "ignore"}},
     ["state_policy error='ignore' is not a policy", "use skip"]),
    ("max_down_share_0", {"compute_evacuate_host": "cmp2", "compute_evacuate_max_down_share": 0},
     ["max_down_share=0", "above 0 and at most 1"]),
    ("end_state_unknown", {"compute_evacuate_host": "cmp2", "compute_evacuate_end_state": "running"},
     ["compute_evacuate_end_state", "running"]),
    ("hook_missing", {"compute_evacuate_host": "cmp2", "compute_evacuate_fence_tasks": "/nonexistent/fence.yml"},
     ["compute_evacuate_fence_tasks=/nonexistent/fence.yml does not exist on the controller"]),
]


@pytest.mark.parametrize("case, extra_vars, texts", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_before_any_change(ctx, figures, case, extra_vars, texts):
    run = _run(ctx, case, figures, **extra_vars)
    _assert_refused(ctx, run, case, texts)
    services = uh.computes_by_host(ctx.conn)
    assert all(s.status == "enabled" and not s.is_forced_down for s in services.values()), \
        {h: (s.status, s.is_forced_down) for h, s in services.items()}


def test_a_live_host_is_refused_drain_it_instead(ctx, figures):
    run = _run(ctx, "live-host", figures, compute_evacuate_host="cmp2", compute_evacuate_fenced=True)
    _assert_refused(ctx, run, "live-host", ["the nova-compute of cmp2 is up", "rolling.openstack.compute_drain"])
    svc = uh.computes_by_host(ctx.conn)["cmp2"]
    assert svc.status == "enabled" and not svc.is_forced_down, (svc.status, svc.is_forced_down)


@pytest.fixture(scope="module")
def cmp2_failed(ctx, figures):
    """cmp2 fails: the lab's power switch cuts it off and kills it; wait until Nova reports it down."""
    proc = _lab("kill", "cmp2")
    assert proc.returncode == 0, proc.stderr
    seconds = _wait_state(ctx.conn, "cmp2", "down")
    figures(TEST, cmp2_reported_down_after_s=seconds)
    return seconds


def test_a_failed_host_without_fencing_is_refused(ctx, cmp2_failed, figures):
    run = _run(ctx, "not-fenced", figures, compute_evacuate_host="cmp2")
    _assert_refused(ctx, run, "not-fenced", ["cmp2 is not fenced", "compute_evacuate_fence_tasks"])
    svc = uh.computes_by_host(ctx.conn)["cmp2"]
    assert svc.status == "enabled" and not svc.is_forced_down, (svc.status, svc.is_forced_down)


def test_too_many_computes_down_is_refused(ctx, cmp2_failed, figures):
    run = _run(ctx, "partition-guard", figures, compute_evacuate_host="cmp2", compute_evacuate_max_down_share=0.2,
               **HOOK_VARS)
    _assert_refused(ctx, run, "partition-guard", ["1 of the 3 nova-compute hosts of the cloud are down",
                                                  "network partition"])
    assert _lab("power", "cmp2").returncode == 3
    assert not uh.computes_by_host(ctx.conn)["cmp2"].is_forced_down


def test_a_hook_that_does_not_report_the_host_off_stops_the_run(ctx, cmp2_failed, figures):
    run = _run(ctx, "fence-fails", figures, compute_evacuate_host="cmp2",
               compute_evacuate_fence_tasks=str(uh.REPO / "tests" / "lab" / "fence_fails.yml"))
    _assert_refused(ctx, run, "fence-fails", ["did not report cmp2 off", "nothing was forced down or evacuated"])
    svc = uh.computes_by_host(ctx.conn)["cmp2"]
    assert svc.status == "enabled" and not svc.is_forced_down, (svc.status, svc.is_forced_down)
    # an extra var cannot stand in for the hook
    run = _run(ctx, "fence-extra-var", figures, compute_evacuate_host="cmp2", compute_evacuate_fence_off=True,
               compute_evacuate_fence_tasks=str(uh.REPO / "tests" / "lab" / "fence_fails.yml"))
    _assert_refused(ctx, run, "fence-extra-var", ["only the hook may set it"])
    assert not uh.computes_by_host(ctx.conn)["cmp2"].is_forced_down


def test_check_prints_the_plan_and_changes_nothing(ctx, cmp2_failed, figures):
    run = _run(ctx, "check", figures, check=True, compute_evacuate_host="cmp2", **HOOK_VARS)
    assert run.rc == 0, run.fail_text()
    assert not uh.changed_hosts(run), run.recap()
    names = [ctx.names[sid] for sid in _on(ctx, "cmp2")]
    missing = [n for n in names if n not in run.output]
    assert not missing and ": evacuate -> " in run.output, f"the plan does not list {missing}: {run.fail_text(60)}"
    svc = uh.computes_by_host(ctx.conn)["cmp2"]
    assert svc.status == "enabled" and not svc.is_forced_down, "--check changed cmp2"
    assert uh.where(ctx.conn, ctx.servers) == ctx.before, "--check moved a server"


@pytest.fixture(scope="module")
def evacuated(ctx, cmp2_failed, figures):
    probe = uh.ProbeRun(ctx.work, ctx.lab.state / "clouds.yaml", max_seconds=RUN_TIMEOUT + 60).start()
    try:
        run = _run(ctx, "evacuate-cmp2", figures, compute_evacuate_host="cmp2", **HOOK_VARS)
    finally:
        result = probe.stop()
    figures(TEST, evacuate_cmp2_s=round(run.seconds, 1), probe=uh.probe_figures(result))
    return types.SimpleNamespace(run=run, probe=result)


def test_evacuation_rebuilds_every_server_elsewhere_as_it_was(ctx, evacuated):
    run = evacuated.run
    assert run.rc == 0, run.fail_text(80)
    after = uh.where(ctx.conn, ctx.servers)
    for sid, host in ctx.servers.items():
        b, a = ctx.before[sid], after[sid]
        if host == "cmp2":
            assert a[0] not in ("cmp2", None) and a[1:] == b[1:], f"{ctx.names[sid]}: {b} -> {a}"
        else:
            assert a == b, f"{ctx.names[sid]} was not on cmp2 but changed: {b} -> {a}"
    svc = uh.computes_by_host(ctx.conn)["cmp2"]
    assert svc.is_forced_down and svc.status == "disabled", (svc.is_forced_down, svc.status)
    assert (svc.disabled_reason or "").startswith(f"{MARKER} evacuate "), svc.disabled_reason
    records = {m.server_id: m.status for m in ctx.conn.compute.migrations(source_compute="cmp2",
                                                                               migration_type="evacuation")}
    assert all(records.get(sid) == "done" for sid in _on(ctx, "cmp2")), records


def test_evacuation_under_the_probe_failed_no_request(evacuated):
    result = evacuated.probe
    assert result["requests"]["sent"] > 0, result["requests"]
    assert result["requests"]["failed"] == 0, uh.probe_figures(result)


def test_evacuation_report_has_the_table(ctx, evacuated):
    doc = json.loads((REPORT_DIR / "compute-evacuate-cmp2.json").read_text())
    rows = {r["name"]: r for r in doc["servers"]}
    assert sorted(rows) == sorted(ctx.names[sid] for sid in _on(ctx, "cmp2")), sorted(rows)
    assert all(r["status"] == "moved" and r["migration"] and r["to"] and r["method"] == "evacuate"
               for r in rows.values()), rows
    text = (REPORT_DIR / "compute-evacuate-cmp2.txt").read_text()
    assert text.startswith("Evacuation of cmp2") and "method" in text.splitlines()[2], text


def test_reevacuation_changes_nothing(ctx, evacuated, figures):
    run = _run(ctx, "evacuate-cmp2-again", figures, compute_evacuate_host="cmp2", **HOOK_VARS)
    assert run.rc == 0, run.fail_text()
    assert not uh.changed_hosts(run), run.recap()


def test_restore_refuses_while_the_host_has_not_cleaned_up(ctx, evacuated, figures):
    run = _run(ctx, "restore-too-early", figures, playbook=RESTORE, compute_restore_host="cmp2",
               compute_restore_wait_timeout=0)
    assert run.rc not in (0, None), run.fail_text()
    for text in ("cmp2 is not returned to service, nothing was changed", "no heartbeat from the nova-compute of cmp2",
                 "evacuation record(s) from cmp2 are not cleaned up yet"):
        assert text in run.output, f"the refusal does not say {text!r}: {run.fail_text()}"
    svc = uh.computes_by_host(ctx.conn)["cmp2"]
    assert svc.is_forced_down and svc.status == "disabled", (svc.is_forced_down, svc.status)


@pytest.fixture(scope="module")
def restored(ctx, evacuated, figures):
    t0 = time.monotonic()
    proc = _lab("start", "cmp2")
    assert proc.returncode == 0, proc.stderr
    figures(TEST, cmp2_start_s=round(time.monotonic() - t0, 1))
    run = _run(ctx, "restore-cmp2", figures, playbook=RESTORE, compute_restore_host="cmp2")
    return run


def test_restore_returns_the_host_once_it_has_cleaned_up(ctx, restored):
    assert restored.rc == 0, restored.fail_text(60)
    svc = uh.computes_by_host(ctx.conn)["cmp2"]
    assert svc.state == "up" and svc.status == "enabled" and not svc.is_forced_down, \
        (svc.state, svc.status, svc.is_forced_down)
    records = {m.server_id: m.status for m in ctx.conn.compute.migrations(source_compute="cmp2",
                                                                               migration_type="evacuation")}
    assert all(records.get(sid) == "completed" for sid in _on(ctx, "cmp2")), records
    guests = json.loads(ctx.lab.ssh("cmp2", "cat /var/lib/nova/labfake-guests.json").stdout)["guests"]
    ghosts = [sid for sid in _on(ctx, "cmp2") if sid in guests]
    assert not ghosts, f"evacuated guests still in cmp2's driver state: {ghosts}"


def test_rerestore_changes_nothing(ctx, restored, figures):
    run = _run(ctx, "restore-cmp2-again", figures, playbook=RESTORE, compute_restore_host="cmp2")
    assert run.rc == 0, run.fail_text()
    assert not uh.changed_hosts(run), run.recap()


def test_move_back_returns_the_evacuated_servers_to_the_host(ctx, restored, figures):
    """compute_restore_move_back on cmp2 (in service already): the servers its evacuation moved away come back,
    running ones live-migrated, the stopped one cold-migrated and confirmed, each as it was; a re-run changes
    nothing."""
    run = _run(ctx, "move-back-cmp2", figures, playbook=RESTORE, compute_restore_host="cmp2",
               compute_restore_move_back=True)
    assert run.rc == 0, run.fail_text(60)
    after = uh.where(ctx.conn, ctx.servers)
    for sid in _on(ctx, "cmp2"):
        assert after[sid] == ctx.before[sid], f"{ctx.names[sid]}: {ctx.before[sid]} -> {after[sid]}"
    doc = json.loads((REPORT_DIR / "compute-move-back-cmp2.json").read_text())
    assert sorted(r["name"] for r in doc["servers"] if r["status"] == "moved") == \
        sorted(ctx.names[sid] for sid in _on(ctx, "cmp2")), doc["servers"]
    run = _run(ctx, "move-back-cmp2-again", figures, playbook=RESTORE, compute_restore_host="cmp2",
               compute_restore_move_back=True)
    assert run.rc == 0, run.fail_text()
    assert not uh.changed_hosts(run), run.recap()


def test_stopped_end_state_with_an_acknowledged_fence(ctx, restored, figures):
    """cmp3 fails; the operator fenced it (acknowledged); end_state stopped: its running servers end SHUTOFF."""
    on_cmp3 = _on(ctx, "cmp3")
    proc = _lab("kill", "cmp3")
    assert proc.returncode == 0, proc.stderr
    figures(TEST, cmp3_reported_down_after_s=_wait_state(ctx.conn, "cmp3", "down"))
    run = _run(ctx, "evacuate-cmp3-stopped", figures, compute_evacuate_host="cmp3", compute_evacuate_fenced=True,
               compute_evacuate_end_state="stopped")
    assert run.rc == 0, run.fail_text(60)
    assert "microversion 2.95" in run.output, run.fail_text(60)
    for sid, (host, status, power) in uh.where(ctx.conn, on_cmp3).items():
        assert host not in ("cmp3", None) and status == "SHUTOFF" and power == 4, (ctx.names[sid], host, status, power)
    assert _lab("start", "cmp3").returncode == 0
    run = _run(ctx, "restore-cmp3", figures, playbook=RESTORE, compute_restore_host="cmp3")
    assert run.rc == 0, run.fail_text(60)
    svc = uh.computes_by_host(ctx.conn)["cmp3"]
    assert svc.state == "up" and svc.status == "enabled" and not svc.is_forced_down

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The clean Nova rolling upgrade on the lab: 2026.1 (nova 33.0.2) -> 2026.2 (nova 34.0.0), default topology.

On a FRESH 2026.1 lab (fixture fresh_lab: redeployed when the running lab is not that; in scripts/test it is
the lab test_nova_upgrade_rpc.py upgraded from 2025.2, so this is also an operator's next upgrade: the earlier
state file is archived, a new upgrade starts):

1. one server ACTIVE on each compute (forced with availability zone nova:<host>);
2. `--check`: rc 0, the plan printed, changed=0 for every host, nothing written (the state file as it was,
   nova still 33.0.2 everywhere);
3. the real run (with -v, so the secrets scan sees the task results too) while tests/lab/probe.py reads
   the Compute API through haproxy at 6 requests/s, and boots/deletes servers while the computes are
   rolled (the cycle file is created when the output reaches "Roll the computes batch by batch" and
   removed when the unpin starts): rc 0, no failed request, >= 1 boot/delete cycle overlapping the compute
   roll, every pre-existing server ACTIVE on the same host, every nova service up on the new service
   version, the state done (every phase done), the report files with the timeline;
4. a re-run: rc 0, changed=0 for every host;
5. no secret in any output, report, the state file or the probe's result.

Run: .venv/bin/python -m pytest tests/lab/test_nova_upgrade.py (~10 min on a fresh lab, + ~6 min when it
has to be redeployed). Figures: the "lab figures" section at the end and <artifacts>/figures.json.
"""

from __future__ import annotations

import json
import time
import types
import uuid

import pytest

import upgrade_helpers as uh

pytestmark = pytest.mark.lab

RELEASE, TARGET = "2026.1", "2026.2"
TEST = "test_nova_upgrade"
RUN_TIMEOUT = 1500  # s for the real run (measured ~7 min)
CHECK_TIMEOUT = 600


@pytest.fixture(scope="module")
def ctx(fresh_lab, artifacts, figures):
    """A fresh 2026.1 lab with one server on each compute; the servers are deleted at the end."""
    lab = fresh_lab(RELEASE, TARGET)
    work = artifacts / TEST
    work.mkdir(exist_ok=True)
    clouds_yaml = lab.state / "clouds.yaml"
    conn = uh.connect(clouds_yaml)
    uh.wait_services_up(conn, uh.expected_services(lab), timeout=180)
    old, new = uh.release_services(RELEASE)["nova"], uh.release_services(TARGET)["nova"]
    t0 = time.monotonic()
    servers = uh.boot_one_per_compute(conn, lab.group("nova_compute"), f"upg-{uuid.uuid4().hex[:6]}")
    figures(TEST, servers_booted_s=round(time.monotonic() - t0, 1))
    manage = lab.group("nova_conductor")[0]
    prior = uh.state_file(lab, manage)
    figures(TEST, prior_upgrade=prior and prior["id"])
    c = types.SimpleNamespace(lab=lab, conn=conn, work=work, clouds_yaml=clouds_yaml, old=old, new=new,
                              servers=servers, manage=manage, prior=prior)
    yield c
    left = uh.delete_servers(conn, list(servers))
    if left:
        print(f"servers not deleted in time: {left}")
    conn.close()


@pytest.fixture(scope="module")
def check_run(ctx, figures):
    run = uh.run_playbook(ctx.work / "playbook-check.log", check=True, timeout=CHECK_TIMEOUT,
                          extra_vars={"nova_upgrade_target_release": TARGET})
    figures(TEST, check_run_s=round(run.seconds, 1), check_run_rc=run.rc)
    return run


@pytest.fixture(scope="module")
def upgrade(ctx, check_run, figures):
    """The real run under the probe; cycles while the computes are rolled."""
    probe = uh.ProbeRun(ctx.work, ctx.clouds_yaml).start()
    watches = [
        uh.Watch("pin", r"TASK \[rolling\.openstack\.nova_pin : "),
        uh.Watch("roll", r"TASK \[rolling\.openstack\.nova_roll : "),
        uh.Watch("roll_computes", r"nova_roll : Roll the computes batch by batch", probe.cycles_on),
        uh.Watch("migrate", r"TASK \[rolling\.openstack\.nova_migrate : "),
        uh.Watch("unpin", r"TASK \[rolling\.openstack\.nova_unpin : ", probe.cycles_off),
        uh.Watch("contract", r"TASK \[rolling\.openstack\.nova_contract : "),
    ]
    try:
        run = uh.run_playbook(ctx.work / "playbook-upgrade.log", verbose=1, timeout=RUN_TIMEOUT, watches=watches,
                              extra_vars={"nova_upgrade_target_release": TARGET,
                                          "nova_upgrade_probe_file": str(probe.out)})
    finally:
        result = probe.stop()
    state = uh.state_file(ctx.lab, ctx.manage)
    figures(TEST, upgrade_run_s=round(run.seconds, 1), upgrade_run_rc=run.rc,
            probe=uh.probe_figures(result), phase_seconds=uh.phase_seconds(state or {}),
            marks={k: v.isoformat() for k, v in run.marks.items()})
    return types.SimpleNamespace(run=run, probe=probe, result=result, state=state)


@pytest.fixture(scope="module")
def rerun(ctx, upgrade, figures):
    run = uh.run_playbook(ctx.work / "playbook-rerun.log", timeout=CHECK_TIMEOUT,
                          extra_vars={"nova_upgrade_target_release": TARGET})
    figures(TEST, rerun_s=round(run.seconds, 1), rerun_rc=run.rc)
    return run


def _changed_hosts(run):
    recap = run.recap()
    assert recap, f"no PLAY RECAP in the output: {run.fail_text()}"
    return {h: r for h, r in recap.items() if r["changed"] or r["failed"] or r["unreachable"]}


# ---------------------------------------------------------------------------------------------- --check

def test_check_run_changes_nothing(ctx, check_run):
    assert check_run.rc == 0, check_run.fail_text()
    out = check_run.output
    assert "Plan" in out and "compute batches" in out.lower() and "cmp1" in out, "the plan is not printed: " + check_run.fail_text(80)
    assert not _changed_hosts(check_run), f"--check changed something: {check_run.recap()}"
    assert uh.state_file(ctx.lab, ctx.manage) == ctx.prior, f"--check wrote {uh.STATE_FILE} on {ctx.manage}"
    wrong = {k: v["version"] for k, v in uh.nova_code(ctx.lab).items() if v["version"] != ctx.old or not v["active"]}
    assert not wrong, f"--check changed the running nova (want {ctx.old} everywhere): {wrong}"


# ---------------------------------------------------------------------------------------------- the upgrade

def test_upgrade_succeeds(upgrade):
    run = upgrade.run
    assert not run.action_errors, run.action_errors
    assert run.rc == 0 and not run.timed_out, run.fail_text(60)
    for mark in ("pin", "roll", "roll_computes", "migrate", "unpin", "contract"):
        assert mark in run.marks, f"the output never reached {mark}: {run.describe()}"


def test_api_never_failed(upgrade):
    res = upgrade.result
    assert res.get("complete"), f"the probe did not finish its result: {uh.tail(upgrade.probe.log)}"
    req = res["requests"]
    failed = [r for r in res.get("records", []) if not r.get("ok")][:10]
    assert req["failed"] == 0, f"{req['failed']} of {req['sent']} requests failed ({req['failures_by_kind']}): {failed}"
    assert req["load_sent"] >= 0.8 * req["target_rate"] * res["duration_s"], (
        f"the probe held only {req['achieved_rate']}/s of {req['target_rate']}/s ({req['skipped_slots']} slots skipped)")
    assert not res["cleanup"]["left"], f"the probe left servers behind: {res['cleanup']['left']}"


def test_cycles_during_compute_roll(upgrade, figures):
    start, end = upgrade.run.marks.get("roll_computes"), upgrade.run.marks.get("migrate")
    assert start and end, f"compute roll not seen in the output: {upgrade.run.marks}"
    cycles = upgrade.result.get("cycles", {})
    overlapping = []
    for cyc in cycles.get("list", []):
        c0, c1 = uh.cycle_window(cyc)
        if cyc["status"] == "ok" and c0 and c0 < end and c1 > start:
            overlapping.append(cyc)
    figures(TEST, compute_roll_s=round((end - start).total_seconds(), 1),
            cycles_during_compute_roll=len(overlapping),
            cycle_list=[{k: c.get(k) for k in ("n", "status", "host", "boot_s", "delete_s", "error")}
                        for c in cycles.get("list", [])])
    assert overlapping, (f"no successful boot/delete cycle overlapped the compute roll {start} .. {end}: "
                         f"{cycles.get('list')}")


# A boot scheduled to a compute in the seconds its nova-compute restarts would go to ERROR (nova fails builds that a
# compute restart interrupts): the roll and the unpin take each compute out of scheduling while it restarts
# (nova_upgrade_compute_disable), so no cycle may fail.
def test_no_boot_failed(ctx, upgrade, figures):
    """Every boot/delete cycle of the probe succeeded; a failed one is shown with what nova logged about
    its server (also saved in <artifacts>/test_nova_upgrade/failed-cycles.json)."""
    failed = [c for c in upgrade.result.get("cycles", {}).get("list", []) if c["status"] == "failed"]
    if not failed:
        return
    diagnostics = []
    for cyc in failed:
        logs = uh.server_log_lines(ctx.lab, cyc["server_id"]) if cyc.get("server_id") else {}
        diagnostics.append({"cycle": cyc, "nova_logs": logs})
    (ctx.work / "failed-cycles.json").write_text(json.dumps(diagnostics, indent=1, default=str))
    figures(TEST, failed_cycles=[{"n": c["n"], "started_at": c["started_at"], "error": c["error"]} for c in failed])
    lines = []
    for d in diagnostics:
        cyc = d["cycle"]
        lines.append(f"cycle {cyc['n']} {cyc['name']} ({cyc['server_id']}) started {cyc['started_at']}: {cyc['error']}")
        for host, rows in d["nova_logs"].items():
            lines += [f"  {host}: {row[:300]}" for row in rows[-8:]]
    pytest.fail(f"{len(failed)} boot/delete cycle(s) failed during the upgrade "
                f"(restarts in the state's events; logs in {ctx.work}/failed-cycles.json):\n" + "\n".join(lines))


def _task_results(run, task_prefix: str) -> list:
    """[(task line, first result line)] for each TASK line of the output starting with task_prefix."""
    found, lines = [], run.lines
    for i, line in enumerate(lines):
        if line.startswith("TASK [") and task_prefix in line:
            result = next((x for x in lines[i + 1:i + 40] if x.split(":")[0] in
                           ("ok", "changed", "skipping", "failed", "fatal")), "")
            found.append((line, result))
    return found


def test_computes_out_of_scheduling_while_restarted(ctx, upgrade):
    """Each compute was disabled before its nova-compute restarted (roll and unpin) and is enabled again."""
    for host in ctx.lab.group("nova_compute"):
        disabled = _task_results(upgrade.run, f"Take nova-compute on {host} out of scheduling")
        enabled = _task_results(upgrade.run, f"Enable nova-compute on {host}")
        assert len(disabled) >= 2 and all(r.startswith("changed") for _, r in disabled), (host, disabled)
        assert len(enabled) == len(disabled) and all(r.startswith("changed") for _, r in enabled), (host, enabled)
    status = {h: s for (b, h), (_, s) in uh.compute_services(ctx.conn).items() if b == "nova-compute"}
    assert set(status.values()) == {"enabled"}, f"computes left disabled: {status}"


def test_servers_kept_their_host(ctx, upgrade):
    problems = uh.server_problems(ctx.conn, ctx.servers)
    assert not problems, "pre-existing servers after the upgrade: " + "; ".join(problems)


def test_every_service_up_on_new_version(ctx, upgrade):
    uh.wait_services_up(ctx.conn, uh.expected_services(ctx.lab), timeout=120)
    wrong = {f"{u} on {h}": v["version"] for (h, u), v in uh.nova_code(ctx.lab).items()
             if v["version"] != ctx.new or not v["active"]}
    assert not wrong, f"nova units not running {ctx.new}: {wrong}"
    info = uh.service_versions(ctx.new, ctx.manage)
    target_sv = info["code"]["service_version"]
    old = [f"{s['binary']} on {s['host']}: {s['version']}" for s in info["services"] if s["version"] != target_sv]
    down = [f"{s['binary']} on {s['host']}" for s in info["services"]
            if s["binary"] in uh.HEARTBEAT_BINARIES and s.get("up") is False]
    assert not old, f"service records not on service version {target_sv} (nova {ctx.new}): {old}"
    assert not down, f"service records down: {down}"
    binaries = {(s["binary"], s["host"]) for s in info["services"]}
    missing = [b for b in uh.expected_services(ctx.lab) if b not in binaries]
    assert not missing, f"no service record for {missing}"


def test_state_is_done(ctx, upgrade):
    state = upgrade.state
    assert state, f"no state file {uh.STATE_FILE} on {ctx.manage}"
    assert state["status"] == "done", f"upgrade status {state['status']}"
    assert (state["from_version"], state["to_version"]) == (ctx.old, ctx.new)
    phases = state["phases"]
    not_done = {n: p["status"] for n, p in phases.items() if p["status"] != "done"}
    assert not not_done, f"phases not done: {not_done}"
    assert list(phases) == ["preflight", "pin", "expand", "roll", "migrate", "unpin", "contract"], list(phases)
    assert "nothing left" in phases["migrate"]["message"], phases["migrate"]["message"]
    assert phases["contract"]["details"].get("status_check") not in (None, "Failure", "Error"), phases["contract"]
    assert phases["unpin"]["details"]["selected"] == phases["unpin"]["details"]["code_compute_rpc"], phases["unpin"]
    assert len(state["runs"]) == 1 and state["runs"][0]["status"] == "done", state["runs"]
    if ctx.prior:
        # the earlier upgrade's state was archived beside the file, not overwritten
        stem = uh.STATE_FILE.rsplit(".json", 1)[0]
        found = ctx.lab.ssh(ctx.manage, f"ls {stem}.{ctx.prior['id']}.*.json 2>/dev/null || true").stdout.split()
        assert found, f"the state of the earlier upgrade {ctx.prior['id']} was not archived as {stem}.{ctx.prior['id']}.*.json"


def test_report_written(upgrade):
    state = upgrade.state
    files = uh.report_files_since(upgrade.run.started, state["id"])
    txt = [f for f in files if f.suffix == ".txt"]
    js = [f for f in files if f.suffix == ".json"]
    assert txt and js, f"no report written since {upgrade.run.started} in {uh.REPORT_DIR}: {files}"
    text = txt[-1].read_text()
    assert text.startswith(f"Nova upgrade {state['id']}: DONE"), text[:300]
    assert "Timeline from" in text and "nova-compute" in text, text
    assert "API probe" in text, "the report has no probe figures"
    assert str(txt[-1]) in upgrade.run.output, "the playbook did not show where the report is"


# ---------------------------------------------------------------------------------------------- re-run

def test_rerun_changes_nothing(ctx, upgrade, rerun):
    assert rerun.rc == 0, rerun.fail_text()
    assert not _changed_hosts(rerun), f"the re-run after success changed something: {rerun.recap()}"
    assert "Nothing to do" in rerun.output, rerun.fail_text()
    state = uh.state_file(ctx.lab, ctx.manage)
    assert state["status"] == "done" and len(state["runs"]) == len(upgrade.state["runs"]), state["runs"]


# ---------------------------------------------------------------------------------------------- secrets

def test_no_secret_in_outputs(ctx, check_run, upgrade, rerun):
    secrets = uh.secret_values(ctx.lab.state)
    assert len(secrets) >= 5, f"too few secrets read from {ctx.lab.state}/secrets.yml: {sorted(secrets)}"
    texts = {
        "--check output": check_run.output,
        "upgrade output (-v)": upgrade.run.output,
        "re-run output": rerun.output,
        "probe result": upgrade.probe.out.read_text() if upgrade.probe.out.exists() else "",
        "probe log": upgrade.probe.log.read_text(),
        "state file": ctx.lab.ssh(ctx.manage, f"cat {uh.STATE_FILE}").stdout,
    }
    for path in uh.report_files_since(upgrade.run.started, upgrade.state["id"]):
        texts[f"report {path.name}"] = path.read_text()
    findings = uh.secret_findings(texts, secrets)
    assert not findings, "secrets found: " + "; ".join(findings)

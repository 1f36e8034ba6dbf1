# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The clean Nova rolling upgrade on the lab: 2026.1 (nova 33.0.2) -> 2026.2 (nova 34.0.0), default topology.

On a FRESH 2026.1 lab (fixture fresh_lab: redeployed when the running lab is not that; in scripts/test it is
the lab test_nova_upgrade_rpc.py upgraded from 2025.2, so this is also an operator's next upgrade: the earlier
state file is archived, a new upgrade starts):

1. one server ACTIVE on each compute (forced with availability zone nova:<host>);
2. a forgotten old compute: a nova-compute record at service version 70 (nova 34.0.0 supports 72 and newer) is
   planted in the cell database; the real run stops in the preflight on the TARGET nova-status upgrade check's
   Failure ("Older than N-1 computes"), says what the preflight did (it installed the target venv on the manage
   host), changes nothing else; the record is removed;
   then a cell mapping whose database does not answer (cell-lost, database nova_cell_lost) is planted in the API
   database: the run stops in the preflight naming the uncovered cell and the fix, nothing changes; it is removed;
3. `--check` with --diff -vvv and the json callback (every event, as AWX stores them): rc 0, the plan printed,
   changed=0 for every host, nothing written (the state file as it was, nova still 33.0.2 everywhere);
4. the real run (with --diff -vvv, so the secrets scan sees every diff and task result) while tests/lab/probe.py reads
   the Compute API through haproxy at 6 requests/s, sends GET /os-hypervisors/detail every 5 s, and
   boots/deletes servers from the API roll on (the cycle file is created when the output reaches the first
   "Roll api on" and removed when the unpin starts), reading each one back through every API node: rc 0, no
   failed request, >= 1 boot/delete cycle overlapping the API roll and >= 1 the compute roll, read-backs
   answered by every API node, no more MessagingTimeouts of the hypervisor calls than compute restarts
   (counted apart), every pre-existing server ACTIVE on the same host, every nova service up on the new service
   version, the state done (every phase done), every cell database (cell0, cell1, and cell2, which only its cell
   mapping names) at the target's schema revision and online-migrated, the report files with the timeline; a second run started
   during the expand is refused by the upgrade lock, naming the run that holds it, and changes nothing;
5. a re-run: rc 0, changed=0 for every host;
6. no secret in any output (each run's, the json events included), report, the state file or the probe's result.

Run: .venv/bin/python -m pytest tests/lab/test_nova_upgrade.py (~10 min on a fresh lab, + ~6 min when it
has to be redeployed). Figures: the "lab figures" section at the end and <artifacts>/figures.json.
"""

from __future__ import annotations

import datetime
import json
import shlex
import threading
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
HYPERVISORS_INTERVAL = 5.0  # s between the probe's GET /os-hypervisors/detail calls (one at a time)
CELL_DB = "nova"  # the lab's cell1 database, on infra
# every cell database of the lab (cell0, cell1, and cell2: no compute, reached by the upgrade through its mapping)
CELL_DBS = ("nova_cell0", "nova", "nova_cell2")
FORGOTTEN = "cmp-forgotten"
LOST_CELL = "cell-lost"
LOCK_FILE = "/var/lib/rolling-openstack/nova-upgrade.lock"


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
    venv = lab.ssh(manage, f"test -d {uh.VENVS_DIR}/nova-{new} && echo yes || true").stdout.strip() == "yes"
    c = types.SimpleNamespace(lab=lab, conn=conn, work=work, clouds_yaml=clouds_yaml, old=old, new=new,
                              servers=servers, manage=manage, prior=prior, target_venv_before=venv,
                              schemas_before=_cell_schemas(lab))
    yield c
    left = uh.delete_servers(conn, list(servers))
    if left:
        print(f"servers not deleted in time: {left}")
    conn.close()


def _cell_sql(lab, statement, database=CELL_DB):
    return lab.ssh("infra", f"mysql -N -e {shlex.quote(statement)} {database}", timeout=60)


def _cell_schemas(lab) -> dict:
    """{cell database: its alembic revision} of every cell database of the lab."""
    return {db: _cell_sql(lab, "SELECT version_num FROM alembic_version", db).stdout.strip() for db in CELL_DBS}


@pytest.fixture(scope="module")
def old_compute_run(ctx, figures):
    """The real run with a forgotten nova-compute record at service version 70 in the cell (removed afterwards)."""
    _cell_sql(ctx.lab, "INSERT INTO services (created_at, updated_at, host, `binary`, topic, report_count, disabled, "
                       f"deleted, forced_down, version, uuid) VALUES (NOW(), NOW(), '{FORGOTTEN}', 'nova-compute', "
                       "'compute', 1, 0, 0, 0, 70, UUID())")
    try:
        run = uh.run_playbook(ctx.work / "playbook-old-compute.log", timeout=CHECK_TIMEOUT,
                              extra_vars={"nova_upgrade_target_release": TARGET})
    finally:
        _cell_sql(ctx.lab, f"DELETE FROM services WHERE host = '{FORGOTTEN}'")
    figures(TEST, old_compute_run_s=round(run.seconds, 1), old_compute_run_rc=run.rc)
    return run


@pytest.fixture(scope="module")
def lost_cell_run(ctx, old_compute_run, figures):
    """The real run with a third cell mapping whose database does not answer from the manage host (a copy of cell1's
    mapping naming database nova_cell_lost, which does not exist; removed afterwards)."""
    _cell_sql(ctx.lab, "INSERT INTO cell_mappings (created_at, uuid, name, transport_url, database_connection, disabled) "
                       f"SELECT NOW(), UUID(), '{LOST_CELL}', transport_url, "
                       f"REPLACE(database_connection, '/{CELL_DB}?', '/nova_cell_lost?'), 0 FROM cell_mappings "
                       "WHERE name = 'cell1'", "nova_api")
    try:
        planted = _cell_sql(ctx.lab, f"SELECT COUNT(*) FROM cell_mappings WHERE name = '{LOST_CELL}' AND "
                                     "database_connection LIKE '%/nova_cell_lost?%'", "nova_api").stdout.strip()
        assert planted == "1", f"the cell mapping {LOST_CELL} was not planted as meant ({planted} rows)"
        run = uh.run_playbook(ctx.work / "playbook-lost-cell.log", timeout=CHECK_TIMEOUT,
                              extra_vars={"nova_upgrade_target_release": TARGET})
    finally:
        _cell_sql(ctx.lab, f"DELETE FROM cell_mappings WHERE name = '{LOST_CELL}'", "nova_api")
    figures(TEST, lost_cell_run_s=round(run.seconds, 1), lost_cell_run_rc=run.rc)
    return run


@pytest.fixture(scope="module")
def check_run(ctx, lost_cell_run, figures):
    """--check with --diff -vvv, every event also written as JSON (what AWX stores)."""
    run = uh.run_playbook(ctx.work / "playbook-check.log", check=True, diff=True, verbose=3,
                          events=ctx.work / "events-check.jsonl", timeout=CHECK_TIMEOUT,
                          extra_vars={"nova_upgrade_target_release": TARGET})
    figures(TEST, check_run_s=round(run.seconds, 1), check_run_rc=run.rc)
    return run


@pytest.fixture(scope="module")
def upgrade(ctx, check_run, figures):
    """The real run under the probe; cycles while the computes are rolled."""
    # read-backs of each cycle's server through every API node (defect 17), and GET /os-hypervisors/detail every
    # HYPERVISORS_INTERVAL s, a call nova-api answers by asking each compute over RPC (defect 18)
    probe = uh.ProbeRun(ctx.work, ctx.clouds_yaml, api_nodes=ctx.lab.group("nova_api"),
                        hypervisors_interval=HYPERVISORS_INTERVAL).start()
    second = types.SimpleNamespace(run=None, thread=None)

    def start_second_run():
        # a second run of the upgrade while this one holds the lock (defect 10), naming ANOTHER manage host (ctl2;
        # the first run's is ctl1): it must be refused all the same, the lock being on every nova control host
        def go():
            second.run = uh.run_playbook(ctx.work / "playbook-concurrent.log", timeout=CHECK_TIMEOUT,
                                         extra_vars={"nova_upgrade_target_release": TARGET,
                                                     "nova_upgrade_manage_host": ctx.lab.group("nova_conductor")[1]})
        second.thread = threading.Thread(target=go, name="second-run", daemon=True)
        second.thread.start()

    watches = [
        uh.Watch("pin", r"TASK \[rolling\.openstack\.nova_pin : "),
        uh.Watch("expand", r"TASK \[rolling\.openstack\.nova_expand : ", start_second_run),
        uh.Watch("roll", r"TASK \[rolling\.openstack\.nova_roll : "),
        uh.Watch("roll_api", r"^TASK \[Roll api on ", probe.cycles_on),
        uh.Watch("roll_computes", r"nova_roll : Roll the computes batch by batch"),
        uh.Watch("migrate", r"TASK \[rolling\.openstack\.nova_migrate : "),
        uh.Watch("unpin", r"TASK \[rolling\.openstack\.nova_unpin : ", probe.cycles_off),
        uh.Watch("contract", r"TASK \[rolling\.openstack\.nova_contract : "),
    ]
    try:
        run = uh.run_playbook(ctx.work / "playbook-upgrade.log", verbose=3, diff=True, timeout=RUN_TIMEOUT, watches=watches,
                              events=ctx.work / "events-upgrade.jsonl",
                              extra_vars={"nova_upgrade_target_release": TARGET,
                                          "nova_upgrade_probe_file": str(probe.out)})
    finally:
        result = probe.stop()
        if second.thread is not None:
            second.thread.join(timeout=CHECK_TIMEOUT + 60)
    state = uh.state_file(ctx.lab, ctx.manage)
    lock_left = "".join(ctx.lab.ssh(h, f"cat {LOCK_FILE} 2>/dev/null || true").stdout.strip()
                        for h in sorted(set(ctx.lab.group("nova_conductor") + ctx.lab.group("nova_api"))))
    figures(TEST, upgrade_run_s=round(run.seconds, 1), upgrade_run_rc=run.rc,
            probe=uh.probe_figures(result), phase_seconds=uh.phase_seconds(state or {}),
            marks={k: v.isoformat() for k, v in run.marks.items()})
    if second.run is not None:
        figures(TEST, concurrent_run_s=round(second.run.seconds, 1), concurrent_run_rc=second.run.rc)
    return types.SimpleNamespace(run=run, probe=probe, result=result, state=state, second=second.run,
                                 lock_left=lock_left)


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


# ---------------------------------------------------------------------------------------------- refused

def test_forgotten_old_compute_stops_the_preflight(ctx, old_compute_run):
    """Defect 1: the target's nova-status Failure is a preflight problem; defect 16: the refusal says what it did."""
    run = old_compute_run
    assert run.rc not in (0, None), f"the run with a version-70 compute record did not fail: {run.fail_text()}"
    out = run.output
    assert "target nova-status upgrade check on" in out and "reports Failure (rc 2): Older than N-1 computes" in out, \
        f"the target nova-status Failure is not a preflight problem: {run.fail_text(60)}"
    # a refused preflight says what it did: it installed the target venv on the manage host unless it was there
    said = "the preflight only installed the target nova venv" if not ctx.target_venv_before else "nothing was changed"
    assert "Preflight found" in out and said in out, f"the refusal does not say {said!r}: {run.fail_text(60)}"
    assert "TASK [rolling.openstack.nova_pin" not in out, f"a phase started: {run.fail_text()}"
    assert uh.state_file(ctx.lab, ctx.manage) == ctx.prior, f"the refused run wrote {uh.STATE_FILE} on {ctx.manage}"
    wrong = {k: v["version"] for k, v in uh.nova_code(ctx.lab).items() if v["version"] != ctx.old or not v["active"]}
    assert not wrong, f"the refused run changed the running nova (want {ctx.old} everywhere): {wrong}"
    left = _cell_sql(ctx.lab, f"SELECT COUNT(*) FROM services WHERE host = '{FORGOTTEN}'").stdout.strip()
    assert left == "0", f"the planted record of {FORGOTTEN} was not removed ({left} left)"


def test_uncovered_cell_stops_the_preflight(ctx, lost_cell_run):
    """Defect 5: a cell of the cell mappings that no source covers (its database does not answer from the manage
    host, no nova_upgrade_cell_config_files entry names it) is refused, named, with the fix; nothing changes."""
    run = lost_cell_run
    assert run.rc not in (0, None), f"the run with an uncovered cell did not fail: {run.fail_text()}"
    out = run.output
    # measured: the preflight's reading of the service records of every cell (nova_service_version_info) stops
    # first, naming the cell and the fix; nova_cell_sources' own "is not covered" is the second net (unit-tested)
    named = f"could not read the services of cell {LOST_CELL} (" in out and "Fix the cell database connection" in out
    covered = f"cell {LOST_CELL} (" in out and "is not covered" in out and "nova_upgrade_cell_config_files" in out
    assert named or covered, f"the refusal does not name the uncovered cell {LOST_CELL} and the fix: {run.fail_text(60)}"
    assert "TASK [rolling.openstack.nova_pin" not in out, f"a phase started: {run.fail_text()}"
    assert uh.state_file(ctx.lab, ctx.manage) == ctx.prior, f"the refused run wrote {uh.STATE_FILE} on {ctx.manage}"
    wrong = {k: v["version"] for k, v in uh.nova_code(ctx.lab).items() if v["version"] != ctx.old or not v["active"]}
    assert not wrong, f"the refused run changed the running nova (want {ctx.old} everywhere): {wrong}"
    assert _cell_schemas(ctx.lab) == ctx.schemas_before, "the refused run changed a cell schema"


# ---------------------------------------------------------------------------------------------- --check

def test_check_run_changes_nothing(ctx, check_run):
    assert check_run.rc == 0, check_run.fail_text()
    out = check_run.output
    assert "cell2" in out and "its cell mapping" in out, "the plan does not say where cell2 is synced from: " + \
        check_run.fail_text(80)
    assert "Plan" in out and "compute batches" in out.lower() and "cmp1" in out, "the plan is not printed: " + check_run.fail_text(80)
    assert not _changed_hosts(check_run), f"--check changed something: {check_run.recap()}"
    events = check_run.events()
    assert events and events[-1]["event"] == "playbook_on_stats", f"no events written for the --check run: {events[-1:]}"
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
    overlapping = uh.ok_cycles_within(cycles.get("list", []), start, end)
    figures(TEST, compute_roll_s=round((end - start).total_seconds(), 1),
            cycles_during_compute_roll=len(overlapping),
            cycle_list=[{k: c.get(k) for k in ("n", "status", "host", "boot_s", "delete_s", "error")}
                        for c in cycles.get("list", [])])
    assert overlapping, (f"no successful boot/delete cycle overlapped the compute roll {start} .. {end}: "
                         f"{cycles.get('list')}")


def test_servers_read_back_through_every_api_node(ctx, upgrade, figures):
    """Defect 17: servers booted during the API roll are read back; every API node answered read-backs (so the
    probe would see an old node that cannot read a server a new one created: HTTP 500), none failed."""
    start, end = upgrade.run.marks.get("roll_api"), upgrade.run.marks.get("roll_computes")
    assert start and end, f"API roll not seen in the output: {upgrade.run.marks}"
    cycles = upgrade.result.get("cycles", {})
    during = uh.ok_cycles_within(cycles.get("list", []), start, end)
    by_node = cycles.get("read_backs_by_api_node") or {}
    figures(TEST, api_roll_s=round((end - start).total_seconds(), 1), cycles_during_api_roll=len(during),
            read_backs_during_api_roll=[{k: c.get(k) for k in ("n", "read_back", "read_back_missing")} for c in during],
            read_backs_by_api_node=by_node)
    assert during, f"no successful boot/delete cycle overlapped the API roll {start} .. {end}: {cycles.get('list')}"
    assert all(c.get("read_back") for c in during), f"a cycle of the API roll was not read back: {during}"
    bad = {c["n"]: c["read_back"] for c in during if any(v != 200 for v in c["read_back"].values())}
    assert not bad, f"read-backs during the API roll failed: {bad}"
    api = ctx.lab.group("nova_api")
    assert set(by_node) == set(api), f"read-backs answered by {sorted(by_node)}, want every API node {api}"
    assert all(v["failed"] == 0 for v in by_node.values()), by_node


def test_calls_that_wait_on_a_compute(upgrade, figures):
    """Defect 18: GET /os-hypervisors/detail ran through the upgrade; the MessagingTimeouts of those that met a
    compute as it stopped (counted apart, docs/nova_upgrade.md) are no more than the compute restarts."""
    req = upgrade.result["requests"]
    restarts = sum(1 for e in (upgrade.state or {}).get("events", [])
                   if e.get("service") == "nova-compute" and e.get("event") in ("restart", "switch"))
    figures(TEST, compute_sync_sent=req.get("compute_sync_sent"), compute_rpc_timeouts=req.get("compute_rpc_timeouts"),
            compute_rpc_timeouts_at=req.get("compute_rpc_timeouts_at"), compute_restarts=restarts)
    by_name = req["by_name"].get("hypervisors_detail") or {}
    assert req["compute_sync_sent"] >= upgrade.result["duration_s"] / (HYPERVISORS_INTERVAL + 60) / 2, (
        f"only {req['compute_sync_sent']} GET /os-hypervisors/detail in {upgrade.result['duration_s']} s")
    assert by_name.get("failed", 0) == 0, f"hypervisor calls failed other than by MessagingTimeout: {by_name}"
    assert restarts >= 3, f"the state records {restarts} nova-compute restarts"
    assert req["compute_rpc_timeouts"] <= restarts, (
        f"{req['compute_rpc_timeouts']} MessagingTimeouts for {restarts} compute restarts: {req['compute_rpc_timeouts_at']}")
    # each one was sent while a nova-compute restarted (its event: the end time and the seconds it took); one that
    # no compute restart explains is a real failure
    windows = [(uh.parse_time(e["time"]) - datetime.timedelta(seconds=float(e.get("seconds") or 0) + 2),
                uh.parse_time(e["time"]), e["host"])
               for e in (upgrade.state or {}).get("events", [])
               if e.get("service") == "nova-compute" and e.get("event") in ("restart", "switch") and e.get("time")]
    unexplained = [t for t in req["compute_rpc_timeouts_at"]
                   if not any(w0 <= uh.parse_time(t) <= w1 for w0, w1, _h in windows)]
    figures(TEST, compute_rpc_timeouts_during=[h for t in req["compute_rpc_timeouts_at"] for w0, w1, h in windows
                                                if w0 <= uh.parse_time(t) <= w1])
    assert not unexplained, f"MessagingTimeouts sent while no compute restarted: {unexplained} (restarts: {windows})"


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
    assert list(phases) == ["preflight", "pin", "expand", "roll", "unpin", "migrate", "contract"], list(phases)
    assert "nothing left" in phases["migrate"]["message"], phases["migrate"]["message"]
    assert phases["contract"]["details"].get("status_check") not in (None, "Failure", "Error"), phases["contract"]
    assert phases["unpin"]["details"]["selected"] == phases["unpin"]["details"]["code_compute_rpc"], phases["unpin"]
    assert len(state["runs"]) == 1 and state["runs"][0]["status"] == "done", state["runs"]
    if ctx.prior:
        # the earlier upgrade's state was archived beside the file, not overwritten
        stem = uh.STATE_FILE.rsplit(".json", 1)[0]
        found = ctx.lab.ssh(ctx.manage, f"ls {stem}.{ctx.prior['id']}.*.json 2>/dev/null || true").stdout.split()
        assert found, f"the state of the earlier upgrade {ctx.prior['id']} was not archived as {stem}.{ctx.prior['id']}.*.json"


def test_every_cell_schema_at_target(ctx, upgrade):
    """Defect 5: every cell of the cell mappings is synced and migrated, cell2 too, though no configuration file of
    the run names its database (the preflight maps it to its cell mapping). nova 34.0.0 adds a cell migration, so
    a cell left out would keep 33.0.2's revision."""
    before, after = ctx.schemas_before, _cell_schemas(ctx.lab)
    assert before["nova"] != after["nova"], (
        f"cell1's schema revision did not move ({before['nova']}): the target adds no cell migration, so this test "
        "cannot tell a synced cell from one left out")
    behind = {db: rev for db, rev in after.items() if rev != after["nova"]}
    assert not behind, f"cell databases left behind cell1's revision {after['nova']}: {behind} (before: {before})"
    cells = upgrade.state["phases"]["migrate"]["details"].get("cells") or []
    assert {"cell0", "cell1", "cell2"} <= set(cells), f"the migrate phase did not cover every cell: {cells}"


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


def test_concurrent_run_is_refused_by_the_lock(ctx, upgrade):
    """Defect 10: a second run started while the first holds the lock, and naming another manage host, is refused,
    naming the holder, and changes nothing; the first run goes on and releases its lock (on every control host) at
    its end."""
    second = upgrade.second
    assert second is not None, "the second run was not started (the output never reached the expand)"
    assert second.rc not in (0, None), f"the second run was not refused: {second.fail_text()}"
    out = second.output
    assert "is held by" in out and "another run of the upgrade is under way" in out, second.fail_text()
    assert "TASK [rolling.openstack.nova_pin" not in out and "Preflight found" not in out, second.fail_text()
    changed = {h: r for h, r in second.recap().items() if r["changed"]}
    assert not changed, f"the refused second run changed something: {second.recap()}"
    assert upgrade.run.rc == 0, "the first run did not complete after the second was refused"
    assert not upgrade.lock_left, f"the upgrade lock {LOCK_FILE} was left after the run: {upgrade.lock_left}"


def _diff_blocks(run) -> list:
    """The --diff blocks of the default callback: from a '--- before' line to the next task or host result."""
    blocks, block = [], None
    for line in run.lines:
        if line.startswith("--- before"):
            block = [line]
            blocks.append(block)
        elif block is not None:
            if line.startswith(("TASK [", "changed: [", "ok: [", "skipping: [", "fatal: [", "PLAY ", "included: ")):
                block = None
            else:
                block.append(line)
    return ["\n".join(b) for b in blocks]


def _diffs_of(event) -> list:
    """The diffs of an on_file_diff event (a result holds one, or a list of them, or one per loop item)."""
    result = event.get("result") or {}
    found = []
    for holder in [result] + list(result.get("results") or []):
        diff = holder.get("diff") if isinstance(holder, dict) else None
        found += [d for d in (diff if isinstance(diff, list) else [diff]) if isinstance(d, dict)]
    return found


def test_diff_shows_only_upgrade_levels(upgrade):
    """Defect 3: --diff of the pin and the unpin shows the [upgrade_levels] section, not nova.conf."""
    blocks = [b for b in _diff_blocks(upgrade.run) if "nova.conf" in b.split("\n", 1)[0]]
    assert blocks, "no --diff block of nova.conf in the output (the pin or the unpin changes it)"
    for block in blocks:
        assert block.split("\n", 1)[0].endswith("[upgrade_levels]"), f"a nova.conf diff of more than [upgrade_levels]:\n{block[:2000]}"
        for text in ("[database]", "[api_database]", "transport_url", "connection", "password"):
            assert text not in block, f"{text!r} in a --diff block of nova.conf:\n{block[:2000]}"
    # and in what AWX stores: every diff event of the run
    diffs = [d for e in upgrade.run.events() if e["event"] == "on_file_diff" for d in _diffs_of(e)
             if "nova.conf" in "%s" % d.get("before_header", "")]
    assert diffs, "no diff event of nova.conf among the run's events"
    for diff in diffs:
        assert diff["before_header"].endswith("[upgrade_levels]"), diff
        text = json.dumps(diff)
        for word in ("transport_url", "connection", "password", "[database]"):
            assert word not in text, f"{word!r} in a diff event of nova.conf: {text[:2000]}"


# ---------------------------------------------------------------------------------------------- re-run

def test_rerun_changes_nothing(ctx, upgrade, rerun):
    assert rerun.rc == 0, rerun.fail_text()
    assert not _changed_hosts(rerun), f"the re-run after success changed something: {rerun.recap()}"
    assert "Nothing to do" in rerun.output, rerun.fail_text()
    state = uh.state_file(ctx.lab, ctx.manage)
    assert state["status"] == "done" and len(state["runs"]) == len(upgrade.state["runs"]), state["runs"]


# ---------------------------------------------------------------------------------------------- secrets

def test_no_secret_in_outputs(ctx, old_compute_run, lost_cell_run, check_run, upgrade, rerun):
    secrets = uh.secret_values(ctx.lab.state)
    assert len(secrets) >= 5, f"too few secrets read from {ctx.lab.state}/secrets.yml: {sorted(secrets)}"
    texts = {
        "refused run (old compute)": old_compute_run.output,
        "refused run (lost cell: its database error)": lost_cell_run.output,
        "--check output (--diff -vvv)": check_run.output,
        "--check events": (ctx.work / "events-check.jsonl").read_text(),
        "upgrade output (--diff -vvv)": upgrade.run.output,
        "upgrade events": (ctx.work / "events-upgrade.jsonl").read_text(),
        "refused concurrent run": upgrade.second.output if upgrade.second else "",
        "re-run output": rerun.output,
        "probe result": upgrade.probe.out.read_text() if upgrade.probe.out.exists() else "",
        "probe log": upgrade.probe.log.read_text(),
        "state file": ctx.lab.ssh(ctx.manage, f"cat {uh.STATE_FILE}").stdout,
    }
    for path in uh.report_files_since(upgrade.run.started, upgrade.state["id"]):
        texts[f"report {path.name}"] = path.read_text()
    findings = uh.secret_findings(texts, secrets)
    assert not findings, "secrets found: " + "; ".join(findings)

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Faults during the Nova rolling upgrade 2026.1 -> 2026.2, one sequential scenario on one fresh lab
(compute batches of 1: [cmp1] [cmp2] [cmp3]):

0) the first run is interrupted with SIGINT (an operator's Ctrl-C, to the playbook's process group) as soon as
   the pin phase has drained the first API node out of haproxy for its restart -> that backend server stays
   drained (the state has its lb_drain and no lb_ready), the API answers through the others;
a) a re-run is refused by the lock the interrupted run left, saying its run is gone; the re-run with
   nova_upgrade_lock_takeover=true takes it over and puts the drained API node back first;
   cmp2's nova.conf is broken on purpose (`[DEFAULT] report_interval` not an integer: the NEW nova-compute
   exits at start; the old one read its configuration long ago and keeps running until the roll restarts
   it) -> the run fails naming cmp2 and saying the roll stopped; cmp1 runs the new code, cmp3 is untouched
   (still the old code, not restarted, service up), the API answers through haproxy, the servers are ACTIVE,
   every API node is back in haproxy;
b) cmp2's configuration fixed; the re-run is started and when its output reaches batch 2 (cmp2), cmp3's
   network is cut (`ip -n rl-cmp3 link set eth0 down` on this machine) -> the run fails with a message
   naming cmp3; cmp2 now runs the new code, cmp3 was not touched;
c) cmp3's network restored; the re-run is interrupted with SIGINT (an operator's Ctrl-C, to the playbook's
   process group) right after cmp3's nova-compute unit was switched to the new venv and before its restart
   -> cmp3's unit names the new venv while its process still runs the old code, cmp3 out of scheduling;
d) the re-run (nova_upgrade_lock_takeover=true: the interrupted run left its lock) completes:
   cmp3 restarted onto the new code (decided from the running process, not the unit files), back in
   scheduling, every nova service on the new code, the state done, and no control service or finished
   compute restarted again by the resumed runs.

Run: .venv/bin/python -m pytest tests/lab/test_nova_upgrade_faults.py (~15 min + a lab redeploy ~6 min).
"""

from __future__ import annotations

import collections
import signal
import subprocess
import time
import types
import uuid

import pytest

import upgrade_helpers as uh

pytestmark = pytest.mark.lab

RELEASE, TARGET = "2026.1", "2026.2"
TEST = "test_nova_upgrade_faults"
RUN_TIMEOUT = 1500
LB_BACKEND = "nova_back"  # the lab's haproxy backend of the compute API
BROKEN_LINE = "report_interval = broken-on-purpose-by-the-faults-test"
# batch size 1 whatever the number of computes; a shorter gate than the default 180 s (a healthy nova-compute
# reports in within ~20 s on the lab) keeps the failing batch short
EXTRA_VARS = {"nova_upgrade_target_release": TARGET, "nova_upgrade_compute_batch_size": 1,
              "nova_upgrade_gate_timeout": 120}


def _netns_link(host, state):
    """`ip -n rl-<host> link set eth0 <state>` on this machine (the lab host's own network namespace)."""
    subprocess.run(["ip", "-n", f"rl-{host}", "link", "set", "eth0", state], check=True, timeout=30)


@pytest.fixture(scope="module")
def ctx(fresh_lab, artifacts):
    lab = fresh_lab(RELEASE, TARGET)
    computes = lab.group("nova_compute")
    if len(computes) < 3:
        pytest.fail(f"the faults scenario needs 3 computes, the lab has {computes} (LAB_COMPUTES)")
    work = artifacts / TEST
    work.mkdir(exist_ok=True)
    conn = uh.connect(lab.state / "clouds.yaml")
    uh.wait_services_up(conn, uh.expected_services(lab), timeout=180)
    servers = uh.boot_one_per_compute(conn, computes, f"flt-{uuid.uuid4().hex[:6]}")
    c = types.SimpleNamespace(
        lab=lab, conn=conn, work=work, servers=servers, manage=lab.group("nova_conductor")[0],
        old=uh.release_services(RELEASE)["nova"], new=uh.release_services(TARGET)["nova"],
        cmp1=computes[0], cmp2=computes[1], cmp3=computes[2], done=set(), runs={}, t_start=time.time(),
    )
    yield c
    _netns_link(c.cmp3, "up")  # whatever happened, the lab host gets its network back
    left = uh.delete_servers(conn, list(servers))
    if left:
        print(f"servers not deleted in time: {left}")
    conn.close()


def _after(ctx, step):
    """Steps build on each other: stop at once when the step before failed."""
    if step not in ctx.done:
        pytest.fail(f"step {step} did not pass, so this step cannot run", pytrace=False)


def _code(ctx, host, unit="nova-compute"):
    return uh.unit_states(ctx.lab, host, [unit])[unit]


def _run(ctx, name, figures, watches=(), takeover=False):
    extra = {**EXTRA_VARS, "nova_upgrade_lock_takeover": True} if takeover else EXTRA_VARS
    run = uh.run_playbook(ctx.work / f"playbook-{name}.log", extra_vars=extra, timeout=RUN_TIMEOUT, watches=watches)
    ctx.runs[name] = run
    figures(TEST, **{f"run_{name}_s": round(run.seconds, 1), f"run_{name}_rc": run.rc})
    return run


def _api_answers(ctx):
    names = [s.name for s in ctx.conn.compute.servers(all_projects=True)]
    assert len(names) >= len(ctx.servers), f"server list through haproxy: {names}"


def test_0_interrupted_api_restart_leaves_its_backend_drained(ctx, figures):
    api = ctx.lab.group("nova_api")
    first = api[0]
    assert set(uh.haproxy_admin_states(ctx.lab, LB_BACKEND).values()) == {0}, "an API node is out of haproxy already"
    drain = rf"^TASK \[rolling\.openstack\.nova_restart : Take {first} out of load balancer backend {LB_BACKEND} on every"
    watches = [uh.Watch("drain", drain),
               # the drain's own result: the node is out, its restart and return not done yet
               uh.Watch("sigint", r"^changed: \[", after="drain", signal=signal.SIGINT)]
    run = _run(ctx, "0", figures, watches=watches)
    assert "sigint" in run.marks, "the output never reached the drain of the first API node: " + run.fail_text(60)
    assert run.rc not in (0, None) and not run.timed_out, run.fail_text(60)
    states = uh.haproxy_admin_states(ctx.lab, LB_BACKEND)
    figures(TEST, **{"0_rc": run.rc, "0_haproxy_admin_states": states})
    assert states.get(first, 0) != 0, f"{first} is not drained after the interrupt: {states}"
    assert all(states[h] == 0 for h in api if h != first), states
    events = [e for e in uh.state_file(ctx.lab, ctx.manage).get("events", [])
              if e.get("server") == first and e.get("backend") == LB_BACKEND]
    assert events and events[-1]["event"] == "lb_drain", f"the state does not record the drain last: {events}"
    _api_answers(ctx)
    ctx.done.add("0")


def test_a_broken_compute_stops_the_roll(ctx, figures):
    _after(ctx, "0")
    cmp1, cmp2, cmp3 = ctx.cmp1, ctx.cmp2, ctx.cmp3
    cmp3_before = _code(ctx, cmp3)
    ctx.lab.ssh(cmp2, f"sed -i '0,/^\\[DEFAULT\\]/s//[DEFAULT]\\n{BROKEN_LINE}/' /etc/nova/nova.conf && "
                      f"grep -qx '{BROKEN_LINE}' /etc/nova/nova.conf")
    # the interrupted run left its lock: a run is refused, saying that its holder is gone, until asked to take it over
    refused = _run(ctx, "a-refused", figures)
    assert refused.rc not in (0, None), refused.fail_text(40)
    for text in ("The run holding it is gone", "no longer runs ansible-playbook on this controller",
                 "Nothing was read or changed by this run", "-e nova_upgrade_lock_takeover=true"):
        assert text in refused.output, f"the refusal does not say {text!r}: " + refused.fail_text(40)
    assert "TASK [rolling.openstack.nova_pin" not in refused.output, refused.fail_text(40)
    run = _run(ctx, "a", figures, takeover=True)

    assert run.rc not in (0, None) and not run.timed_out, run.fail_text()
    tail = "\n".join(run.lines[-80:])
    assert cmp2 in tail and "The roll stopped here" in tail, "the failure does not name cmp2 / the stop: " + run.fail_text(80)
    assert f"later batches ({cmp3})" in tail, "the failure does not say which batches were left: " + run.fail_text(80)

    st1, st3 = _code(ctx, cmp1), _code(ctx, cmp3)
    assert st1["version"] == ctx.new and st1["active"], f"{cmp1}: {st1}"
    assert st3["version"] == ctx.old and st3["active"], f"{cmp3} was touched: {st3}"
    assert st3["since"] == cmp3_before["since"], f"nova-compute on {cmp3} was restarted: {cmp3_before} -> {st3}"
    services = uh.compute_services(ctx.conn)
    assert services.get(("nova-compute", cmp3)) == ("up", "enabled"), services
    # the failed compute stays out of scheduling until a re-run restarts it (the next run enables it again)
    assert services.get(("nova-compute", cmp2), ("", ""))[1] == "disabled", services
    _api_answers(ctx)
    problems = uh.server_problems(ctx.conn, ctx.servers)
    assert not problems, problems

    state = uh.state_file(ctx.lab, ctx.manage)
    assert state["status"] == "failed", state["status"]
    assert {n: state["phases"][n]["status"] for n in ("preflight", "pin", "expand")} == dict.fromkeys(
        ("preflight", "pin", "expand"), "done"), state["phases"]
    roll = state["phases"]["roll"]
    assert roll["status"] == "failed" and cmp2 in roll["message"], roll
    figures(TEST, a_roll_message=roll["message"][:400], a_phase_seconds=uh.phase_seconds(state))
    # defect 13: the interrupted run's drained API node was put back first (and the lock taken over)
    first = ctx.lab.group("nova_api")[0]
    assert "upgrade lock taken over" in run.output, "run a did not take over the interrupted run's lock: " + run.fail_text(60)
    assert f"Put back: {first};" in run.output, "run a did not put the drained API node back: " + run.fail_text(60)
    states = uh.haproxy_admin_states(ctx.lab, LB_BACKEND)
    figures(TEST, a_haproxy_admin_states=states)
    assert set(states.values()) == {0} and set(states) == set(ctx.lab.group("nova_api")), states
    ctx.done.add("a")


def test_b_compute_unreachable_mid_roll(ctx, figures):
    _after(ctx, "a")
    cmp2, cmp3 = ctx.cmp2, ctx.cmp3
    ctx.lab.ssh(cmp2, f"sed -i '/^{BROKEN_LINE}$/d' /etc/nova/nova.conf && ! grep -q broken-on-purpose /etc/nova/nova.conf")
    cmp3_before = _code(ctx, cmp3)
    cut = []

    def cut_cmp3():
        _netns_link(cmp3, "down")
        cut.append(uh.utcnow())

    try:
        run = _run(ctx, "b", figures, watches=[uh.Watch("batch2", r"^TASK \[.*of batch 2\b", cut_cmp3)])
    finally:
        _netns_link(cmp3, "up")
    assert cut, "the output never reached batch 2: " + run.fail_text()
    assert not run.action_errors, run.action_errors
    assert run.rc not in (0, None) and not run.timed_out, run.fail_text()
    tail = "\n".join(run.lines[-80:])
    assert f"{cmp3} of batch 3" in tail and "does not answer" in tail, "the failure does not name cmp3: " + run.fail_text(80)
    assert "Nothing of this batch was touched" in tail, run.fail_text(80)

    st2, st3 = _code(ctx, cmp2), _code(ctx, cmp3)
    assert st2["version"] == ctx.new and st2["active"], f"{cmp2}: {st2}"
    assert st3["version"] == ctx.old and st3["since"] == cmp3_before["since"], f"{cmp3} was touched: {cmp3_before} -> {st3}"
    state = uh.state_file(ctx.lab, ctx.manage)
    roll = state["phases"]["roll"]
    assert state["status"] == "failed" and roll["status"] == "failed" and cmp3 in roll["message"], roll
    figures(TEST, b_roll_message=roll["message"][:400], b_cut_at=cut[0].isoformat())
    # the compute's RPC connections recover after the link is back: wait before the next run's preflight
    t0 = time.monotonic()
    uh.wait_services_up(ctx.conn, uh.expected_services(ctx.lab), timeout=300)
    figures(TEST, b_cmp3_back_up_s=round(time.monotonic() - t0, 1))
    ctx.done.add("b")


def test_c_run_interrupted_between_switch_and_restart(ctx, figures):
    _after(ctx, "b")
    cmp3 = ctx.cmp3
    before = _code(ctx, cmp3)
    point = rf"^TASK \[rolling\.openstack\.nova_restart : Point nova-compute at \S+ on {cmp3}\]"
    watches = [uh.Watch("point_cmp3", point),
               # the first task after the switch: the restart has not started yet
               uh.Watch("sigint", r"^TASK \[rolling\.openstack\.nova_restart : Check that nova-compute now names the target venv\]",
                        after="point_cmp3", signal=signal.SIGINT)]
    run = _run(ctx, "c", figures, watches=watches)
    assert "sigint" in run.marks, "the output never reached cmp3's switch: " + run.fail_text(60)
    assert run.rc not in (0, None) and not run.timed_out, run.fail_text(60)
    figures(TEST, c_rc=run.rc, c_interrupted_at=run.marks["sigint"].isoformat())
    st3 = _code(ctx, cmp3)
    units = ctx.lab.ssh(cmp3, "systemctl cat nova-compute").stdout
    # the situation of defect 8: the unit names the new venv, the running process is the old one
    assert f"nova-{ctx.new}" in units, f"{cmp3}'s unit was not switched before the interrupt:\n{units}"
    assert st3["version"] == ctx.old and st3["active"] and st3["since"] == before["since"], (
        f"{cmp3} was restarted before the interrupt (the race was lost; the scenario did not happen): {before} -> {st3}")
    service = next(ctx.conn.compute.services(binary="nova-compute", host=cmp3))
    figures(TEST, c_cmp3_unit_switched=True, c_cmp3_status=service.status)
    ctx.done.add("c")


def test_d_resumed_run_completes(ctx, figures):
    _after(ctx, "c")
    run = _run(ctx, "d", figures, takeover=True)
    assert run.rc == 0, run.fail_text(60)
    assert "upgrade lock taken over" in run.output, (
        "the re-run did not say it took over the interrupted run's lock: " + run.fail_text(60))
    st3 = _code(ctx, ctx.cmp3)
    assert st3["version"] == ctx.new and st3["active"], f"{ctx.cmp3} does not run the new code: {st3}"
    disabled = [s.host for s in ctx.conn.compute.services(binary="nova-compute") if s.status != "enabled"]
    assert not disabled, f"computes left out of scheduling: {disabled}"

    wrong = {f"{u} on {h}": v for (h, u), v in uh.nova_code(ctx.lab).items() if v["version"] != ctx.new or not v["active"]}
    assert not wrong, f"not on {ctx.new}: {wrong}"
    uh.wait_services_up(ctx.conn, uh.expected_services(ctx.lab), timeout=120)
    info = uh.service_versions(ctx.new, ctx.manage)
    sv = info["code"]["service_version"]
    assert all(s["version"] == sv for s in info["services"]), info["services"]
    problems = uh.server_problems(ctx.conn, ctx.servers)
    assert not problems, problems

    state = uh.state_file(ctx.lab, ctx.manage)
    assert state["status"] == "done", state["status"]
    assert all(p["status"] == "done" for p in state["phases"].values()), state["phases"]
    assert [r["status"] for r in state["runs"]] == ["interrupted", "failed", "failed", "interrupted", "done"], state["runs"]
    # resumed runs did not redo work: one roll restart per control service and per compute that had passed
    events = collections.Counter((e["phase"], e["host"], e["service"]) for e in state.get("events", [])
                                 if e.get("event") in ("restart", "switch"))  # not the lb_ready / lb_drain events
    redone = {k: n for k, n in events.items() if n > 1 and not (k[0] == "roll" and k[1] == ctx.cmp2)}
    assert not redone, f"restarted more than once in a phase: {redone}"
    for host in (ctx.cmp1, ctx.cmp3):
        assert events[("roll", host, "nova-compute")] == 1, f"{host} not rolled exactly once: {dict(events)}"
    # cmp2: its new nova-compute crash-looped under systemd (Restart=on-failure) until the configuration was
    # fixed, then stayed up on the new code; run b restarts it, or finds it up on the target code already
    # and leaves it alone (it passed that batch's gate either way)
    cmp2_skipped = f"nova-compute on {ctx.cmp2} is not restarted: its running process runs the target code" in ctx.runs["b"].output
    assert events[("roll", ctx.cmp2, "nova-compute")] >= 1 or cmp2_skipped, (
        f"{ctx.cmp2} was neither restarted nor found on the new code by run b: {dict(events)}")
    figures(TEST, cmp2_in_run_b="found up on the new code (systemd restarted it after the fix)" if cmp2_skipped
            else "restarted by the roll")
    figures(TEST, d_phase_seconds=uh.phase_seconds(state), runs=[r["status"] for r in state["runs"]],
            events_per_phase=dict(collections.Counter(e["phase"] for e in state.get("events", []))))
    ctx.done.add("d")

#!/usr/bin/env python3
# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-phase table of one bench run: the playbook's seconds (from its state file) beside the raw critical path's
(from bench/raw_upgrade.sh), with the ratios; written as JSON and Markdown, the Markdown printed.

    summarize.py --run RUN.json --out-json FILE.json --out-md FILE.md

RUN.json is written by bench/nova_upgrade.sh: {"machine": {...}, "versions": {...}, "command": "...",
"playbook": {"t0": epoch, "t1": epoch, "rc": int, "state": <the state file>, "report": "<path>"},
"raw": <raw_upgrade.sh's JSON>, "lab_up_seconds": [...]}. Either half may be missing (--only).
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys

PHASES = ["pin", "expand", "roll", "migrate", "unpin", "contract"]


def _epoch(iso):
    return datetime.datetime.fromisoformat(iso).timestamp() if iso else None


def _playbook_rows(pb):
    """Seconds per row for the playbook: preflight (start of ansible-playbook to the pin's start), the phases
    as the state file records them, report (contract's end to the end of ansible-playbook), and the time
    between phases."""
    state = pb.get("state") or {}
    phases = state.get("phases") or {}
    rows = {}
    pin_start = _epoch((phases.get("pin") or {}).get("started"))
    rows["preflight"] = round(pin_start - pb["t0"], 2) if pin_start else None
    for name in PHASES:
        rows[name] = (phases.get(name) or {}).get("seconds")
    contract_end = _epoch((phases.get("contract") or {}).get("finished"))
    rows["report"] = round(pb["t1"] - contract_end, 2) if contract_end else None
    wall = round(pb["t1"] - pb["t0"], 2)
    known = sum(v for v in rows.values() if v is not None)
    rows["between phases"] = round(wall - known, 2)
    return rows, wall


def _restart_figures(pb, raw):
    """Mean seconds of one restart per unit: the playbook's events (drain, switch, restart, settle, checks,
    back in the load balancer) and the raw path's steps (switch + systemctl restart)."""
    out = {}
    for ev in ((pb or {}).get("state") or {}).get("events") or []:
        if ev.get("seconds") is None or not ev.get("service"):
            continue
        out.setdefault(ev["service"], {"playbook": [], "raw": []})["playbook"].append(float(ev["seconds"]))
    for st in (raw or {}).get("steps") or []:
        if st["kind"] in ("restart", "switch"):
            unit = st["step"].split()[-1]
            out.setdefault(unit, {"playbook": [], "raw": []})["raw"].append(st["seconds"])
    return {
        unit: {
            "playbook_count": len(v["playbook"]),
            "playbook_mean": round(statistics.mean(v["playbook"]), 1) if v["playbook"] else None,
            "raw_count": len(v["raw"]),
            "raw_mean": round(statistics.mean(v["raw"]), 1) if v["raw"] else None,
        }
        for unit, v in sorted(out.items())
    }


def _ratio(a, b):
    return round(a / b, 1) if a is not None and b else None


def _fmt(v):
    return "—" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def summarize(run):
    pb, raw = run.get("playbook"), run.get("raw")
    rows, wall = _playbook_rows(pb) if pb else ({}, None)
    raw_rows = {}
    if raw:
        raw_rows = {"preflight": raw["phases"].get("prepare"), **{p: raw["phases"].get(p) for p in PHASES},
                    "report": None, "between phases": None}
    names = ["preflight", *PHASES, "report", "between phases"]
    table = [{"phase": n, "playbook_seconds": rows.get(n), "raw_seconds": raw_rows.get(n),
              "ratio": _ratio(rows.get(n), raw_rows.get(n))} for n in names]
    raw_total = raw.get("total_seconds") if raw else None
    pb_phases = sum(rows.get(p) or 0 for p in PHASES) if pb else None
    raw_phases = sum(raw_rows.get(p) or 0 for p in PHASES) if raw else None
    settle = raw.get("settle_seconds") if raw else None
    whole = {
        "playbook_wall_seconds": wall,
        "raw_total_seconds": raw_total,
        "ratio": _ratio(wall, raw_total),
        "playbook_phases_seconds": round(pb_phases, 2) if pb_phases is not None else None,
        "raw_phases_seconds": round(raw_phases, 2) if raw_phases is not None else None,
        "phases_ratio": _ratio(pb_phases, raw_phases),
        "raw_settle_seconds": settle,
        "ratio_to_raw_plus_settle": _ratio(wall, (raw_total or 0) + (settle or 0)) if raw_total else None,
    }
    return {
        "schema": 1,
        "command": run.get("command"),
        "started": run.get("started"),
        "machine": run.get("machine"),
        "versions": run.get("versions"),
        "lab_up_seconds": run.get("lab_up_seconds"),
        "table": table,
        "whole_run": whole,
        "restarts": _restart_figures(pb, raw),
        "playbook": {
            "rc": pb.get("rc"), "status": (pb.get("state") or {}).get("status"),
            "report": pb.get("report"),
            "phase_status": {p: ((pb.get("state") or {}).get("phases") or {}).get(p, {}).get("status") for p in PHASES},
            "restart_events": len(((pb.get("state") or {}).get("events")) or []),
        } if pb else None,
        "raw": {
            "verification": raw.get("verification"),
            "steps": raw.get("steps"),
        } if raw else None,
    }


def markdown(s):
    m, v, w = s.get("machine") or {}, s.get("versions") or {}, s["whole_run"]
    lines = [
        f"# Nova upgrade bench: {v.get('from_release', '?')} → {v.get('to_release', '?')} ({s.get('started', '')})",
        "",
        f"Command: `{s.get('command')}`",
        "",
        f"Machine: {m.get('nproc')} CPUs, {m.get('mem_gib')} GiB, load (1/5/15 min) before the playbook run "
        f"{m.get('load_before_playbook', '—')}, before the raw run {m.get('load_before_raw', '—')}; "
        f"kernel {m.get('kernel')}.",
        f"Versions: nova {v.get('nova_from')} → {v.get('nova_to')}, placement {v.get('placement_from')} → "
        f"{v.get('placement_to')}; ansible-core {v.get('ansible_core')}, Python {v.get('python')}; "
        f"rolling.openstack at {v.get('git_commit')}.",
        "",
        "| phase | playbook s | raw s | ratio |",
        "|---|---:|---:|---:|",
    ]
    for r in s["table"]:
        lines.append(f"| {r['phase']} | {_fmt(r['playbook_seconds'])} | {_fmt(r['raw_seconds'])} | "
                     f"{_fmt(r['ratio'])} |")
    lines.append(f"| **whole run** | **{_fmt(w['playbook_wall_seconds'])}** | **{_fmt(w['raw_total_seconds'])}** | "
                 f"**{_fmt(w['ratio'])}** |")
    lines += [
        "",
        f"Phases only (pin … contract): playbook {_fmt(w['playbook_phases_seconds'])} s, raw "
        f"{_fmt(w['raw_phases_seconds'])} s, ratio {_fmt(w['phases_ratio'])}. After its last restart the raw "
        f"path needed {_fmt(w['raw_settle_seconds'])} s more until every nova service was up on the new code "
        f"(the playbook's gates wait for that inside its phases); whole-run ratio against raw + that: "
        f"{_fmt(w['ratio_to_raw_plus_settle'])}.",
        "",
        "One restart, mean seconds (playbook: an event of the state file, i.e. drain, switch, restart, settle, "
        "checks, back in the LB; raw: switch + `systemctl restart`):",
        "",
        "| unit | playbook (n) | raw (n) |",
        "|---|---:|---:|",
    ]
    for unit, r in s["restarts"].items():
        lines.append(f"| {unit} | {_fmt(r['playbook_mean'])} ({r['playbook_count']}) | "
                     f"{_fmt(r['raw_mean'])} ({r['raw_count']}) |")
    pb, raw = s.get("playbook"), s.get("raw")
    lines.append("")
    if pb:
        lines.append(f"Playbook run: rc {pb['rc']}, upgrade {pb['status']}, phases "
                     + ", ".join(f"{p} {st}" for p, st in pb["phase_status"].items())
                     + f"; {pb['restart_events']} restart events; report {pb.get('report') or '—'}.")
    if raw:
        ver = raw["verification"] or {}
        after = sorted({x["version"] for x in ver.get("service_versions_after") or []})
        lines.append(f"Raw run verified: {'yes' if ver.get('ok') else 'NO'} — {ver.get('services_up')}/"
                     f"{ver.get('services_expected')} services up (compute service list), service versions "
                     f"{ver.get('service_version_before_max')} → {', '.join(map(str, after)) or '—'} "
                     f"({len(ver.get('service_versions_after') or [])} records), units naming the old code: "
                     f"{len(ver.get('units_naming_old_code') or [])}, hosts still pinned: "
                     f"{len(ver.get('hosts_still_pinned') or [])}.")
    if s.get("lab_up_seconds"):
        lines.append(f"Fresh lab (lab down + lab up) before each run: {', '.join(map(_fmt, s['lab_up_seconds']))} s "
                     "(not counted).")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--out-md", required=True)
    a = ap.parse_args(argv)
    with open(a.run, encoding="utf-8") as f:
        s = summarize(json.load(f))
    with open(a.out_json, "w", encoding="utf-8") as f:
        json.dump(s, f, indent=1)
        f.write("\n")
    md = markdown(s)
    with open(a.out_md, "w", encoding="utf-8") as f:
        f.write(md)
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())

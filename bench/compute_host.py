#!/usr/bin/env python3
# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bench: the drain (or the evacuation) of K servers with concurrency C against K/C x one move's time, in one run.

On a deployed lab (it does not redeploy; it owns the lab while it runs): for each C, K fresh ACTIVE servers are
forced onto the source host, and
- drain: `playbooks/compute_drain.yml` drains it with compute_drain_concurrency = C and
  compute_drain_live_concurrency = C; the servers are deleted and the host enabled again;
- evacuate: the host fails (`lab/bin/lab kill`), and once Nova reports it down (not timed) `playbooks/compute_evacuate.yml`
  evacuates it with compute_evacuate_concurrency = C and the lab's fencing hook; the host is started again
  (`lab/bin/lab start`), returned to service by `playbooks/compute_restore.yml`, and the servers are deleted.
One move's time t1 is the median of the per-server seconds of the C = 1 run (the same run as the others). Figures
per C: the playbook's wall time, the module's own seconds (its summary), K/C x t1, and both ratios.

The source compute's [DEFAULT] max_concurrent_live_migrations bounds what C can give for live migrations (more
queue inside nova-compute): the bench reads it from the host's nova.conf and prints it.

  .venv/bin/python bench/compute_host.py                          # drain: K = 8, C = 1 2 4, source cmp1 (~4 min)
  .venv/bin/python bench/compute_host.py --operation evacuate --host cmp2   # evacuate (~7 min)
  .venv/bin/python bench/compute_host.py --k 8 --concurrency 1 2 4 --host cmp1 --dry-run

Results: bench/results/<operation>-<UTC stamp>.{json,md}. Every wait is bounded; nothing goes beyond the lab.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

LAB_STATE = Path("/var/lib/rolling-lab")
MARKER = "rolling.openstack"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--host", default="cmp1")
    ap.add_argument("--operation", choices=["drain", "evacuate"], default="drain")
    ap.add_argument("--poll", type=float, default=None, help="the role's poll interval (default: the role's)")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    if 1 not in args.concurrency:
        ap.error("--concurrency must include 1: one move's time is measured in the C = 1 run")
    if args.operation == "drain":
        steps = [f"C={c}: boot {args.k} servers on {args.host}; drain it (concurrency {c}, live concurrency {c}); "
                 f"delete the servers; enable {args.host}" for c in sorted(args.concurrency)]
    else:
        steps = [f"C={c}: boot {args.k} servers on {args.host}; lab kill {args.host}; wait until Nova reports it "
                 f"down; evacuate it (concurrency {c}, the lab's fencing hook); lab start {args.host}; restore it; "
                 f"delete the servers" for c in sorted(args.concurrency)]
    if args.dry_run:
        print("\n".join(steps))
        return 0

    import upgrade_helpers as uh  # noqa: E402 - the lab's helpers (openstacksdk, pytest) from the controller venv

    conn = uh.connect(LAB_STATE / "clouds.yaml")
    conn.compute.update_quota_set(conn.current_project_id, instances=4 * args.k, cores=4 * args.k)
    max_live = subprocess.run(  # noqa: S603 - fixed argv
        [str(REPO / "lab" / "bin" / "lab"), "ssh", args.host,
         "grep -E '^max_concurrent_live_migrations' /etc/nova/nova.conf || echo 'max_concurrent_live_migrations = 1 (default)'"],
        capture_output=True, text=True, timeout=60).stdout.strip()
    runs = {}
    reports = Path(tempfile.mkdtemp(prefix=f"bench-{args.operation}-"))
    for c in sorted(args.concurrency):
        _enable(conn, args.host)
        tag = f"bdr{c}-{int(time.time())}"
        servers = uh.boot_servers(conn, [(f"{tag}-{i}", args.host, None) for i in range(args.k)], timeout=300)
        common = {"compute_host_cloud": "lab", "compute_host_clouds_yaml": str(LAB_STATE / "clouds.yaml"),
                  "compute_host_report_dir": str(reports / f"c{c}")}
        if args.operation == "drain":
            extra = {"compute_drain_host": args.host, "compute_drain_concurrency": c,
                     "compute_drain_live_concurrency": c, **common}
        else:
            _lab("kill", args.host)
            _wait_down(conn, args.host)
            extra = {"compute_evacuate_host": args.host, "compute_evacuate_concurrency": c,
                     "compute_evacuate_fence_tasks": str(REPO / "tests" / "lab" / "fence_lab_host.yml"),
                     "lab_repo": str(REPO), **common}
        if args.poll:
            extra[f"compute_{args.operation}_poll_interval"] = args.poll
        wall, rc = _playbook(args.operation, extra)
        doc = json.loads((reports / f"c{c}" / f"compute-{args.operation}-{args.host}.json").read_text())
        rows = doc["servers"]
        runs[c] = dict(rc=rc, wall_s=round(wall, 1), module_s=doc["summary"]["seconds"],
                       moved=sum(1 for r in rows if r["status"] == "moved"),
                       per_server_s=[r["seconds"] for r in rows])
        print(f"C={c}: rc {rc}, {runs[c]['moved']}/{args.k} moved, playbook {wall:.1f} s, "
              f"module {doc['summary']['seconds']} s", flush=True)
        if args.operation == "evacuate":
            _lab("start", args.host)
            _playbook("restore", {"compute_restore_host": args.host, **common})
        left = uh.delete_servers(conn, list(servers))
        if left:
            print(f"servers not deleted in time: {left}")
        _enable(conn, args.host)
    t1 = statistics.median(runs[1]["per_server_s"])
    for c, run in runs.items():
        ideal = args.k / c * t1
        # Nova's own time per migration under this concurrency (the median of this C's per-server seconds):
        # what is left above K/C x that is the drain's orchestration
        own = args.k / c * statistics.median(run["per_server_s"])
        run.update(ideal_s=round(ideal, 1), ratio_module=round(run["module_s"] / ideal, 2),
                   ratio_playbook=round(run["wall_s"] / ideal, 2), own_s=round(own, 1),
                   ratio_own=round(run["module_s"] / own, 2))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = dict(operation=args.operation, poll_interval=args.poll, k=args.k, host=args.host, source_max_live=max_live, one_migration_s=round(t1, 2), runs=runs,
               command=" ".join(sys.argv), generated=stamp)
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"{args.operation}-{stamp}.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [f"# {args.operation.capitalize()} bench {stamp}: K = {args.k} servers off {args.host}, one move t1 = {t1:.2f} s "
             f"(median of the C = 1 run); source: {max_live}; poll interval {args.poll or 'the role default'}", "",
             "| C | moved | playbook s | module s | K/C x t1 s | module / (K/C x t1) | playbook / (K/C x t1) "
             "| median per server s | module / (K/C x median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c, run in sorted(runs.items()):
        lines.append(f"| {c} | {run['moved']}/{args.k} | {run['wall_s']} | {run['module_s']} | {run['ideal_s']} | "
                     f"{run['ratio_module']} | {run['ratio_playbook']} | {statistics.median(run['per_server_s'])} | "
                     f"{run['ratio_own']} |")
    (results / f"{args.operation}-{stamp}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["rc"] == 0 and r["moved"] == args.k for r in runs.values()) else 1


def _lab(*args):
    return subprocess.run([str(REPO / "lab" / "bin" / "lab"), *args], capture_output=True, text=True,  # noqa: S603
                          timeout=300, check=False)


def _wait_down(conn, host, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.state == "down" for s in conn.compute.services(binary="nova-compute", host=host) if s.host == host):
            return
        time.sleep(3)
    raise SystemExit(f"Nova did not report {host} down within {timeout} s")


def _playbook(name, extra):
    """Run playbooks/compute_<name>.yml on the lab; -> (wall seconds, rc)."""
    import upgrade_helpers as uh  # noqa: E402 - the lab's helpers

    argv = [str(uh.VENV / "bin" / "ansible-playbook"), "-i", str(LAB_STATE / "inventory.yml"),
            str(REPO / "playbooks" / f"compute_{name}.yml"), "-e", json.dumps(extra)]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, cwd=REPO)  # noqa: S603
    if proc.returncode != 0:
        print(proc.stdout[-3000:])
    return time.monotonic() - t0, proc.returncode


def _enable(conn, host):
    for s in conn.compute.services(binary="nova-compute", host=host):
        if s.host == host and s.status == "disabled" and (s.disabled_reason or "").startswith(MARKER):
            conn.compute.enable_service(s, host=s.host, binary=s.binary)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""API availability probe for the lab: keeps the Compute API busy through the load balancer while an
upgrade runs, optionally boots and deletes servers, and says at the end how many requests failed.

    OS_CLIENT_CONFIG_FILE=/var/lib/rolling-lab/clouds.yaml \\
        .venv/bin/python tests/lab/probe.py --out /tmp/probe.json --max-seconds 60 --cycles 2

Read load: --rate requests per second (default 6), in turn GET /servers/detail?all_tenants=1, GET
/servers/{id} (of servers that existed when the probe started) and GET /os-services, sent by a bounded
pool of worker threads so one slow request does not hold the rate back. Every request is recorded, with the
backend server that answered it when the load balancer names it (X-Served-By, set by the lab's haproxy).

Boot/delete cycles: --cycles N runs N cycles at once; while the file --cycle-while-file exists, cycles
repeat. A cycle boots a server `probe-<run>-<n>` (image cirros-lab, flavor m1.lab, networks none), waits
for ACTIVE, notes its host, reads it back (--api-node given: GET /servers/{id} through the load balancer
until every named API node has answered once, at most 4 reads per node), deletes it and waits until it is
gone; every wait is bounded. Servers the probe created are deleted when it stops.

Compute-synchronous calls: --hypervisors-interval S sends GET /os-hypervisors/detail (microversion 2.88,
whose uptime nova-api asks of each compute over RPC) every S seconds, one at a time. Such a call that meets
a compute as it stops cannot be saved: its HTTP 500 MessagingTimeout is counted apart
(requests.compute_rpc_timeouts), not as a failed request; any other failure of it is a failed request.

Stops at --max-seconds, on SIGTERM/SIGINT or when --stop-file appears; writes the result JSON
atomically to --out (every --write-interval seconds while running, and at the end) and prints a
one-paragraph summary. Exit status: 0 no failed request, no failed cycle and nothing left behind;
1 otherwise; 2 bad arguments or the cloud could not be reached at start. See docs/probe.md.

Tokens and passwords are never printed or written: the result holds status codes, exception class
names and scrubbed, truncated error texts.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
import uuid

RESULT_VERSION = 1
DEFAULT_CLOUDS_YAML = "/var/lib/rolling-lab/clouds.yaml"
SERVER_PREFIX = "probe-"
LOAD_NAMES = ("servers_detail", "server_get", "os_services")
CYCLE_NAMES = ("boot_create", "boot_poll", "read_back", "delete", "delete_poll", "cleanup_list", "cleanup_delete",
               "cleanup_poll")
COMPUTE_SYNC_NAME = "hypervisors_detail"
COMPUTE_SYNC_MICROVERSION = "2.88"  # from 2.88 the uptime of each hypervisor comes from its nova-compute over RPC
READ_BACK_TRIES_PER_NODE = 4
SERVED_BY_HEADER = "X-Served-By"
# 4xx answers that are the expected outcome of a request (not a failure), per request name.
EXPECTED_4XX = {"delete_poll": (404,), "cleanup_poll": (404,), "cleanup_delete": (404,)}
FAILURE_RULE = (
    "a request failed when it raised (no HTTP answer: connection refused/reset, timeout, ...) or was "
    "answered with HTTP >= 500, or with a 4xx not listed in expected_4xx for its name; 404 on "
    "server_get (a pre-existing server vanished) is a failure and drops that server from the pool; an HTTP 500 "
    "MessagingTimeout of hypervisors_detail (a compute stopped during nova-api's RPC call to it) is counted "
    "apart as a compute_rpc_timeout, not as a failure"
)
DETAIL_CHARS = 200
TIMELINE_BUCKET = 10.0
LOAD_MICROVERSION = None  # the reads use the API's default microversion (2.1)
CYCLE_MICROVERSION = "2.37"  # networks "none" needs >= 2.37; both 2026.1 and 2026.2 have it

_SECRET_RE = re.compile(
    r"(?i)((?:x-auth-token|x-subject-token|token|password|secret|passwd)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}&]+"
)
_URL_CRED_RE = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@/\s]+@")


# ---------------------------------------------------------------------------------------------------
# Pure logic (unit-tested in tests/lab/test_probe_unit.py, no lab needed)
# ---------------------------------------------------------------------------------------------------

class RateScheduler:
    """Fixed-rate slots: slot k is due at start + k / rate.

    take(now) returns (due, dropped): `due` slots are to be sent now; `dropped` slots were due more
    than `max_lag` seconds ago (the dispatcher was held up) and are skipped rather than sent in a
    burst. next_due() is the monotonic time of the next slot not taken yet.
    """

    def __init__(self, rate: float, start: float, max_lag: float = 1.0):
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        self.rate = float(rate)
        self.start = float(start)
        self.max_lag = float(max_lag)
        self._next = 0  # index of the next slot not taken yet

    def slot_time(self, k: int) -> float:
        return self.start + k / self.rate

    def next_due(self) -> float:
        return self.slot_time(self._next)

    def take(self, now: float) -> tuple[int, int]:
        if now < self.next_due():
            return 0, 0
        # last slot due at or before now (small epsilon against float rounding of k / rate)
        last = int(math.floor((now - self.start) * self.rate + 1e-9))
        oldest_kept = int(math.ceil((now - self.max_lag - self.start) * self.rate - 1e-9))
        first = self._next
        dropped = max(0, min(oldest_kept, last + 1) - first)
        due = last + 1 - first - dropped
        self._next = last + 1
        return due, dropped


class Rotation:
    """The read requests in turn; GET /servers/{id} takes the pool's servers round-robin and is left
    out while the pool is empty. Thread-safe drop()."""

    def __init__(self, server_ids):
        self._ids = list(dict.fromkeys(server_ids))
        self._i = 0
        self._j = 0
        self._lock = threading.Lock()

    @property
    def server_ids(self):
        with self._lock:
            return list(self._ids)

    def drop(self, server_id) -> bool:
        with self._lock:
            if server_id in self._ids:
                self._ids.remove(server_id)
                return True
            return False

    def next(self) -> tuple[str, str, str | None]:
        """(name, path, server_id) of the next read."""
        with self._lock:
            for _n in range(len(LOAD_NAMES)):
                name = LOAD_NAMES[self._i % len(LOAD_NAMES)]
                self._i += 1
                if name == "servers_detail":
                    return name, "/servers/detail", None
                if name == "os_services":
                    return name, "/os-services", None
                if self._ids:
                    sid = self._ids[self._j % len(self._ids)]
                    self._j += 1
                    return name, f"/servers/{sid}", sid
            raise AssertionError("unreachable: servers_detail is always in the rotation")


def classify(name: str, status: int | None, error: str | None, expected_4xx=None, detail=None) -> tuple[bool, str]:
    """(ok, kind) of one request. kind: "ok", "expected_<code>", "http_<code>", "exception:<Class>", or
    "compute_rpc_timeout" (hypervisors_detail answered 500 MessagingTimeout: not ok, and counted apart)."""
    expected_4xx = EXPECTED_4XX if expected_4xx is None else expected_4xx
    if error is not None:
        return False, f"exception:{error}"
    if status is None:
        return False, "exception:NoResponse"
    if status < 400:
        return True, "ok"
    if status < 500 and status in expected_4xx.get(name, ()):
        return True, f"expected_{status}"
    if name == COMPUTE_SYNC_NAME and status == 500 and "MessagingTimeout" in str(detail or ""):
        return False, "compute_rpc_timeout"
    return False, f"http_{status}"


def is_failure(rec: dict) -> bool:
    """A failed request: not ok, and not a compute_rpc_timeout (those are counted apart)."""
    return not rec["ok"] and rec["kind"] != "compute_rpc_timeout"


def percentile(values, q: float):
    """Nearest-rank percentile (q in 0..100) of `values`; None for no values."""
    data = sorted(values)
    if not data:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q!r}")
    rank = max(1, int(math.ceil(q / 100.0 * len(data))))
    return data[rank - 1]


def latency_stats(latencies) -> dict:
    lat = list(latencies)
    if not lat:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    return {
        "count": len(lat),
        "p50": round(percentile(lat, 50), 4),
        "p95": round(percentile(lat, 95), 4),
        "max": round(max(lat), 4),
    }


def build_timeline(records, skipped_times, duration: float, bucket: float = TIMELINE_BUCKET) -> list:
    """Per-`bucket` seconds counts (by request start time t, seconds since the probe started):
    load requests sent, cycle requests, failed requests (any), skipped load slots. Requests started
    after `duration` (the final cleanup) count in the last bucket."""
    # a last bucket shorter than 1 % of `bucket` (the stop itself takes a few ms) is not a bucket of its own
    n = max(1, int(math.ceil(max(duration, 0.0) / bucket - 0.01)))
    rows = [{"t": round(i * bucket, 3), "load": 0, "cycle": 0, "failed": 0, "skipped": 0} for i in range(n)]
    for rec in records:
        row = rows[min(n - 1, max(0, int(rec["t"] // bucket)))]
        if rec["source"] in ("load", "cycle"):
            row[rec["source"]] += 1
        if is_failure(rec):
            row["failed"] += 1
    for t in skipped_times:
        rows[min(n - 1, max(0, int(t // bucket)))]["skipped"] += 1
    return rows


def aggregate(records, skipped_times, duration: float, rate: float, cycles=(), bucket: float = TIMELINE_BUCKET) -> dict:
    """The `requests`, `timeline` and `cycles` sections of the result from the raw records."""
    load = [r for r in records if r["source"] == "load"]
    failed = [r for r in records if is_failure(r)]
    rpc_timeouts = [r for r in records if r["kind"] == "compute_rpc_timeout"]
    by_kind, by_name = {}, {}
    for rec in failed:
        by_kind[rec["kind"]] = by_kind.get(rec["kind"], 0) + 1
    for rec in records:
        entry = by_name.setdefault(rec["name"], {"sent": 0, "failed": 0, "_lat": []})
        entry["sent"] += 1
        entry["failed"] += 1 if is_failure(rec) else 0
        entry["_lat"].append(rec["latency_s"])
    for entry in by_name.values():
        entry["latency_s"] = latency_stats(entry.pop("_lat"))
    cycles = list(cycles)
    hosts = {}
    for cyc in cycles:
        if cyc.get("status") == "ok" and cyc.get("host"):
            hosts[cyc["host"]] = hosts.get(cyc["host"], 0) + 1
    cycle_counts = {s: sum(1 for c in cycles if c.get("status") == s) for s in ("ok", "failed", "interrupted")}
    served_by = {}
    for rec in records:
        if rec["name"] == "read_back" and rec.get("served_by"):
            entry = served_by.setdefault(rec["served_by"], {"sent": 0, "failed": 0})
            entry["sent"] += 1
            entry["failed"] += 1 if is_failure(rec) else 0
    compute_sync = [r for r in records if r["source"] == "compute_sync"]
    return {
        "requests": {
            "sent": len(records),
            "load_sent": len(load),
            "cycle_sent": sum(1 for r in records if r["source"] == "cycle"),
            "failed": len(failed),
            "load_failed": sum(1 for r in load if is_failure(r)),
            "compute_sync_sent": len(compute_sync),
            "compute_rpc_timeouts": len(rpc_timeouts),
            "compute_rpc_timeouts_at": [r["wall"] for r in rpc_timeouts],
            "skipped_slots": len(skipped_times),
            "target_rate": rate,
            "achieved_rate": round(len(load) / duration, 3) if duration > 0 else 0.0,
            "failures_by_kind": dict(sorted(by_kind.items())),
            "by_name": dict(sorted(by_name.items())),
            "latency_s": latency_stats(r["latency_s"] for r in load),
        },
        "timeline": build_timeline(records, skipped_times, duration, bucket),
        "cycles": {**cycle_counts, "hosts": dict(sorted(hosts.items())),
                   "read_backs_by_api_node": dict(sorted(served_by.items())), "list": cycles},
    }


def _fmt_s(value) -> str:
    return "-" if value is None else f"{value:.3f} s"


def summary_text(result: dict) -> str:
    """One paragraph for stdout."""
    req = result["requests"]
    lat = req["latency_s"]
    cyc = result["cycles"]
    kinds = ", ".join(f"{k}: {v}" for k, v in req["failures_by_kind"].items())
    parts = [
        f"probe {result.get('run', '?')}: {result['duration_s']:.1f} s (stopped: {result.get('stop_reason')}),",
        f"{req['load_sent']} read requests at {req['achieved_rate']:.2f}/s (target {req['target_rate']:g}/s,",
        f"{req['skipped_slots']} slots skipped) + {req['cycle_sent']} boot/delete requests through",
        f"{result.get('endpoint') or '?'};",
        f"failed: {req['failed']}" + (f" ({kinds})" if kinds else "") + ";",
        f"compute-synchronous calls: {req['compute_sync_sent']}, {req['compute_rpc_timeouts']} MessagingTimeout;",
        f"read latency p50 {_fmt_s(lat['p50'])}, p95 {_fmt_s(lat['p95'])}, max {_fmt_s(lat['max'])};",
    ]
    hosts = ", ".join(f"{h} x{n}" for h, n in cyc["hosts"].items()) or "-"
    parts.append(f"cycles: {cyc['ok']} ok, {cyc['failed']} failed, {cyc['interrupted']} interrupted (hosts: {hosts});")
    if cyc.get("read_backs_by_api_node"):
        parts.append("read-backs by API node: " + ", ".join(
            f"{n} {v['sent']} ({v['failed']} failed)" for n, v in cyc["read_backs_by_api_node"].items()) + ";")
    failed_cycles = [c for c in cyc["list"] if c.get("status") == "failed"]
    if failed_cycles:
        parts.append("failed cycles: " + "; ".join(f"#{c['n']} {c.get('error')}" for c in failed_cycles[:5]) + ";")
    cleanup = result.get("cleanup") or {}
    if cleanup.get("left"):
        parts.append(f"LEFT BEHIND: {', '.join(cleanup['left'])};")
    timeline = " ".join(f"{row['load']}/{row['failed']}" for row in result["timeline"])
    parts.append(f"per {TIMELINE_BUCKET:g} s (reads/failed): {timeline}.")
    if result.get("notes"):
        parts.append("notes: " + "; ".join(result["notes"][:3]) + (" ..." if len(result["notes"]) > 3 else "") + ".")
    if result.get("error"):
        parts.append(f"ERROR: {result['error']}.")
    return " ".join(parts)


def to_json(data) -> str:
    """Indented JSON, except a top-level "records" list: one compact record a line (fast with
    json's C encoder, ~0.1 s for 30 minutes of records, and easy to grep)."""
    if not (isinstance(data, dict) and isinstance(data.get("records"), list) and data["records"]):
        return json.dumps(data, indent=1) + "\n"
    head = json.dumps({k: v for k, v in data.items() if k != "records"}, indent=1)
    lines = ",\n  ".join(json.dumps(rec, separators=(",", ":")) for rec in data["records"])
    sep = ",\n" if head != "{}" else "\n"
    return head[:-1].rstrip() + sep + ' "records": [\n  ' + lines + "\n ]\n}\n"


def write_json_atomic(path: str, data) -> None:
    """Write `data` as JSON to `path` atomically: a temp file in the same directory, fsync, rename.
    Readers see either the previous complete file or the new one, never a partial one."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    text = to_json(data)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def scrub(text) -> str:
    """Error text safe to keep: credentials in URLs and token/password values masked, truncated."""
    text = _URL_CRED_RE.sub(r"\1***@", str(text))
    text = _SECRET_RE.sub(r"\1***", text)
    text = " ".join(text.split())
    return text[:DETAIL_CHARS]


def wall_iso(ts: float | None = None) -> str:
    ts = time.time() if ts is None else ts
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(timespec="milliseconds")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="probe.py",
        description="Compute API availability probe through the lab's load balancer (see docs/probe.md).",
    )
    parser.add_argument("--cloud", default="lab", help="cloud name in clouds.yaml (default: %(default)s)")
    parser.add_argument(
        "--clouds-yaml", default=os.environ.get("OS_CLIENT_CONFIG_FILE") or DEFAULT_CLOUDS_YAML,
        help="clouds.yaml (default: $OS_CLIENT_CONFIG_FILE, else %s)" % DEFAULT_CLOUDS_YAML,
    )
    parser.add_argument("--out", required=True, help="result JSON, written atomically")
    parser.add_argument("--rate", type=float, default=6.0, help="read requests per second (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=8,
                        help="worker threads for the reads; at most this many in flight (default: %(default)s)")
    parser.add_argument("--request-timeout", type=float, default=10.0,
                        help="seconds before one request counts as failed (default: %(default)s)")
    parser.add_argument("--max-seconds", type=float, default=1800.0,
                        help="hard stop after this many seconds of probing (default: %(default)s)")
    parser.add_argument("--stop-file", help="stop cleanly when this file appears")
    parser.add_argument("--cycle-while-file", help="boot/delete cycles run one after another while this file exists")
    parser.add_argument("--cycles", type=int, default=0, help="boot/delete cycles to run right away (default: 0)")
    parser.add_argument("--image", default="cirros-lab", help="image of the cycles' servers (default: %(default)s)")
    parser.add_argument("--flavor", default="m1.lab", help="flavor of the cycles' servers (default: %(default)s)")
    parser.add_argument("--boot-timeout", type=float, default=180.0,
                        help="seconds for a cycle's server to go ACTIVE (default: %(default)s)")
    parser.add_argument("--delete-timeout", type=float, default=120.0,
                        help="seconds for a cycle's server to be gone (default: %(default)s)")
    parser.add_argument("--cleanup-timeout", type=float, default=120.0,
                        help="seconds, at exit, for the probe's leftover servers to be gone (default: %(default)s)")
    parser.add_argument("--poll-interval", type=float, default=2.0,
                        help="seconds between status polls of a cycle's server (default: %(default)s)")
    parser.add_argument("--check-interval", type=float, default=0.5,
                        help="seconds between checks of --stop-file / --cycle-while-file (default: %(default)s)")
    parser.add_argument("--write-interval", type=float, default=30.0,
                        help="seconds between intermediate writes of --out (default: %(default)s; 0: only at the end)")
    parser.add_argument("--server-id", action="append", default=[], metavar="ID",
                        help="server for GET /servers/{id} (repeatable; default: up to --server-pool existing ones)")
    parser.add_argument("--server-pool", type=int, default=5,
                        help="how many pre-existing servers GET /servers/{id} cycles through (default: %(default)s)")
    parser.add_argument("--anchor", choices=("auto", "never"), default="auto",
                        help="auto: when no server exists, boot one (probe-<run>-anchor) for GET /servers/{id} and "
                             "delete it at the end; never: leave GET /servers/{id} out then (default: %(default)s)")
    parser.add_argument("--api-node", action="append", default=[], metavar="NAME",
                        help="an API node by its load balancer server name (repeatable): each cycle's server is read "
                             "back until every one of them has answered (its X-Served-By header)")
    parser.add_argument("--hypervisors-interval", type=float, default=0.0,
                        help="seconds between GET /os-hypervisors/detail calls, one at a time (default: 0, none)")
    parser.add_argument("--hypervisors-timeout", type=float, default=90.0,
                        help="timeout of GET /os-hypervisors/detail, above nova's rpc_response_timeout (default: "
                             "%(default)s)")
    args = parser.parse_args(argv)
    _check_args(parser, args)
    return args


def _check_args(parser, args) -> None:
    """Refuse bad values early, naming the value and the fix (argparse exits 2)."""
    bounds = {
        "rate": (args.rate, 0.0, 100.0, "requests per second, e.g. --rate 6"),
        "request-timeout": (args.request_timeout, 0.0, 300.0, "seconds, e.g. --request-timeout 10"),
        "max-seconds": (args.max_seconds, 0.0, 86400.0, "seconds, e.g. --max-seconds 1800"),
        "boot-timeout": (args.boot_timeout, 0.0, 3600.0, "seconds, e.g. --boot-timeout 180"),
        "delete-timeout": (args.delete_timeout, 0.0, 3600.0, "seconds, e.g. --delete-timeout 120"),
        "cleanup-timeout": (args.cleanup_timeout, 0.0, 3600.0, "seconds, e.g. --cleanup-timeout 120"),
        "poll-interval": (args.poll_interval, 0.0, 60.0, "seconds, e.g. --poll-interval 2"),
        "check-interval": (args.check_interval, 0.0, 60.0, "seconds, e.g. --check-interval 0.5"),
    }
    for name, (value, low, high, hint) in bounds.items():
        if not (math.isfinite(value) and low < value <= high):
            parser.error(f"--{name} {value:g} is out of range: give more than {low:g} and at most {high:g} {hint}")
    if not 1 <= args.workers <= 32:
        parser.error(f"--workers {args.workers} is out of range: give 1 to 32, e.g. --workers 4")
    if not 0 <= args.cycles <= 1000:
        parser.error(f"--cycles {args.cycles} is out of range: give 0 to 1000")
    if not 0 <= args.server_pool <= 100:
        parser.error(f"--server-pool {args.server_pool} is out of range: give 0 to 100")
    if not (math.isfinite(args.write_interval) and 0 <= args.write_interval <= 3600):
        parser.error(f"--write-interval {args.write_interval:g} is out of range: give 0 (only at the end) to 3600")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        parser.error(f"--out {args.out}: directory {out_dir} does not exist or is not writable; create it first")
    if os.path.isdir(args.out):
        parser.error(f"--out {args.out} is a directory: give a file name, e.g. --out {args.out.rstrip('/')}/probe.json")
    if not os.path.isfile(args.clouds_yaml):
        parser.error(f"clouds.yaml {args.clouds_yaml} does not exist: give --clouds-yaml or set OS_CLIENT_CONFIG_FILE "
                     f"(the lab writes {DEFAULT_CLOUDS_YAML} when it is up)")
    if not (math.isfinite(args.hypervisors_interval) and 0 <= args.hypervisors_interval <= 3600):
        parser.error(f"--hypervisors-interval {args.hypervisors_interval:g} is out of range: give 0 (none) to 3600 "
                     "seconds, e.g. --hypervisors-interval 5")
    if not (math.isfinite(args.hypervisors_timeout) and 0 < args.hypervisors_timeout <= 600):
        parser.error(f"--hypervisors-timeout {args.hypervisors_timeout:g} is out of range: give more than 0 and at "
                     "most 600 seconds, e.g. --hypervisors-timeout 90")
    for node in args.api_node:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", node):
            parser.error(f"--api-node {node!r} is not a load balancer server name (e.g. --api-node ctl1)")
    for sid in args.server_id:
        if not re.fullmatch(r"[0-9a-fA-F-]{32,36}", sid):
            parser.error(f"--server-id {sid!r} is not a server UUID")


# ---------------------------------------------------------------------------------------------------
# Runtime (needs the cloud)
# ---------------------------------------------------------------------------------------------------

class SetupError(Exception):
    """The cloud could not be reached or lacks what the probe needs; nothing was created."""


class Probe:
    def __init__(self, args):
        self.args = args
        self.run = uuid.uuid4().hex[:6]
        self.prefix = f"{SERVER_PREFIX}{self.run}-"
        self.stop = threading.Event()
        self.stop_reason = None
        self._lock = threading.Lock()
        self.records = []
        self.skipped = []
        self.cycles = []
        self.created = {}  # server id -> name, until seen gone
        self.cleanup = {"deleted": [], "left": []}
        self.started_wall = wall_iso()
        self.t0 = time.monotonic()
        self.t_end = None
        self.adapter = None
        self.conn = None
        self.endpoint = None
        self.rotation = Rotation([])
        self.image_id = None
        self.flavor_id = None
        self.error = None
        self.notes = []
        self.anchor = None
        self._write_lock = threading.Lock()
        self._final_written = False
        self._writer = None

    # -- bookkeeping -------------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.stop.set()

    def _record(self, rec: dict) -> None:
        with self._lock:
            self.records.append(rec)

    def call(self, name, method, path, source, json_body=None, microversion=None, parse=False, server_id=None,
             params=None, timeout=None, with_record=False):
        """One API request through the load balancer, recorded. Returns (status, parsed body or None), and the
        record too with with_record."""
        start = time.monotonic()
        wall = wall_iso()
        status = error = detail = body = served_by = None
        raw = ""
        try:
            kwargs = {"raise_exc": False, "timeout": timeout or self.args.request_timeout, "connect_retries": 0}
            if json_body is not None:
                kwargs["json"] = json_body
            if params:
                kwargs["params"] = params
            if microversion:
                kwargs["microversion"] = microversion
            resp = self.adapter.request(path, method, **kwargs)
            status = resp.status_code
            served_by = (getattr(resp, "headers", None) or {}).get(SERVED_BY_HEADER)
            if status >= 400:
                raw = resp.text or ""
                detail = scrub(raw)
            elif parse and resp.content:
                body = resp.json()
        except Exception as exc:  # noqa: BLE001 - every failure is recorded by its class
            error = type(exc).__name__
            detail = scrub(exc)
        latency = time.monotonic() - start
        ok, kind = classify(name, status, error, detail=raw[:2000])  # before the detail is cut to DETAIL_CHARS
        rec = {
            "t": round(start - self.t0, 3), "wall": wall, "name": name, "source": source, "method": method,
            "status": status, "error": error, "latency_s": round(latency, 4), "ok": ok, "kind": kind,
        }
        if server_id:
            rec["server_id"] = server_id
        if served_by:
            rec["served_by"] = scrub(served_by)[:64]
        if detail and not ok:
            rec["detail"] = detail
        self._record(rec)
        return (status, body, rec) if with_record else (status, body)

    def elapsed(self) -> float:
        end = self.t_end if self.t_end is not None else time.monotonic()
        return max(0.0, end - self.t0)

    def result(self, complete: bool) -> dict:
        with self._lock:
            records = list(self.records)
            skipped = list(self.skipped)
            cycles = [dict(c) for c in self.cycles]
        duration = self.elapsed()
        data = {
            "version": RESULT_VERSION,
            "complete": complete,
            "run": self.run,
            "server_prefix": self.prefix,
            "started_at": self.started_wall,
            "ended_at": wall_iso() if complete else None,
            "duration_s": round(duration, 3),
            "stop_reason": self.stop_reason,
            "endpoint": self.endpoint,
            "config": {
                "cloud": self.args.cloud, "rate": self.args.rate, "workers": self.args.workers,
                "request_timeout_s": self.args.request_timeout, "max_seconds": self.args.max_seconds,
                "cycles": self.args.cycles, "cycle_while_file": self.args.cycle_while_file,
                "stop_file": self.args.stop_file, "image": self.args.image, "flavor": self.args.flavor,
                "boot_timeout_s": self.args.boot_timeout, "delete_timeout_s": self.args.delete_timeout,
                "servers_for_server_get": self.rotation.server_ids,
                "api_nodes": list(self.args.api_node), "hypervisors_interval_s": self.args.hypervisors_interval,
                "hypervisors_timeout_s": self.args.hypervisors_timeout,
            },
            "failure_rule": {"description": FAILURE_RULE,
                             "expected_4xx": {k: list(v) for k, v in EXPECTED_4XX.items()}},
            "error": self.error,
            "notes": list(self.notes),
            "cleanup": dict(self.cleanup),
        }
        data.update(aggregate(records, skipped, duration, self.args.rate, cycles))
        data["records"] = records
        data["skipped_slots_t"] = skipped
        return data

    def write(self, complete: bool) -> dict | None:
        """Write the result to --out. Once the complete result is written, intermediate writes
        (from the writer thread) are dropped, so the file never goes back to "complete": false."""
        with self._write_lock:
            if self._final_written:
                return None
            data = self.result(complete)
            write_json_atomic(self.args.out, data)
            self._final_written = complete
            return data

    # -- setup -------------------------------------------------------------------------------------
    def setup(self) -> None:
        import openstack  # noqa: PLC0415 - imported late: --help and argument errors work without it
        from keystoneauth1 import adapter as ks_adapter  # noqa: PLC0415
        from openstack import config as os_config  # noqa: PLC0415

        try:
            cfg = os_config.OpenStackConfig(config_files=[self.args.clouds_yaml], load_envvars=False)
            region = cfg.get_one(self.args.cloud, api_timeout=self.args.request_timeout)
        except Exception as exc:  # noqa: BLE001 - openstacksdk raises several kinds here
            raise SetupError(f"cloud {self.args.cloud!r} in {self.args.clouds_yaml}: {scrub(exc)}") from None
        self.conn = openstack.connection.Connection(config=region)
        self.adapter = ks_adapter.Adapter(
            session=self.conn.session, service_type="compute",
            interface=region.get_interface("compute") or "public", region_name=region.get_region_name("compute"),
            connect_retries=0, status_code_retries=0, raise_exc=False,
        )
        deadline = time.monotonic() + 30
        last = None
        for _n in range(15):  # bounded: at most ~30 s for keystone to answer
            try:
                self.endpoint = self.adapter.get_endpoint()
                break
            except Exception as exc:  # noqa: BLE001 - keep trying through transient errors
                last = exc
                if time.monotonic() > deadline or self.stop.wait(2):
                    break
        if not self.endpoint and self.stop.is_set():
            raise SetupError(f"stopped ({self.stop_reason}) while waiting for keystone")
        if not self.endpoint:
            raise SetupError(f"no compute endpoint from keystone ({type(last).__name__}: {scrub(last)})")

        if self.args.cycles or self.args.cycle_while_file:
            self._find_image_flavor()
        if self.args.server_id:
            self.rotation = Rotation(self.args.server_id)
        elif self.args.server_pool:
            self.rotation = Rotation(self._pre_existing_servers())
            if not self.rotation.server_ids and self.args.anchor == "auto":
                self.rotation = Rotation([self._boot_anchor()])
        if not self.rotation.server_ids:
            self.notes.append("no pre-existing server: GET /servers/{id} is not part of the read load")

    def _find_image_flavor(self) -> None:
        try:
            image = self.conn.image.find_image(self.args.image, ignore_missing=True)
            flavor = self.conn.compute.find_flavor(self.args.flavor, ignore_missing=True)
        except Exception as exc:  # noqa: BLE001
            raise SetupError(f"looking up image/flavor failed: {type(exc).__name__}: {scrub(exc)}") from None
        if image is None:
            raise SetupError(f"image {self.args.image!r} not found: give an existing one with --image")
        if flavor is None:
            raise SetupError(f"flavor {self.args.flavor!r} not found: give an existing one with --flavor")
        self.image_id, self.flavor_id = image.id, flavor.id

    def _boot_anchor(self) -> str:
        """Boot probe-<run>-anchor for GET /servers/{id} and wait for ACTIVE (bounded by --boot-timeout).
        It is deleted with the other servers of the run at the end."""
        if self.image_id is None:
            self._find_image_flavor()
        name = f"{self.prefix}anchor"
        body = {"server": {"name": name, "imageRef": self.image_id, "flavorRef": self.flavor_id, "networks": "none"}}
        self.anchor = name
        deadline = time.monotonic() + self.args.boot_timeout
        try:
            resp = self.adapter.post("/servers", json=body, microversion=CYCLE_MICROVERSION, raise_exc=False,
                                     timeout=self.args.request_timeout, connect_retries=0)
            if resp.status_code != 202:
                raise SetupError(f"booting the anchor server {name}: POST /servers answered {resp.status_code}: "
                                 f"{scrub(resp.text)}")
            sid = resp.json()["server"]["id"]
            with self._lock:
                self.created[sid] = name
            for _n in range(10000):  # bounded by the deadline
                resp = self.adapter.get(f"/servers/{sid}", raise_exc=False, timeout=self.args.request_timeout,
                                        connect_retries=0)
                status = resp.json().get("server", {}).get("status") if resp.status_code == 200 else None
                if status == "ACTIVE":
                    self.notes.append(f"no pre-existing server: booted {name} ({sid}) for GET /servers/{{id}}")
                    return sid
                if status == "ERROR" or time.monotonic() >= deadline or self.stop.wait(self.args.poll_interval):
                    break
        except SetupError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise SetupError(f"booting the anchor server {name}: {type(exc).__name__}: {scrub(exc)}") from None
        if self.stop.is_set():
            raise SetupError(f"stopped ({self.stop_reason}) while booting the anchor server {name}")
        raise SetupError(f"the anchor server {name} did not go ACTIVE (last status {status}); give --anchor never "
                         "or boot a server first")

    def _pre_existing_servers(self) -> list:
        """Up to --server-pool ACTIVE servers, oldest first (long-lived ones are least likely to be
        deleted by someone else while the probe runs); probe servers excluded."""
        try:
            resp = self.adapter.get("/servers/detail", params={"all_tenants": 1, "limit": 1000}, raise_exc=False,
                                    timeout=self.args.request_timeout, connect_retries=0)
        except Exception as exc:  # noqa: BLE001
            raise SetupError(f"GET /servers/detail failed: {type(exc).__name__}: {scrub(exc)}") from None
        if resp.status_code != 200:
            raise SetupError(f"GET /servers/detail answered {resp.status_code}: {scrub(resp.text)}")
        servers = [s for s in resp.json().get("servers", [])
                   if s.get("status") == "ACTIVE" and not str(s.get("name", "")).startswith(SERVER_PREFIX)]
        servers.sort(key=lambda s: (s.get("created") or "", s["id"]))
        return [s["id"] for s in servers[: self.args.server_pool]]

    # -- read load ---------------------------------------------------------------------------------
    def _read(self, name, path, server_id):
        # every project's servers: the cycles' servers too, created through whichever API node
        params = {"all_tenants": 1} if name == "servers_detail" else None
        status = self.call(name, "GET", path, "load", server_id=server_id, params=params)[0]
        if name == "server_get" and status == 404 and self.rotation.drop(server_id):
            with self._lock:
                self.notes.append(f"server {server_id} answered 404 at t={self.elapsed():.1f} s: dropped from the pool")

    def _stop_file_seen(self) -> bool:
        return bool(self.args.stop_file) and os.path.exists(self.args.stop_file)

    def run_load(self) -> None:
        """The dispatcher (main thread): sends reads at the fixed rate until stopped."""
        workers = self.args.workers
        free = threading.Semaphore(workers)
        sched = RateScheduler(self.args.rate, self.t0, max_lag=1.0)
        hard_stop = self.t0 + self.args.max_seconds
        next_check = next_write = self.t0
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe-read") as pool:
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= hard_stop:
                    self.request_stop("max-seconds")
                    break
                if now >= next_check:
                    next_check = now + self.args.check_interval
                    if self._stop_file_seen():
                        self.request_stop("stop-file")
                        break
                if self.args.write_interval and now >= next_write:
                    # in a thread: serializing 30 minutes of records takes ~0.3 s, the rate must not wait
                    if next_write > self.t0 and not (self._writer and self._writer.is_alive()):
                        self._writer = threading.Thread(target=self._write_quietly, args=(False,),
                                                        name="probe-writer", daemon=True)
                        self._writer.start()
                    next_write = now + self.args.write_interval
                due, dropped = sched.take(now)
                late = [round(now - self.t0, 3)] * dropped
                for _n in range(due):
                    if not free.acquire(blocking=False):
                        late.append(round(now - self.t0, 3))
                        continue
                    name, path, sid = self.rotation.next()
                    future = pool.submit(self._read, name, path, sid)
                    future.add_done_callback(lambda _f: free.release())
                if late:
                    with self._lock:
                        self.skipped.extend(late)
                wake = min(sched.next_due(), next_check, hard_stop)
                self.stop.wait(max(0.0, min(wake - time.monotonic(), self.args.check_interval)))
            self.t_end = time.monotonic()
            # leaving the with-block waits for the reads in flight: each is bounded by --request-timeout

    def _write_quietly(self, complete: bool) -> None:
        try:
            self.write(complete)
        except OSError as exc:
            print(f"probe: cannot write {self.args.out}: {exc}", file=sys.stderr, flush=True)

    # -- boot/delete cycles ------------------------------------------------------------------------
    def run_cycles(self) -> None:
        """The cycle thread: --cycles N at once, then while --cycle-while-file exists."""
        n = 0
        try:
            for _n in range(self.args.cycles):
                if self.stop.is_set():
                    return
                n += 1
                self._cycle(n)
            if not self.args.cycle_while_file:
                return
            # bounded by --max-seconds: the dispatcher sets `stop` at the latest then
            while not self.stop.is_set():
                if os.path.exists(self.args.cycle_while_file):
                    n += 1
                    self._cycle(n)
                else:
                    self.stop.wait(self.args.check_interval)
        except Exception as exc:  # noqa: BLE001 - a bug here must not kill the probe silently
            with self._lock:
                self.notes.append(f"cycle thread stopped by {type(exc).__name__}: {scrub(exc)}")

    def _cycle(self, n: int) -> None:
        name = f"{self.prefix}{n}"
        cyc = {"n": n, "name": name, "server_id": None, "started_at": wall_iso(),
               "t": round(time.monotonic() - self.t0, 3), "status": "running", "host": None,
               "boot_s": None, "delete_s": None, "total_s": None, "error": None}
        with self._lock:
            self.cycles.append(cyc)
        start = time.monotonic()

        def finish(status, error=None):
            cyc["status"] = status
            cyc["error"] = error
            cyc["total_s"] = round(time.monotonic() - start, 3)

        body = {"server": {"name": name, "imageRef": self.image_id, "flavorRef": self.flavor_id, "networks": "none"}}
        status, resp = self.call("boot_create", "POST", "/servers", "cycle", json_body=body,
                                 microversion=CYCLE_MICROVERSION, parse=True)
        sid = ((resp or {}).get("server") or {}).get("id")
        if status != 202 or not sid:
            finish("failed", f"POST /servers answered {status if status is not None else 'no response'}")
            return
        cyc["server_id"] = sid
        with self._lock:
            self.created[sid] = name

        # wait for ACTIVE (bounded)
        deadline = start + self.args.boot_timeout
        server = None
        while True:
            if self.stop.is_set():
                finish("interrupted", "probe stopped while booting")
                return
            status, resp = self.call("boot_poll", "GET", f"/servers/{sid}", "cycle", microversion=CYCLE_MICROVERSION,
                                     parse=True, server_id=sid)
            server = (resp or {}).get("server") or {}
            if status == 404:
                finish("failed", "server vanished while booting (404)")
                self._forget(sid)
                return
            if server.get("status") == "ERROR":
                fault = scrub((server.get("fault") or {}).get("message", "no fault message"))
                cyc["host"] = server.get("OS-EXT-SRV-ATTR:host")
                finish("failed", f"server went to ERROR: {fault}")
                self._delete_and_wait(sid, cyc, time.monotonic())
                return
            if server.get("status") == "ACTIVE":
                break
            if time.monotonic() >= deadline:
                finish("failed", f"not ACTIVE within {self.args.boot_timeout:g} s (status {server.get('status')})")
                self._delete_and_wait(sid, cyc, time.monotonic())
                return
            self.stop.wait(min(self.args.poll_interval, max(0.0, deadline - time.monotonic())))
        cyc["boot_s"] = round(time.monotonic() - start, 3)
        cyc["host"] = server.get("OS-EXT-SRV-ATTR:host")
        if self.args.api_node:
            self._read_back(sid, cyc)

        t_delete = time.monotonic()
        gone, error = self._delete_and_wait(sid, cyc, t_delete)
        if gone:
            finish("ok")
        elif self.stop.is_set() and error is None:
            finish("interrupted", "probe stopped while deleting")
        else:
            finish("failed", error)

    def _read_back(self, sid, cyc) -> None:
        """GET /servers/{id} through the load balancer until every --api-node has answered once (bounded:
        READ_BACK_TRIES_PER_NODE reads per node). cyc["read_back"]: {node: first status it answered};
        cyc["read_back_missing"]: the nodes that answered none (out of the load balancer, or not its turn)."""
        nodes = list(dict.fromkeys(self.args.api_node))
        seen = {}
        for _n in range(READ_BACK_TRIES_PER_NODE * len(nodes)):
            if self.stop.is_set() or all(n in seen for n in nodes):
                break
            status, _body, rec = self.call("read_back", "GET", f"/servers/{sid}", "cycle",
                                           microversion=CYCLE_MICROVERSION, server_id=sid, with_record=True)
            seen.setdefault(rec.get("served_by") or "?", status)
        cyc["read_back"] = seen
        cyc["read_back_missing"] = [n for n in nodes if n not in seen]

    def compute_sync_loop(self) -> None:
        """The compute-synchronous thread: GET /os-hypervisors/detail every --hypervisors-interval s, one at a
        time (a call that hangs on a stopping compute holds the next one back), until the probe stops."""
        try:
            while not self.stop.wait(self.args.hypervisors_interval):
                self.call(COMPUTE_SYNC_NAME, "GET", "/os-hypervisors/detail", "compute_sync",
                          microversion=COMPUTE_SYNC_MICROVERSION, timeout=self.args.hypervisors_timeout)
        except Exception as exc:  # noqa: BLE001 - a bug here must not kill the probe silently
            with self._lock:
                self.notes.append(f"compute-synchronous thread stopped by {type(exc).__name__}: {scrub(exc)}")

    def _forget(self, sid) -> None:
        with self._lock:
            self.created.pop(sid, None)

    def _delete_and_wait(self, sid, cyc, t_delete) -> tuple[bool, str | None]:
        """DELETE (up to 3 attempts on failure), then poll until 404 (bounded by --delete-timeout).
        Returns (gone, error). Stops waiting (gone False, error None) when the probe stops."""
        deadline = t_delete + self.args.delete_timeout
        accepted = False
        for _n in range(3):
            status = self.call("delete", "DELETE", f"/servers/{sid}", "cycle", server_id=sid)[0]
            if status in (202, 204, 404):
                accepted = True
                break
            if self.stop.wait(self.args.poll_interval) or time.monotonic() >= deadline:
                break
        if not accepted:
            return False, "DELETE /servers/{id} not accepted"
        while True:
            status, resp = self.call("delete_poll", "GET", f"/servers/{sid}", "cycle", microversion=CYCLE_MICROVERSION,
                                     parse=True, server_id=sid)
            if status == 404:
                cyc["delete_s"] = round(time.monotonic() - t_delete, 3)
                self._forget(sid)
                return True, None
            server = (resp or {}).get("server") or {}
            # nova sets task_state "deleting" before it answers the DELETE; ERROR without it: the delete failed
            if server.get("status") == "ERROR" and status == 200 and not server.get("OS-EXT-STS:task_state"):
                fault = scrub((server.get("fault") or {}).get("message", "no fault message"))
                return False, f"delete failed, server in ERROR: {fault}"
            if time.monotonic() >= deadline:
                return False, f"not gone within {self.args.delete_timeout:g} s (status {server.get('status')})"
            if self.stop.wait(min(self.args.poll_interval, max(0.0, deadline - time.monotonic()))):
                return False, None

    # -- cleanup at exit ---------------------------------------------------------------------------
    def cleanup_servers(self) -> None:
        """Delete every server of this run that may still exist: the ones it knows of, and any named
        probe-<run>-* (a POST whose answer was lost may still have created one). Bounded."""
        if self.adapter is None or not (self.args.cycles or self.args.cycle_while_file or self.anchor):
            return
        deadline = time.monotonic() + self.args.cleanup_timeout
        with self._lock:
            pending = dict(self.created)
        status, resp = self.call("cleanup_list", "GET", "/servers", "cycle", parse=True,
                                 params={"name": "^" + self.prefix})
        if status == 200:
            for srv in (resp or {}).get("servers", []):
                if srv.get("name", "").startswith(self.prefix):
                    pending.setdefault(srv["id"], srv["name"])
        for sid in pending:
            self.call("cleanup_delete", "DELETE", f"/servers/{sid}", "cycle", server_id=sid)
        for _n in range(1000):  # bounded by the deadline too
            if not pending:
                break
            for sid in list(pending):
                status = self.call("cleanup_poll", "GET", f"/servers/{sid}", "cycle", server_id=sid)[0]
                if status == 404:
                    self.cleanup["deleted"].append(pending.pop(sid))
                    self._forget(sid)
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(min(self.args.poll_interval, max(0.0, deadline - time.monotonic())))
        self.cleanup["left"] = [f"{name} ({sid})" for sid, name in pending.items()]


def main(argv=None) -> int:
    args = parse_args(argv)
    probe = Probe(args)

    def on_signal(signum, _frame):
        probe.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        probe.setup()
    except SetupError as exc:
        probe.error = str(exc)
        probe.request_stop("setup-error")
        probe.t_end = time.monotonic()
        probe.cleanup_servers()
        probe.write(complete=True)
        print(f"probe: {exc}", file=sys.stderr)
        return 2
    print(f"probe {probe.run}: {args.rate:g} reads/s through {probe.endpoint} for at most {args.max_seconds:g} s, "
          f"{len(probe.rotation.server_ids)} servers for GET /servers/{{id}}; result: {args.out}", flush=True)
    # the probing time starts now (setup is bounded separately: ~30 s)
    probe.t0 = time.monotonic()
    cycler = syncer = None
    if args.cycles or args.cycle_while_file:
        cycler = threading.Thread(target=probe.run_cycles, name="probe-cycles", daemon=True)
        cycler.start()
    if args.hypervisors_interval:
        syncer = threading.Thread(target=probe.compute_sync_loop, name="probe-compute-sync", daemon=True)
        syncer.start()
    try:
        probe.run_load()
    except Exception as exc:  # noqa: BLE001 - record it; the cleanup and the result below still run
        probe.error = f"probe stopped by {type(exc).__name__}: {scrub(exc)}"
        probe.request_stop("error")
    finally:
        probe.request_stop("done")
        if probe.t_end is None:
            probe.t_end = time.monotonic()
        if cycler is not None:
            # the cycle thread checks `stop` between requests, each bounded by --request-timeout
            cycler.join(timeout=3 * args.request_timeout + args.poll_interval + 5)
            if cycler.is_alive():
                probe.notes.append("cycle thread did not stop in time")
        if syncer is not None:
            syncer.join(timeout=args.hypervisors_timeout + 5)
            if syncer.is_alive():
                probe.notes.append("compute-synchronous thread did not stop in time")
        try:
            probe.cleanup_servers()
        except Exception as exc:  # noqa: BLE001 - the result must still be written
            probe.notes.append(f"cleanup stopped by {type(exc).__name__}: {scrub(exc)}")
        # interrupted cycles whose server the cleanup removed are settled; cycles still "running" were cut off
        for cyc in probe.cycles:
            if cyc["status"] == "running":
                cyc["status"] = "interrupted"
                cyc["error"] = "probe stopped"
        data = probe.write(complete=True)
        print(summary_text(data), flush=True)
    failed = data["requests"]["failed"] or data["cycles"]["failed"] or data["cleanup"]["left"] or data["error"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers of the Nova upgrade tests on the lab (tests/lab/test_nova_upgrade*.py).

- which release the lab runs, and whether it is FRESH (no upgrade state file, nova of the release on every
  nova unit), and bringing it to a fresh release with `lab/bin/lab down` + `up` (conftest's fresh_lab);
- running playbooks/nova_upgrade.yml with its output read line by line in a thread (marks: the wall time at
  which a line matched, and a callback), bounded in time, with the PLAY RECAP parsed;
- starting and stopping tests/lab/probe.py around a run;
- servers forced onto each compute, nova's service records read with the target code (ad hoc module run),
  the state file, the reports, and the secrets scan.

Every wait is bounded; no secret is ever printed (a secret found in an output is named by its key, never
shown).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("ROLLING_VENV") or REPO / ".venv")
LAB_BIN = REPO / "lab" / "bin" / "lab"
PLAYBOOK = REPO / "playbooks" / "nova_upgrade.yml"
PROBE = REPO / "tests" / "lab" / "probe.py"
RELEASES_DIR = REPO / "lab" / "releases"
STATE_FILE = "/var/lib/rolling-openstack/nova-upgrade.json"
REPORT_DIR = Path("~/.ansible/rolling-openstack/reports").expanduser()
VENVS_DIR = "/opt/openstack/venvs"

# nova units per inventory group (docs/lab.md)
NOVA_UNITS = {
    "nova_api": "nova-api",
    "nova_conductor": "nova-conductor",
    "nova_scheduler": "nova-scheduler",
    "nova_compute": "nova-compute",
}
# binaries of the service records the upgrade checks (the API's records have no heartbeat)
HEARTBEAT_BINARIES = ("nova-conductor", "nova-scheduler", "nova-compute")

_RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)(?:\s+skipped=(?P<skipped>\d+))?(?:\s+rescued=(?P<rescued>\d+))?"
    r"(?:\s+ignored=(?P<ignored>\d+))?"
)
_VENV_RE = re.compile(re.escape(VENVS_DIR) + r"/(?P<component>[a-z]+)-(?P<version>[0-9][^/\s;\"']*)/")
# nova's log: "2026-11-23 03:04:51.494 1234 INFO nova.compute.rpcapi [...] Automatically selected compute RPC
# version 6.5 from minimum service version 72"
_RPC_LOG_RE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) .*Automatically selected compute RPC version "
    r"(?P<rpc>[0-9.]+) from minimum service version (?P<sv>\d+)"
)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(value) -> datetime.datetime | None:
    """ISO 8601 (the state file's times) or nova's log time ('2026-11-23 03:04:51.494', UTC) -> aware."""
    if not value:
        return None
    dt = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=datetime.timezone.utc)


# ---------------------------------------------------------------------------------------------------
# Releases and the lab's running code
# ---------------------------------------------------------------------------------------------------

def release_services(release: str) -> dict:
    """{service: version} of a frozen lab release (lab/releases/<release>/release.yml)."""
    path = RELEASES_DIR / release / "release.yml"
    if not path.is_file():
        pytest.fail(f"release {release} has no frozen set: {path} does not exist (lab/releases/README.md)", pytrace=False)
    return dict((yaml.safe_load(path.read_text()) or {}).get("services") or {})


def nova_units(lab) -> dict:
    """{host: [nova unit, ...]} from the inventory groups."""
    units = {}
    for group, unit in NOVA_UNITS.items():
        for host in lab.group(group):
            units.setdefault(host, []).append(unit)
    return units


def unit_states(lab, host: str, units) -> dict:
    """{unit: {"component", "version", "active", "since" (epoch s)}} of systemd units on a host, one ssh."""
    script = "; ".join(
        f"echo '### {u}'; systemctl show --timestamp=unix -p ExecStart -p ActiveState -p ActiveEnterTimestamp"
        f" -p FragmentPath {u}; f=$(systemctl show -p FragmentPath --value {u}); [ -n \"$f\" ] && grep -h '{VENVS_DIR}' \"$f\""
        f" /etc/*/{u}-uwsgi.ini 2>/dev/null | head -n 3"
        for u in units
    )
    out = lab.ssh(host, script, timeout=60).stdout
    result = {}
    for block in out.split("### ")[1:]:
        name, _, body = block.partition("\n")
        venv = _VENV_RE.search(body)
        since = re.search(r"ActiveEnterTimestamp=@(\d+)", body)
        result[name.strip()] = {
            "component": venv.group("component") if venv else "",
            "version": venv.group("version") if venv else "",
            "active": "ActiveState=active" in body,
            "since": int(since.group(1)) if since else 0,
        }
    return result


def nova_code(lab) -> dict:
    """{(host, unit): {"version", "active", "since"}} for every nova unit of the inventory."""
    code = {}
    for host, units in sorted(nova_units(lab).items()):
        for unit, st in unit_states(lab, host, units).items():
            code[(host, unit)] = st
    return code


def state_file(lab, host: str = "ctl1") -> dict | None:
    """The upgrade's state document on the manage host, or None when there is no state file."""
    proc = lab.ssh(host, f"cat {STATE_FILE} 2>/dev/null || echo '__NO_STATE__'", timeout=30)
    if proc.stdout.strip() == "__NO_STATE__":
        return None
    return json.loads(proc.stdout)


def release_served(release: str, base="http://10.77.0.10:8000") -> bool:
    try:
        with urllib.request.urlopen(f"{base}/{release}/release.yml", timeout=5) as resp:  # noqa: S310 - lab address
            return resp.status == 200
    except OSError:
        return False


def why_not_fresh(lab, release: str, next_release: str | None) -> list:
    """Reasons the running lab is not a FRESH lab of `release` ([] when it is): every nova unit active on the
    release's nova, no upgrade under way (no state file, or the state of a finished upgrade TO `release`: a lab
    that an earlier test upgraded to `release` is as good a start as a fresh deployment, and it is what an
    operator's next upgrade starts from), `next_release` served, the lab's second cell (cell2) mapped."""
    want = release_services(release)
    reasons = []
    for (host, unit), st in nova_code(lab).items():
        if st["version"] != want["nova"]:
            reasons.append(f"{unit} on {host} runs nova {st['version'] or '?'} (want {want['nova']})")
        elif not st["active"]:
            reasons.append(f"{unit} on {host} is not active")
    manage = (lab.group("nova_conductor") or ["ctl1"])[0]
    state = state_file(lab, manage)
    if state is not None and (state.get("status"), state.get("to_release")) != ("done", release):
        reasons.append(f"{manage} has the state file {STATE_FILE} of upgrade {state.get('id')}, "
                       f"{state.get('status')} (only a finished upgrade to {release} may be there)")
    if next_release and not release_served(next_release):
        reasons.append(f"release {next_release} is not served by the lab's release server")
    cells = lab.ssh("infra", "mysql -N -e 'SELECT name FROM cell_mappings' nova_api", timeout=60).stdout.split()
    if "cell2" not in cells:
        reasons.append(f"the lab has no cell2 (cells: {', '.join(cells) or 'none'}): deployed before cell2 joined it")
    return reasons


# ---------------------------------------------------------------------------------------------------
# Commands with bounded time and a log file
# ---------------------------------------------------------------------------------------------------

def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def run_logged(argv, log: Path, timeout: float, env=None) -> tuple[int, float]:
    """Run a command with stdout+stderr to `log`; kill its process group at `timeout`. -> (rc, seconds);
    rc None when it timed out."""
    t0 = time.monotonic()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            argv, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            rc = None
        except BaseException:  # interrupted (SIGTERM/SIGINT of the session): do not leave it running
            _kill_group(proc)
            raise
    return rc, time.monotonic() - t0


def _kill_group(proc, grace: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# ---------------------------------------------------------------------------------------------------
# The load balancer (haproxy on infra, its admin socket)
# ---------------------------------------------------------------------------------------------------

_HAPROXY_STATE = (
    "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); "
    "s.sendall(b'show servers state {backend}\\n'); print(s.makefile().read())"
)


def haproxy_admin_states(lab, backend: str, lb_host: str = "infra") -> dict:
    """{server: srv_admin_state} of a backend, from `show servers state` on the admin socket: 0 in service,
    0x08 drained (FDRAIN), 0x01 maintenance (FMAINT), ..."""
    out = lab.ssh(lb_host, "python3 -c " + shlex.quote(_HAPROXY_STATE.format(backend=backend))).stdout
    states = {}
    for line in out.splitlines():
        cols = line.split()
        # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
        if len(cols) > 6 and cols[1] == backend and cols[0].isdigit():
            states[cols[3]] = int(cols[6])
    return states


# ---------------------------------------------------------------------------------------------------
# The playbook
# ---------------------------------------------------------------------------------------------------

@dataclass
class Watch:
    """Call `action` (if any) once, the first time a line of the playbook's output matches `pattern`;
    the wall time is kept in PlaybookRun.marks[name]. after: only once the watch of that name has fired.
    signal: send this signal to the playbook's process group then (SIGINT: an operator's Ctrl-C)."""
    name: str
    pattern: str
    action: object = None
    after: str = ""
    signal: int = 0


@dataclass
class PlaybookRun:
    argv: list
    log: Path
    rc: int | None = None
    timed_out: bool = False
    started: datetime.datetime | None = None
    ended: datetime.datetime | None = None
    seconds: float = 0.0
    lines: list = field(default_factory=list)
    marks: dict = field(default_factory=dict)
    action_errors: list = field(default_factory=list)
    events_file: Path | None = None

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def recap(self) -> dict:
        """{host: {"ok": n, "changed": n, ...}} from the PLAY RECAP."""
        rows = {}
        in_recap = False
        for line in self.lines:
            if line.startswith("PLAY RECAP"):
                in_recap = True
                continue
            if in_recap:
                m = _RECAP_RE.match(line.strip())
                if m:
                    rows[m.group("host")] = {k: int(v) for k, v in m.groupdict().items() if k != "host" and v is not None}
        return rows

    def events(self) -> list:
        """The events the rolling_events callback wrote (run_playbook(events=...)), in order; [] without them."""
        if self.events_file is None or not Path(self.events_file).exists():
            return []
        return [json.loads(line) for line in Path(self.events_file).read_text().splitlines() if line.strip()]

    def describe(self) -> str:
        return (f"`{' '.join(self.argv[1:])}` rc={self.rc}{' (TIMED OUT)' if self.timed_out else ''} "
                f"in {self.seconds:.0f} s; log {self.log}")

    def fail_text(self, lines: int = 40) -> str:
        """The end of the output (the failure messages) for an assertion message."""
        return self.describe() + "\n" + "\n".join(self.lines[-lines:])


def run_playbook(log: Path, extra_args=(), extra_vars=None, check=False, verbose=0, timeout=1500.0,
                 watches=(), inventory=None, diff=False, events=None, playbook=None) -> PlaybookRun:
    """ansible-playbook playbooks/nova_upgrade.yml (or `playbook`) on the lab, its output read line by line in a thread
    (and written to `log`); watches fire on their first matching line. Killed at `timeout` seconds.
    diff: --diff; events: a file for every event of the run as JSON lines (tests/lab/callback_plugins/rolling_events.py,
    what AWX stores), beside the default callback's output."""
    argv = [str(VENV / "bin" / "ansible-playbook"), "-i", str(inventory or "/var/lib/rolling-lab/inventory.yml"),
            str(playbook or PLAYBOOK)]
    for key, value in (extra_vars or {}).items():
        argv += ["-e", json.dumps({key: value})]
    argv += list(extra_args)
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if verbose:
        argv.append("-" + "v" * verbose)
    run = PlaybookRun(argv=argv, log=log, events_file=events)
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "PYTHONUNBUFFERED": "1",
           "ANSIBLE_STDOUT_CALLBACK": "default"}
    if events is not None:
        Path(events).unlink(missing_ok=True)
        env.update(ANSIBLE_CALLBACKS_ENABLED="rolling_events", ROLLING_EVENTS_FILE=str(events),
                   ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).resolve().parent / "callback_plugins"))
    pending = list(watches)
    run.started = utcnow()
    t0 = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, env=env, text=True, bufsize=1,
        start_new_session=True, errors="replace",
    )

    def reader():
        with open(log, "w", encoding="utf-8") as fh:
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                run.lines.append(line)
                fh.write(raw)
                fh.flush()
                for w in list(pending):
                    if (not w.after or w.after in run.marks) and re.search(w.pattern, line):
                        pending.remove(w)
                        run.marks[w.name] = utcnow()
                        if w.signal:
                            try:
                                os.killpg(proc.pid, w.signal)
                            except ProcessLookupError:
                                run.action_errors.append(f"{w.name}: the playbook had ended before its signal")
                        if w.action is not None:
                            try:
                                w.action()
                            except Exception as exc:  # noqa: BLE001 - reported by the test
                                run.action_errors.append(f"{w.name}: {exc!r}")

    thread = threading.Thread(target=reader, name="playbook-output", daemon=True)
    thread.start()
    try:
        run.rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.timed_out = True
        _kill_group(proc)
        run.rc = proc.returncode
    except BaseException:  # interrupted (SIGTERM/SIGINT of the session): do not leave it running
        _kill_group(proc)
        raise
    thread.join(timeout=30)
    run.seconds = time.monotonic() - t0
    run.ended = utcnow()
    return run


# ---------------------------------------------------------------------------------------------------
# Ad hoc module runs (read-only) on a lab host
# ---------------------------------------------------------------------------------------------------

def ad_hoc(host: str, module: str, args: dict, become_user: str | None = None, timeout: float = 180.0,
           inventory=None) -> dict:
    """Run one module on one lab host with `ansible` and return its result (the minimal callback's JSON)."""
    argv = [str(VENV / "bin" / "ansible"), host, "-i", str(inventory or "/var/lib/rolling-lab/inventory.yml"),
            "-m", module, "-a", json.dumps(args), "-e", "ansible_pipelining=true"]
    if become_user:
        argv += ["--become", "--become-user", become_user]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_STDOUT_CALLBACK": "minimal",
           "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0"}
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        pytest.fail(f"ansible {host} -m {module}: no result within {timeout} s")
    out = proc.stdout
    brace = out.find("{")
    if brace < 0:
        pytest.fail(f"ansible {host} -m {module} exited {proc.returncode} without a result: {out[-1500:]} {proc.stderr[-1500:]}")
    try:
        result = json.loads(out[brace:])
    except ValueError:
        pytest.fail(f"ansible {host} -m {module}: unreadable result: {out[-1500:]}")
    if proc.returncode != 0 or result.get("failed"):
        pytest.fail(f"ansible {host} -m {module} failed (rc {proc.returncode}): {result.get('msg', out[-1500:])}")
    return result


def service_versions(nova_version: str, host: str = "ctl1") -> dict:
    """nova_service_version_info with the venv of `nova_version` on `host` (as user nova): every service
    record of every cell, the code's service version, the minimum versions."""
    return ad_hoc(host, "rolling.openstack.nova_service_version_info",
                  {"nova_venv": f"{VENVS_DIR}/nova-{nova_version}"}, become_user="nova")


# ---------------------------------------------------------------------------------------------------
# The API probe
# ---------------------------------------------------------------------------------------------------

class ProbeRun:
    """tests/lab/probe.py in the background (see docs/probe.md): start(), then cycles_on()/cycles_off()
    around the compute roll, then stop() -> its result JSON."""

    def __init__(self, workdir: Path, clouds_yaml: Path, rate: float = 6.0, max_seconds: float = 2400.0,
                 api_nodes=(), hypervisors_interval: float = 0.0):
        self.out = workdir / "probe.json"
        self.stop_file = workdir / "probe.stop"
        self.cycle_file = workdir / "probe.cycle"
        self.log = workdir / "probe.log"
        self.clouds_yaml = clouds_yaml
        self.rate = rate
        self.max_seconds = max_seconds
        self.api_nodes = list(api_nodes)
        self.hypervisors_interval = hypervisors_interval
        self.proc = None
        self._fh = None
        self.result = None
        self.cycle_on_at = None
        self.cycle_off_at = None

    def start(self):
        for f in (self.out, self.stop_file, self.cycle_file):
            f.unlink(missing_ok=True)
        argv = [str(VENV / "bin" / "python"), str(PROBE), "--out", str(self.out), "--rate", str(self.rate),
                "--max-seconds", str(self.max_seconds), "--stop-file", str(self.stop_file),
                "--cycle-while-file", str(self.cycle_file), "--clouds-yaml", str(self.clouds_yaml)]
        for node in self.api_nodes:
            argv += ["--api-node", node]
        if self.hypervisors_interval:
            argv += ["--hypervisors-interval", str(self.hypervisors_interval)]
        self._fh = open(self.log, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._fh, stderr=subprocess.STDOUT, cwd=REPO,  # noqa: S603
                                     start_new_session=True)
        # its setup ends with the line "probe <run>: 6 reads/s through <endpoint> ..." (bounded: ~30 s)
        deadline = time.monotonic() + 90
        while "reads/s through" not in tail(self.log, 20):
            if self.proc.poll() is not None:
                pytest.fail(f"the probe exited {self.proc.returncode} at start: {tail(self.log)}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the probe did not start probing within 90 s: {tail(self.log)}")
            time.sleep(1)
        return self

    def cycles_on(self):
        self.cycle_file.touch()
        self.cycle_on_at = utcnow()

    def cycles_off(self):
        self.cycle_file.unlink(missing_ok=True)
        if self.cycle_off_at is None:
            self.cycle_off_at = utcnow()

    def stop(self, timeout: float = 420.0) -> dict:
        """Stop file, wait (bounded: requests in flight, the cycle, the cleanup), read the result."""
        if self.proc is None:
            return {}
        self.cycles_off()
        self.stop_file.touch()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
        self._fh.close()
        if self.out.exists():
            self.result = json.loads(self.out.read_text())
        else:
            self.result = {}
        return self.result

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.cycles_off()
            self.stop_file.touch()
            try:
                self.proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc)
        if self._fh is not None:
            self._fh.close()


def probe_figures(result: dict) -> dict:
    req = result.get("requests") or {}
    lat = req.get("latency_s") or {}
    cyc = result.get("cycles") or {}
    return {
        "duration_s": result.get("duration_s"),
        "requests": req.get("sent"),
        "read_requests": req.get("load_sent"),
        "cycle_requests": req.get("cycle_sent"),
        "failed": req.get("failed"),
        "failures_by_kind": req.get("failures_by_kind"),
        "skipped_slots": req.get("skipped_slots"),
        "achieved_rate": req.get("achieved_rate"),
        "latency_p50_s": lat.get("p50"),
        "latency_p95_s": lat.get("p95"),
        "latency_max_s": lat.get("max"),
        "cycles_ok": cyc.get("ok"),
        "cycles_failed": cyc.get("failed"),
        "cycles_interrupted": cyc.get("interrupted"),
        "cycle_hosts": cyc.get("hosts"),
        "read_backs_by_api_node": cyc.get("read_backs_by_api_node"),
        "compute_sync_sent": req.get("compute_sync_sent"),
        "compute_rpc_timeouts": req.get("compute_rpc_timeouts"),
        "compute_rpc_timeouts_at": req.get("compute_rpc_timeouts_at"),
        "left_behind": (result.get("cleanup") or {}).get("left"),
    }


def cycle_window(cycle: dict) -> tuple:
    start = parse_time(cycle.get("started_at"))
    total = cycle.get("total_s") or 0
    return start, (start + datetime.timedelta(seconds=float(total))) if start else None


def ok_cycles_within(cycles, start, end) -> list:
    """The successful boot/delete cycles of the probe that overlap [start, end]."""
    found = []
    for cyc in cycles or []:
        c0, c1 = cycle_window(cyc)
        if cyc.get("status") == "ok" and c0 and c0 < end and c1 > start:
            found.append(cyc)
    return found


# ---------------------------------------------------------------------------------------------------
# The cloud
# ---------------------------------------------------------------------------------------------------

def connect(clouds_yaml: Path):
    """An openstacksdk connection as the lab's admin, once keystone answers (at most 60 s)."""
    import openstack
    from openstack import config as os_config

    cfg = os_config.OpenStackConfig(config_files=[str(clouds_yaml)], load_envvars=False)
    conn = openstack.connection.Connection(config=cfg.get_one("lab", api_timeout=30))
    deadline = time.monotonic() + 60
    while True:
        try:
            conn.authorize()
            return conn
        except Exception as exc:  # noqa: BLE001 - keystone not answering yet
            if time.monotonic() > deadline:
                pytest.fail(f"keystone of the lab does not answer: {type(exc).__name__}", pytrace=False)
            time.sleep(2)


def boot_one_per_compute(conn, hosts, prefix: str, timeout: float = 180.0) -> dict:
    """One server per compute, forced with availability zone nova:<host>; waits for ACTIVE on that host.
    -> {server id: host}."""
    return boot_servers(conn, [(f"{prefix}-{host}", host, None) for host in hosts], timeout)


def boot_servers(conn, placements, timeout: float = 180.0) -> dict:
    """Servers forced onto hosts: placements [(name, host, group id or None)]; waits for each ACTIVE on its host.
    -> {server id: host}."""
    image = conn.image.find_image("cirros-lab", ignore_missing=True)
    flavor = conn.compute.find_flavor("m1.lab", ignore_missing=True)
    if image is None or flavor is None:
        pytest.fail("the lab has no image cirros-lab or flavor m1.lab: was site.yml run to the end?")
    created = {}
    for name, host, group in placements:
        extra = {"scheduler_hints": {"group": group}} if group else {}
        srv = conn.compute.create_server(name=name, image_id=image.id, flavor_id=flavor.id, networks="none",
                                         availability_zone=f"nova:{host}", **extra)
        created[srv.id] = host
    for sid, host in created.items():
        wait_server(conn, sid, "ACTIVE", timeout)
        srv = conn.compute.get_server(sid)
        assert srv.compute_host == host, f"server {srv.name} landed on {srv.compute_host}, not {host}"
    return created


def boot_server(conn, name: str, timeout: float = 180.0):
    image = conn.image.find_image("cirros-lab", ignore_missing=True)
    flavor = conn.compute.find_flavor("m1.lab", ignore_missing=True)
    srv = conn.compute.create_server(name=name, image_id=image.id, flavor_id=flavor.id, networks="none")
    return wait_server(conn, srv.id, "ACTIVE", timeout)


def wait_server(conn, sid: str, status: str, timeout: float):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            srv = conn.compute.get_server(sid)
            last = srv.status
            if srv.status == status:
                return srv
            if srv.status == "ERROR":
                pytest.fail(f"server {srv.name} ({sid}) went to ERROR: {srv.fault}")
        except Exception as exc:  # noqa: BLE001 - transient API error: poll again
            last = type(exc).__name__
        time.sleep(2)
    pytest.fail(f"server {sid} not {status} within {timeout} s (last: {last})")


def delete_servers(conn, ids, timeout: float = 120.0) -> list:
    """Delete servers; -> the ids still there after `timeout` (reported, not raised)."""
    for sid in ids:
        try:
            conn.compute.delete_server(sid, ignore_missing=True)
        except Exception as exc:  # noqa: BLE001 - best effort in teardown
            print(f"delete {sid}: {type(exc).__name__}")
    left = []
    for sid in ids:
        try:
            conn.compute.wait_for_delete(conn.compute.get_server(sid), wait=timeout)
        except Exception:  # noqa: BLE001 - gone already (NotFound) or still there
            try:
                conn.compute.get_server(sid)
                left.append(sid)
            except Exception:  # noqa: BLE001 - NotFound: gone
                pass
    return left


def server_problems(conn, expected: dict) -> list:
    """Every server of {id: host} ACTIVE on the same host; -> problems."""
    problems = []
    for sid, host in expected.items():
        try:
            srv = conn.compute.get_server(sid)
        except Exception as exc:  # noqa: BLE001 - a vanished server is a problem to report
            problems.append(f"server {sid} (was on {host}): {type(exc).__name__}")
            continue
        if srv.status != "ACTIVE" or srv.compute_host != host or srv.power_state != 1:
            problems.append(f"server {srv.name}: {srv.status} on {srv.compute_host} power_state {srv.power_state} "
                            f"(was ACTIVE on {host})")
    return problems


def computes_by_host(conn) -> dict:
    """{host: its nova-compute service (openstacksdk)}."""
    return {s.host: s for s in conn.compute.services(binary="nova-compute")}


def where(conn, ids) -> dict:
    """{server id: (host, status, power state)} of the given servers."""
    out = {}
    for sid in ids:
        s = conn.compute.get_server(sid)
        out[sid] = (s.compute_host, s.status, s.power_state)
    return out


def changed_hosts(run) -> dict:
    """The hosts of a playbook run's recap with changed > 0."""
    return {h: v for h, v in run.recap().items() if v.get("changed")}


def run_host_playbook(ctx, test: str, name: str, figures, playbook, timeout: float, check=False, **extra_vars):
    """A host playbook run of a lab test (ctx: work, extra, runs): its log in ctx.work, its seconds in the figures."""
    run = run_playbook(ctx.work / f"playbook-{name}.log", playbook=playbook, check=check, timeout=timeout,
                       extra_vars={**ctx.extra, **extra_vars})
    ctx.runs[name] = round(run.seconds, 1)
    figures(test, run_seconds=ctx.runs)
    return run


def compute_services(conn) -> dict:
    """{(binary, host): (state, status)} from the compute API (openstack compute service list)."""
    return {(s.binary, s.host): (s.state, s.status) for s in conn.compute.services()}


def wait_services_up(conn, expected, timeout: float = 180.0) -> dict:
    """Wait (bounded) until every (binary, host) of `expected` is up and enabled; fail naming the others."""
    deadline = time.monotonic() + timeout
    bad = ["not read yet"]
    while time.monotonic() < deadline:
        try:
            services = compute_services(conn)
            bad = [f"{b} on {h}: {services.get((b, h), ('missing', ''))}" for b, h in expected
                   if services.get((b, h)) != ("up", "enabled")]
            if not bad:
                return services
        except Exception as exc:  # noqa: BLE001 - transient API error
            bad = [type(exc).__name__]
        time.sleep(3)
    pytest.fail(f"nova services not up and enabled within {timeout} s: {'; '.join(bad)}")


def expected_services(lab) -> list:
    return ([("nova-conductor", h) for h in lab.group("nova_conductor")]
            + [("nova-scheduler", h) for h in lab.group("nova_scheduler")]
            + [("nova-compute", h) for h in lab.group("nova_compute")])


# ---------------------------------------------------------------------------------------------------
# Reports, logs, secrets
# ---------------------------------------------------------------------------------------------------

def report_files_since(since: datetime.datetime, upgrade_id: str) -> list:
    """Report files (.txt/.json) of `upgrade_id` written at or after `since`."""
    if not REPORT_DIR.is_dir():
        return []
    found = []
    for path in sorted(REPORT_DIR.glob(f"nova-upgrade-{upgrade_id}-*")):
        if path.stat().st_mtime >= since.timestamp() - 1:
            found.append(path)
    return found


def phase_seconds(state: dict) -> dict:
    return {name: p.get("seconds") for name, p in (state.get("phases") or {}).items()}


def rpc_selections(lab, host: str, log: str = "/var/log/nova/nova-conductor.log",
                   since: datetime.datetime | None = None) -> list:
    """"Automatically selected compute RPC version" lines of a nova log on a host since a time (UTC):
    [{"time", "rpc", "service_version"}]."""
    out = lab.ssh(host, f"grep -h 'Automatically selected compute RPC version' {log} || true", timeout=60).stdout
    rows = []
    for line in out.splitlines():
        m = _RPC_LOG_RE.match(line)
        if not m:
            continue
        t = parse_time(m.group("time"))
        if since is None or t >= since:
            rows.append({"host": host, "time": t.isoformat(), "rpc": m.group("rpc"), "service_version": int(m.group("sv"))})
    return rows


def server_log_lines(lab, server_id: str, limit: int = 40) -> dict:
    """{host: lines} of every nova log line that names a server, on every nova host (diagnostics of a
    failed boot; nova's logs hold no secret at the lab's log level)."""
    found = {}
    for host in sorted(nova_units(lab)):
        out = lab.ssh(host, f"grep -h {server_id} /var/log/nova/*.log 2>/dev/null | grep -v 'nova.api.openstack.requestlog\\|\"GET ' "
                            f"| tail -n {int(limit)}", timeout=60, check=False).stdout
        if out.strip():
            found[host] = out.splitlines()
    return found


def secret_values(lab_state: Path) -> dict:
    """{key path: value} of every secret of the lab: every string of secrets.yml (passwords, fernet and
    credential keys) and the passwords of clouds.yaml. Values shorter than 8 characters are left out (they
    would match ordinary words; the lab's secrets are long random strings)."""
    found = {}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
        elif isinstance(node, str) and len(node) >= 8:
            found[path] = node

    for name in ("secrets.yml", "clouds.yaml"):
        path = lab_state / name
        if path.is_file():
            data = yaml.safe_load(path.read_text()) or {}
            if name == "clouds.yaml":
                data = {"clouds.yaml": {c: (v.get("auth") or {}).get("password") for c, v in (data.get("clouds") or {}).items()}}
            walk(data, name if name != "clouds.yaml" else "")
    return found


SECRET_PATTERNS = {
    "database URL with credentials": re.compile(r"mysql(?:\+pymysql)?://[^/\s:@\"']+:[^@\s\"'*]+@"),
    "rabbit URL with credentials": re.compile(r"rabbit://[^/\s:@\"']+:[^@\s\"'*]+@"),
    "X-Auth-Token header": re.compile(r"(?i)x-auth-token"),
    "X-Subject-Token header": re.compile(r"(?i)x-subject-token"),
    "keystone fernet token": re.compile(r"gAAAAA[A-Za-z0-9_\-]{40,}"),
}


def secret_findings(texts: dict, secrets: dict) -> list:
    """texts {name: content}; -> ["<name>: <what>"] for every secret value or pattern found (never the value)."""
    findings = []
    for name, text in texts.items():
        for key, value in secrets.items():
            if value in text:
                findings.append(f"{name}: the value of {key}")
        for what, rx in SECRET_PATTERNS.items():
            if rx.search(text):
                findings.append(f"{name}: {what}")
    return findings


def figures_line(figures: dict) -> str:
    return json.dumps(figures, sort_keys=True, default=str)

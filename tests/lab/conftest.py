"""Fixtures for tests that run against the lab (see docs/lab.md).

The lab is described by $LAB_STATE (default /var/lib/rolling-lab): inventory.yml, ssh/id_ed25519,
clouds.yaml. A test that asks for a lab fixture while the lab is not up FAILS (it does not skip):
a silent skip would let a broken lab look green.

No fixture here is autouse, so tests under tests/lab that do not need the lab (e.g. unit tests of
the lab virt driver) are unaffected.

The upgrade tests (test_nova_upgrade*.py) use `fresh_lab` (a FRESH lab at a given release: redeployed
with `lab/bin/lab down` + `up` when the running one is not), `artifacts` (a directory for the playbook
outputs, probe results and logs of the session) and `figures` (timings and counts, printed at the end
of the session and written to <artifacts>/figures.json). Helpers are in upgrade_helpers.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import upgrade_helpers as uh

LAB_STATE = Path(os.environ.get("LAB_STATE") or "/var/lib/rolling-lab")
HINT = "bring it up with `lab/bin/lab up` (see docs/lab.md)"
ARTIFACTS = Path(os.environ.get("ROLLING_LAB_ARTIFACTS") or "/tmp/rolling-lab-artifacts")
LAB_DOWN_TIMEOUT = int(os.environ.get("ROLLING_LAB_DOWN_TIMEOUT") or 600)
LAB_UP_TIMEOUT = int(os.environ.get("ROLLING_LAB_UP_TIMEOUT") or 2700)
_FIGURES: dict = {}


@dataclass
class LabHost:
    name: str
    address: str
    key: str
    groups: set = field(default_factory=set)


@dataclass
class Lab:
    state: Path
    hosts: dict  # name -> LabHost
    groups: dict  # group -> [names]

    def group(self, name):
        return list(self.groups.get(name, []))

    def ssh(self, host, command, timeout=60, check=True):
        """Run `command` (a shell string) on a lab host as root; return CompletedProcess."""
        h = self.hosts[host]
        argv = [
            "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=5", "-i", h.key, "root@" + h.address, command,
        ]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            pytest.fail(f"ssh {host} {command!r}: no answer within {timeout} s")
        if check and proc.returncode != 0:
            pytest.fail(
                f"ssh {host} {command!r} exited {proc.returncode}\n"
                f"stdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}"
            )
        return proc


def _load_lab() -> Lab:
    inventory = LAB_STATE / "inventory.yml"
    if not inventory.is_file():
        pytest.fail(f"the lab is not up: {inventory} does not exist; {HINT}", pytrace=False)
    data = yaml.safe_load(inventory.read_text()) or {}
    children = (data.get("all") or {}).get("children") or {}
    lab = children.get("lab") or {}
    hosts = {}
    for name, hv in (lab.get("hosts") or {}).items():
        hv = hv or {}
        hosts[name] = LabHost(
            name=name,
            address=hv.get("ansible_host", name),
            key=hv.get("ansible_ssh_private_key_file", str(LAB_STATE / "ssh" / "id_ed25519")),
        )
    if not hosts:
        pytest.fail(f"the lab is not up: {inventory} lists no hosts; {HINT}", pytrace=False)
    groups = {}
    for group, body in children.items():
        members = list(((body or {}).get("hosts") or {}).keys())
        groups[group] = members
        for member in members:
            if member in hosts:
                hosts[member].groups.add(group)
    return Lab(state=LAB_STATE, hosts=hosts, groups=groups)


@pytest.fixture(scope="session")
def lab() -> Lab:
    """The lab's hosts and groups, read from $LAB_STATE/inventory.yml."""
    return _load_lab()


@pytest.fixture(scope="session")
def clouds_yaml(lab) -> Path:
    path = lab.state / "clouds.yaml"
    if not path.is_file():
        pytest.fail(f"the lab has no OpenStack yet: {path} does not exist; {HINT}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def cloud(clouds_yaml):
    """An openstacksdk connection as the lab's admin (cloud `lab` of $LAB_STATE/clouds.yaml)."""
    import openstack
    from openstack import config as os_config

    cfg = os_config.OpenStackConfig(config_files=[str(clouds_yaml)], load_envvars=False)
    region = cfg.get_one("lab", api_timeout=30)
    conn = openstack.connection.Connection(config=region)
    deadline = time.monotonic() + 30
    while True:
        try:
            conn.authorize()
            break
        except Exception as exc:  # noqa: BLE001 - report whatever keeps keystone from answering
            if time.monotonic() > deadline:
                pytest.fail(f"keystone of the lab does not answer ({exc}); {HINT}", pytrace=False)
            time.sleep(2)
    yield conn
    conn.close()


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    # SIGTERM (scripts/test's `timeout`) interrupts like Ctrl-C: fixtures' finalizers run, so the playbook,
    # `lab up` and the probe started by the upgrade tests are stopped instead of left running
    signal.signal(signal.SIGTERM, _interrupt)
    config.addinivalue_line("markers", "lab: needs the lab up (lab/bin/lab up); fails otherwise")
    # openstacksdk's own deprecation notices (RemovedInSDK50Warning, ...) say nothing about the lab
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:openstack")
    config.addinivalue_line("filterwarnings", "ignore::PendingDeprecationWarning:openstack")


class Pending(str):
    """A falsy reason for wait_for: `return Pending("cmp1 down")` keeps polling and is reported
    when the wait times out."""

    def __bool__(self):
        return False


def wait_for(what, predicate, timeout, interval=2.0):
    """Poll `predicate()` until it returns a truthy value; fail after `timeout` seconds.
    Exceptions other than AssertionError count as "not yet" (transient API errors)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
        except Exception as exc:  # noqa: BLE001 - keep polling through transient API errors
            last = exc
            if isinstance(exc, AssertionError):
                raise
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


@pytest.fixture(scope="session")
def wait():
    """The wait_for helper: wait(what, predicate, timeout, interval=2.0)."""
    return wait_for


@pytest.fixture(scope="session")
def pending():
    """The Pending class (a falsy reason string for wait predicates)."""
    return Pending


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """A directory for this session's playbook outputs, probe results and lab logs (kept after the run:
    $ROLLING_LAB_ARTIFACTS, default /tmp/rolling-lab-artifacts, one sub-directory per session)."""
    path = ARTIFACTS / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path.mkdir(parents=True, exist_ok=True)
    _FIGURES["_artifacts"] = str(path)
    return path


@pytest.fixture(scope="session")
def figures(artifacts):
    """figures(test, **values): keep timings and counts of a test; printed at the end of the session and
    written to <artifacts>/figures.json as they come."""

    def record(test, **values):
        _FIGURES.setdefault(test, {}).update(values)
        _save_figures()

    return record


def _save_figures():
    if "_artifacts" in _FIGURES:
        path = Path(_FIGURES["_artifacts"]) / "figures.json"
        path.write_text(json.dumps(_FIGURES, indent=1, sort_keys=True, default=str) + "\n")


def _redeploy(release, next_release, log_dir):
    """lab down, then LAB_RELEASE=<release> LAB_EXTRA_RELEASES=<next> lab up; -> (down s, up s)."""
    down_log = log_dir / f"lab-down-before-{release}.log"
    rc, down_s = uh.run_logged([str(uh.LAB_BIN), "down"], down_log, LAB_DOWN_TIMEOUT)
    if rc != 0:
        pytest.fail(f"`lab/bin/lab down` {'timed out after ' + str(LAB_DOWN_TIMEOUT) + ' s' if rc is None else 'exited ' + str(rc)}"
                    f" (log {down_log}):\n{uh.tail(down_log)}", pytrace=False)
    up_log = log_dir / f"lab-up-{release}.log"
    env = {"LAB_RELEASE": release, "LAB_EXTRA_RELEASES": next_release or ""}
    rc, up_s = uh.run_logged([str(uh.LAB_BIN), "up"], up_log, LAB_UP_TIMEOUT, env=env)
    if rc != 0:
        pytest.fail(f"`LAB_RELEASE={release} LAB_EXTRA_RELEASES={next_release} lab/bin/lab up` "
                    f"{'timed out after ' + str(LAB_UP_TIMEOUT) + ' s' if rc is None else 'exited ' + str(rc)}"
                    f" (log {up_log}):\n{uh.tail(up_log)}", pytrace=False)
    return down_s, up_s


@pytest.fixture(scope="session")
def fresh_lab(artifacts, figures):
    """fresh_lab(release, next_release) -> Lab: a FRESH lab at `release` (every nova unit on the release's nova,
    no upgrade under way: no state file on the manage host, or a finished upgrade to `release`; `next_release`
    served). When the running lab is not that
    (or is not up), it is redeployed: `lab/bin/lab down`, then `LAB_RELEASE=<release>
    LAB_EXTRA_RELEASES=<next_release> lab/bin/lab up` (bounded: ROLLING_LAB_DOWN_TIMEOUT / ROLLING_LAB_UP_TIMEOUT,
    default 600 / 2700 s; output in <artifacts>/lab-*.log; a failure shows the log's tail)."""

    def ensure(release, next_release):
        reasons = ["the lab is not up"]
        if (LAB_STATE / "inventory.yml").is_file() and (LAB_STATE / "clouds.yaml").is_file():
            try:
                reasons = uh.why_not_fresh(_load_lab(), release, next_release)
            except (Exception, pytest.fail.Exception) as exc:  # noqa: BLE001 - a lab that cannot be read is redeployed
                reasons = [f"the lab cannot be inspected ({str(exc).splitlines()[0][:200]})"]
        key = f"fresh_lab {release}"
        if not reasons:
            figures(key, redeployed=False)
            return _load_lab()
        print(f"redeploying the lab at {release} (+{next_release}): {'; '.join(reasons)}")
        down_s, up_s = _redeploy(release, next_release, artifacts)
        lab = _load_lab()
        still = uh.why_not_fresh(lab, release, next_release)
        if still:
            pytest.fail(f"after `lab up` at {release} the lab is not fresh: {'; '.join(still)}", pytrace=False)
        figures(key, redeployed=True, because=reasons[:3], lab_down_s=round(down_s), lab_up_s=round(up_s))
        return lab

    return ensure


def pytest_runtest_logreport(report):
    """Wall time of each upgrade test (setup + call + teardown: the module fixtures' playbook runs and lab
    deploys count in the test that first needs them)."""
    if "test_nova_upgrade" not in report.nodeid:
        return
    times = _FIGURES.setdefault("test wall time (s)", {})
    times[report.nodeid] = round(times.get(report.nodeid, 0.0) + report.duration, 1)
    _save_figures()


def pytest_terminal_summary(terminalreporter):
    """The figures of the upgrade tests (timings, probe, cycles, phases), if any test recorded some."""
    if len(_FIGURES) <= 1:
        return
    terminalreporter.section("lab figures")
    for test, values in _FIGURES.items():
        terminalreporter.write_line(f"{test}: {values if isinstance(values, str) else uh.figures_line(values)}")

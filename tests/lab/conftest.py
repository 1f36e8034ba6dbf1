"""Fixtures for tests that run against the lab (see docs/lab.md).

The lab is described by $LAB_STATE (default /var/lib/rolling-lab): inventory.yml, ssh/id_ed25519,
clouds.yaml. A test that asks for a lab fixture while the lab is not up FAILS (it does not skip):
a silent skip would let a broken lab look green.

No fixture here is autouse, so tests under tests/lab that do not need the lab (e.g. unit tests of
the lab virt driver) are unaffected.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

LAB_STATE = Path(os.environ.get("LAB_STATE") or "/var/lib/rolling-lab")
HINT = "bring it up with `lab/bin/lab up` (see docs/lab.md)"


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


def pytest_configure(config):
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

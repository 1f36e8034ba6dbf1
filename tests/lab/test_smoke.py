"""Smoke test of a deployed lab: hosts healthy, nova services up, a server on every compute,
servers surviving a nova-compute restart.

Run with the controller venv against a lab that `lab/bin/lab up` brought up:
    $ROLLING_VENV/bin/pytest tests/lab/test_smoke.py
Fails (does not skip) when the lab is not up. Bounded: every wait has a limit; ~1 min in all.
"""

from __future__ import annotations

import datetime
import uuid

import pytest

BOOT_TIMEOUT = 120  # s for a server to go ACTIVE
SERVICE_TIMEOUT = 90  # s for a restarted nova-compute to report in again
DELETE_TIMEOUT = 60

pytestmark = pytest.mark.lab


def _utc(ts):
    """nova's updated_at ('2026-11-23T00:10:15.000000', naive UTC) -> aware datetime."""
    if not ts:
        return None
    dt = datetime.datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=datetime.timezone.utc)


def _services(cloud):
    return {(s.binary, s.host): s for s in cloud.compute.services()}


def test_every_host_is_running(lab):
    """Every lab host answers over SSH and systemd says `running` (not degraded/starting)."""
    problems = []
    for name in sorted(lab.hosts):
        proc = lab.ssh(name, "timeout 30 systemctl is-system-running --wait", check=False)
        state = proc.stdout.strip()
        if state != "running":
            failed = lab.ssh(name, "systemctl --failed --no-legend --plain", check=False).stdout
            problems.append(f"{name}: {state or proc.stderr.strip()!r}; failed units: {failed.strip()!r}")
    assert not problems, "hosts not running:\n" + "\n".join(problems)


def test_nova_services_up_and_enabled(lab, cloud, wait, pending):
    """conductor and scheduler on every controller, nova-compute on every compute: up, enabled."""
    expected = (
        [("nova-conductor", h) for h in lab.group("nova_conductor")]
        + [("nova-scheduler", h) for h in lab.group("nova_scheduler")]
        + [("nova-compute", h) for h in lab.group("nova_compute")]
    )
    assert lab.group("nova_compute"), "the inventory has no nova_compute hosts"

    def all_up():
        services = _services(cloud)
        bad = []
        for binary, host in expected:
            svc = services.get((binary, host))
            if svc is None:
                bad.append(f"{binary} on {host}: missing")
            elif svc.state != "up" or svc.status != "enabled":
                bad.append(f"{binary} on {host}: {svc.state}/{svc.status}")
        return pending("; ".join(bad)) if bad else True

    wait("every nova service up and enabled", all_up, timeout=60)


@pytest.fixture(scope="module")
def servers(lab, cloud):
    """One server per compute (networks none, forced onto the host); deleted at the end."""
    image = cloud.image.find_image("cirros-lab", ignore_missing=True)
    flavor = cloud.compute.find_flavor("m1.lab", ignore_missing=True)
    if image is None or flavor is None:
        pytest.fail("the lab has no image cirros-lab or flavor m1.lab: was site.yml run to the end?")
    tag = uuid.uuid4().hex[:6]
    created = {}
    try:
        for host in lab.group("nova_compute"):
            created[host] = cloud.compute.create_server(
                name=f"smoke-{tag}-{host}", image_id=image.id, flavor_id=flavor.id,
                networks="none", availability_zone=f"nova:{host}",
            )
        yield created
    finally:
        for srv in created.values():
            cloud.compute.delete_server(srv, ignore_missing=True)
        for srv in created.values():
            try:
                cloud.compute.wait_for_delete(srv, wait=DELETE_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - report, but do not mask the test's result
                print(f"server {srv.id} not deleted within {DELETE_TIMEOUT} s: {exc}")


def _wait_active(cloud, wait, srv):
    def active():
        s = cloud.compute.get_server(srv.id)
        if s.status == "ERROR":
            raise AssertionError(f"server {s.name} went to ERROR: {s.fault}")
        return s if s.status == "ACTIVE" else None

    return wait(f"server {srv.name} ACTIVE", active, timeout=BOOT_TIMEOUT)


def test_server_boots_on_every_compute(cloud, wait, servers):
    for host, srv in servers.items():
        s = _wait_active(cloud, wait, srv)
        assert s.compute_host == host, f"{s.name} landed on {s.compute_host}, not {host}"
        assert s.power_state == 1, f"{s.name} power_state {s.power_state} (1 = running)"


def test_compute_restart_keeps_servers(lab, cloud, wait, servers):
    host = lab.group("nova_compute")[0]
    srv = _wait_active(cloud, wait, servers[host])
    before = lab.ssh(host, "systemctl show -p MainPID --value nova-compute").stdout.strip()
    t0 = datetime.datetime.now(datetime.timezone.utc)

    lab.ssh(host, "systemctl restart nova-compute", timeout=60)

    after = lab.ssh(host, "systemctl show -p MainPID --value nova-compute").stdout.strip()
    assert after not in ("", "0", before), f"nova-compute on {host} did not restart (MainPID {before} -> {after})"
    assert lab.ssh(host, "systemctl is-active nova-compute", check=False).stdout.strip() == "active"

    def reported_again():
        svc = _services(cloud).get(("nova-compute", host))
        updated = _utc(svc.updated_at) if svc else None
        if svc is None or svc.state != "up" or updated is None or updated <= t0:
            return pending(f"state={getattr(svc, 'state', None)} updated_at={updated}")
        return True

    wait(f"nova-compute on {host} to report in after the restart", reported_again, timeout=SERVICE_TIMEOUT)

    s = cloud.compute.get_server(srv.id)
    assert s.status == "ACTIVE", f"{s.name} is {s.status} after restarting nova-compute on {host}"
    assert s.compute_host == host
    assert s.power_state == 1, f"{s.name} power_state {s.power_state} after the restart (guest lost?)"
    # the restarted compute still lists the guest (the lab driver persisted it)
    log = lab.ssh(host, "journalctl -u nova-compute --since '-2min' --no-pager -q | tail -n 200", check=False).stdout
    assert "Refusing to start" not in log, log[-2000:]

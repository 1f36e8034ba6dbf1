# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad inputs on the real lab: each is refused before any change, with a message that names the bad value
and the fix. On a fresh 2025.2 lab (2026.1 served), the playbook runs once per bad input:

- a downgrade (2025.1), a skip that is not a SLURP skip-level step (2025.2 -> 2026.2), a release the
  collection does not know (2030.2);
- an inventory group that does not exist (nova_upgrade_compute_group), an unknown host in
  nova_upgrade_limit_hosts;
- a target whose nova venv is not available (nova 33.9.9 of 2026.1: not on the hosts, HTTP 404 from the
  lab's release server);
- a target venv tarball whose checksum file (<tarball>.sha256) is not published (the release server's own
  nova-<version>.tar.zst.sha256 given as the tarball: it answers, its .sha256 does not; the release directory
  on infra is read-only);
- a phase setting that is not a number (nova_upgrade_restart_settle=soon).

Each run: rc != 0, the failure names the value, no phase started (no task of nova_pin). After all of them
nothing changed: no upgrade state file, every nova unit still on 2025.2's nova and not restarted, the nova
configuration files, the backups and the venvs on the hosts as they were.

scripts/test runs it on the 2025.2 lab it brings up, before test_nova_upgrade_rpc.py upgrades that lab.
Run alone: .venv/bin/python -m pytest tests/lab/test_nova_upgrade_inputs.py (~1 min: 8 passed in 56 s; + a redeploy at 2025.2 when
the running lab is not a fresh one).
"""

from __future__ import annotations

import types

import pytest

import upgrade_helpers as uh

pytestmark = pytest.mark.lab

RELEASE, NEXT = "2025.2", "2026.1"
TEST = "test_nova_upgrade_inputs"
RUN_TIMEOUT = 600
BACKUP_DIR = "/var/backups/nova-upgrade"

# (case id, extra vars, texts the failure must contain)
CASES = [
    ("downgrade", {"nova_upgrade_target_release": "2025.1"},
     ["target 2025.1", "does not support downgrades", "Choose a target newer than 2025.2"]),
    ("non_slurp_skip", {"nova_upgrade_target_release": "2026.2"},
     ["skips 2026.1", "2025.2 is not a SLURP release", "the next target is 2026.1"]),
    ("unknown_release", {"nova_upgrade_target_release": "2030.2"},
     ["'2030.2' is not a release this collection knows", "known releases"]),
    ("unknown_group", {"nova_upgrade_target_release": NEXT, "nova_upgrade_compute_group": "nova_computes"},
     ["nova_upgrade_compute_group=nova_computes", "there is no inventory group nova_computes"]),
    ("unknown_limit_host", {"nova_upgrade_target_release": NEXT, "nova_upgrade_limit_hosts": ["cmp9"]},
     ["nova_upgrade_limit_hosts", "unknown host cmp9"]),
    ("target_not_available", {"nova_upgrade_target_release": NEXT, "nova_upgrade_target_version": "33.9.9"},
     ["nova 33.9.9", "is not available", "nova-33.9.9.tar.zst"]),
    ("checksum_not_published", {"nova_upgrade_target_release": NEXT,
                                "nova_upgrade_venv_tarball_url": "{release_url}/" + NEXT + "/nova-{nova}.tar.zst.sha256"},
     ["nova-{nova}.tar.zst.sha256.sha256", "answered", "publish the tarball's sha256 beside it"]),
    ("bad_setting", {"nova_upgrade_target_release": NEXT, "nova_upgrade_restart_settle": "soon"},
     ["nova_upgrade_restart_settle=soon", "must be a number of seconds"]),
]


def _snapshot(lab) -> dict:
    """What a refused run must leave as it was: nova units (code, since when they run), the state file, the nova
    configuration on every nova host, the backups on the backup host, the venvs on every nova host."""
    files = {}
    for host in sorted(uh.nova_units(lab)):
        out = lab.ssh(host, f"md5sum /etc/nova/*.conf 2>/dev/null; ls -1 {uh.VENVS_DIR}", timeout=60).stdout
        files[host] = sorted(out.split("\n"))
    backups = lab.ssh("infra", f"ls -1 {BACKUP_DIR} 2>/dev/null || true", timeout=30).stdout.split()
    manage = lab.group("nova_conductor")[0]
    return {"code": uh.nova_code(lab), "state": uh.state_file(lab, manage), "files": files, "backups": backups}


@pytest.fixture(scope="module")
def ctx(fresh_lab, artifacts):
    lab = fresh_lab(RELEASE, NEXT)
    work = artifacts / TEST
    work.mkdir(exist_ok=True)
    return types.SimpleNamespace(lab=lab, work=work, before=_snapshot(lab), runs={})


@pytest.mark.parametrize("case, extra_vars, texts", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(ctx, figures, case, extra_vars, texts):
    # the lab's release server on infra (lab/ansible/roles/lab_release_server), the target release's nova version
    fill = {"{release_url}": f"http://{ctx.lab.hosts['infra'].address}:8000", "{nova}": uh.release_services(NEXT)["nova"]}

    def filled(text):
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    extra_vars = {k: filled(v) if isinstance(v, str) else v for k, v in extra_vars.items()}
    texts = [filled(t) for t in texts]
    run = uh.run_playbook(ctx.work / f"playbook-{case}.log", timeout=RUN_TIMEOUT, extra_vars=extra_vars)
    ctx.runs[case] = round(run.seconds, 1)
    figures(TEST, run_seconds=ctx.runs)
    assert run.rc not in (0, None), f"{case}: the playbook did not fail: {run.fail_text()}"
    missing = [t for t in texts if t not in run.output]
    assert not missing, f"{case}: the failure does not say {missing}: {run.fail_text()}"
    assert "TASK [rolling.openstack.nova_pin" not in run.output, f"{case}: a phase started: {run.fail_text()}"


def test_nothing_changed(ctx):
    if len(ctx.runs) < len(CASES):
        pytest.fail(f"only {sorted(ctx.runs)} ran, so what they left cannot be judged", pytrace=False)
    after = _snapshot(ctx.lab)
    for key in ("state", "files", "backups"):
        assert after[key] == ctx.before[key], f"the refused runs changed the {key}: {ctx.before[key]} -> {after[key]}"
    changed = {f"{u} on {h}": (ctx.before["code"].get((h, u)), st) for (h, u), st in after["code"].items()
               if st != ctx.before["code"].get((h, u))}
    assert not changed, f"the refused runs changed or restarted nova units: {changed}"

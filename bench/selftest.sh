#!/usr/bin/env bash
# Self-test of the bench without a lab: bench/nova_upgrade.sh and bench/raw_upgrade.sh against fakes of lab/bin/lab,
# ssh, openstack and ansible-playbook (bench/selftest/bin), then checks of the table. ~20 s; touches no lab.
#
#   bench/selftest.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REAL_VENV=${ROLLING_VENV:-$PWD/.venv}
[[ -x $REAL_VENV/bin/python ]] || { echo "no controller venv at $REAL_VENV (scripts/setup-controller)" >&2; exit 1; }
SELFTEST_DIR=$(mktemp -d /tmp/rolling-bench-selftest.XXXXXX)
cleanup() { # the test dir, and the bench's work dir (it names it on stderr)
    local work
    work=$(sed -n 's/^\[bench\] work files (logs) in //p' "$SELFTEST_DIR/err.log" 2>/dev/null || true)
    [[ $work != /tmp/rolling-bench.* ]] || rm -rf "$work"
    rm -rf "$SELFTEST_DIR"
}
trap cleanup EXIT
export SELFTEST_DIR SELFTEST_PY=$REAL_VENV/bin/python
# a fake venv: the real Python, the fake tools
mkdir -p "$SELFTEST_DIR/venv/bin"
printf '#!/usr/bin/env bash\nexec %q "$@"\n' "$REAL_VENV/bin/python" >"$SELFTEST_DIR/venv/bin/python"
chmod +x "$SELFTEST_DIR/venv/bin/python"
cp bench/selftest/bin/openstack bench/selftest/bin/ansible-playbook "$SELFTEST_DIR/venv/bin/"
inventory=${LAB_STATE:-/var/lib/rolling-lab}/inventory.yml
if [[ ! -r $inventory ]]; then
    # the lab's inventory layout, default topology
    mkdir -p "$SELFTEST_DIR/state"
    "$REAL_VENV/bin/python" - "$SELFTEST_DIR/state/inventory.yml" <<'PY'
import sys, yaml
h = lambda *n: {"hosts": {x: {} for x in n}}
hosts = {"infra": "10.77.0.10", "ctl1": "10.77.0.11", "ctl2": "10.77.0.12", "cmp1": "10.77.0.21",
         "cmp2": "10.77.0.22", "cmp3": "10.77.0.23"}
inv = {"all": {"children": {
    "lab": {"vars": {"lab_releases_url": "http://10.77.0.10:8000"},
            "hosts": {n: {"ansible_host": a} for n, a in hosts.items()}},
    "mariadb": h("infra"), "placement": h("ctl1", "ctl2"), "nova_api": h("ctl1", "ctl2"),
    "nova_conductor": h("ctl1", "ctl2"), "nova_scheduler": h("ctl1", "ctl2"),
    "nova_compute": h("cmp1", "cmp2", "cmp3")}}}
yaml.safe_dump(inv, open(sys.argv[1], "w"))
PY
    export LAB_STATE=$SELFTEST_DIR/state
fi
PATH=$PWD/bench/selftest/bin:$PATH ROLLING_VENV=$SELFTEST_DIR/venv BENCH_LAB=$PWD/bench/selftest/bin/lab \
    BENCH_RESULTS=$SELFTEST_DIR/results bench/nova_upgrade.sh >"$SELFTEST_DIR/out.md" 2>"$SELFTEST_DIR/err.log" \
    || { cat "$SELFTEST_DIR/err.log" >&2; echo "selftest: bench/nova_upgrade.sh failed" >&2; exit 1; }
"$REAL_VENV/bin/python" - "$SELFTEST_DIR" <<'PY'
import glob, json, sys
d = sys.argv[1]
(res,) = glob.glob(f"{d}/results/*.json")
s = json.load(open(res))
rows = {r["phase"]: r for r in s["table"]}
fail = []
for p in ("pin", "expand", "roll", "migrate", "unpin", "contract"):
    if rows[p]["playbook_seconds"] != 0.9:
        fail.append(f"{p}: playbook seconds {rows[p]['playbook_seconds']} (want 0.9 from the state)")
    if rows[p]["raw_seconds"] is None:
        fail.append(f"{p}: no raw seconds")
w = s["whole_run"]
if not (w["playbook_wall_seconds"] and 6 < w["playbook_wall_seconds"] < 60):
    fail.append(f"playbook wall {w['playbook_wall_seconds']} (the fake sleeps 7 s)")
if not (0 <= rows["preflight"]["playbook_seconds"] < 2):
    fail.append(f"preflight {rows['preflight']['playbook_seconds']}")
if not w["ratio"] or not s["raw"]["verification"]["ok"]:
    fail.append(f"ratio {w['ratio']}, raw verified {s['raw']['verification']['ok']}")
ssh = open(f"{d}/ssh.log").read()
for cmd in ("api_db sync", "placement-manage --config-file=/etc/placement/placement.conf db sync",
            "online_data_migrations --max-count 50", "systemctl restart nova-compute"):
    if cmd not in ssh:
        fail.append(f"the raw path did not run '{cmd}'")
print("\n".join(fail) or f"selftest: ok ({len(s['raw']['steps'])} raw steps, whole-run ratio {w['ratio']})")
sys.exit(1 if fail else 0)
PY

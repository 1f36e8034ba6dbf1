#!/usr/bin/env bash
# Bench: per-phase wall time of the lab's Nova upgrade (playbooks/nova_upgrade.yml, 2026.1 -> 2026.2) and the
# ratio of the whole run to the RAW critical path (bench/raw_upgrade.sh: the same syncs, switches and restarts
# issued directly over SSH in the same order, no orchestration), both measured on a fresh lab in one invocation.
#
#   bench/nova_upgrade.sh [--only playbook|raw] [--keep-lab] [--dry-run]
#
#   1. fresh lab (lab down; lab up), every nova service up; the playbook, timed; per-phase seconds from the
#      state file on the manage host (phases.<name>.seconds, events), the report's path
#   2. fresh lab again; bench/raw_upgrade.sh (timed per phase, then verified: services up on the new code)
#   3. bench/summarize.py: the table (phase, playbook s, raw s, ratio; whole run) with the machine (nproc,
#      load) and versions, printed and written to bench/results/<UTC stamp>.{json,md}
#   4. lab down (unless --keep-lab, or a step failed: then the lab stays for a look)
#
#   --only X    run one half only (the table then has one column)
#   --keep-lab  leave the lab up at the end
#   --dry-run   print what would run (the raw path step by step) and exit; no lab command is run
#
# Takes ~25-30 min on the 2-CPU lab machine (two lab deployments of ~5 min each, the playbook ~8 min, the raw
# path ~2 min, three lab downs). It OWNS the lab while it runs: run it only when nobody else uses the lab.
# Environment: ROLLING_VENV (.venv), LAB_STATE (/var/lib/rolling-lab), BENCH_RELEASE (2026.1),
# BENCH_TARGET_RELEASE (2026.2), BENCH_RESULTS (bench/results), BENCH_PLAYBOOK_TIMEOUT (3600 s); BENCH_LAB
# (lab/bin/lab: another command with the same interface, to test the bench itself without a lab).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export ROLLING_VENV=${ROLLING_VENV:-$PWD/.venv}
export LAB_STATE=${LAB_STATE:-/var/lib/rolling-lab}
FROM=${BENCH_RELEASE:-2026.1}
TARGET=${BENCH_TARGET_RELEASE:-2026.2}
RESULTS=${BENCH_RESULTS:-bench/results}
PLAYBOOK_TIMEOUT=${BENCH_PLAYBOOK_TIMEOUT:-3600}
LAB_UP_TIMEOUT=2700
LAB_DOWN_TIMEOUT=900
UP_WAIT=300
LAB=${BENCH_LAB:-lab/bin/lab}

ONLY="" KEEP_LAB=0 DRY_RUN=0
ARGS="$*"
while [[ $# -gt 0 ]]; do
    case $1 in
        --only)
            ONLY=${2:-}
            [[ $ONLY == playbook || $ONLY == raw ]] || { echo "--only takes playbook or raw, not '${ONLY}'" >&2; exit 2; }
            shift ;;
        --keep-lab) KEEP_LAB=1 ;;
        --dry-run) DRY_RUN=1 ;;
        -h | --help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "nova_upgrade.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
for r in "$FROM" "$TARGET"; do
    [[ -r lab/releases/$r/release.yml ]] || die "release $r has no manifest lab/releases/$r/release.yml"
done
PLAYBOOK_CMD=("$ROLLING_VENV/bin/ansible-playbook" -i "$LAB_STATE/inventory.yml" playbooks/nova_upgrade.yml
    -e "nova_upgrade_target_release=$TARGET")

if ((DRY_RUN)); then
    echo "# fresh lab: lab/bin/lab down; LAB_RELEASE=$FROM LAB_EXTRA_RELEASES=$TARGET lab/bin/lab up"
    [[ $ONLY == raw ]] || echo "# playbook: ${PLAYBOOK_CMD[*]}"
    if [[ $ONLY != playbook ]]; then
        echo "# fresh lab again, then the raw path:"
        RAW_TARGET_RELEASE=$TARGET bench/raw_upgrade.sh --dry-run
    fi
    exit 0
fi

[[ -x $ROLLING_VENV/bin/ansible-playbook ]] || bash scripts/setup-controller
PY=$ROLLING_VENV/bin/python
export OS_CLIENT_CONFIG_FILE=$LAB_STATE/clouds.yaml OS_CLOUD=lab
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
WORK=$(mktemp -d /tmp/rolling-bench.XXXXXX)
log "work files (logs) in $WORK"
LAB_UPS=()

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# inventory facts: the manage host (first conductor) and how many nova-conductor/scheduler/compute services
inventory_fact() {
    "$PY" - "$LAB_STATE/inventory.yml" "$1" <<'EOF'
import sys, yaml
inv = yaml.safe_load(open(sys.argv[1]))["all"]["children"]
hosts = lambda g: list(((inv.get(g) or {}).get("hosts") or {}).keys())
if sys.argv[2] == "manage":
    print(hosts("nova_conductor")[0])
else:
    print(len(hosts("nova_conductor")) + len(hosts("nova_scheduler")) + len(hosts("nova_compute")))
EOF
}

wait_services_up() { # bounded: every nova-conductor/scheduler/compute of the inventory up
    local expected up deadline=$((SECONDS + UP_WAIT))
    expected=$(inventory_fact count)
    while ((SECONDS < deadline)); do
        up=$(timeout 60 "$ROLLING_VENV/bin/openstack" compute service list -f value -c State 2>/dev/null | grep -c '^up$' || true)
        ((up != expected)) || return 0
        sleep 5
    done
    die "not every nova service came up within ${UP_WAIT} s after lab up ($up of $expected up)"
}

fresh_lab() { # n: lab down + up at FROM with TARGET served, every service up, nothing upgraded
    local n=$1 t0=$SECONDS manage
    log "fresh lab ($n): lab down"
    timeout "$LAB_DOWN_TIMEOUT" "$LAB" down >"$WORK/lab-down-$n.log" 2>&1 || die "lab down failed: $WORK/lab-down-$n.log"
    log "fresh lab ($n): lab up ($FROM, serving $TARGET; ~5 min)"
    LAB_RELEASE=$FROM LAB_EXTRA_RELEASES=$TARGET timeout "$LAB_UP_TIMEOUT" "$LAB" up >"$WORK/lab-up-$n.log" 2>&1 \
        || die "lab up failed: $WORK/lab-up-$n.log"
    wait_services_up
    manage=$(inventory_fact manage)
    ! "$LAB" ssh "$manage" test -e /var/lib/rolling-openstack/nova-upgrade.json \
        || die "the fresh lab has an upgrade state file on $manage already"
    LAB_UPS+=("$((SECONDS - t0))")
    log "fresh lab ($n) ready in $((SECONDS - t0)) s"
}

machine_json() {
    "$PY" - <<EOF
import json, os, platform
mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal:")][0].split()[1]
print(json.dumps({"nproc": os.cpu_count(), "mem_gib": round(int(mem) / 1048576, 1),
                  "kernel": platform.release(), "arch": platform.machine()}))
EOF
}

LOAD_PB="" LOAD_RAW=""
PB_T0="" PB_T1="" PB_RC="" PB_REPORT=""
FAILED=0

if [[ $ONLY != raw ]]; then
    fresh_lab 1
    LOAD_PB=$(loadavg)
    manage=$(inventory_fact manage)
    touch "$WORK/playbook.started"
    log "playbook run (load $LOAD_PB): ${PLAYBOOK_CMD[*]}"
    PB_T0=$(date +%s.%N)
    PB_RC=0
    timeout "$PLAYBOOK_TIMEOUT" "${PLAYBOOK_CMD[@]}" >"$WORK/playbook.log" 2>&1 || PB_RC=$?
    PB_T1=$(date +%s.%N)
    log "playbook rc=$PB_RC in $("$PY" -c "print(round($PB_T1 - $PB_T0, 1))") s (log: $WORK/playbook.log)"
    "$LAB" ssh "$manage" cat /var/lib/rolling-openstack/nova-upgrade.json >"$WORK/playbook-state.json" \
        || die "no state file on $manage after the playbook run (log: $WORK/playbook.log)"
    PB_REPORT=$(find ~/.ansible/rolling-openstack/reports -name 'nova-upgrade-*.json' -newer "$WORK/playbook.started" \
        -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2- || true)
    ((PB_RC == 0)) || FAILED=1
fi

if [[ $ONLY != playbook ]]; then
    fresh_lab 2
    LOAD_RAW=$(loadavg)
    log "raw critical path (load $LOAD_RAW)"
    RAW_TARGET_RELEASE=$TARGET bench/raw_upgrade.sh --out "$WORK/raw.json" --log "$WORK/raw.log" || FAILED=1
fi

# ---- the run document, then the table ----------------------------------------------------------------
ANSIBLE_CORE=$("$PY" -c 'import ansible.release; print(ansible.release.__version__)')
GIT_COMMIT=$(git rev-parse --short HEAD)
[[ -z $(git status --porcelain -- playbooks roles plugins bench/raw_upgrade.sh) ]] || GIT_COMMIT+=" (with uncommitted changes)"
mkdir -p "$RESULTS"
MACHINE=$(machine_json)
export BENCH_COMMAND="bench/nova_upgrade.sh${ARGS:+ $ARGS}" BENCH_STAMP=$STAMP BENCH_FROM=$FROM BENCH_TARGET=$TARGET \
    BENCH_LOAD_PB=$LOAD_PB BENCH_LOAD_RAW=$LOAD_RAW BENCH_PB_T0=$PB_T0 BENCH_PB_T1=$PB_T1 BENCH_PB_RC=$PB_RC \
    BENCH_PB_REPORT=$PB_REPORT BENCH_ANSIBLE_CORE=$ANSIBLE_CORE BENCH_GIT_COMMIT=$GIT_COMMIT \
    BENCH_LAB_UPS="${LAB_UPS[*]}" BENCH_MACHINE=$MACHINE BENCH_WORK=$WORK
"$PY" - >"$WORK/run.json" <<'EOF'
import json, os, platform, yaml
e = os.environ
rel = lambda r: yaml.safe_load(open(f"lab/releases/{r}/release.yml"))["services"]
src, dst = rel(e["BENCH_FROM"]), rel(e["BENCH_TARGET"])
machine = json.loads(e["BENCH_MACHINE"])
machine.update(load_before_playbook=e["BENCH_LOAD_PB"] or None, load_before_raw=e["BENCH_LOAD_RAW"] or None)
run = {
    "command": e["BENCH_COMMAND"], "started": e["BENCH_STAMP"], "machine": machine,
    "versions": {"from_release": e["BENCH_FROM"], "to_release": e["BENCH_TARGET"],
                 "nova_from": src["nova"], "nova_to": dst["nova"],
                 "placement_from": src["placement"], "placement_to": dst["placement"],
                 "ansible_core": e["BENCH_ANSIBLE_CORE"], "python": platform.python_version(),
                 "git_commit": e["BENCH_GIT_COMMIT"]},
    "lab_up_seconds": [int(x) for x in e["BENCH_LAB_UPS"].split()],
}
work = e["BENCH_WORK"]
if e["BENCH_PB_T0"]:
    run["playbook"] = {"t0": float(e["BENCH_PB_T0"]), "t1": float(e["BENCH_PB_T1"]), "rc": int(e["BENCH_PB_RC"]),
                       "report": e["BENCH_PB_REPORT"] or None,
                       "state": json.load(open(f"{work}/playbook-state.json"))}
if os.path.exists(f"{work}/raw.json") and os.path.getsize(f"{work}/raw.json") > 0:
    run["raw"] = json.load(open(f"{work}/raw.json"))
print(json.dumps(run, indent=1))
EOF
echo
"$PY" bench/summarize.py --run "$WORK/run.json" --out-json "$RESULTS/$STAMP.json" --out-md "$RESULTS/$STAMP.md"
log "written: $RESULTS/$STAMP.json and $RESULTS/$STAMP.md (logs: $WORK)"

if ((FAILED)); then
    log "a run failed: the lab stays up for a look (lab/bin/lab down when done)"
    exit 1
fi
if ((KEEP_LAB)); then
    log "--keep-lab: the lab stays up"
else
    log "lab down"
    timeout "$LAB_DOWN_TIMEOUT" "$LAB" down >"$WORK/lab-down-end.log" 2>&1 || die "lab down failed: $WORK/lab-down-end.log"
fi

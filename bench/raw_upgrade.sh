#!/usr/bin/env bash
# The RAW critical path of the lab's Nova upgrade: the same schema syncs, code switches and restarts that
# playbooks/nova_upgrade.yml runs, issued directly over SSH in the same order, with no orchestration (no
# preflight checks, no gates, no load balancer drain, no settle waits, no state file). Each phase is timed;
# bench/nova_upgrade.sh compares the figures with the playbook's. Run it on a FRESH 2026.1 lab only: it
# changes the lab (it upgrades it).
#
#   bench/raw_upgrade.sh [--dry-run] [--out FILE.json] [--log FILE]
#
#   --dry-run   print every step (phase, host, command) and exit; no lab host is contacted
#   --out       write the figures as JSON (phases, steps, verification); default: stdout
#   --log       the commands' output (default: a temp file, named at the end)
#
# Environment: LAB_STATE (/var/lib/rolling-lab: inventory.yml and the SSH key), ROLLING_VENV (.venv),
# RAW_TARGET_RELEASE (2026.2; versions from lab/releases/<release>/release.yml), RAW_RELEASES_URL (the
# inventory's lab_releases_url), RAW_STEP_TIMEOUT (600 s per step), RAW_VERIFY_TIMEOUT (300 s).
#
# The steps, in the playbook's order (docs/nova_upgrade.md):
#   prepare  unpack the target nova on the manage host (the first conductor): the one change the playbook's
#            preflight makes before the phases (its backup and the running release's online data migrations
#            are safety steps, not part of the upgrade's critical path, and are left out)
#   pin      append [upgrade_levels] compute = auto to /etc/nova/nova.conf on every nova host; restart the
#            conductors, then the schedulers, then the API hosts
#   expand   unpack placement on the first placement host, placement-manage db sync there; on each placement
#            host: unpack, point the unit and its uwsgi ini at the new venv, daemon-reload, restart;
#            nova-manage api_db sync; nova-manage db sync (cell0 and cell1)
#   roll     each conductor, scheduler, API host, then each compute: unpack (once per host), switch, restart
#   migrate  nova-manage db online_data_migrations --max-count 50 until it exits 0
#   unpin    remove the option on every nova host; restart conductors, schedulers, API hosts, computes
#   contract nothing to run for nova and placement (their schema migrations are expand-only)
# Then, outside the timed phases: wait (bounded) until every nova service is up on the new code, and check
# that the DB service versions moved and every unit names the new venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROLLING_VENV=${ROLLING_VENV:-$PWD/.venv}
LAB_STATE=${LAB_STATE:-/var/lib/rolling-lab}
TARGET=${RAW_TARGET_RELEASE:-2026.2}
STEP_TIMEOUT=${RAW_STEP_TIMEOUT:-600}
VERIFY_TIMEOUT=${RAW_VERIFY_TIMEOUT:-300}
VENVS=/opt/openstack/venvs
NOVA_CONF=/etc/nova/nova.conf
PLACEMENT_CONF=/etc/placement/placement.conf
ODM_MAX_COUNT=50
ODM_MAX_RUNS=200

DRY_RUN=0
OUT=""
LOG=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --dry-run) DRY_RUN=1 ;;
        --out) OUT=${2:?--out needs a file}; shift ;;
        --log) LOG=${2:?--log needs a file}; shift ;;
        -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "raw_upgrade.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '[raw] %s\n' "$*" >&2; }
die() { printf '[raw] ERROR: %s\n' "$*" >&2; exit 1; }

PY=$ROLLING_VENV/bin/python
[[ -x $PY ]] || die "no controller venv at $ROLLING_VENV: run scripts/setup-controller first"
INVENTORY=$LAB_STATE/inventory.yml
[[ -r $INVENTORY ]] || die "no lab inventory at $INVENTORY: bring the lab up first (lab/bin/lab up)"
MANIFEST=lab/releases/$TARGET/release.yml
[[ -r $MANIFEST ]] || die "no release manifest $MANIFEST: RAW_TARGET_RELEASE=$TARGET is not a release of lab/releases/"

# Inventory: groups and addresses, one "KEY VALUE..." line each (hosts in inventory order).
declare -A ADDR=()
inv=$("$PY" - "$INVENTORY" "$MANIFEST" <<'EOF'
import sys, yaml
inv = yaml.safe_load(open(sys.argv[1]))
rel = yaml.safe_load(open(sys.argv[2]))
hosts, groups, lvars = {}, {}, {}
def walk(name, node):
    node = node or {}
    members = list((node.get("hosts") or {}).keys())
    for h, hv in (node.get("hosts") or {}).items():
        hosts.setdefault(h, {}).update(hv or {})
    lvars.update(node.get("vars") or {})
    for child, cnode in (node.get("children") or {}).items():
        members += [m for m in walk(child, cnode) if m not in members]
    groups[name] = members
    return members
walk("all", inv["all"])
for g in ("nova_conductor", "nova_scheduler", "nova_api", "nova_compute", "placement", "mariadb"):
    print("group", g, " ".join(groups.get(g, [])))
for h, hv in hosts.items():
    print("addr", h, hv.get("ansible_host", h))
print("url", lvars.get("lab_releases_url", ""))
print("nova", rel["services"]["nova"])
print("placement", rel["services"]["placement"])
EOF
)
declare -A GROUP=()
RELEASES_URL=${RAW_RELEASES_URL:-}
while read -r kind name rest; do
    case $kind in
        group) GROUP[$name]=$rest ;;
        addr) ADDR[$name]=$rest ;;
        url) [[ -n $RELEASES_URL ]] || RELEASES_URL=$name ;;
        nova) NOVA_VERSION=$name ;;
        placement) PLACEMENT_VERSION=$name ;;
    esac
done <<<"$inv"
[[ -n $RELEASES_URL ]] || die "no lab_releases_url in $INVENTORY; set RAW_RELEASES_URL"
read -r -a CONDUCTORS <<<"${GROUP[nova_conductor]:-}"
read -r -a SCHEDULERS <<<"${GROUP[nova_scheduler]:-}"
read -r -a APIS <<<"${GROUP[nova_api]:-}"
read -r -a COMPUTES <<<"${GROUP[nova_compute]:-}"
read -r -a PLACEMENTS <<<"${GROUP[placement]:-}"
read -r -a DBHOSTS <<<"${GROUP[mariadb]:-}"
((${#CONDUCTORS[@]} > 0 && ${#COMPUTES[@]} > 0)) || die "$INVENTORY has no nova_conductor or nova_compute hosts"
MANAGE=${CONDUCTORS[0]}
# every nova host, control hosts first, each once
NOVA_HOSTS=()
for h in "${CONDUCTORS[@]}" "${SCHEDULERS[@]}" "${APIS[@]}" "${COMPUTES[@]}"; do
    [[ " ${NOVA_HOSTS[*]} " == *" $h "* ]] || NOVA_HOSTS+=("$h")
done
NV=$VENVS/nova-$NOVA_VERSION
PV=$VENVS/placement-$PLACEMENT_VERSION
NOVA_URL=$RELEASES_URL/$TARGET/nova-$NOVA_VERSION.tar.zst
PLACEMENT_URL=$RELEASES_URL/$TARGET/placement-$PLACEMENT_VERSION.tar.zst

# Remote command snippets (run by the host's shell as root).
unpack() { # component venv url
    printf 'test -x %s/bin/python || { curl -fsS %s | tar --zstd -xf - -C %s; }' "$2" "$3" "$VENVS"
}
switch() { # component venv unit [files...]: point the unit (and its uwsgi ini) at the new venv, reload
    local component=$1 venv=$2 unit=$3
    shift 3
    printf "sed -i -E 's#%s/%s-[0-9][^/[:space:]]*#%s#g' /etc/systemd/system/%s.service %s && systemctl daemon-reload" \
        "$VENVS" "$component" "$venv" "$unit" "$*"
}
NOVA_MANAGE="sudo -u nova $NV/bin/nova-manage --config-file=$NOVA_CONF"
PIN_ADD="printf '\\n[upgrade_levels]\\ncompute = auto\\n' >> $NOVA_CONF"
PIN_DEL="sed -i '/^\\[upgrade_levels\\]\$/,/^compute = auto\$/d' $NOVA_CONF"
ODM="i=0; while [ \$i -lt $ODM_MAX_RUNS ]; do i=\$((i+1)); rc=0; $NOVA_MANAGE db online_data_migrations --max-count $ODM_MAX_COUNT || rc=\$?;
 [ \$rc -eq 1 ] || break; done; echo \"online_data_migrations: \$i run(s), last exit \$rc\"; [ \$rc -eq 0 ]"

# SSH: the lab key, one persistent master connection per host (as Ansible's ControlPersist does), opened
# before the timed phases so connection set-up is not counted.
CTL_DIR=$(mktemp -d /tmp/rolling-raw-ssh.XXXXXX)
SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
    -o ConnectTimeout=10 -o ServerAliveInterval=15 -o ControlMaster=auto -o "ControlPath=$CTL_DIR/%h"
    -o ControlPersist=900 -i "$LAB_STATE/ssh/id_ed25519")
cleanup() {
    local h
    for h in "${!ADDR[@]}"; do
        [[ ! -S $CTL_DIR/${ADDR[$h]} ]] || ssh "${SSH_OPTS[@]}" -O exit "root@${ADDR[$h]}" >/dev/null 2>&1 || true
    done
    rm -rf "$CTL_DIR"
}
trap cleanup EXIT

if ((DRY_RUN)); then
    LOG=/dev/null REC=/dev/null
else
    [[ -n $LOG ]] || LOG=$(mktemp /tmp/rolling-raw-log.XXXXXX)
    REC=$(mktemp /tmp/rolling-raw-rec.XXXXXX)
fi
now() { date +%s.%N; }
on() { # host cmd: run cmd on host (bounded), output to the log
    local host=$1 cmd=$2
    timeout "$STEP_TIMEOUT" ssh "${SSH_OPTS[@]}" "root@${ADDR[$host]:?unknown host $host}" "$cmd"
}

PHASE="" PHASE_T0=""
phase() { # name: start a phase (ends the previous one)
    end_phase
    PHASE=$1 PHASE_T0=$(now)
    log "phase $PHASE"
}
end_phase() {
    if [[ -n $PHASE ]]; then
        printf 'phase\t%s\t%s\t%s\n' "$PHASE" "$PHASE_T0" "$(now)" >>"$REC"
        PHASE=""
    fi
}
step() { # kind host label cmd: one timed step of the current phase
    local kind=$1 host=$2 label=$3 cmd=$4 t0 rc=0
    if ((DRY_RUN)); then
        printf '%-8s %-6s %-34s %s\n' "$PHASE" "$host" "$label" "$cmd"
        return 0
    fi
    t0=$(now)
    printf '\n### %s %s %s: %s\n' "$PHASE" "$host" "$label" "$cmd" >>"$LOG"
    on "$host" "$cmd" >>"$LOG" 2>&1 || rc=$?
    printf 'step\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$PHASE" "$kind" "$host" "$label" "$t0" "$(now)" "$rc" >>"$REC"
    ((rc == 0)) || die "$PHASE: '$label' on $host failed (rc $rc); see $LOG"
}
restart() { # phase-independent: host unit
    step restart "$1" "restart $2" "systemctl restart $2"
}
switch_restart() { # host component venv url unit [files...]
    local host=$1 component=$2 venv=$3 url=$4 unit=$5
    shift 5
    step switch "$host" "switch+restart $unit" \
        "$(unpack "$component" "$venv" "$url") && $(switch "$component" "$venv" "$unit" "$@") && systemctl restart $unit"
}

if ((!DRY_RUN)); then
    log "opening SSH connections to ${!ADDR[*]}"
    for h in "${!ADDR[@]}"; do
        on "$h" true || die "$h (${ADDR[$h]}) does not answer over SSH"
    done
    # the starting point, for the verification below
    before_versions=$(on "${DBHOSTS[0]}" "mysql -N -B -e 'SELECT MAX(version) FROM nova.services WHERE deleted=0'")
    running=$(on "$MANAGE" "grep -ohE '$VENVS/nova-[0-9][^/[:space:]]*' /etc/systemd/system/nova-conductor.service | head -n1")
    [[ $running != "$NV" ]] || die "$MANAGE runs $NV already: the raw path needs a fresh lab on the previous release"
    log "nova $running -> $NV, placement -> $PV; max service version before: $before_versions; log: $LOG"
fi
T_START=$(now)

phase prepare
step unpack "$MANAGE" "unpack nova $NOVA_VERSION" "$(unpack nova "$NV" "$NOVA_URL")"

phase pin
for h in "${NOVA_HOSTS[@]}"; do step config "$h" "add [upgrade_levels] compute=auto" "$PIN_ADD"; done
for h in "${CONDUCTORS[@]}"; do restart "$h" nova-conductor; done
for h in "${SCHEDULERS[@]}"; do restart "$h" nova-scheduler; done
for h in "${APIS[@]}"; do restart "$h" nova-api; done

phase expand
if ((${#PLACEMENTS[@]} > 0)); then
    step unpack "${PLACEMENTS[0]}" "unpack placement $PLACEMENT_VERSION" "$(unpack placement "$PV" "$PLACEMENT_URL")"
    step sync "${PLACEMENTS[0]}" "placement-manage db sync" \
        "sudo -u placement $PV/bin/placement-manage --config-file=$PLACEMENT_CONF db sync"
    for h in "${PLACEMENTS[@]}"; do
        switch_restart "$h" placement "$PV" "$PLACEMENT_URL" placement-api /etc/placement/placement-api-uwsgi.ini
    done
fi
step sync "$MANAGE" "nova-manage api_db sync" "$NOVA_MANAGE api_db sync"
step sync "$MANAGE" "nova-manage db sync" "$NOVA_MANAGE db sync"

phase roll
for h in "${CONDUCTORS[@]}"; do switch_restart "$h" nova "$NV" "$NOVA_URL" nova-conductor; done
for h in "${SCHEDULERS[@]}"; do switch_restart "$h" nova "$NV" "$NOVA_URL" nova-scheduler; done
for h in "${APIS[@]}"; do switch_restart "$h" nova "$NV" "$NOVA_URL" nova-api /etc/nova/nova-api-uwsgi.ini; done
for h in "${COMPUTES[@]}"; do switch_restart "$h" nova "$NV" "$NOVA_URL" nova-compute; done

phase migrate
step migrate "$MANAGE" "online_data_migrations (max-count $ODM_MAX_COUNT)" "$ODM"

phase unpin
for h in "${NOVA_HOSTS[@]}"; do step config "$h" "remove [upgrade_levels] compute" "$PIN_DEL"; done
for h in "${CONDUCTORS[@]}"; do restart "$h" nova-conductor; done
for h in "${SCHEDULERS[@]}"; do restart "$h" nova-scheduler; done
for h in "${APIS[@]}"; do restart "$h" nova-api; done
for h in "${COMPUTES[@]}"; do restart "$h" nova-compute; done

phase contract
# nothing to run: nova's and placement's schema migrations are expand-only (docs/nova_upgrade.md)
end_phase
T_END=$(now)
((!DRY_RUN)) || exit 0

# ---- verification (not timed as a phase): the raw run really upgraded the cloud ------------------------
log "phases done in $("$PY" -c "print(round($T_END - $T_START, 1))") s; waiting (at most ${VERIFY_TIMEOUT} s) for every nova service to be up on the new code"
export OS_CLIENT_CONFIG_FILE=$LAB_STATE/clouds.yaml OS_CLOUD=lab
expected=$((${#CONDUCTORS[@]} + ${#SCHEDULERS[@]} + ${#COMPUTES[@]}))
deadline=$((SECONDS + VERIFY_TIMEOUT))
verified=0 services="" versions=""
while ((SECONDS < deadline)); do
    services=$(timeout 60 "$ROLLING_VENV/bin/openstack" compute service list -f value -c Binary -c Host -c State 2>>"$LOG" || true)
    versions=$(on "${DBHOSTS[0]}" "mysql -N -B -e 'SELECT host, \`binary\`, version FROM nova.services WHERE deleted=0 ORDER BY \`binary\`, host'" 2>>"$LOG" || true)
    up=$(grep -c ' up$' <<<"$services" || true)
    old=$(awk -v b="$before_versions" '$3 <= b' <<<"$versions" | wc -l)
    if ((up == expected)) && [[ -n $versions ]] && ((old == 0)); then
        verified=1
        break
    fi
    sleep 3
done
T_VERIFIED=$(now)
units=""
UNIT_FILES="/etc/systemd/system/nova-*.service /etc/systemd/system/placement-api.service /etc/nova/nova-api-uwsgi.ini"
UNIT_FILES+=" /etc/placement/placement-api-uwsgi.ini"
for h in "${NOVA_HOSTS[@]}" "${PLACEMENTS[@]}"; do
    [[ $units != *"$h:"* ]] || continue
    units+=$(on "$h" "grep -oHE '$VENVS/(nova|placement)-[0-9][^/[:space:]]*' $UNIT_FILES 2>/dev/null | sort -u | sed 's#^#$h:#'
        test ! -e $NOVA_CONF || grep -c '^\\[upgrade_levels\\]' $NOVA_CONF | sed 's#^#$h:upgrade_levels_sections=#'" || true)$'\n'
done
printf '%s\n' "$services" >"$REC.services"
printf '%s\n' "$versions" >"$REC.versions"
printf '%s' "$units" >"$REC.units"

"$PY" - "$REC" "$T_START" "$T_END" "$T_VERIFIED" "$verified" "$expected" "$before_versions" "$NV" "$PV" "$TARGET" <<'EOF' >"${OUT:-/dev/stdout}"
import json, sys
rec, t_start, t_end, t_ver, verified, expected, before, nv, pv, target = sys.argv[1:11]
phases, steps = {}, []
for line in open(rec):
    f = line.rstrip("\n").split("\t")
    if f[0] == "phase":
        phases[f[1]] = round(float(f[3]) - float(f[2]), 2)
    elif f[0] == "step":
        steps.append({"phase": f[1], "kind": f[2], "host": f[3], "step": f[4],
                      "seconds": round(float(f[6]) - float(f[5]), 2), "rc": int(f[7])})
services = [l.split() for l in open(rec + ".services").read().splitlines() if l.strip()]
versions = [l.split("\t") for l in open(rec + ".versions").read().splitlines() if l.strip()]
units = [l for l in open(rec + ".units").read().splitlines() if l.strip()]
venv_lines = [u for u in units if "/opt/openstack/venvs/" in u]
stale_units = [u for u in venv_lines if not (u.endswith(nv) or u.endswith(pv))]
pinned = [u for u in units if "upgrade_levels_sections=" in u and not u.endswith("=0")]
json.dump({
    "target_release": target, "nova_venv": nv, "placement_venv": pv,
    "phases": phases,
    "total_seconds": round(float(t_end) - float(t_start), 2),
    "settle_seconds": round(float(t_ver) - float(t_end), 2),
    "steps": steps,
    "verification": {
        "ok": verified == "1" and not stale_units and not pinned and bool(venv_lines),
        "services_up": sum(1 for s in services if s[-1] == "up"), "services_expected": int(expected),
        "compute_service_list": [" ".join(s) for s in services],
        "service_version_before_max": int(before or 0),
        "service_versions_after": [{"host": v[0], "binary": v[1], "version": int(v[2])} for v in versions if len(v) == 3],
        "units_naming_old_code": stale_units, "hosts_still_pinned": pinned, "unit_venvs": venv_lines,
    },
}, sys.stdout, indent=1)
print()
EOF
rm -f "$REC" "$REC".services "$REC".versions "$REC".units
log "commands' output: $LOG"
((verified)) || die "the raw run did not verify within ${VERIFY_TIMEOUT} s: not every service up on the new code (see ${OUT:-the JSON above})"

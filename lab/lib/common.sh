# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings below are used by the files that source this one
# Common settings and helpers for the rolling.openstack lab (see lab/CONTRACT.md).
# Sourced by lab/bin/lab; every other lab/lib/*.sh file expects it to be sourced first.

LAB_REPO=${LAB_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LAB_CONTROLLERS=${LAB_CONTROLLERS:-2}
LAB_COMPUTES=${LAB_COMPUTES:-3}
LAB_RELEASE=${LAB_RELEASE:-2026.1}
LAB_EXTRA_RELEASES=${LAB_EXTRA_RELEASES-2026.2}
LAB_SUBNET=${LAB_SUBNET:-10.77.0}
LAB_CACHE=${LAB_CACHE:-/var/cache/rolling-lab}
LAB_STATE=${LAB_STATE:-/var/lib/rolling-lab}
ROLLING_VENV=${ROLLING_VENV:-$LAB_REPO/.venv}
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-60}   # seconds for all hosts to answer SSH
LAB_STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-30}   # seconds for one host to halt after SIGTERM
LAB_BRIDGE=rlbr0
LAB_CGROUP_NAME=rolling-lab
LAB_CGROUP_HIERARCHIES=(systemd unified)   # /sys/fs/cgroup/<h>/rolling-lab/<host>
export LAB_REPO LAB_CONTROLLERS LAB_COMPUTES LAB_RELEASE LAB_EXTRA_RELEASES LAB_SUBNET \
  LAB_CACHE LAB_STATE ROLLING_VENV

lab_log() { printf '[lab] %s\n' "$*" >&2; }
lab_die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# lab_timed <label> <cmd...>: run cmd, then print how many seconds it took.
lab_timed() {
  local label=$1 start rc=0
  shift
  start=$EPOCHREALTIME
  "$@" || rc=$?
  lab_log "$(awk -v l="$label" -v s="$start" -v e="$EPOCHREALTIME" -v rc="$rc" \
    'BEGIN { printf "step %-14s %6.1f s%s", l, e - s, (rc == 0 ? "" : " (failed, rc=" rc ")") }')"
  return "$rc"
}

lab_check_config() {
  [[ $LAB_CONTROLLERS =~ ^[1-8]$ ]] || lab_die "LAB_CONTROLLERS must be 1..8 (got '$LAB_CONTROLLERS')"
  [[ $LAB_COMPUTES =~ ^[1-8]$ ]] || lab_die "LAB_COMPUTES must be 1..8 (got '$LAB_COMPUTES')"
  [[ $LAB_SUBNET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || lab_die "LAB_SUBNET must look like 10.77.0"
  local d
  for d in "$LAB_CACHE" "$LAB_STATE"; do
    # Both get rm -rf'ed in parts: insist on an absolute path at least two levels deep.
    [[ $d == /*/* && $d != *..* && $d != */ ]] || lab_die "unsafe directory '$d' (need an absolute path like /var/lib/x)"
  done
  [[ $(id -u) == 0 ]] || lab_die "the lab needs root"
}

# Host topology: names in boot order; address, MAC and groups derive from the name.
lab_host_names() {
  local i
  echo infra
  for ((i = 1; i <= LAB_CONTROLLERS; i++)); do echo "ctl$i"; done
  for ((i = 1; i <= LAB_COMPUTES; i++)); do echo "cmp$i"; done
}

lab_host_octet() {
  case $1 in
    infra) echo 10 ;;
    ctl[1-8]) echo $((10 + ${1#ctl})) ;;
    cmp[1-8]) echo $((20 + ${1#cmp})) ;;
    *) lab_die "unknown lab host '$1'" ;;
  esac
}
lab_host_addr() { echo "$LAB_SUBNET.$(lab_host_octet "$1")"; }
lab_host_mac() { printf '02:72:6c:00:00:%02x\n' "$(lab_host_octet "$1")"; }
lab_host_dir() { echo "$LAB_STATE/hosts/$1"; }

# lab_lock: serialise lab runs machine-wide (bridge, netns, cgroup names are global, whatever
# LAB_STATE or LAB_CACHE say). The lock file is the only thing `down` leaves (removing it would break
# the lock for waiters). Held until the calling process exits; launchers close it.
LAB_LOCK=${LAB_LOCK:-/run/lock/rolling-lab.lock}
lab_lock() {
  mkdir -p "$(dirname "$LAB_LOCK")"
  exec {LAB_LOCK_FD}>>"$LAB_LOCK"
  flock -w 5 "$LAB_LOCK_FD" && return 0
  lab_log "another lab run holds $LAB_LOCK; waiting up to 30 min"
  flock -w 1800 "$LAB_LOCK_FD" || lab_die "timed out waiting for the lab lock $LAB_LOCK"
}

LAB_SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  -o LogLevel=ERROR -o ConnectTimeout=3)

# lab_ssh <host> <cmd...>: run a command on a lab host as root with the lab key.
lab_ssh() {
  local host=$1
  shift
  ssh "${LAB_SSH_OPTS[@]}" -i "$LAB_STATE/ssh/id_ed25519" "root@$(lab_host_addr "$host")" "$@"
}

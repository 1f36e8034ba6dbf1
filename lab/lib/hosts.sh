# shellcheck shell=bash
# Lab hosts: systemd-nspawn containers booted from the shared rootfs, each in its own netns on the
# bridge rlbr0. Needs lab/lib/common.sh and lab/lib/rootfs.sh (lab_rootfs_build sets LAB_ROOTFS_KEY).
#
# Per host <h> (state in $LAB_STATE/hosts/<h>/):
#   upper/ work/ merged/   overlayfs over $LAB_ROOTFS, mounted at merged/
#   rootfs-key             the rootfs the upper layer belongs to
#   launcher.pid nspawn.pid console.log
#   kernel objects: netns rl-<h>, veth rlv-<h> (eth0 inside), cgroups rolling-lab/<h>

# ---------------------------------------------------------------- network
lab_net_bridge_up() {
  if ! ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
    ip link add "$LAB_BRIDGE" address 02:72:6c:00:00:01 type bridge stp_state 0 forward_delay 0
    sysctl -qw "net.ipv6.conf.$LAB_BRIDGE.disable_ipv6=1"
  fi
  ip addr replace "$LAB_SUBNET.1/24" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
}

lab_net_host_up() {
  local h=$1 ns=rl-$1 veth=rlv-$1
  if [[ ! -e /run/netns ]]; then
    mkdir -p "$LAB_STATE"
    touch "$LAB_STATE/run-netns-created" # so `down` can remove /run/netns again
  fi
  [[ -e /run/netns/$ns ]] || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip -n "$ns" link del eth0 2>/dev/null || true
    ip link add "$veth" type veth peer name eth0 address "$(lab_host_mac "$h")" netns "$ns"
  fi
  ip link set "$veth" master "$LAB_BRIDGE" up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  ip -n "$ns" addr replace "$(lab_host_addr "$h")/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}

lab_net_host_down() {
  if ip link show "rlv-$1" >/dev/null 2>&1; then ip link del "rlv-$1"; fi
  if [[ -e /run/netns/rl-$1 ]]; then ip netns del "rl-$1"; fi
}

# ---------------------------------------------------------------- host files
# lab_write_if_changed <file> <mode>: stdin to file, only when the content differs.
lab_write_if_changed() {
  local f=$1 mode=$2 new
  new=$(cat)
  if [[ -f $f && $(cat "$f") == "$new" ]]; then return 0; fi
  printf '%s\n' "$new" >"$f.tmp.$$"
  chmod "$mode" "$f.tmp.$$"
  mv "$f.tmp.$$" "$f"
}

lab_etc_hosts() {
  local h
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n'
  printf '# rolling-lab hosts\n'
  for h in $(lab_host_names); do printf '%s\t%s\n' "$(lab_host_addr "$h")" "$h"; done
}

lab_ssh_key() {
  [[ -s $LAB_STATE/ssh/id_ed25519 ]] && return 0
  mkdir -p "$LAB_STATE/ssh"
  chmod 700 "$LAB_STATE/ssh"
  ssh-keygen -q -t ed25519 -N '' -C rolling-lab -f "$LAB_STATE/ssh/id_ed25519"
}

# lab_host_prepare <h>: directories, overlay mount and per-host identity files. Idempotent.
lab_host_prepare() {
  local h=$1 dir m
  dir=$(lab_host_dir "$h")
  m=$dir/merged
  local key=$LAB_HOSTS_ROOTFS_KEY
  if [[ -f $dir/rootfs-key && $(cat "$dir/rootfs-key") != "$key" ]]; then
    lab_die "host $h was made from rootfs $(cat "$dir/rootfs-key"), the lab uses $key: run 'lab/bin/lab down' first"
  fi
  mkdir -p "$dir/upper" "$dir/work" "$m"
  echo "$key" >"$dir/rootfs-key"
  mountpoint -q "$m" || mount -t overlay "rolling-lab-$h" \
    -o "lowerdir=$LAB_CACHE/rootfs/$key,upperdir=$dir/upper,workdir=$dir/work" "$m"
  echo "$h" | lab_write_if_changed "$m/etc/hostname" 644
  lab_etc_hosts | lab_write_if_changed "$m/etc/hosts" 644
  [[ -s $m/etc/machine-id ]] || tr -d '-' </proc/sys/kernel/random/uuid >"$m/etc/machine-id"
  [[ -s $m/etc/ssh/ssh_host_ed25519_key ]] ||
    ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$m/etc/ssh/ssh_host_ed25519_key"
  mkdir -p "$m/root/.ssh"
  chmod 700 "$m/root/.ssh"
  lab_write_if_changed "$m/root/.ssh/authorized_keys" 600 <"$LAB_STATE/ssh/id_ed25519.pub"
}

# ---------------------------------------------------------------- processes
# lab_pid_alive <pid>: the process exists and is not a zombie (PID 1 here may reap orphans late).
lab_pid_alive() {
  local stat
  [[ -n $1 ]] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != [ZX] ]]
}
lab_host_launcher_pid() { cat "$(lab_host_dir "$1")/launcher.pid" 2>/dev/null || true; }

# lab_host_running <h>: the host's launcher is alive (it restarts nspawn on reboot).
lab_host_running() {
  local pid
  pid=$(lab_host_launcher_pid "$1")
  lab_pid_alive "$pid" && grep -q "/$LAB_CGROUP_NAME/$1\$" "/proc/$pid/cgroup" 2>/dev/null
}

# lab_host_launcher <h>: runs in the background (via `lab/bin/lab __launch <h>`), in its own cgroup
# dirs; boots the container and boots it again when it reboots (nspawn exit 133). SIGTERM halts it.
lab_host_launcher() {
  local h=$1 dir pid='' rc stop=0 boots=0 waits recent=() fd
  dir=$(lab_host_dir "$h")
  # Keep no inherited descriptor (the lab lock, callers' pipes) open for the host's lifetime.
  for fd in "/proc/$BASHPID/fd/"*; do
    fd=${fd##*/}
    if ((fd > 2 && fd != 255)); then exec {fd}>&-; fi
  done 2>/dev/null
  lab_cgroup_enter "$h"
  echo "$BASHPID" >"$dir/launcher.pid"
  local args=(-b --register=no --keep-unit --machine="$h" -D "$dir/merged"
    --uuid="$(cat "$dir/merged/etc/machine-id")" --network-namespace-path="/run/netns/rl-$h"
    --resolv-conf=off --timezone=off --link-journal=no --console=read-only)
  [[ $h == infra ]] && args+=(--bind-ro="$LAB_CACHE/releases:/srv/releases")
  trap 'stop=1; if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; fi' TERM INT
  while ((boots < 500)); do
    boots=$((boots + 1))
    echo "[launcher] $(date -u +%FT%TZ) boot $boots of $h"
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn "${args[@]}" &
    pid=$!
    echo "$pid" >"$dir/nspawn.pid"
    if ((stop)); then kill -TERM "$pid"; fi # SIGTERM came before pid was known
    # `wait` returns early (>128) when our trap runs; wait again, a bounded number of times.
    for ((waits = 0; waits < 100; waits++)); do
      rc=0
      wait "$pid" || rc=$?
      lab_pid_alive "$pid" || break
    done
    pid=''
    echo "[launcher] $(date -u +%FT%TZ) nspawn exited with $rc"
    ((stop == 0 && rc == 133)) || break
    # Reboot: boot again, unless it reboots in a tight loop (5 boots within 60 s).
    recent=("${recent[@]:(-4)}" "$EPOCHSECONDS")
    if ((${#recent[@]} == 5 && EPOCHSECONDS - recent[0] < 60)); then
      echo "[launcher] $h rebooted 5 times within 60 s; giving up"
      break
    fi
  done
  rm -f "$dir/nspawn.pid" "$dir/launcher.pid"
}

lab_host_start() {
  local h=$1 dir
  dir=$(lab_host_dir "$h")
  lab_host_prepare "$h"
  lab_net_host_up "$h"
  [[ $h == infra ]] && mkdir -p "$LAB_CACHE/releases"
  setsid "$LAB_REPO/lab/bin/lab" __launch "$h" </dev/null >>"$dir/console.log" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do # the launcher writes its pid first thing
    lab_host_running "$h" && return 0
    sleep 0.1
  done
  lab_die "launcher of $h did not start; see $dir/console.log"
}

# lab_cgroup_procs <name>: pids in the cgroup dirs of <name> (all hierarchies, whole subtree).
lab_cgroup_procs() {
  local h
  for h in "${LAB_CGROUP_HIERARCHIES[@]}"; do
    [[ -d /sys/fs/cgroup/$h/$LAB_CGROUP_NAME/$1 ]] &&
      find "/sys/fs/cgroup/$h/$LAB_CGROUP_NAME/$1" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  return 0
}

# lab_hosts_stop <h>...: halt hosts (SIGTERM, bounded wait, then kill what is left) and remove their
# mounts, veths, netns and cgroups. State directories are kept. Safe on hosts that do not exist.
lab_hosts_stop() {
  local h pid deadline left
  for h in "$@"; do
    pid=$(lab_host_launcher_pid "$h")
    # SIGTERM to the launcher (it passes it on to nspawn); without a launcher, to nspawn itself.
    lab_pid_alive "$pid" || pid=$(cat "$(lab_host_dir "$h")/nspawn.pid" 2>/dev/null || true)
    if lab_pid_alive "$pid" && grep -qE "/$LAB_CGROUP_NAME/$h(/|\$)" "/proc/$pid/cgroup" 2>/dev/null; then
      kill -TERM "$pid"
    fi
  done
  deadline=$((EPOCHSECONDS + LAB_STOP_TIMEOUT))
  while ((EPOCHSECONDS < deadline)); do
    left=''
    for h in "$@"; do [[ -n $(lab_cgroup_procs "$h") ]] && left+=" $h"; done
    [[ -z $left ]] && break
    sleep 0.2
  done
  [[ -z $left ]] || lab_log "did not halt within ${LAB_STOP_TIMEOUT}s, killing:$left"
  for h in "$@"; do lab_host_cleanup "$h"; done
}

# lab_host_cleanup <h>: kill what is left in the host's cgroups and remove them, its overlay mount,
# veth, netns and pid files. Keeps its state directory. Safe on a host that does not exist.
lab_host_cleanup() {
  lab_cgroup_remove "$1"
  lab_umount "$(lab_host_dir "$1")/merged"
  lab_net_host_down "$1"
  rm -f "$(lab_host_dir "$1")"/{launcher,nspawn}.pid
}

# lab_umount <dir>: unmount if mounted; bounded retries, lazy unmount as the last resort.
lab_umount() {
  local i
  for ((i = 0; i < 20; i++)); do
    mountpoint -q "$1" 2>/dev/null || return 0
    umount "$1" 2>/dev/null || sleep 0.25
  done
  lab_log "WARNING: $1 still busy, lazy unmount"
  umount -l "$1"
}

# lab_wait_ssh <h>...: bounded wait (LAB_BOOT_TIMEOUT s overall) until every host answers over SSH and
# systemd has finished booting (running or degraded). Fails if one does not.
lab_wait_ssh() {
  local h state deadline remaining failed=''
  deadline=$((EPOCHSECONDS + LAB_BOOT_TIMEOUT))
  for h in "$@"; do
    state=''
    while :; do
      remaining=$((deadline - EPOCHSECONDS))
      ((remaining > 0)) || break
      state=$(timeout "$remaining" ssh "${LAB_SSH_OPTS[@]}" -i "$LAB_STATE/ssh/id_ed25519" \
        "root@$(lab_host_addr "$h")" systemctl is-system-running --wait 2>/dev/null) || true
      [[ $state == running || $state == degraded ]] && break
      sleep 0.3
    done
    case $state in
      running) ;;
      degraded) lab_log "WARNING: $h is degraded: $(lab_ssh "$h" systemctl --failed --no-legend --plain | awk '{printf "%s ", $1}')" ;;
      *) failed+=" $h" ;;
    esac
  done
  [[ -z $failed ]] || lab_die "no SSH / boot within ${LAB_BOOT_TIMEOUT}s:$failed (see $LAB_STATE/hosts/<host>/console.log)"
}

# ---------------------------------------------------------------- one host: fence, power on
# An operator's out-of-band power switch (IPMI/Redfish) for one host: `lab/bin/lab kill|start|power`.

# lab_host_on <h>: anything of the host runs (its launcher, or any process in its cgroups).
lab_host_on() { lab_host_running "$1" || [[ -n $(lab_cgroup_procs "$1") ]]; }

# lab_host_power <h>: print on or off; return 0 when on, 3 when off (for a fence hook to verify).
lab_host_power() {
  lab_host_octet "$1" >/dev/null
  if lab_host_on "$1"; then echo on; else
    echo off
    return 3
  fi
}

# lab_net_link_down <h>: the host's veth exists and is set down (its network is cut).
lab_net_link_down() {
  local flags
  flags=$(cat "/sys/class/net/rlv-$1/flags" 2>/dev/null) && ((!(flags & 1))) # IFF_UP
}

# lab_elapsed <start>: seconds since <start> (an $EPOCHREALTIME), two decimals.
lab_elapsed() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.2f", e - s }'; }

# lab_host_kill <h>: fence a host like a power switch. In this order: set its veth down on the bridge
# (nothing reaches it any more), SIGKILL its launcher (so it boots nothing again), SIGKILL every
# process in its cgroups until none is left (bounded: LAB_STOP_TIMEOUT s; kill -9 on nspawn alone
# leaves the container running), then remove its cgroups, overlay mount, veth and netns. Its state
# directory (the overlay upper layer: its disk) is kept: lab_host_power_on boots it again. Refuses
# infra (the whole cloud depends on it). A host already off: leftovers cleaned, says so, succeeds.
lab_host_kill() {
  local h=$1 t0 pids n c f deadline cut off
  t0=$EPOCHREALTIME
  lab_host_octet "$h" >/dev/null
  [[ $h != infra ]] ||
    lab_die "refusing to kill infra: the database, RabbitMQ and haproxy of the whole cloud run there"
  [[ " $(lab_host_names | tr '\n' ' ') " == *" $h "* || " $(lab_state_hosts | tr '\n' ' ') " == *" $h "* ]] ||
    lab_die "$h is not a host of this lab (LAB_CONTROLLERS=$LAB_CONTROLLERS LAB_COMPUTES=$LAB_COMPUTES, nothing in $(lab_host_dir "$h"))"
  if ! lab_host_on "$h"; then
    lab_host_cleanup "$h" # leftovers of a host that crashed or halted by itself, if any
    lab_log "$h is already off"
    return 0
  fi
  cut="link rlv-$h was already gone"
  if ip link show "rlv-$h" >/dev/null 2>&1; then
    ip link set "rlv-$h" down
    cut="link rlv-$h down after $(lab_elapsed "$t0") s"
  fi
  n=$(lab_cgroup_procs "$h" | sort -u | wc -l)
  if lab_host_running "$h"; then kill -KILL "$(lab_host_launcher_pid "$h")" 2>/dev/null || true; fi
  deadline=$((EPOCHSECONDS + LAB_STOP_TIMEOUT))
  while pids=$(lab_cgroup_procs "$h" | sort -u) && [[ -n $pids ]]; do
    ((EPOCHSECONDS < deadline)) ||
      lab_die "$h: processes left ${LAB_STOP_TIMEOUT}s after SIGKILL: $(tr '\n' ' ' <<<"$pids")(its link stays down)"
    for c in "${LAB_CGROUP_HIERARCHIES[@]}"; do # cgroup.kill: the whole subtree at once, forks too
      f=/sys/fs/cgroup/$c/$LAB_CGROUP_NAME/$h/cgroup.kill
      if [[ -w $f ]]; then { echo 1 >"$f"; } 2>/dev/null || true; fi
    done
    # shellcheck disable=SC2086 # pids is a whitespace-separated list on purpose
    kill -KILL $pids 2>/dev/null || true
    sleep 0.05
  done
  off=$(lab_elapsed "$t0")
  lab_host_cleanup "$h"
  if [[ -d $(lab_host_dir "$h") ]]; then
    echo "[lab kill] $(date -u +%FT%TZ) $h killed: link down, SIGKILL to every process" >>"$(lab_host_dir "$h")/console.log"
  fi
  lab_log "$h is off: $cut, $n processes killed, off after $off s, cleaned up after $(lab_elapsed "$t0") s; its disk is kept ($(lab_host_dir "$h")/upper)"
}

# lab_host_power_on <h>: boot a host that is off (overlay, netns, launcher: lab_host_start) on its
# kept disk and wait for SSH and the end of systemd's boot (LAB_BOOT_TIMEOUT s); systemd starts the
# units that are enabled in it. A running host is left alone. Needs the lab up (bridge, state).
lab_host_power_on() {
  local h=$1 dir LAB_HOSTS_ROOTFS_KEY
  dir=$(lab_host_dir "$h")
  lab_host_octet "$h" >/dev/null
  [[ " $(lab_host_names | tr '\n' ' ') " == *" $h "* ]] ||
    lab_die "$h is not in the topology (LAB_CONTROLLERS=$LAB_CONTROLLERS LAB_COMPUTES=$LAB_COMPUTES): use the settings the lab was brought up with"
  if lab_host_running "$h"; then
    if lab_net_link_down "$h"; then
      lab_die "$h is running but its link rlv-$h is down (an interrupted kill?): 'lab/bin/lab kill $h' first"
    fi
    lab_log "$h is already running: left alone"
    return 0
  fi
  [[ -s $dir/rootfs-key ]] || lab_die "$h has no disk ($dir): 'lab/bin/lab up' makes it"
  ip link show "$LAB_BRIDGE" >/dev/null 2>&1 || lab_die "the lab is not up (no bridge $LAB_BRIDGE): 'lab/bin/lab up'"
  LAB_HOSTS_ROOTFS_KEY=$(cat "$dir/rootfs-key")
  [[ -e $LAB_CACHE/rootfs/$LAB_HOSTS_ROOTFS_KEY/$LAB_ROOTFS_MARKER ]] ||
    lab_die "the rootfs of $h ($LAB_HOSTS_ROOTFS_KEY) is not in $LAB_CACHE/rootfs: 'lab/bin/lab down' then 'lab/bin/lab up'"
  if [[ -n $(lab_cgroup_procs "$h") ]]; then # its launcher died but processes are left: as lab_hosts_up
    lab_log "$h: processes left without a launcher; halting them first"
    lab_hosts_stop "$h"
  fi
  lab_host_start "$h"
  lab_wait_ssh "$h"
  lab_log "$h is on"
}

# ---------------------------------------------------------------- inventory
lab_host_groups() {
  case $1 in
    infra) echo infra mariadb rabbitmq haproxy release_server ;;
    ctl*) echo controllers keystone glance placement neutron_server nova_api nova_conductor nova_scheduler ;;
    cmp*) echo computes nova_compute ;;
  esac
}

lab_inventory() {
  local h g groups=()
  echo "# Generated by lab/bin/lab from LAB_CONTROLLERS=$LAB_CONTROLLERS LAB_COMPUTES=$LAB_COMPUTES; do not edit."
  echo "all:"
  echo "  vars:"
  echo "    # rolling.openstack.nova_upgrade on the lab (all: vars reach the implicit localhost the phases run on)"
  echo "    nova_upgrade_release_base_url: \"http://$(lab_host_addr infra):8000\""
  echo "    nova_upgrade_cloud: lab"
  echo "    nova_upgrade_clouds_yaml: \"$LAB_STATE/clouds.yaml\""
  echo "    nova_upgrade_api_lb_backend: nova_back"
  echo "    nova_upgrade_placement_lb_backend: placement_back"
  echo "  children:"
  echo "    lab:"
  echo "      vars:"
  echo "        lab_subnet: \"$LAB_SUBNET\""
  echo "        lab_release: \"$LAB_RELEASE\""
  echo "        lab_releases_url: \"http://$(lab_host_addr infra):8000\""
  echo "      hosts:"
  for h in $(lab_host_names); do
    echo "        $h:"
    echo "          ansible_host: $(lab_host_addr "$h")"
    echo "          ansible_user: root"
    echo "          ansible_ssh_private_key_file: $LAB_STATE/ssh/id_ed25519"
    echo "          ansible_python_interpreter: /usr/bin/python3"
    echo "          ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
  done
  for h in $(lab_host_names); do
    for g in $(lab_host_groups "$h"); do
      [[ " ${groups[*]} " == *" $g "* ]] || groups+=("$g")
    done
  done
  for g in "${groups[@]}"; do
    echo "    $g:"
    echo "      hosts:"
    for h in $(lab_host_names); do
      [[ " $(lab_host_groups "$h") " == *" $g "* ]] && echo "        $h: {}"
    done
  done
  return 0
}

# ---------------------------------------------------------------- whole lab
# lab_hosts_up: start every host of the topology that is not running, stop and remove hosts that
# are no longer in it, refresh /etc/hosts and the inventory, wait until all answer SSH.
lab_hosts_up() {
  local h wanted hosts started=() extra=()
  [[ -n ${LAB_ROOTFS_KEY:-} ]] || lab_die "lab_hosts_up needs lab_rootfs_build first"
  # A lab that exists keeps the rootfs it was made from (its upper layers belong to it), even when
  # the recipe changed since; `down` then `up` switches to the new one.
  LAB_HOSTS_ROOTFS_KEY=$LAB_ROOTFS_KEY
  local f k
  for f in "$LAB_STATE"/hosts/*/rootfs-key; do
    [[ -f $f ]] || continue
    k=$(cat "$f")
    if [[ $k != "$LAB_ROOTFS_KEY" && -e $LAB_CACHE/rootfs/$k/$LAB_ROOTFS_MARKER ]]; then LAB_HOSTS_ROOTFS_KEY=$k; fi
  done
  if [[ $LAB_HOSTS_ROOTFS_KEY != "$LAB_ROOTFS_KEY" ]]; then
    lab_log "NOTE: this lab runs rootfs $LAB_HOSTS_ROOTFS_KEY; the current recipe gives $LAB_ROOTFS_KEY ('lab down' then 'lab up' to switch)"
  fi
  wanted=" $(lab_host_names | tr '\n' ' ') "
  for h in $(lab_state_hosts); do [[ $wanted == *" $h "* ]] || extra+=("$h"); done
  if ((${#extra[@]})); then
    lab_log "removing hosts not in the topology: ${extra[*]}"
    lab_hosts_stop "${extra[@]}"
    for h in "${extra[@]}"; do rm -rf --one-file-system "$(lab_host_dir "$h")"; done
  fi
  lab_ssh_key
  lab_net_bridge_up
  for h in $(lab_host_names); do
    if lab_host_running "$h"; then
      lab_host_prepare "$h" # refresh /etc/hosts etc.; writes nothing when unchanged
    else
      # leftovers of a crashed or halted host: clean them, keep its upper layer
      [[ -z $(lab_cgroup_procs "$h") ]] || lab_hosts_stop "$h"
      lab_host_start "$h"
      started+=("$h")
    fi
  done
  lab_inventory | lab_write_if_changed "$LAB_STATE/inventory.yml" 644
  if ((${#started[@]})); then lab_log "started: ${started[*]}"; else lab_log "all hosts already running"; fi
  mapfile -t hosts < <(lab_host_names)
  lab_wait_ssh "${hosts[@]}"
}

# Hosts that have state or kernel objects, whether or not in the current topology.
lab_state_hosts() {
  local c
  {
    if [[ -d $LAB_STATE/hosts ]]; then ls "$LAB_STATE/hosts"; fi
    if [[ -d /run/netns ]]; then find /run/netns -mindepth 1 -maxdepth 1 -name 'rl-*' -printf '%f\n' | cut -c4-; fi
    ip -o link show | sed -n 's/^[0-9]*: rlv-\([^@:]*\).*/\1/p'
    for c in "${LAB_CGROUP_HIERARCHIES[@]}"; do
      if [[ -d /sys/fs/cgroup/$c/$LAB_CGROUP_NAME ]]; then
        find "/sys/fs/cgroup/$c/$LAB_CGROUP_NAME" -mindepth 1 -maxdepth 1 -type d ! -name 'run-*' -printf '%f\n'
      fi
    done
  } | sort -u
}

# lab_down: remove everything the lab made (hosts, netns, veths, bridge, mounts, cgroups, $LAB_STATE).
# Safe to run twice and when nothing exists. Keeps $LAB_CACHE (except throw-away run overlays).
lab_down() {
  local hosts c d
  mapfile -t hosts < <(lab_state_hosts)
  ((${#hosts[@]} == 0)) || lab_hosts_stop "${hosts[@]}"
  # leftovers of interrupted lab_nspawn_run calls; one still running (a caller that did not take
  # the lab lock) is left alone
  local runs=() r
  for d in "$LAB_CACHE"/tmp/run.* /sys/fs/cgroup/{systemd,unified}/"$LAB_CGROUP_NAME"/run-*; do
    [[ -d $d ]] && runs+=("${d##*[.-]}")
  done
  for r in $(printf '%s\n' "${runs[@]}" | sort -u); do
    if [[ -n $(lab_cgroup_procs "run-$r") ]]; then
      lab_log "lab_nspawn_run $r is still running: left alone"
      continue
    fi
    lab_umount_under "$LAB_CACHE/tmp/run.$r"
    rm -rf --one-file-system "$LAB_CACHE/tmp/run.$r"
    lab_cgroup_remove "run-$r"
  done
  lab_umount_under "$LAB_STATE" # anything else mounted under the state dir
  if ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then ip link del "$LAB_BRIDGE"; fi
  if [[ -e $LAB_STATE/run-netns-created && -d /run/netns && -z $(ls -A /run/netns) ]]; then
    lab_umount /run/netns
    rmdir /run/netns
  fi
  if findmnt -rn -o TARGET | grep -q "^$LAB_STATE/"; then lab_die "mounts remain under $LAB_STATE; not removing it"; fi
  rm -rf --one-file-system "$LAB_STATE"
  for c in "${LAB_CGROUP_HIERARCHIES[@]}"; do rmdir "/sys/fs/cgroup/$c/$LAB_CGROUP_NAME" 2>/dev/null || true; done
  return 0
}

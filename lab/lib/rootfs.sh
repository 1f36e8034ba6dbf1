# shellcheck shell=bash
# The one shared Debian bookworm rootfs of the lab, and throw-away containers on top of it.
# Needs lab/lib/common.sh.

LAB_HOST_PACKAGES=(mmdebstrap systemd-container iproute2 zstd openssh-client curl)
LAB_ROOTFS_SUITE=bookworm
LAB_ROOTFS_MIRROR=${LAB_ROOTFS_MIRROR:-http://deb.debian.org/debian}
LAB_ROOTFS_SECURITY_MIRROR=${LAB_ROOTFS_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Package list from lab/CONTRACT.md (mmdebstrap --variant=minbase adds essential + apt).
LAB_ROOTFS_PACKAGES=(systemd-sysv dbus libpam-systemd openssh-server python3 python3-venv python3-dev
  build-essential iproute2 procps sudo curl ca-certificates zstd less iputils-ping mariadb-server
  rabbitmq-server haproxy libpcre3-dev libssl-dev libffi-dev pkg-config)
LAB_ROOTFS_MARKER=.rolling-lab-complete

# lab_ensure_host_packages: apt-install what the lab needs on this machine; quick when present.
lab_ensure_host_packages() {
  local p missing=()
  for p in "${LAB_HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  lab_log "installing on this machine: ${missing[*]}"
  apt-get update -qq || lab_die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    lab_die "apt-get install ${missing[*]} failed"
}

# lab_rootfs_customize <dir>: everything done to the image after mmdebstrap. Its text is part of the
# cache key, so any change here rebuilds the image.
lab_rootfs_customize() {
  local d=$1 unit
  # Nothing runs that the hosts do not need; Ansible enables mariadb/rabbitmq/haproxy on infra.
  systemctl --root="$d" mask --quiet console-getty.service
  for unit in mariadb.service rabbitmq-server.service haproxy.service epmd.service epmd.socket \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
    if [[ -e $d/lib/systemd/system/$unit ]]; then systemctl --root="$d" disable --quiet "$unit"; fi
  done
  systemctl --root="$d" enable --quiet ssh.service
  # Per-host identity (host keys, machine-id, hostname, authorized_keys) is written at host creation.
  rm -f "$d"/etc/ssh/ssh_host_*
  : >"$d/etc/machine-id"
  echo localhost >"$d/etc/hostname"
  # Hosts have no route out of the lab and no DNS: lab names are in /etc/hosts (written per host).
  rm -f "$d/etc/resolv.conf"
  echo '# rolling-lab: no DNS; lab host names are in /etc/hosts' >"$d/etc/resolv.conf"
  cat >"$d/etc/ssh/sshd_config.d/rolling-lab.conf" <<'EOF'
# rolling-lab: root by key only, one host key generated per host.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
EOF
  mkdir -p "$d/etc/systemd/journald.conf.d"
  printf '[Journal]\nSystemMaxUse=64M\n' >"$d/etc/systemd/journald.conf.d/rolling-lab.conf"
  mkdir -p "$d/opt/openstack/venvs" "$d/srv/releases"
}

# lab_rootfs_key: hash of suite, mirrors, package list and the customize function.
lab_rootfs_key() {
  {
    echo "$LAB_ROOTFS_SUITE $LAB_ROOTFS_MIRROR $LAB_ROOTFS_SECURITY_MIRROR"
    echo "${LAB_ROOTFS_PACKAGES[*]}"
    declare -f lab_rootfs_customize
  } | sha256sum | cut -c1-16
}

# lab_rootfs_build: make sure $LAB_CACHE/rootfs/<key>/ exists and is complete, and set LAB_ROOTFS to
# it (callers such as lab_build_releases use $LAB_ROOTFS). Idempotent: a complete dir is reused.
lab_rootfs_build() {
  local key dir tmp
  key=$(lab_rootfs_key)
  dir=$LAB_CACHE/rootfs/$key
  LAB_ROOTFS=$dir
  LAB_ROOTFS_KEY=$key
  export LAB_ROOTFS LAB_ROOTFS_KEY
  [[ -e $dir/$LAB_ROOTFS_MARKER ]] && return 0
  command -v mmdebstrap >/dev/null || lab_die "mmdebstrap missing (lab_ensure_host_packages installs it)"
  tmp=$LAB_CACHE/rootfs/.build-$key
  lab_umount_under "$tmp" # an interrupted mmdebstrap leaves proc, sys, dev/* mounted
  rm -rf --one-file-system "$tmp" "$dir"
  mkdir -p "$LAB_CACHE/rootfs"
  lab_log "building rootfs $key (mmdebstrap $LAB_ROOTFS_SUITE, a few minutes)"
  local includes
  includes=$(
    IFS=,
    echo "${LAB_ROOTFS_PACKAGES[*]}"
  )
  mmdebstrap --variant=minbase --mode=root --include="$includes" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --aptopt='APT::Install-Recommends "false"' \
    "$LAB_ROOTFS_SUITE" "$tmp" \
    "deb $LAB_ROOTFS_MIRROR $LAB_ROOTFS_SUITE main" \
    "deb $LAB_ROOTFS_MIRROR $LAB_ROOTFS_SUITE-updates main" \
    "deb $LAB_ROOTFS_SECURITY_MIRROR $LAB_ROOTFS_SUITE-security main" \
    >"$LAB_CACHE/rootfs/build-$key.log" 2>&1 ||
    lab_die "mmdebstrap failed; see $LAB_CACHE/rootfs/build-$key.log"
  lab_rootfs_customize "$tmp"
  date -u +%FT%TZ >"$tmp/$LAB_ROOTFS_MARKER"
  mv "$tmp" "$dir"
  lab_rootfs_prune "$key"
}

# lab_umount_under <dir>...: unmount everything mounted under (or on) the dirs, deepest first.
lab_umount_under() {
  local d m
  for d in "$@"; do
    while read -r m; do
      umount "$m" || umount -l "$m"
    done < <(findmnt -rn -o TARGET | awk -v d="$d" 'index($0, d "/") == 1 || $0 == d' | sort -r)
  done
}

# lab_rootfs_prune <key>: drop cached images of other keys that no lab host is using.
lab_rootfs_prune() {
  local keep=$1 d k
  for d in "$LAB_CACHE"/rootfs/*/; do
    k=$(basename "$d")
    [[ $k == "$keep" ]] && continue
    if grep -qsx "$k" "$LAB_STATE"/hosts/*/rootfs-key; then continue; fi
    lab_log "removing unused cached rootfs $k"
    rm -rf --one-file-system "$d" "$LAB_CACHE/rootfs/build-$k.log"
  done
}

# lab_cgroup_enter <name>: move the calling process ($BASHPID) into its own cgroup directories
# /sys/fs/cgroup/{systemd,unified}/rolling-lab/<name>, so each container gets a cgroup of its own.
lab_cgroup_enter() {
  local h
  for h in "${LAB_CGROUP_HIERARCHIES[@]}"; do
    mkdir -p "/sys/fs/cgroup/$h/$LAB_CGROUP_NAME/$1"
    echo "$BASHPID" >"/sys/fs/cgroup/$h/$LAB_CGROUP_NAME/$1/cgroup.procs"
  done
}

# lab_cgroup_remove <name>: kill whatever is left in the cgroup dirs of <name>, then remove them
# (and the rolling-lab parents once empty). Bounded: gives up after ~10 s with an error.
lab_cgroup_remove() {
  local name=$1 h dir try pids
  for h in "${LAB_CGROUP_HIERARCHIES[@]}"; do
    dir=/sys/fs/cgroup/$h/$LAB_CGROUP_NAME/$name
    [[ -d $dir ]] || continue
    for ((try = 0; try < 50; try++)); do
      pids=$(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null)
      [[ -z $pids ]] && break
      if [[ -w $dir/cgroup.kill ]]; then echo 1 >"$dir/cgroup.kill"; else
        # shellcheck disable=SC2086 # pids is a whitespace-separated list on purpose
        kill -KILL $pids 2>/dev/null || true
      fi
      sleep 0.2
    done
    [[ -z $pids ]] || lab_log "WARNING: processes left in $dir: $pids"
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ -d $dir ]] && lab_log "WARNING: could not remove $dir"
    rmdir "/sys/fs/cgroup/$h/$LAB_CGROUP_NAME" 2>/dev/null || true
  done
}

lab_nspawn_cleanup() {
  if mountpoint -q "$1/merged"; then umount "$1/merged" || umount -l "$1/merged"; fi
  lab_cgroup_remove "$2"
  rm -rf --one-file-system "$1"
}

# lab_nspawn_run <rootfs_dir> <cmd...>
#   Run one command in a throw-away container: a fresh overlayfs on top of <rootfs_dir> (read-only
#   lower; all writes are discarded afterwards), started with
#   `systemd-nspawn --register=no --keep-unit --pipe --as-pid2 -D <overlay>` and sharing this
#   machine's network, resolv.conf, CA bundle and PIP_*/proxy variables, so pip reaches PyPI.
#   - Extra systemd-nspawn arguments: the bash array LAB_NSPAWN_ARGS (if set in the caller), plus
#     the whitespace-separated string LAB_NSPAWN_EXTRA_ARGS (usable from the environment), e.g.
#       LAB_NSPAWN_ARGS=(--bind="$LAB_CACHE/pip:/root/.cache/pip" --bind="$out:/out" --setenv=X=1)
#       lab_nspawn_run "$LAB_ROOTFS" bash -c 'python3 -m venv /opt/openstack/venvs/nova-33.0.2 && ...'
#   - stdin/stdout/stderr are passed through (--pipe): `lab_nspawn_run ... tar -C / -cf - opt | ...`.
#   - Returns the command's exit status. Results must leave through a --bind= directory or stdout.
#   - Runs in its own cgroup dir rolling-lab/run-<pid>, removed afterwards.
lab_nspawn_run() (
  set -euo pipefail
  local rootfs=$1 tmp rc=0
  shift
  [[ -d $rootfs/usr && $# -gt 0 ]] || lab_die "usage: lab_nspawn_run <rootfs_dir> <cmd...>"
  local args=()
  if declare -p LAB_NSPAWN_ARGS >/dev/null 2>&1; then args=("${LAB_NSPAWN_ARGS[@]}"); fi
  # shellcheck disable=SC2206 # word splitting of the string form is the documented interface
  args+=(${LAB_NSPAWN_EXTRA_ARGS:-})
  # This machine's CA bundle (it may hold the CA of a TLS-inspecting egress proxy) and its pip/proxy
  # settings, so that pip inside reaches the package index exactly as pip outside does.
  local ca=/etc/ssl/certs/ca-certificates.crt v
  if [[ -f $ca ]]; then
    args=(--bind-ro="$ca" --setenv=PIP_CERT="$ca" --setenv=SSL_CERT_FILE="$ca"
      --setenv=REQUESTS_CA_BUNDLE="$ca" "${args[@]}")
  fi
  for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT PIP_RETRIES \
    PIP_DISABLE_PIP_VERSION_CHECK http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    if [[ -n ${!v:-} ]]; then args=(--setenv="$v=${!v}" "${args[@]}"); fi
  done
  mkdir -p "$LAB_CACHE/tmp"
  tmp=$(mktemp -d "$LAB_CACHE/tmp/run.XXXXXX")
  local cg
  cg=run-${tmp##*.}
  trap 'lab_nspawn_cleanup "$tmp" "$cg"' EXIT
  mkdir "$tmp/upper" "$tmp/work" "$tmp/merged"
  mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$tmp/upper,workdir=$tmp/work" "$tmp/merged"
  (
    lab_cgroup_enter "$cg"
    exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --quiet --register=no --keep-unit \
      --pipe --as-pid2 --resolv-conf=copy-host --timezone=off --link-journal=no \
      --machine="rl-$cg" -D "$tmp/merged" "${args[@]}" -- "$@"
  ) || rc=$?
  exit "$rc"
)

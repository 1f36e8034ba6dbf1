# shellcheck shell=bash
# OpenStack release venvs of the lab (lab/CONTRACT.md "Releases", lab/releases/README.md).
# Needs lab/lib/common.sh and lab/lib/rootfs.sh sourced first.
#
#   lab_build_releases <release>...      e.g. lab_build_releases 2026.1 2026.2
#
# For each service of each release (lab/releases/<release>/release.yml), makes sure
#   $LAB_CACHE/releases/<release>/<service>-<version>.tar.zst   the venv, one top directory
#                                                               <service>-<version>/
#   $LAB_CACHE/releases/<release>/<service>-<version>.tar.zst.sha256   sha256sum line of the tarball
#   $LAB_CACHE/releases/<release>/<service>-<version>.key      build key (see lab_release_key)
#   $LAB_CACHE/releases/<release>/<service>-<version>.log      build log
#   $LAB_CACHE/releases/<release>/release.yml                  copy of lab/releases/<release>/release.yml
# exist and are current. A missing or stale venv is built at its final path
# /opt/openstack/venvs/<service>-<version> inside a throw-away container of the lab rootfs
# (lab_nspawn_run on $LAB_ROOTFS; built with lab_rootfs_build if unset), so the venv's python and
# paths are the lab hosts' own: `pip install --no-deps -r <service>.txt`, `pip check`, the quick
# smoke test (lab/releases/smoke.py --quick) and, for nova, tests/lab/virt/labfake.py copied to
# site-packages/nova/virt/labfake.py. At most $LAB_RELEASES_JOBS (default 2) builds at once.
# Wheels are kept in $LAB_CACHE/pip/wheelhouse (built/downloaded in the container, so uwsgi is
# linked against the rootfs' libraries); a warm wheelhouse makes a build offline and fast.
# Returns non-zero if any build failed (the others still finish). With everything current it only
# hashes the sets and returns in about a second.

LAB_RELEASES_SRC=${LAB_RELEASES_SRC:-$LAB_REPO/lab/releases}
LAB_RELEASES_JOBS=${LAB_RELEASES_JOBS:-2}
LAB_LABFAKE=${LAB_LABFAKE:-$LAB_REPO/tests/lab/virt/labfake.py}
# Bump when the way venvs are built changes, to rebuild every cached venv.
LAB_RELEASES_RECIPE=1

# lab_release_services <release>: "<service> <version>" lines from release.yml.
lab_release_services() {
  local yml=$LAB_RELEASES_SRC/$1/release.yml
  [[ -f $yml ]] || lab_die "no release '$1': $yml missing"
  awk '/^services:/ { s = 1; next }
       s && /^[^ #]/ { s = 0 }
       s && match($0, /^  [a-z_]+: *[0-9][0-9.]*/) {
         split(substr($0, RSTART, RLENGTH), a, /: */); sub(/^ +/, "", a[1]); print a[1], a[2] }' "$yml"
}

# lab_release_key <release> <service>: the build key of a venv: hash of the frozen set (and, for
# nova, of the lab virt driver) and of the recipe number. smoke.py is not part of it: it only
# checks, it does not change what goes into the venv.
lab_release_key() {
  local rel=$1 svc=$2
  {
    echo "recipe $LAB_RELEASES_RECIPE"
    sha256sum <"$LAB_RELEASES_SRC/$rel/$svc.txt"
    if [[ $svc == nova ]]; then
      if [[ -f $LAB_LABFAKE ]]; then sha256sum <"$LAB_LABFAKE"; else echo "no labfake"; fi
    fi
  } | sha256sum | cut -c1-32
}

# lab_release_current <release> <service> <version>: 0 if the cached tarball is there and current.
lab_release_current() {
  local out=$LAB_CACHE/releases/$1/$2-$3
  [[ -s $out.tar.zst && -s $out.tar.zst.sha256 && -f $out.key ]] &&
    [[ $(<"$out.key") == "$(lab_release_key "$1" "$2")" ]]
}

# The script run inside the container. Arguments: service version. Mounts: /stage (ro: set.txt,
# smoke.py, labfake.py if any), /out (the release's cache dir), /pipcache ($LAB_CACHE/pip).
_lab_release_build_script() {
  cat <<'EOF'
set -euo pipefail
svc=$1 ver=$2
name=$svc-$ver
venv=/opt/openstack/venvs/$name
wh=/pipcache/wheelhouse
new=/pipcache/tmp/$name.$$
unset PIP_FIND_LINKS PIP_CONSTRAINT PIP_REQUIREMENT PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
t() { echo "build: $(date -u +%T) $*"; }
mkdir -p "$wh" /pipcache/tmp /opt/openstack/venvs
t "python3 -m venv $venv ($(python3 --version))"
python3 -m venv "$venv"
pipinst() { "$venv/bin/pip" install -q --no-deps --no-index --find-links "$wh" "$@" -r /stage/set.txt; }
# Lines of set.txt with no wheel of that name and version in the wheelhouse yet.
missing() {
  python3 - "$wh" /stage/set.txt <<'PY'
import os, re, sys
norm = lambda n: re.sub(r'[-_.]+', '_', n).lower()
have = set()
for f in os.listdir(sys.argv[1]):
    if f.endswith('.whl'):
        name, version = f.split('-')[:2]
        have.add((norm(name), version))
for line in open(sys.argv[2]):
    req = line.split('#')[0].strip()
    if '==' in req and (norm(req.split('==')[0]), req.split('==')[1]) not in have:
        print(req)
PY
}
missing >/tmp/missing.txt
if [[ ! -s /tmp/missing.txt ]] && pipinst 2>/dev/null; then
  t "installed from the wheelhouse (offline)"
else
  [[ -s /tmp/missing.txt ]] || cp /stage/set.txt /tmp/missing.txt
  t "fetching $(grep -c . /tmp/missing.txt) wheel(s) missing from the wheelhouse: pip wheel --no-deps (PyPI)"
  rm -rf "$new"
  # Own dir per build, files moved into the shared wheelhouse one by one (atomic rename), so
  # two builds at once never read a half-written wheel.
  # --use-pep517: sdists without pyproject.toml (uWSGI) build in an isolated env with setuptools
  # and wheel from PyPI; the venv's own pip 23 has no `wheel` to run setup.py bdist_wheel.
  "$venv/bin/pip" wheel -q --use-pep517 --no-deps -r /tmp/missing.txt -w "$new"
  pipinst --find-links "$new"
  for f in "$new"/*.whl; do mv -f "$f" "$wh/"; done
  rm -rf "$new"
  t "installed"
fi
"$venv/bin/pip" check
if [[ $svc == nova ]]; then
  if [[ -f /stage/labfake.py ]]; then
    site=$("$venv/bin/python" -c 'import nova.virt, os; print(os.path.dirname(nova.virt.__file__))')
    install -m 0644 /stage/labfake.py "$site/labfake.py"
    "$venv/bin/python" -c 'import nova.virt.labfake as m; assert hasattr(m, "LabFakeDriver")'
    t "lab virt driver installed as nova.virt.labfake"
  else
    t "WARNING: no tests/lab/virt/labfake.py: nova venv without the lab virt driver"
  fi
fi
(cd /tmp && "$venv/bin/python" /stage/smoke.py "$svc" --quick) 2>&1 | grep '^smoke' || {
  (cd /tmp && "$venv/bin/python" /stage/smoke.py "$svc" --quick) 2>&1 | tail -30; exit 1; }
t "packing $name.tar.zst ($(du -sm "$venv" | cut -f1) MB)"
tar -C /opt/openstack/venvs --numeric-owner -cf - "$name" | zstd -q -T2 -3 >"/out/.$name.tar.zst.tmp"
t "done"
EOF
}

# The script that fills the wheelhouse for several sets at once (one download of each wheel, one
# uWSGI compile), run in a container before the venv builds. /stage/sets/*.txt are the sets.
_lab_release_fetch_script() {
  cat <<'EOF'
set -euo pipefail
wh=/pipcache/wheelhouse
new=/pipcache/tmp/fetch.$$
unset PIP_FIND_LINKS PIP_CONSTRAINT PIP_REQUIREMENT PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
mkdir -p "$wh" /pipcache/tmp /tmp/groups
python3 -m venv /tmp/fetch
# Pins missing from the wheelhouse, split in groups with each project at most once per group
# (pip refuses two versions of one project in one run, even with --no-deps).
python3 - "$wh" /tmp/groups /stage/sets/*.txt <<'PY'
import os, re, sys
norm = lambda n: re.sub(r'[-_.]+', '_', n).lower()
have = {(norm(f.split('-')[0]), f.split('-')[1])
        for f in os.listdir(sys.argv[1]) if f.endswith('.whl')}
want = {}
for path in sys.argv[3:]:
    for line in open(path):
        req = line.split('#')[0].strip()
        if '==' in req:
            n, v = req.split('==', 1)
            if (norm(n), v) not in have:
                want[(norm(n), v)] = req
groups = []
for (n, v), req in sorted(want.items()):
    for g in groups:
        if n not in g:
            g[n] = req
            break
    else:
        groups.append({n: req})
for i, g in enumerate(groups):
    with open(os.path.join(sys.argv[2], '%d.txt' % i), 'w') as f:
        f.write('\n'.join(g.values()) + '\n')
print('fetch: %d wheel(s) missing from the wheelhouse, %d group(s)' % (len(want), len(groups)))
PY
rm -rf "$new"
for g in /tmp/groups/*.txt; do
  [[ -e $g ]] || continue
  echo "fetch: $(date -u +%T) pip wheel --use-pep517 --no-deps -r $(basename "$g") ($(grep -c . "$g") pins)"
  /tmp/fetch/bin/pip wheel -q --use-pep517 --no-deps -r "$g" -w "$new"
done
if [[ -d $new ]]; then for f in "$new"/*.whl; do mv -f "$f" "$wh/"; done; fi
rm -rf "$new"
echo "fetch: $(date -u +%T) done"
EOF
}

# lab_release_fetch <set.txt>...: download/build into $LAB_CACHE/pip/wheelhouse every wheel of the
# sets that it lacks, in one container (log: $LAB_CACHE/pip/fetch.log).
lab_release_fetch() {
  local stage rc=0 start=$EPOCHREALTIME i=0 f
  mkdir -p "$LAB_CACHE/pip" "$LAB_CACHE/tmp"
  stage=$(mktemp -d "$LAB_CACHE/tmp/stage.XXXXXX")
  mkdir "$stage/sets"
  for f in "$@"; do
    cp "$f" "$stage/sets/$i.txt"
    i=$((i + 1))
  done
  _lab_release_fetch_script >"$stage/fetch.sh"
  # shellcheck disable=SC2034,SC2054 # read by lab_nspawn_run; commas are tmpfs options
  local LAB_NSPAWN_ARGS=(--bind-ro="$stage:/stage" --bind="$LAB_CACHE/pip:/pipcache" --tmpfs=/tmp:mode=1777,size=3G)
  lab_nspawn_run "$LAB_ROOTFS" bash /stage/fetch.sh >"$LAB_CACHE/pip/fetch.log" 2>&1 || rc=$?
  rm -rf "$stage"
  if ((rc != 0)); then
    tail -25 "$LAB_CACHE/pip/fetch.log" | sed 's/^/[lab]   fetch: /' >&2
  fi
  lab_log "$(awk -v s="$start" -v e="$EPOCHREALTIME" -v rc="$rc" \
    -v l="$(grep -m1 'missing from' "$LAB_CACHE/pip/fetch.log" | sed 's/^fetch: //')" \
    'BEGIN { printf "wheels: %s; %.1f s%s", l, e - s, (rc == 0 ? "" : " FAILED (rc=" rc "), the builds fetch for themselves") }')"
  return "$rc"
}

# lab_release_build_one <release> <service> <version>: build one venv tarball (see top).
lab_release_build_one() {
  local rel=$1 svc=$2 ver=$3 start rc=0
  local outdir=$LAB_CACHE/releases/$rel name=$svc-$ver stage key
  start=$EPOCHREALTIME
  key=$(lab_release_key "$rel" "$svc")
  mkdir -p "$outdir" "$LAB_CACHE/pip" "$LAB_CACHE/tmp"
  stage=$(mktemp -d "$LAB_CACHE/tmp/stage.XXXXXX")
  cp "$LAB_RELEASES_SRC/$rel/$svc.txt" "$stage/set.txt"
  cp "$LAB_RELEASES_SRC/smoke.py" "$stage/smoke.py"
  _lab_release_build_script >"$stage/build.sh"
  if [[ $svc == nova ]]; then
    if [[ -f $LAB_LABFAKE ]]; then cp "$LAB_LABFAKE" "$stage/labfake.py"; else
      lab_log "WARNING: $LAB_LABFAKE missing: building $name without the lab virt driver"
    fi
  fi
  rm -f "$outdir/.$name.tar.zst.tmp"
  # shellcheck disable=SC2034,SC2054 # read by lab_nspawn_run; commas are tmpfs options
  # The venv is built in a tmpfs at its final path: faster on a busy disk, and the throw-away
  # overlay is not left with a 400 MB tree to delete.
  local LAB_NSPAWN_ARGS=(--bind-ro="$stage:/stage" --bind="$outdir:/out" --bind="$LAB_CACHE/pip:/pipcache"
    --tmpfs=/opt/openstack/venvs:mode=0755,size=3G --tmpfs=/tmp:mode=1777,size=3G)
  lab_nspawn_run "$LAB_ROOTFS" bash /stage/build.sh "$svc" "$ver" >"$outdir/$name.log" 2>&1 || rc=$?
  echo "host: $(date -u +%T) container exited (rc=$rc)" >>"$outdir/$name.log"
  rm -rf "$stage"
  if ((rc == 0)) && [[ -s $outdir/.$name.tar.zst.tmp ]]; then
    mv -f "$outdir/.$name.tar.zst.tmp" "$outdir/$name.tar.zst"
    (cd "$outdir" && sha256sum "$name.tar.zst" >"$name.tar.zst.sha256.tmp" &&
      mv -f "$name.tar.zst.sha256.tmp" "$name.tar.zst.sha256")
    echo "$key" >"$outdir/$name.key"
  else
    ((rc != 0)) || rc=1
    rm -f "$outdir/.$name.tar.zst.tmp"
    tail -25 "$outdir/$name.log" | sed "s/^/[lab]   $name: /" >&2
  fi
  lab_log "$(awk -v n="$rel/$name" -v s="$start" -v e="$EPOCHREALTIME" -v rc="$rc" \
    -v f="$outdir/$name.log" 'BEGIN { printf "venv %-24s %6.1f s%s", n, e - s,
      (rc == 0 ? "" : " FAILED (rc=" rc ", log " f ")") }')"
  return "$rc"
}

lab_build_releases() {
  (($# > 0)) || lab_die "usage: lab_build_releases <release>..."
  local rel svc ver job todo=() failed=0 missing=0 start=$EPOCHREALTIME
  for rel in "$@"; do
    [[ -f $LAB_RELEASES_SRC/$rel/release.yml ]] || lab_die "unknown release '$rel' (no lab/releases/$rel/release.yml)"
    mkdir -p "$LAB_CACHE/releases/$rel"
    while read -r svc ver; do
      local set=$LAB_RELEASES_SRC/$rel/$svc.txt pkg=$svc
      [[ $svc == placement ]] && pkg=openstack-placement
      if [[ ! -f $set ]]; then
        lab_log "ERROR: $rel: no frozen set $set (make it with lab/releases/freeze.sh $rel $svc)"
        missing=$((missing + 1))
        continue
      fi
      grep -qixF "$pkg==$ver" "$set" || lab_die "$rel: $set does not pin $pkg==$ver (release.yml says $ver)"
      lab_release_current "$rel" "$svc" "$ver" || todo+=("$rel $svc $ver")
    done < <(lab_release_services "$rel")
    cp "$LAB_RELEASES_SRC/$rel/release.yml" "$LAB_CACHE/releases/$rel/.release.yml.tmp"
    mv -f "$LAB_CACHE/releases/$rel/.release.yml.tmp" "$LAB_CACHE/releases/$rel/release.yml"
  done
  if ((${#todo[@]} == 0)); then
    ((missing == 0)) && lab_log "release venvs of $* are current"
    return "$((missing > 0))"
  fi
  if [[ -z ${LAB_ROOTFS:-} ]]; then lab_rootfs_build; fi
  local sets=()
  for job in "${todo[@]}"; do
    read -r rel svc ver <<<"$job"
    sets+=("$LAB_RELEASES_SRC/$rel/$svc.txt")
  done
  # One container fetches every missing wheel first, so the builds themselves run offline; if it
  # fails, each build fetches what it still lacks itself.
  lab_release_fetch "${sets[@]}" || true
  lab_log "building ${#todo[@]} venv(s) in containers of $LAB_ROOTFS, $LAB_RELEASES_JOBS at a time"
  # Explicit pids for wait -n: a bare `wait -n` may also collect the process substitution above.
  local pids=() done_pid rc
  _lab_release_reap() {
    rc=0
    wait -n -p done_pid "${pids[@]}" || rc=$?
    ((rc == 0)) || failed=$((failed + 1))
    local p keep=()
    for p in "${pids[@]}"; do [[ $p == "$done_pid" ]] || keep+=("$p"); done
    pids=("${keep[@]}")
  }
  for job in "${todo[@]}"; do
    while ((${#pids[@]} >= LAB_RELEASES_JOBS)); do _lab_release_reap; done
    # shellcheck disable=SC2086 # job is "release service version"
    lab_release_build_one $job &
    pids+=("$!")
  done
  while ((${#pids[@]} > 0)); do _lab_release_reap; done
  lab_log "$(awk -v s="$start" -v e="$EPOCHREALTIME" -v n="${#todo[@]}" -v f="$failed" \
    'BEGIN { printf "release venvs: %d built in %.1f s%s", n - f, e - s, (f ? ", " f " FAILED" : "") }')"
  ((failed + missing == 0))
}

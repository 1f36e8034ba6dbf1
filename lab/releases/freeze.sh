#!/bin/bash
# Refresh the frozen requirement set lab/releases/<release>/<service>.txt from <service>.in.
#
#   lab/releases/freeze.sh <release> <service>      # e.g. 2026.1 nova
#
# Builds a fresh venv with the machine's /usr/bin/python3.11 (the same Debian python as the lab hosts)
# under $FREEZE_DIR (default /tmp/rl-freeze), installs <service>.in from PyPI only (the machine's pip
# config is ignored), runs `pip check` and smoke.py, and only then writes <service>.txt (pip freeze).
# Downloads go to $LAB_CACHE/pip so the lab builds reuse them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
release=${1:?release}
service=${2:?service}
in=$here/$release/$service.in
[ -f "$in" ] || { echo "freeze: no $in" >&2; exit 2; }
: "${LAB_CACHE:=/var/cache/rolling-lab}"
venv=${FREEZE_DIR:-/tmp/rl-freeze}/$release/$service
unset PIP_FIND_LINKS PIP_CONSTRAINT PIP_EXTRA_INDEX_URL PIP_INDEX_URL
export PIP_CONFIG_FILE=/dev/null PIP_CACHE_DIR=$LAB_CACHE/pip PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$PIP_CACHE_DIR"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
/usr/bin/python3.11 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -r "$in"
"$venv/bin/pip" check
log=$venv.smoke.log
if ! (cd /tmp && "$venv/bin/python" "$here/smoke.py" "$service") > "$log" 2>&1; then
    tail -40 "$log" >&2
    echo "freeze: smoke test of $release/$service failed, $service.txt left unchanged (log: $log)" >&2
    exit 1
fi
grep '^smoke' "$log"
{
    echo "# $release $service: frozen by lab/releases/freeze.sh from $service.in (see README.md)"
    "$venv/bin/pip" freeze --exclude-editable
} > "$here/$release/$service.txt.new"
mv "$here/$release/$service.txt.new" "$here/$release/$service.txt"
echo "freeze: wrote $release/$service.txt ($(grep -vc '^#' "$here/$release/$service.txt") packages)"

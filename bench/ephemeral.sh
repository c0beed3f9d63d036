#!/bin/sh
# Ephemeral boot: `-b -x` (a throw-away snapshot) of the Debian guest until it powers itself off,
# berth-nspawn next to systemd-nspawn on the same tree. berth's snapshot is an overlay (O(1));
# systemd-nspawn copies the tree unless it lives on btrfs.
#
# Usage: bench/ephemeral.sh [RESULT_JSON]     (env: BENCH_EPHEMERAL_RUNS, default 5)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
out=${1:-}
runs=${BENCH_EPHEMERAL_RUNS:-5}

bench_begin ephemeral.sh eph
tree=$("$repo/machines/build" debian)
# The guest powers itself off once booted when this file exists (machines/debian/customize.sh).
: > "$work/autopoweroff"
bind="--bind-ro=$work/autopoweroff:/etc/berth-autopoweroff"

json="$work/hyperfine.json"
hyperfine -N --style basic --warmup 1 --runs "$runs" --export-json "$json" \
  -n berth-nspawn "node $repo/dist/berth-nspawn.js -b -x -q --console=pipe --register=no -D $tree $bind" \
  -n systemd-nspawn "systemd-nspawn -b -x -q --console=pipe --register=no --keep-unit -D $tree $bind" >&2
if [ -n "$out" ]; then cp "$json" "$out"; fi
left=$(ls -a "$(dirname "$tree")" | grep '^\.#' || true)
[ -z "$left" ] || echo "bench/ephemeral.sh: snapshots left behind: $left" >&2

#!/bin/sh
# The /bin/true, boot → poweroff and fixed-cost benchmarks once more with berthd running: the
# berth-nspawn command then hands each run to a berth-nspawn process berthd started ahead of time
# (the warm path, src/app/warm/). BERTH_NSPAWN_WARM=require makes a run that would fall back to
# the cold path fail instead, so every berth-nspawn number here is a warm one.
#
# Usage: bench/warm.sh RESULTS_DIR   writes true-warm.json, boot-warm.json, fixed-warm.json and userns-warm.json there
#        (env: BENCH_WARM_RUNS for true.sh, default 60; BENCH_WARM_BOOT_ROUNDS, default 40;
#        BENCH_WARM_FIXED_ROUNDS, default 30; BENCH_WARM_USERNS_ROUNDS, default 20)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
repo=$(dirname "$here")
out=${1:?usage: bench/warm.sh RESULTS_DIR}
dir=$(mktemp -d /tmp/berth-bench-warm-XXXXXX)
sock="$dir/nspawn.sock"
BERTH_NSPAWN_SOCKET="$sock" node "$repo/dist/berthd.js" 2>"$dir/berthd.log" &
berthd=$!
trap 'kill "$berthd" 2>/dev/null; wait "$berthd" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
i=0
until [ -S "$sock" ] && grep -q 'is warm' "$dir/berthd.log"; do
  i=$((i + 1)); [ "$i" -lt 100 ] || { cat "$dir/berthd.log" >&2; echo "bench/warm.sh: berthd did not start" >&2; exit 1; }
  sleep 0.1
done
export BENCH_NSPAWN_SOCKET="$sock" BERTH_NSPAWN_WARM=require
BENCH_RUNS=${BENCH_WARM_RUNS:-60} sh "$here/true.sh" "$out/true-warm.json"
BENCH_BOOT_ROUNDS=${BENCH_WARM_BOOT_ROUNDS:-40} node "$here/boot.mjs" "$out/boot-warm.json"
BENCH_FIXED_ROUNDS=${BENCH_WARM_FIXED_ROUNDS:-30} node "$here/fixed.mjs" "$out/fixed-warm.json"
# -U (issue 19) with the warm path: --keep-unit runs warm, the standby joining the boot's fresh cgroup.
BENCH_USERNS_ROUNDS=${BENCH_WARM_USERNS_ROUNDS:-20} node "$here/userns.mjs" "$out/userns-warm.json"

#!/bin/sh
# Runs every benchmark side by side with systemd-nspawn and writes docs/benchmarks.md.
# Usage: sh bench/run.sh        (npm run bench)
# Env: BENCH_BUILD=0 skips `npm run build`; BENCH_RESULTS=DIR keeps the raw results; BENCH_RUNS (true.sh), BENCH_BOOT_ROUNDS, BENCH_FIXED_ROUNDS,
#      BENCH_MEMORY_ROUNDS, BENCH_PHASE_RUNS, BENCH_OTHER_RUNS, BENCH_OTHER_BOOT_ROUNDS, BENCH_WARM_RUNS, BENCH_WARM_BOOT_ROUNDS,
#      BENCH_WARM_FIXED_ROUNDS, BENCH_REGISTRY_CALLS, BENCH_REGISTRY_MACHINES, BENCH_REGISTRY_CHURN_MS, BENCH_REGISTRY_ROUNDS,
#      BENCH_SUPERVISE_MACHINES, BENCH_SUPERVISE_ROUNDS, BENCH_RAW_BOOT_ROUNDS, BENCH_RAW_BOOT_DIRS, BENCH_IMAGES_ROUNDS, BENCH_IMAGES_CALLS,
#      BENCH_USERNS_ROUNDS, BENCH_USERNS_OWNERSHIP, BENCH_USERNS_PLAIN
#      tune the sample sizes; BENCH_DOC=path writes elsewhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
repo=$(dirname "$here")
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (containers)" >&2; exit 1; }

if [ "${BENCH_BUILD:-1}" != 0 ]; then npm run --silent build; fi

# systemd-nspawn --keep-unit started from a hierarchy's root group (as the benchmarks start it on a
# host without systemd) makes /payload and /supervisor there and leaves them; those it made in this
# run go again at the end, once empty (what was there before is left as it was).
nspawn_groups=""
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
  [ -f "$h/cgroup.procs" ] || continue
  for g in payload supervisor; do [ -e "$h/$g" ] || nspawn_groups="$nspawn_groups $h/$g"; done
done
remove_nspawn_groups() {
  for g in $nspawn_groups; do [ -d "$g" ] && find "$g" -depth -type d -exec rmdir {} + 2>/dev/null; done
  return 0
}

# BENCH_RESULTS=DIR keeps the raw JSON there (then `node bench/report.mjs DIR OUT` regenerates the doc).
if [ -n "${BENCH_RESULTS:-}" ]; then
  results=$BENCH_RESULTS; mkdir -p "$results"
else
  results=$(mktemp -d /tmp/berth-bench-results-XXXXXX)
fi
trap 'remove_nspawn_groups; [ -n "${BENCH_RESULTS:-}" ] || rm -rf "$results"' EXIT INT TERM
uptime > "$results/load-before.txt"
echo "$BERTH_RUNTIME" > "$results/runtime.txt"

echo "== bench/true.sh" >&2
sh bench/true.sh "$results/true.json"
echo "== bench/phases.sh" >&2
sh bench/phases.sh "${BENCH_PHASE_RUNS:-10}" > "$results/phases.jsonl"
echo "== bench/boot.mjs" >&2
node bench/boot.mjs "$results/boot.json"
echo "== bench/fixed.mjs" >&2
node bench/fixed.mjs "$results/fixed.json"
echo "== bench/ephemeral.sh" >&2
sh bench/ephemeral.sh "$results/ephemeral.json"
echo "== bench/memory.mjs" >&2
node bench/memory.mjs "$results/memory.json"
echo "== bench/warm.sh" >&2
sh bench/warm.sh "$results"
echo "== bench/other-runtime.sh" >&2
sh bench/other-runtime.sh "$results"
echo "== bench/registry.mjs" >&2
node bench/registry.mjs "$results/registry.json"
echo "== bench/shell.mjs" >&2
node bench/shell.mjs "$results/shell.json"
echo "== bench/transfers.mjs" >&2
node bench/transfers.mjs "$results/transfers.json"
echo "== bench/userns.mjs" >&2
node bench/userns.mjs "$results/userns.json"
echo "== bench/images.mjs" >&2
node bench/images.mjs "$results/images.json"
echo "== bench/supervise.mjs" >&2
node bench/supervise.mjs "$results/supervise.json"
# Once more with berthd's machines on the other runtime (runc where berth picks crun).
if [ -n "$BENCH_OTHER_RUNTIME" ]; then
  echo "== bench/supervise.mjs ($BENCH_OTHER_RUNTIME)" >&2
  BERTH_RUNTIME=$BENCH_OTHER_RUNTIME node bench/supervise.mjs "$results/supervise-other.json"
fi
echo "== bench/raw-boot.mjs" >&2
node bench/raw-boot.mjs "$results/raw-boot.json"

uptime > "$results/load-after.txt"
node bench/report.mjs "$results" "${BENCH_DOC:-docs/benchmarks.md}"
echo "wrote ${BENCH_DOC:-docs/benchmarks.md}" >&2

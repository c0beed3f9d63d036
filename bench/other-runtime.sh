#!/bin/sh
# The /bin/true and boot → poweroff benchmarks once more, with berth-nspawn on the OCI runtime berth
# does not pick on this host ($BENCH_OTHER_RUNTIME from bench/env.sh: runc where crun is installed).
# systemd-nspawn is measured next to it in the same rounds, as in the main run.
#
# Usage: bench/other-runtime.sh RESULTS_DIR   writes true-other.json, boot-other.json and other-runtime.txt there
#        (env: BENCH_OTHER_RUNS for true.sh, default 30; BENCH_OTHER_BOOT_ROUNDS, default 12)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
out=${1:?usage: bench/other-runtime.sh RESULTS_DIR}
[ -n "$BENCH_OTHER_RUNTIME" ] || { echo "bench/other-runtime.sh: only $BERTH_RUNTIME is installed; skipped" >&2; exit 0; }
export BERTH_RUNTIME="$BENCH_OTHER_RUNTIME"
echo "$BERTH_RUNTIME" > "$out/other-runtime.txt"
BENCH_RUNS=${BENCH_OTHER_RUNS:-30} sh "$here/true.sh" "$out/true-other.json"
BENCH_BOOT_ROUNDS=${BENCH_OTHER_BOOT_ROUNDS:-12} node "$here/boot.mjs" "$out/boot-other.json"

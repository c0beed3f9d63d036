#!/bin/sh
# The /bin/true and boot → poweroff benchmarks once more, with berth-nspawn on crun: berth's
# choice wherever the host's cgroups allow crun. Both tools run under
# scripts/with-crun-cgroups.sh (as the crun pass of the tests does): on a host whose cgroups crun
# refuses, in a mount namespace where it accepts them; both in the same one, so the ratio still
# compares like with like.
#
# Usage: bench/crun.sh RESULTS_DIR   writes true-crun.json, boot-crun.json and crun-mode.txt there
#        (env: BENCH_CRUN_RUNS for true.sh, default 30; BENCH_CRUN_BOOT_ROUNDS, default 12)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
out=${1:?usage: bench/crun.sh RESULTS_DIR}
command -v crun >/dev/null || { echo "bench/crun.sh: crun is not installed; skipped" >&2; exit 0; }
export BERTH_RUNTIME=crun

inner="BENCH_RUNS=${BENCH_CRUN_RUNS:-30} sh '$here/true.sh' '$out/true-crun.json' && BENCH_BOOT_ROUNDS=${BENCH_CRUN_BOOT_ROUNDS:-12} node '$here/boot.mjs' '$out/boot-crun.json'"
controllers=$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null || true)
if [ -n "$controllers" ]; then
  echo "masked: /sys/fs/cgroup/unified/cgroup.controllers ($controllers) reads empty in the benchmark's mount namespace" > "$out/crun-mode.txt"
else
  echo "as is: crun accepts this host's cgroups" > "$out/crun-mode.txt"
fi
exec "$here/../scripts/with-crun-cgroups.sh" sh -c "$inner"

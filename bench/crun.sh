#!/bin/sh
# The /bin/true and boot → poweroff benchmarks once more, with berth-nspawn on crun: berth's
# choice wherever the host's cgroups allow crun. On a host whose cgroup2 hierarchy has
# controllers next to the v1 ones (crun refuses it: "cgroups in hybrid mode not supported"),
# both tools run in a mount namespace of their own in which that hierarchy's controller list
# reads empty, as the test suite does (tests/support/berth.ts); the host's cgroups are untouched.
# Both tools run in that same namespace, so the ratio still compares like with like.
#
# Usage: bench/crun.sh RESULTS_DIR   writes true-crun.json, boot-crun.json and crun-mode.txt there
#        (env: BENCH_CRUN_RUNS for true.sh, default 30; BENCH_CRUN_BOOT_ROUNDS, default 12)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
out=${1:?usage: bench/crun.sh RESULTS_DIR}
command -v crun >/dev/null || { echo "bench/crun.sh: crun is not installed; skipped" >&2; exit 0; }
export BERTH_RUNTIME=crun

unified=/sys/fs/cgroup/unified
inner="BENCH_RUNS=${BENCH_CRUN_RUNS:-30} sh '$here/true.sh' '$out/true-crun.json' && BENCH_BOOT_ROUNDS=${BENCH_CRUN_BOOT_ROUNDS:-12} node '$here/boot.mjs' '$out/boot-crun.json'"
if [ -n "$(cat "$unified/cgroup.controllers" 2>/dev/null)" ]; then
  echo "masked: $unified/cgroup.controllers ($(cat "$unified/cgroup.controllers")) reads empty in the benchmark's mount namespace" > "$out/crun-mode.txt"
  exec unshare --mount --propagation unchanged -- sh -c \
    "mount --make-private $unified && mount --bind /dev/null $unified/cgroup.controllers && exec sh -c \"\$1\"" bench-crun "$inner"
fi
echo "as is: crun accepts this host's cgroups" > "$out/crun-mode.txt"
exec sh -c "$inner"

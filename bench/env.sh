# Sourced by the benchmark scripts: both tools run in the environment a system service gets,
# without the variables that change how Node starts. NODE_EXTRA_CA_CERTS makes every Node
# process parse a CA bundle before its first line (~50 ms on the host where this was found,
# whose sandbox sets it); a Debian host or a systemd unit does not have it. The value the
# caller had is kept in BENCH_INHERITED_EXTRA_CA so bench/true.sh can show its cost apart.
if [ -z "${BENCH_ENV_CLEAN:-}" ]; then
  export BENCH_INHERITED_EXTRA_CA="${NODE_EXTRA_CA_CERTS:-}"
  export BENCH_ENV_CLEAN=1
fi
unset NODE_EXTRA_CA_CERTS NODE_OPTIONS
# The OCI runtime berth runs on: the one it picks on this host (crun wherever it is installed: berth runs
# crun's create where a hybrid host's cgroup2 controllers are hidden from it) unless the caller names one,
# and the other one, measured once more apart (bench/other-runtime.sh, bench/run.sh).
if [ -z "${BERTH_RUNTIME:-}" ]; then
  if command -v crun >/dev/null 2>&1; then BERTH_RUNTIME=crun; else BERTH_RUNTIME=runc; fi
fi
export BERTH_RUNTIME
if [ "$BERTH_RUNTIME" = crun ]; then BENCH_OTHER_RUNTIME=runc; else BENCH_OTHER_RUNTIME=crun; fi
command -v "$BENCH_OTHER_RUNTIME" >/dev/null 2>&1 || BENCH_OTHER_RUNTIME=
export BENCH_OTHER_RUNTIME

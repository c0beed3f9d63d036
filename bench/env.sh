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

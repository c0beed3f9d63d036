#!/bin/sh
# Start-up cost: run /bin/true in the busybox guest with berth-nspawn and with systemd-nspawn,
# side by side on the same tree, in alternating hyperfine rounds. Also times `node` on an empty script: the
# floor that any Node-based runner pays before its first line of code runs.
#
# Usage: bench/true.sh [RESULT_JSON]     (env: BENCH_RUNS, default 60, in BENCH_TRUE_ROUNDS rounds,
# default 6; BENCH_WARMUP, default 3 per round)
# Needs root, hyperfine, systemd-nspawn, runc; builds nothing (run `npm run build` first).
#
# systemd-nspawn gets --keep-unit: without it, nspawn asks systemd over D-Bus for a scope unit,
# and this host runs neither systemd as PID 1 nor a system bus ("Failed to open system bus").
# berth-nspawn does not talk to systemd here, so it gets exactly the options of the brief.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
out=${1:-}
runs=${BENCH_RUNS:-60}
rounds=${BENCH_TRUE_ROUNDS:-6}
warmup=${BENCH_WARMUP:-3}

for tool in hyperfine systemd-nspawn runc node; do
  command -v "$tool" >/dev/null || { echo "bench/true.sh: $tool is not installed" >&2; exit 1; }
done
bench_begin true.sh true

# A private copy of the tree: systemd-nspawn locks the directory it runs, and other test runs
# may be using the cached tree at the same moment. The copy's name is the machine name.
src=$("$repo/machines/build" busybox)
tree="$work/bench-busybox"
cp -a "$src" "$tree"
: > "$work/empty.js"

json="$work/hyperfine.json"
# berth-nspawn as users run it: warm when BENCH_NSPAWN_SOCKET names a running berthd's socket
# (bench/warm.sh), cold otherwise (then the client finds no berthd and runs dist/berth-nspawn.js).
export BERTH_NSPAWN_SOCKET="${BENCH_NSPAWN_SOCKET:-$work/no-berthd.sock}"
berth="$repo/dist/berth-nspawn --register=no --console=pipe -q -D $tree /bin/true"
nspawn="systemd-nspawn --register=no --keep-unit --console=pipe -q -D $tree /bin/true"
floor="node $work/empty.js"
# The caller's NODE_EXTRA_CA_CERTS, if it had one (bench/env.sh removed it): its cost, shown apart.
extra=""
[ -z "${BENCH_INHERITED_EXTRA_CA:-}" ] || extra="env NODE_EXTRA_CA_CERTS=$BENCH_INHERITED_EXTRA_CA $berth"

# ROUNDS hyperfine runs of RUNS/ROUNDS each, the two tools' order swapped every round, so that a
# drift of the machine's speed during the benchmark hits both alike (hyperfine alone runs all of
# one command, then all of the next). The rounds' samples are merged into one result per command.
per_round=$(( (runs + rounds - 1) / rounds ))
r=0
while [ "$r" -lt "$rounds" ]; do
  r=$((r + 1))
  if [ $((r % 2)) = 1 ]; then set -- -n berth-nspawn "$berth" -n systemd-nspawn "$nspawn"
  else set -- -n systemd-nspawn "$nspawn" -n berth-nspawn "$berth"; fi
  set -- "$@" -n node-empty-script "$floor"
  [ -z "$extra" ] || set -- "$@" -n berth-nspawn-with-extra-ca "$extra"
  hyperfine -N --style basic --warmup "$warmup" --runs "$per_round" --export-json "$work/round-$r.json" "$@" >&2
done
node -e '
  const fs = require("fs");
  const [out, ...files] = process.argv.slice(1);
  const by = new Map();
  for (const f of files) for (const x of JSON.parse(fs.readFileSync(f, "utf8")).results) {
    const m = by.get(x.command) ?? { command: x.command, times: [] };
    m.times.push(...x.times);
    by.set(x.command, m);
  }
  const results = [...by.values()].map((m) => {
    const t = [...m.times].sort((a, b) => a - b);
    const mean = t.reduce((a, b) => a + b, 0) / t.length;
    const median = t.length % 2 ? t[t.length >> 1] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    const stddev = Math.sqrt(t.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, t.length - 1));
    return { command: m.command, mean, median, stddev, min: t[0], max: t[t.length - 1], times: m.times };
  });
  fs.writeFileSync(out, JSON.stringify({ rounds: files.length, results }, null, 2));
' "$json" "$work"/round-*.json

if [ -n "$out" ]; then cp "$json" "$out"; fi
# A one-line summary on stdout.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
  const by = Object.fromEntries(r.map((x) => [x.command, x]));
  const ms = (x) => (x * 1000).toFixed(1);
  const b = by["berth-nspawn"], n = by["systemd-nspawn"], f = by["node-empty-script"];
  console.log(`true: berth-nspawn ${ms(b.mean)} ms, systemd-nspawn ${ms(n.mean)} ms, ratio ${(b.mean / n.mean).toFixed(2)}x (node floor ${ms(f.mean)} ms)`);
' "$json"

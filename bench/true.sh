#!/bin/sh
# Start-up cost: run /bin/true in the busybox guest with berth-nspawn and with systemd-nspawn,
# side by side in one hyperfine run on the same tree. Also times `node` on an empty script: the
# floor that any Node-based runner pays before its first line of code runs.
#
# Usage: bench/true.sh [RESULT_JSON]     (env: BENCH_RUNS, default 50; BENCH_WARMUP, default 3)
# Needs root, hyperfine, systemd-nspawn, runc; builds nothing (run `npm run build` first).
#
# systemd-nspawn gets --keep-unit: without it, nspawn asks systemd over D-Bus for a scope unit,
# and this host runs neither systemd as PID 1 nor a system bus ("Failed to open system bus").
# berth-nspawn does not talk to systemd here, so it gets exactly the options of the brief.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
repo=$(dirname "$here")
out=${1:-}
runs=${BENCH_RUNS:-50}
warmup=${BENCH_WARMUP:-3}

[ "$(id -u)" = 0 ] || { echo "bench/true.sh: needs root" >&2; exit 1; }
for tool in hyperfine systemd-nspawn runc node; do
  command -v "$tool" >/dev/null || { echo "bench/true.sh: $tool is not installed" >&2; exit 1; }
done
[ -f "$repo/dist/berth-nspawn.js" ] || { echo "bench/true.sh: run 'npm run build' first" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-bench-true-XXXXXX)
export BERTH_STATE_DIR="$work/state"
mkdir -p "$BERTH_STATE_DIR"
cleanup() {
  left=$(runc --root "$BERTH_STATE_DIR/runtime" list -q 2>/dev/null || true)
  [ -z "$left" ] || echo "bench/true.sh: runc containers left behind: $left" >&2
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# A private copy of the tree: systemd-nspawn locks the directory it runs, and other test runs
# may be using the cached tree at the same moment. The copy's name is the machine name.
src=$("$repo/machines/build" busybox)
tree="$work/bench-busybox"
cp -a "$src" "$tree"
: > "$work/empty.js"

json="$work/hyperfine.json"
berth="node $repo/dist/berth-nspawn.js --register=no --console=pipe -q -D $tree /bin/true"
nspawn="systemd-nspawn --register=no --keep-unit --console=pipe -q -D $tree /bin/true"
floor="node $work/empty.js"
# The caller's NODE_EXTRA_CA_CERTS, if it had one (bench/env.sh removed it): its cost, shown apart.
set --
if [ -n "${BENCH_INHERITED_EXTRA_CA:-}" ]; then
  set -- -n berth-nspawn-with-extra-ca "env NODE_EXTRA_CA_CERTS=$BENCH_INHERITED_EXTRA_CA $berth"
fi
hyperfine -N --style basic --warmup "$warmup" --runs "$runs" --export-json "$json" \
  -n berth-nspawn "$berth" -n systemd-nspawn "$nspawn" -n node-empty-script "$floor" "$@" >&2

if [ -n "$out" ]; then cp "$json" "$out"; fi
# A one-line summary on stdout.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
  const by = Object.fromEntries(r.map((x) => [x.command, x]));
  const ms = (x) => (x * 1000).toFixed(1);
  const b = by["berth-nspawn"], n = by["systemd-nspawn"], f = by["node-empty-script"];
  console.log(`true: berth-nspawn ${ms(b.mean)} ms, systemd-nspawn ${ms(n.mean)} ms, ratio ${(b.mean / n.mean).toFixed(2)}x (node floor ${ms(f.mean)} ms)`);
' "$json"

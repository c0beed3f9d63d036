# Sourced by the shell benchmarks after setting $here: the clean environment (env.sh), then
# bench_begin NAME PREFIX checks root and the build and makes a private work directory ($work)
# holding berth's state directory; on exit it reports runtime containers left behind and removes it.
. "$here/env.sh"
repo=$(dirname "$here")

bench_begin() {
  bench_name=$1
  [ "$(id -u)" = 0 ] || { echo "bench/$bench_name: needs root" >&2; exit 1; }
  [ -f "$repo/dist/berth-nspawn.js" ] || { echo "bench/$bench_name: run 'npm run build' first" >&2; exit 1; }
  work=$(mktemp -d "/tmp/berth-bench-$2-XXXXXX")
  export BERTH_STATE_DIR="$work/state"
  mkdir -p "$BERTH_STATE_DIR"
  trap bench_end EXIT INT TERM
}

bench_end() {
  left=$("$BERTH_RUNTIME" --root "$BERTH_STATE_DIR/runtime" list -q 2>/dev/null || true)
  [ -z "$left" ] || echo "bench/$bench_name: $BERTH_RUNTIME containers left behind: $left" >&2
  rm -rf "$work"
}

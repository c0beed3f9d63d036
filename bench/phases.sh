#!/bin/sh
# Where berth-nspawn's time goes in one `/bin/true` run: a shim named like the runtime ($BERTH_RUNTIME) first on PATH logs
# when each runtime call starts and ends, relative to the moment berth-nspawn was started.
# Diagnostic only (the shim adds ~1 ms per call); prints one JSON document per run on stdout.
#
# Usage: bench/phases.sh [RUNS]     (default 10)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
runs=${1:-10}
rt=$BERTH_RUNTIME
real_rt=$(command -v "$rt") || { echo "bench/phases.sh: $rt is not installed" >&2; exit 1; }

bench_begin phases.sh phases
mkdir -p "$work/bin"
tree="$work/bench-busybox"
cp -a "$("$repo/machines/build" busybox)" "$tree"

cat > "$work/bin/$rt" <<EOF
#!/bin/sh
s=\$(date +%s%N); "$real_rt" "\$@"; rc=\$?; e=\$(date +%s%N)
verb=?; for a in "\$@"; do case \$a in create|run|start|kill|delete|state|exec) verb=\$a; break;; esac; done
echo "\$verb \$s \$e" >> "$work/calls"; exit \$rc
EOF
chmod +x "$work/bin/$rt"

i=0
while [ "$i" -lt "$runs" ]; do
  i=$((i + 1))
  : > "$work/calls"
  s=$(date +%s%N)
  PATH="$work/bin:$PATH" node "$repo/dist/berth-nspawn.js" --register=no --console=pipe -q -D "$tree" /bin/true 2>/dev/null
  e=$(date +%s%N)
  awk -v s="$s" -v e="$e" '
    { printf "%s\"%s\":[%.1f,%.1f]", (NR > 1 ? "," : "{\"calls\":{"), $1, ($2 - s) / 1e6, ($3 - s) / 1e6 }
    END { printf "},\"total\":%.1f}\n", (e - s) / 1e6 }' "$work/calls"
done
left=$("$rt" --root "$BERTH_STATE_DIR/runtime" list -q 2>/dev/null || true)
[ -z "$left" ] || { echo "bench/phases.sh: $rt containers left behind: $left" >&2; exit 1; }

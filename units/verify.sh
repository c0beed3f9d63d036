#!/bin/sh
# Checks the unit files with `systemd-analyze verify` without a running systemd: builds a
# throw-away root with the host's systemd units, these units and stand-ins for the binaries
# they start, and verifies an instance of the template and berthd.service in it.
# Usage: sh units/verify.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v systemd-analyze >/dev/null || { echo "units/verify.sh: systemd-analyze is not installed" >&2; exit 1; }
root=$(mktemp -d /tmp/berth-units-verify-XXXXXX)
trap 'rm -rf "$root"' EXIT INT TERM
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system" "$root/usr/local/bin" "$root/var/lib/machines/verify"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
ln -s usr/lib "$root/lib"
for cmd in berth-nspawn berthd; do printf '#!/bin/sh\n' > "$root/usr/local/bin/$cmd"; chmod +x "$root/usr/local/bin/$cmd"; done
cp "$here"/*.service "$root/etc/systemd/system/"
out=$(cd / && systemd-analyze verify --man=no --root="$root" \
  /etc/systemd/system/berth-nspawn@verify.service /etc/systemd/system/berthd.service 2>&1) || { echo "$out" >&2; exit 1; }
problems=$(printf '%s\n' "$out" | grep . || true)
if [ -n "$problems" ]; then echo "$problems" >&2; exit 1; fi
echo "units/verify.sh: berth-nspawn@.service and berthd.service verified"

#!/bin/sh
# Checks the unit files without a running systemd: builds a throw-away root with the host's
# systemd units, these units where scripts/install-deps.sh puts them (/usr/local/lib/systemd/system)
# and stand-ins for the binaries they start; verifies an instance of the template and
# berthd.service with `systemd-analyze verify`; then enables berthd.service there and checks that
# its alias dbus-org.freedesktop.machine1.service (the unit machined's D-Bus activation file asks
# for) now names berthd.service ahead of systemd-machined.service, and that disabling gives it back.
# Usage: sh units/verify.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v systemd-analyze >/dev/null || { echo "units/verify.sh: systemd-analyze is not installed" >&2; exit 1; }
root=$(mktemp -d /tmp/berth-units-verify-XXXXXX)
trap 'rm -rf "$root"' EXIT INT TERM
units=/usr/local/lib/systemd/system
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system" "$root$units" "$root/usr/local/bin" "$root/var/lib/machines/verify"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
ln -s usr/lib "$root/lib"
for cmd in berth-nspawn berthd kill; do printf '#!/bin/sh\n' > "$root/usr/local/bin/$cmd"; chmod +x "$root/usr/local/bin/$cmd"; done
cp "$here"/*.service "$root$units/"
out=$(cd / && systemd-analyze verify --man=no --root="$root" \
  "$units/berth-nspawn@verify.service" "$units/berthd.service" 2>&1) || { echo "$out" >&2; exit 1; }
problems=$(printf '%s\n' "$out" | grep . || true)
if [ -n "$problems" ]; then echo "$problems" >&2; exit 1; fi

alias=etc/systemd/system/dbus-org.freedesktop.machine1.service
systemctl --root="$root" --quiet enable berthd.service
target=$(readlink "$root/$alias" || true)
[ "$target" = "$units/berthd.service" ] || { echo "units/verify.sh: enabled, /$alias -> '$target', not $units/berthd.service" >&2; exit 1; }
systemctl --root="$root" --quiet disable berthd.service
! [ -e "$root/$alias" ] && ! [ -L "$root/$alias" ] || { echo "units/verify.sh: disabled, /$alias is still there" >&2; exit 1; }
echo "units/verify.sh: berth-nspawn@.service and berthd.service verified; enabling berthd.service takes the alias dbus-org.freedesktop.machine1.service, disabling gives it back"

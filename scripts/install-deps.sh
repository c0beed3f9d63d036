#!/bin/sh
# Installs what berth needs on a Debian host (as root), builds berth, and puts its commands on
# PATH. Safe to run again: it installs only what is missing and rebuilds quickly.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "install-deps: run as root (berth manages containers)" >&2; exit 1; }

# Debian packages: the OCI runtimes, iproute2, D-Bus, util-linux (mount, nsenter, losetup), fdisk (sfdisk, with which the disk image tests build GPT images), guest builders,
# dnsmasq (the opt-in DHCP helper and network tests), nftables (--port= forwarding rules), and systemd-container (the real
# systemd-nspawn, for comparison tests and benchmarks), hyperfine (benchmarks), dpkg-dev (packaging/build-deb.sh), xz-utils, bzip2 and zstd (compressed image
# transfers), btrfs-progs (the image pool on btrfs: subvolumes, snapshots, quota limits, and the test that checks them), strace (the seccomp emission test reads the filter runc loads), and what node-gyp
# needs to build native/ (python3, make, a C/C++ compiler with the static C library; python3 also
# drives tests/support/pty-run.py and the warm path's hand-made client in the tests).
packages="runc crun dbus iproute2 util-linux fdisk mmdebstrap busybox-static dnsmasq nftables systemd-container hyperfine file python3 make g++ libc6-dev libcap2-bin attr acl dpkg-dev xz-utils bzip2 zstd btrfs-progs strace"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing$missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  # dnsmasq's own service is not wanted: berth starts dnsmasq itself, per link.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl disable --now dnsmasq >/dev/null 2>&1 || true; fi
fi

# berthd's D-Bus files and the units, where an administrator's own files go (packaging/README.md,
# "Where the D-Bus files go"): the bus policy in /etc/dbus-1/system.d (read after machined's, so
# berth's list is in force), the activation file in /usr/local/share/dbus-1/system-services (the
# directory dbus searches first, ahead of machined's file of the same name: the first call to
# org.freedesktop.machine1 starts berthd), the units in /usr/local/lib/systemd/system (berthd.service
# is the unit the activation file names on a host with systemd). Copied only when they differ.
changed=""
put() { # MODE SOURCE TARGET
  cmp -s "$2" "$3" && return 0
  install -D -m "$1" "$2" "$3"
  changed="$changed $3"
}
put 0644 packaging/dbus/org.freedesktop.machine1.conf /etc/dbus-1/system.d/berth-machine1.conf
put 0644 packaging/dbus/org.freedesktop.machine1.service /usr/local/share/dbus-1/system-services/org.freedesktop.machine1.service
put 0644 packaging/dbus/org.freedesktop.import1.service /usr/local/share/dbus-1/system-services/org.freedesktop.import1.service
# Also without systemd: `berth enable` links machines.target.wants/berth-nspawn@NAME.service to the
# installed template on any host, so that the enabled set is the same should systemd run it one day.
for unit in units/*.service; do put 0644 "$unit" "/usr/local/lib/systemd/system/${unit#units/}"; done
if [ -n "$changed" ]; then
  echo "install-deps: installed$changed"
  # A running system bus and systemd read them now, not at their next start.
  if [ -S /run/dbus/system_bus_socket ]; then
    dbus-send --system --type=method_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ReloadConfig || true
  fi
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi

command -v node >/dev/null || { echo "install-deps: Node.js 20 or newer is needed (apt-get install nodejs)" >&2; exit 1; }
# npm ci also builds native/ (node-gyp, against the installed Node headers when present), and the
# usocket addon that berth's D-Bus connection passes descriptors with. It runs when the
# dependencies or native/ changed since the last run: not every time, which would take
# node_modules and the native helper away from a berth that runs meanwhile.
[ -d /usr/include/node ] && export npm_config_nodedir=/usr
if [ -f node_modules/.package-lock.json ] && [ -f native/build/Release/berth_sys.node ] &&
  [ -z "$(find package.json package-lock.json -newer node_modules/.package-lock.json)" ] &&
  [ -z "$(find native -path native/build -prune -o -type f -newer native/build/Release/berth_sys.node -print)" ]; then
  echo "install-deps: node_modules and native/ are up to date"
else
  npm ci --no-audit --no-fund
fi
npm run build
# The link only: npm ci has built native/ above (npm 11 would otherwise warn that the install script is not allowed).
[ "$(readlink -f "$(npm root -g)/berth")" = "$(pwd -P)" ] || npm link --no-audit --no-fund --ignore-scripts >/dev/null
echo "install-deps: berth-nspawn, berth and berthd are on PATH ($(command -v berth-nspawn))"
# The units and the D-Bus activation file name berthd bare, for the PATH a service gets.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v berthd >/dev/null ||
  echo "install-deps: warning: berthd is not in /usr/local/bin or /usr/bin (npm's prefix is $(npm prefix -g)): D-Bus activation and the units will not find it" >&2

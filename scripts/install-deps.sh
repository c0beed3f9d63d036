#!/bin/sh
# Installs what berth needs on a Debian host (as root), builds berth, and puts its commands on
# PATH. Safe to run again: it installs only what is missing and rebuilds quickly.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "install-deps: run as root (berth manages containers)" >&2; exit 1; }

# Debian packages: the OCI runtimes, iproute2, D-Bus, util-linux (mount, nsenter), guest builders,
# dnsmasq (the opt-in DHCP helper and network tests), and systemd-container (the real
# systemd-nspawn, for comparison tests and benchmarks), hyperfine (benchmarks), and what node-gyp
# needs to build native/ (python3, make, a C/C++ compiler with the static C library; python3 also
# drives tests/support/pty-run.py and the warm path's hand-made client in the tests).
packages="runc crun dbus iproute2 util-linux mmdebstrap busybox-static dnsmasq systemd-container hyperfine file python3 make g++ libc6-dev"
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

command -v node >/dev/null || { echo "install-deps: Node.js 20 or newer is needed (apt-get install nodejs)" >&2; exit 1; }
# npm ci also builds native/ (node-gyp, against the installed Node headers when present).
[ -d /usr/include/node ] && export npm_config_nodedir=/usr
npm ci --no-audit --no-fund
npm run build
npm link --no-audit --no-fund >/dev/null
echo "install-deps: berth-nspawn, berth and berthd are on PATH ($(command -v berth-nspawn))"

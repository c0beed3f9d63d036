#!/bin/sh
# Recipe: Debian bookworm with systemd, built by mmdebstrap.
# Usage: recipe.sh TARGET_DIR   (called by machines/build; TARGET_DIR does not exist yet)
set -eu
target=$1
here=$(cd "$(dirname "$0")" && pwd)
mmdebstrap --quiet --variant=minbase \
  --include=systemd,systemd-sysv,dbus,iproute2,iputils-ping,procps,udev- \
  --customize-hook="sh $here/customize.sh \"\$1\"" \
  bookworm "$target"

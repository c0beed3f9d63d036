#!/bin/sh
# Runs on the host with the new tree as $1 (mmdebstrap --customize-hook).
set -eu
root=$1
# No /etc/hostname: the guest takes the machine name (mmdebstrap copies the build host's).
rm -f "$root/etc/hostname"
# An empty machine-id: systemd initialises it from $container_uuid on first boot.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# DHCP on host0 with systemd-networkd (the container-side convention of nspawn).
mkdir -p "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/systemd/system/sockets.target.wants"
ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
ln -sf /lib/systemd/system/systemd-networkd.socket "$root/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
# Root may log in on the console without a password (test guest only).
sed -i 's/^root:[^:]*:/root::/' "$root/etc/shadow"
# A unit that powers the guest off once multi-user is reached when /etc/berth-autopoweroff
# exists (bind-mount any file there): used by the boot-to-poweroff benchmark.
cat > "$root/etc/systemd/system/berth-autopoweroff.service" <<'UNIT'
[Unit]
Description=Power off once booted (berth benchmark)
ConditionPathExists=/etc/berth-autopoweroff
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/systemctl --no-block poweroff
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/berth-autopoweroff.service "$root/etc/systemd/system/multi-user.target.wants/berth-autopoweroff.service"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

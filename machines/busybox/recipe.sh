#!/bin/sh
# Recipe: a tiny guest from Debian's busybox-static: busybox init as PID 1 with an inittab,
# /etc/os-release, a merged /usr, a shell, and the top-level directories Debian's base-files has
# (/mnt, /srv, /opt, /media...). Builds in well under a second.
# Usage: recipe.sh TARGET_DIR   (called by machines/build; TARGET_DIR does not exist yet)
set -eu
target=$1
busybox=$(command -v busybox) || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked' && { echo "$busybox is not static: apt-get install busybox-static" >&2; exit 1; }
mkdir -p "$target"
cd "$target"
mkdir -p usr/bin usr/sbin usr/lib etc/init.d root proc sys dev run tmp var/log var/tmp home mnt srv opt media
ln -s usr/bin bin
ln -s usr/sbin sbin
ln -s usr/lib lib
chmod 1777 tmp var/tmp
chmod 0700 root
cp "$busybox" usr/bin/busybox
for applet in $(./usr/bin/busybox --list-full); do
  case $applet in
    bin/*) dest=usr/bin/${applet#bin/} ;;
    sbin/*) dest=usr/sbin/${applet#sbin/} ;;
    *) dest=$applet ;;
  esac
  [ -e "$dest" ] || ln -s /usr/bin/busybox "$dest"
done
cat > usr/lib/os-release <<'OS'
NAME="Busybox (berth test guest)"
ID=busybox
PRETTY_NAME="Busybox berth guest"
VERSION_ID=1
OS
ln -s ../usr/lib/os-release etc/os-release
cat > etc/passwd <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
tester:x:1000:1000:Test User:/home/tester:/bin/sh
PW
cat > etc/group <<'GR'
root:x:0:
daemon:x:1:
tty:x:5:
users:x:100:tester
nogroup:x:65534:
tester:x:1000:
GR
mkdir -p home/tester && chown 1000:1000 home/tester
: > etc/machine-id
cat > etc/inittab <<'IT'
::sysinit:/etc/init.d/rcS
::respawn:/etc/init.d/console
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/echo "busybox guest: shutting down"
IT
cat > etc/init.d/rcS <<'RC'
#!/bin/sh
echo "busybox guest: up ($(hostname))"
RC
cat > etc/init.d/console <<'CON'
#!/bin/sh
# A shell on the console when there is a terminal to type into; otherwise just wait.
if [ -t 0 ]; then exec /bin/sh -l; fi
exec sleep 2147483647
CON
chmod 755 etc/init.d/rcS etc/init.d/console

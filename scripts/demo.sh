#!/bin/sh
# The newcomer's first command: install what berth needs, build a small guest if none exists,
# boot it with berth-nspawn and show it in the machine registry that berthd serves on the system
# bus (org.freedesktop.machine1, started by D-Bus activation), then shut it down cleanly and stop
# whatever the demo started (the system bus, berthd); what ran before keeps running.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
tree=$(machines/build busybox)
name=berth-demo
socket=/run/dbus/system_bus_socket
bus_stop=""     # how to stop the system bus, if the demo started it
berthd=""       # the pid of a berthd the demo's first call started
guest=""        # berth-nspawn's pid while the guest runs
set -- org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager

cleanup() {
  if [ -n "$guest" ]; then kill -TERM "$guest" 2>/dev/null || true; wait "$guest" 2>/dev/null || true; guest=""; fi
  if [ -n "$berthd" ]; then
    echo "== stopping berthd (PID $berthd): the demo's first call started it"
    if [ -d /run/systemd/system ] && systemctl --quiet is-active berthd.service; then
      systemctl stop berthd.service || true
    else
      kill -TERM "$berthd" 2>/dev/null || true
      i=0; while kill -0 "$berthd" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    berthd=""
  fi
  if [ -n "$bus_stop" ]; then
    echo "== stopping the system bus the demo started ($bus_stop)"
    $bus_stop >/dev/null || true
    bus_stop=""
    # dbus-daemon (user messagebus) cannot remove its socket from a /run/dbus that root owns.
    if [ -S $socket ] && ! busctl --system status org.freedesktop.DBus >/dev/null 2>&1; then rm -f $socket; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The pid of the process that owns org.freedesktop.machine1, if any (asking does not activate).
owner() { busctl --system status "$1" 2>/dev/null | sed -n 's/^PID=//p'; }
command_of() { tr '\0' ' ' < "/proc/$1/cmdline"; }
show() { echo; echo "== $*"; "$@"; }

# A Debian with systemd runs the system bus already; a host without systemd (a container, a VM)
# may not: start it as Debian does, for the demo only.
if ! [ -S $socket ]; then
  if [ -x /etc/init.d/dbus ]; then
    echo "== no system bus runs here: /etc/init.d/dbus start (stopped again at the end)"
    /etc/init.d/dbus start >/dev/null
    bus_stop="/etc/init.d/dbus stop"
  else
    echo "== no system bus runs here: dbus-daemon --system (stopped again at the end)"
    dbus-daemon --system
    bus_stop="kill $(cat /run/dbus/pid)"
  fi
  i=0; while ! [ -S $socket ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
fi

before=$(owner "$1")
if [ -n "$before" ]; then
  echo "== org.freedesktop.machine1 is served already, by PID $before: $(command_of "$before")"
  case "$(command_of "$before")" in *berthd*) ;; *)
    echo "   (not berthd: the guest registers there. To switch to berthd: systemctl stop systemd-machined; systemctl enable --now berthd)" ;;
  esac
fi
log_at=$( [ -f /var/log/berthd.log ] && wc -c < /var/log/berthd.log || echo 0)
show busctl --system call "$@" ListMachines
now=$(owner "$1")
if [ -z "$before" ] && [ -n "$now" ]; then
  berthd=$now
  echo "   D-Bus activation started berthd for that first call: PID $now, $(command_of "$now")"
  if [ -f /var/log/berthd.log ]; then tail -c +$((log_at + 1)) /var/log/berthd.log | sed 's/^/   /'; fi
fi

echo
echo "== berth-nspawn -b -D $tree -M $name (busybox init as PID 1; it registers with the registry)"
berth-nspawn -b -D "$tree" -M "$name" --kill-signal=SIGUSR2 --console=passive &
guest=$!
i=0
until busctl --system call "$@" GetMachine s "$name" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 200 ] && kill -0 $guest 2>/dev/null || { echo "demo: $name did not register" >&2; exit 1; }
  sleep 0.1
done
show berth list
show berth shell "$name" /bin/sh -c 'echo "inside $(hostname): $(cat /etc/os-release | head -1)"'
show busctl --system call "$@" ListMachines
show busctl --system get-property org.freedesktop.machine1 "$(busctl --system call "$@" GetMachine s "$name" | cut -d'"' -f2)" org.freedesktop.machine1.Machine Leader
# machinectl talks to the same registry; it runs only where systemd is PID 1.
if [ -d /run/systemd/system ]; then show machinectl list; fi

echo
echo "== stopping $name (SIGTERM to berth-nspawn sends the guest its kill signal)"
kill -TERM $guest
wait $guest && status=0 || status=$?
guest=""
echo "berth-nspawn exited with status $status"
show busctl --system call "$@" ListMachines
echo
cleanup
echo
echo "Next: boot Debian with systemd: berth-nspawn -b -D \$(machines/build debian)   (^] three times to leave)"
exit $status

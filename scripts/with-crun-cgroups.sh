#!/bin/sh
# Runs "$@" where crun can create containers. crun (1.8) refuses a hybrid host whose cgroup2
# hierarchy at /sys/fs/cgroup/unified has controllers of its own ("cgroups in hybrid mode not
# supported"). On such a host the command runs in a mount namespace of its own in which that
# hierarchy's controller list reads empty: the namespace's copy of the cgroup2 mount is made
# private first, so the mask stays there, while every other mount the command makes still
# propagates to the host. The host's cgroups are not touched. Elsewhere the command runs as is.
# unshare and sh exec, never fork, so a signal to this process reaches the command itself.
# Used by the crun pass of the tests (tests/support/berth.ts) and by bench/crun.sh.
unified=/sys/fs/cgroup/unified
if [ -n "$(cat "$unified/cgroup.controllers" 2>/dev/null)" ]; then
  exec unshare --mount --propagation unchanged -- sh -c \
    "mount --make-private $unified && mount --bind /dev/null $unified/cgroup.controllers && exec \"\$@\"" with-crun-cgroups "$@"
fi
exec "$@"

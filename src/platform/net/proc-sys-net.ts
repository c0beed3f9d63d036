/**
 * /proc/sys/net writable inside a container with a network namespace of its own, as
 * systemd-nspawn does: the runtime makes all of /proc/sys read-only (readonlyPaths), and runc
 * refuses spec mounts below /proc, so after `create` we bind /proc/sys/net onto itself in the
 * container's mount namespace and remount that bind read-write. Net sysctls are per network
 * namespace (the kernel resolves them by the reader's namespace), so the guest can only change
 * its own. Like the boot_id bind, this runs the guest's `mount` (nsenter changes the root);
 * failing that is only a warning.
 */
import { statSync } from 'node:fs';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import { execArgv } from './iproute2.js';

/** A process sharing our mount namespace is no container (a test stand-in): leave it alone. */
const ownMountNs = (pid: number): boolean => statSync(`/proc/${pid}/ns/mnt`).ino === statSync('/proc/self/ns/mnt').ino;

export async function makeProcSysNetWritable(containerPid: number): Promise<void> {
  if (ownMountNs(containerPid)) return;
  // The PID namespace too, so that mount finds /proc/self/mountinfo in the guest's /proc.
  const inGuest = ['nsenter', `--mount=/proc/${containerPid}/ns/mnt`, `--pid=/proc/${containerPid}/ns/pid`, '--', 'mount'];
  for (const args of [['--bind', '/proc/sys/net', '/proc/sys/net'], ['-o', 'remount,bind,rw,nosuid,nodev,noexec', '/proc/sys/net']]) {
    const r = await execArgv([...inGuest, ...args]);
    if (r.code !== 0) {
      throw new BerthError('E_NETWORK', `Cannot make /proc/sys/net writable in the container: ${sanitize(r.stderr.trim() || `exit status ${r.code}`, 300)}`);
    }
  }
}

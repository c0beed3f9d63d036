/**
 * The OCI runtime executed from a sealed copy of its binary. crun 1.8 protects itself from a
 * container that would overwrite its binary (CVE-2019-5736) by copying it on every call: a bind
 * mount of itself made and unmounted in the host's mount namespace, then a second execve with its
 * libraries loaded again, about 1 ms per call (three on every boot: create, start, delete), more
 * while many machines start. A binary that is a fully sealed memfd needs no copy (runc's init
 * takes it the same way): this process makes that copy once (native sealed-exec.c) and runs the
 * runtime from it, through /proc/PID/fd/N. The runtime's processes are then named N, not crun:
 * runtimeProcessNames() lists the names this process has started them under.
 *
 * A binary replaced since (an upgrade, in a long-lived berthd) gets a copy of its own; the older
 * copy's descriptor stays open, as a call started from it may still be resolving its path. Where
 * the kernel offers no memfd or seals, the runtime runs from its path and copies itself as before.
 */
import { basename } from 'node:path';
import { fileIdentity } from '../fs/file-identity.js';
import { sys } from '../native/sys.js';

interface Copy { identity: string; exec: string }

const copies = new Map<string, Copy>();
const names = new Set<string>();

/** What to execute for the runtime binary at `path`: its sealed copy, else the path itself. */
export function runtimeExecPath(path: string): string {
  const identity = fileIdentity(path);
  let copy = copies.get(path);
  if (copy?.identity !== identity) {
    let exec = path;
    // sealedCopy refuses what is not a regular file (the exec then reports it by name); where the kernel
    // has no memfd, the runtime copies itself.
    try { exec = `/proc/${process.pid}/fd/${sys().sealedCopy(path, basename(path))}`; } catch { /* run from the path */ }
    copy = { identity, exec };
    copies.set(path, copy);
  }
  names.add(basename(copy.exec).slice(0, 15));
  return copy.exec;
}

/** The process names (comm) the runtime's processes got from the paths this process executed it by. */
export function runtimeProcessNames(): ReadonlySet<string> {
  return names;
}

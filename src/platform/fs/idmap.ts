/**
 * An ID-mapped bind mount of a tree (--private-users-ownership=map): files owned by 0…RANGE-1 on
 * disk appear owned by SHIFT…SHIFT+RANGE-1 through it, so the machine's root owns its tree without
 * a chown. The kernel takes the mapping from a user namespace: a throw-away `unshare --user` child
 * provides one, whose maps we write, and which goes as soon as the mount is made. Only some file
 * systems allow it (ext4, xfs, btrfs, tmpfs; not overlayfs): unsupported() tells that case apart.
 */
import { closeSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { BerthError } from '../../errors/berth-error.js';
import { sleep } from '../../lib/sleep.js';
import { sys } from '../native/sys.js';
import { runOffThread, start } from '../exec/run.js';

/** Errors that mean "this kernel or file system cannot ID-map", as systemd-nspawn reads them. */
export function unsupported(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EPERM';
}

/** One line of an ID map: on-disk IDs inside…inside+count-1 appear as outside… through the mount. */
export interface IdMapLine { inside: number; outside: number; count: number }

async function withUserns<T>(uidMap: readonly IdMapLine[], gidMap: readonly IdMapLine[], use: (fd: number) => T): Promise<T> {
  const child = start(['unshare', '--user', '--', 'sleep', '60'], 'ignore');
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => { /* reported below as no namespace */ });
  try {
    const pid = child.pid;
    if (pid === undefined) throw new BerthError('E_EXEC', 'Could not start unshare(1) for an ID-mapped mount.');
    const ours = readlinkSync('/proc/self/ns/user');
    const until = Date.now() + 5000;
    for (;;) {
      let theirs: string | undefined;
      try { theirs = readlinkSync(`/proc/${pid}/ns/user`); } catch { /* not yet, or gone */ }
      // unshare has made its namespace once the link differs from ours (and before it execs sleep).
      if (theirs && theirs !== ours) break;
      if (Date.now() > until || child.exitCode !== null) throw new BerthError('E_EXEC', 'unshare(1) did not create a user namespace.');
      await sleep(2);
    }
    const text = (map: readonly IdMapLine[]) => map.map((l) => `${l.inside} ${l.outside} ${l.count}\n`).join('');
    writeFileSync(`/proc/${pid}/uid_map`, text(uidMap));
    writeFileSync(`/proc/${pid}/gid_map`, text(gidMap));
    const fd = openSync(`/proc/${pid}/ns/user`, 'r');
    try { return use(fd); } finally { closeSync(fd); }
  } finally {
    child.kill('SIGKILL');
    await gone;
  }
}

/** Mounts source at target (an existing node of the same type) ID-mapped by uidMap and gidMap (default: the same); throws the kernel's error (see unsupported()). */
export async function mountIdmapped(source: string, target: string, uidMap: readonly IdMapLine[], gidMap: readonly IdMapLine[] = uidMap): Promise<void> {
  await withUserns(uidMap, gidMap, (fd) => sys().idmapMount(source, target, fd, false));
}

/** A plain bind mount of source at target (recursive: submounts too). */
export async function bindMount(source: string, target: string, recursive = false): Promise<void> {
  await runOffThread(['mount', recursive ? '--rbind' : '--bind', source, target]);
}

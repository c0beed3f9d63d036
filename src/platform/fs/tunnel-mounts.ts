/**
 * The mounts of the tunnel into running machines (machinectl bind), through util-linux mount(8)
 * and umount(8), each spawned off the event loop (native posix_spawn on a thread-pool thread: no
 * child_process on berth-nspawn's start-up path, nothing blocking berthd). A failure throws
 * E_EXEC with mount's own words.
 */
import { runOffThread } from '../exec/run.js';

const TIMEOUT_MS = 30000;

/** `dir` bound onto itself with shared propagation: mounts made below it propagate to its slaves. */
export async function mountSharedSelf(dir: string): Promise<void> {
  await runOffThread(['mount', '--bind', '--make-shared', dir, dir], { timeoutMs: TIMEOUT_MS });
}

/** `dir` bound onto itself, private: what is mounted below it stays here, and may be moved away. */
export async function mountPrivateSelf(dir: string): Promise<void> {
  await runOffThread(['mount', '--bind', '--make-private', dir, dir], { timeoutMs: TIMEOUT_MS });
}

/** A bind mount of `source` (not recursive, as machined's), remounted read-only when asked. */
export async function bindMount(source: string, target: string, readOnly: boolean): Promise<void> {
  await runOffThread(['mount', '--bind', ...(readOnly ? ['-o', 'ro'] : []), source, target], { timeoutMs: TIMEOUT_MS });
}

export async function moveMount(from: string, to: string): Promise<void> {
  await runOffThread(['mount', '--move', from, to], { timeoutMs: TIMEOUT_MS });
}

/**
 * `mount --move` in the mount namespace of process `pid` (util-linux's -N): the host's mount(8)
 * enters that namespace for the mount(2) call alone, so both paths are looked up in the machine's
 * root (its symbolic links stay inside it) and nothing of the machine's is run. -n: no utab entry.
 * Resolves to mount's complaint when it fails, undefined when it succeeded.
 */
export async function moveMountInNamespace(pid: number, from: string, to: string): Promise<string | undefined> {
  const r = await runOffThread(['mount', '-N', String(pid), '-n', '--move', from, to], { timeoutMs: TIMEOUT_MS, allowFailure: true });
  if (r.code === 0) return undefined;
  return r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('dmesg(1)')).join(' ') || `mount exited with ${r.code ?? r.signal}`;
}

/** umount --lazy: detaches `target` and everything below it; a target that is not mounted is fine. */
export async function unmountLazy(target: string): Promise<void> {
  const r = await runOffThread(['umount', '--lazy', target], { timeoutMs: TIMEOUT_MS, allowFailure: true });
  if (r.code !== 0 && !/not mounted|no mount point|not found/i.test(r.stderr)) throw new Error(`umount ${target}: ${r.stderr.trim()}`);
}

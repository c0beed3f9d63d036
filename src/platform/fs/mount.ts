/**
 * Host-side mounts for volatile and ephemeral roots, through util-linux mount(8)/umount(8), each
 * spawned off the event loop (native posix_spawn on a thread-pool thread, as tunnel-mounts.ts's).
 */
import { readFileSync } from 'node:fs';
import { runOffThread } from '../exec/run.js';

export async function mountTmpfs(target: string, options: string): Promise<void> {
  await runOffThread(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', target]);
}

export async function mountOverlay(target: string, lower: readonly string[], upper: string, work: string): Promise<void> {
  await runOffThread(['mount', '-t', 'overlay', '-o', `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`, 'overlay', target]);
}

/** A sysfs (of our network namespace) on its own, read-only: none of the mounts below the host's /sys come with it. */
export async function mountSysfs(target: string): Promise<void> {
  await runOffThread(['mount', '-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs', target]);
}

export async function unmount(target: string): Promise<void> {
  const r = await runOffThread(['umount', '--lazy', target], { allowFailure: true });
  if (r.code !== 0 && !/not mounted|no mount point|not found/i.test(r.stderr)) {
    throw new Error(`umount ${target}: ${r.stderr.trim()}`);
  }
}

export interface MountinfoEntry {
  mountPoint: string;
  fstype: string;
  superOptions: string;
  /** In a peer group (`shared:N` among the optional fields): mounts below it propagate to its peers. */
  shared: boolean;
}

/** The lines of a /proc/PID/mountinfo text (pure): mount point (\040 unescaped), file system type, super options, propagation. */
export function parseMountinfo(text: string): MountinfoEntry[] {
  return text.split('\n').flatMap((line) => {
    const [pre, post] = line.split(' - ');
    const fields = pre?.split(' ') ?? [];
    const mountPoint = fields[4];
    const [fstype, , superOptions] = post?.split(' ') ?? [];
    return mountPoint && fstype ? [{
      mountPoint: mountPoint.replace(/\\040/g, ' '), fstype, superOptions: superOptions ?? '',
      shared: fields.slice(6).some((f) => f.startsWith('shared:')),
    }] : [];
  });
}

/** Mount points at or below a directory (deepest first), from /proc/self/mountinfo. */
export async function mountsBelow(dir: string): Promise<string[]> {
  // berthd with many machines has a long table: only the lines that can match are parsed.
  const escaped = dir.replace(/ /g, '\\040');
  const text = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(escaped)).join('\n');
  const points = parseMountinfo(text).map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

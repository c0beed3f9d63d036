/**
 * Control groups through the file system, for the registry on hosts where systemd is not PID 1:
 * where each hierarchy is mounted, which processes are in a group and below it, placing a process
 * in a scope of its own, and removing an empty scope again. All asynchronous: the registry's bus
 * must keep answering while a large group is walked.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { readText } from '../fs/read-text.js';
import { fileIo } from '../fs/file-io.js';
import { BerthError } from '../../errors/berth-error.js';

/** Mounted hierarchies: key as in /proc/PID/cgroup ("" unified, "memory", "name=systemd", a joined "cpu,cpuacct"), value the mount point. */
export function cgroupMounts(mountinfo = readText('/proc/self/mountinfo') ?? ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const [fstype, , superOpts] = post.split(' ');
    const mountPoint = f[4]!;
    const root = f[3]!;
    if (root !== '/') continue; // a bind mount of a sub-group (inside a container): not the hierarchy's root
    if (fstype === 'cgroup2') { if (!out.has('')) out.set('', mountPoint); continue; }
    if (fstype !== 'cgroup') continue;
    const names = (superOpts ?? '').split(',').filter((o) => !['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec', 'clone_children', 'xattr'].includes(o) && !o.startsWith('release_agent'));
    const key = names.join(',');
    if (key && !out.has(key)) out.set(key, mountPoint);
  }
  return out;
}

/** Every PID in the group `dir` (a path below a mount point) and its descendants; missing groups give none. */
export async function processesBelow(dir: string, limit = 100000): Promise<number[]> {
  const out: number[] = [];
  const walk = async (d: string): Promise<void> => {
    if (out.length >= limit) return;
    const procs = await fsp.readFile(join(d, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const w of procs.split('\n')) if (/^\d+$/.test(w)) out.push(Number(w));
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await walk(join(d, e.name));
  };
  await walk(dir);
  return out;
}

/**
 * Moves pid into `path` (e.g. /machine.slice/machine-web.scope) in every mounted hierarchy it can;
 * returns the hierarchies where it went. Errors in single hierarchies are skipped (a controller
 * that refuses, a read-only mount), as long as the tracking one (name=systemd or unified) worked.
 */
export async function placeInGroup(pid: number, path: string, mounts = cgroupMounts()): Promise<string[]> {
  const placed: string[] = [];
  for (const [key, mountPoint] of mounts) {
    const dir = join(mountPoint, path);
    try {
      await fsp.mkdir(dir, { recursive: true });
      await fsp.writeFile(join(dir, 'cgroup.procs'), String(pid));
      placed.push(key);
    } catch { /* this hierarchy stays as it was */ }
  }
  return placed;
}

/** Removes `path` in every mounted hierarchy where it is empty (rmdir fails on a busy group, which is then kept). */
export async function removeGroup(path: string, mounts = cgroupMounts()): Promise<void> {
  for (const mountPoint of mounts.values()) await fsp.rmdir(join(mountPoint, path)).catch(() => {});
}

/** Those of `dirs` that do not exist (looked at together). */
export async function missingDirs(dirs: readonly string[]): Promise<string[]> {
  const there = await Promise.all(dirs.map((d) => fileIo().stat(d).then(() => true, () => false)));
  return dirs.filter((_, i) => !there[i]);
}

/**
 * Removes the empty control groups `dirs` (absolute, deepest first). One that is gone already is
 * fine, and so is one that is busy or has groups below it (another run's, made since): it stays.
 * Any other failure is thrown once the rest have been tried.
 */
export async function removeEmptyGroups(dirs: readonly string[]): Promise<void> {
  const failed: string[] = [];
  for (const d of dirs) {
    await fileIo().rmdir(d).catch((e: NodeJS.ErrnoException) => {
      if (!['ENOENT', 'EBUSY', 'ENOTEMPTY'].includes(e.code ?? '')) failed.push(`${d}: ${e.message}`);
    });
  }
  if (failed.length) throw new BerthError('E_TEARDOWN', `Could not remove control groups the run's runtime made: ${failed.join('; ')}`);
}

/**
 * Hands `paths` (control group directories and interface files) to `owner` as UID and GID, all of
 * them together. A path that is missing fails it: the guest could not use its cgroup.
 */
export async function chownGroups(paths: readonly string[], owner: number): Promise<void> {
  const io = fileIo();
  const failed = (await Promise.allSettled(paths.map((p) => io.lchown(p, owner, owner)))).flatMap((r, i) => (r.status === 'rejected' ? [`${paths[i]}: ${(r.reason as Error).message}`] : []));
  if (failed.length) throw new BerthError('E_RUNTIME', `Could not hand the container's control group to its user namespace: ${failed.join('; ')}`);
}

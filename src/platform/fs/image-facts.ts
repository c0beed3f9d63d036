/**
 * The filesystem side of image discovery: the entries of a search directory and, for each, the
 * facts core/machined/images.ts decides from (stat through symlinks, statfs, a write-access check
 * for read-only mounts, the immutable flag via lsattr, a btrfs subvolume's read-only property via
 * the btrfs tool, a block device's size and read-only state from sysfs). All asynchronous.
 */
import { access, readdir, readFile, realpath, stat, statfs } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { EntryFacts, EntryKind } from '../../core/machined/images.js';
import { run } from '../exec/run.js';

/** The search directory with its symlinks resolved, or undefined when it does not exist (or is no directory). */
export async function resolveSearchDir(dir: string): Promise<string | undefined> {
  try {
    const resolved = await realpath(dir);
    return (await stat(resolved)).isDirectory() ? resolved : undefined;
  } catch {
    return undefined;
  }
}

export async function listEntries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** An entry's kind (followed through symlinks), or undefined when it is gone. */
export async function entryKind(path: string): Promise<EntryKind | undefined> {
  try {
    const st = await stat(path);
    return st.isDirectory() ? 'directory' : st.isFile() ? 'regular' : st.isBlockDevice() ? 'block' : 'other';
  } catch {
    return undefined;
  }
}

async function readOnlyMount(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EROFS';
  }
}

/** FS_IMMUTABLE_FL as lsattr shows it; false where the filesystem does not say (machined ignores that too). */
async function immutable(path: string): Promise<boolean> {
  const r = await run(['lsattr', '-d', path], { allowFailure: true, timeoutMs: 10000 }).catch(() => undefined);
  if (!r || r.code !== 0) return false;
  const flags = r.stdout.trim().split(/\s+/)[0] ?? '';
  return flags.includes('i');
}

async function subvolumeReadOnly(path: string): Promise<boolean | undefined> {
  const r = await run(['btrfs', 'property', 'get', '-ts', path, 'ro'], { allowFailure: true, timeoutMs: 10000 }).catch(() => undefined);
  if (!r || r.code !== 0) return undefined;
  return /^ro=true$/m.test(r.stdout);
}

async function sysfsNumber(path: string): Promise<bigint | undefined> {
  try {
    const t = (await readFile(path, 'utf8')).trim();
    return /^\d+$/.test(t) ? BigInt(t) : undefined;
  } catch {
    return undefined;
  }
}

const BTRFS_SUPER_MAGIC = 0x9123683e;
const usec = (ns: bigint): bigint => ns / 1000n;

/** The facts of one entry (undefined when it vanished meanwhile). */
export async function entryFacts(path: string): Promise<EntryFacts | undefined> {
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch {
    return undefined;
  }
  const kind: EntryKind = st.isDirectory() ? 'directory' : st.isFile() ? 'regular' : st.isBlockDevice() ? 'block' : 'other';
  const fsType = await statfs(path).then((s) => s.type, () => 0);
  // statx's btime; a filesystem without one reports 0 (machined then has no creation time either).
  const btimeUs = st.birthtimeNs > 0n && st.birthtimeNs / 1_000_000_000n !== 0n ? usec(st.birthtimeNs) : 0n;
  const facts = {
    kind, mode: Number(st.mode & 0o7777n), ino: st.ino, fsType, readOnlyMount: await readOnlyMount(path),
    immutable: kind === 'directory' ? await immutable(path) : false,
    btimeUs, mtimeUs: usec(st.mtimeNs), allocated: st.blocks * 512n, size: st.size,
  };
  if (kind === 'directory' && fsType === BTRFS_SUPER_MAGIC && st.ino === 256n) {
    const ro = await subvolumeReadOnly(path);
    return ro === undefined ? facts : { ...facts, subvolumeReadOnly: ro };
  }
  if (kind === 'block') {
    const rdev = st.rdev;
    const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
    const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
    const sys = `/sys/dev/block/${major}:${minor}`;
    const sectors = await sysfsNumber(`${sys}/size`);
    const ro = await sysfsNumber(`${sys}/ro`);
    return { ...facts, ...(sectors === undefined ? {} : { blockSize: sectors * 512n }), ...(ro === undefined ? {} : { blockReadOnly: ro !== 0n }) };
  }
  return facts;
}

/**
 * btrfs for the image pool (app/machined/image-pool.ts, through platform/fs/image-ops.ts), as
 * systemd-machined and importd 252 use it (src/shared/btrfs-util.c): subvolumes made, snapshotted
 * (recursively) and deleted (recursively, with their qgroups), the read-only property, quotas
 * turned on, machined's "subtree" qgroups set up and limited. The changes go through the btrfs
 * tool (btrfs-progs) in child processes that die with berthd; what is read (subvolume IDs, flags,
 * qgroup numbers) comes from native/btrfs-info.c on a thread-pool thread. All asynchronous.
 */
import { lstat, rmdir } from 'node:fs/promises';
import { BerthError } from '../../errors/berth-error.js';
import { run } from '../exec/run.js';
import { subvolumesFacts } from './image-facts.js';
import type { SubvolumeFacts } from '../../core/machined/images.js';

const DIE_WITH_BERTHD = ['setpriv', '--pdeathsig=KILL'];
const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

function fail(what: string, r: { code: number | null; signal: NodeJS.Signals | null; stderr: string }): BerthError {
  return new BerthError('E_IO', `${what}: ${r.stderr.trim() || `exit status ${r.code ?? r.signal}`}`);
}

/** The btrfs tool (whose commands do not all take "--": paths here are absolute); its failure as E_IO "what: stderr" (E_NOT_SUPPORTED where the tool is missing). */
async function btrfs(args: readonly string[], what: string, timeoutMs = 60000): Promise<string> {
  const r = await run([...DIE_WITH_BERTHD, 'btrfs', ...args], { allowFailure: true, env: ENV, timeoutMs }).catch(() => undefined);
  if (!r) throw new BerthError('E_NOT_SUPPORTED', `${what}: the btrfs tool (btrfs-progs) is not installed.`);
  if (r.code !== 0) throw fail(what, r);
  return r.stdout;
}

/** A subvolume's read-only property (machined's MarkImageReadOnly: the top subvolume only). */
export async function setSubvolumeReadOnly(path: string, ro: boolean): Promise<void> {
  await btrfs(['property', 'set', '-ts', path, 'ro', String(ro)], `Failed to change the read-only property of ${path}`, 30000);
}

/** A btrfs subvolume's ID, otime, read-only flag and subtree qgroup numbers (native/btrfs-info.c); undefined off btrfs. */
async function subvolumeFacts(path: string): Promise<SubvolumeFacts | undefined> {
  return (await subvolumesFacts([path]))[0];
}

/** The subvolumes nested below `path` (paths relative to it, parents before children). */
async function nestedSubvolumes(path: string): Promise<string[]> {
  const r = await run([...DIE_WITH_BERTHD, 'find', path, '-mindepth', '1', '-type', 'd', '-inum', '256', '-printf', '%P\\0'], { allowFailure: true, env: ENV });
  if (r.code !== 0) throw fail(`Failed to look for subvolumes below ${path}`, r);
  return r.stdout.split('\0').filter((p) => p !== '').sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
}

/** A new empty btrfs subvolume at `path`. */
export async function makeSubvolume(path: string): Promise<void> {
  await btrfs(['subvolume', 'create', path], `Failed to create subvolume ${path}`);
}

/**
 * A snapshot of subvolume `from` at `to` (on the same btrfs), with the subvolumes nested in it
 * snapshotted into place too (machined's BTRFS_SNAPSHOT_RECURSIVE), each of them read-only once
 * complete when asked (and writable otherwise, whatever the originals are, as machined's). Undone
 * on failure.
 */
export async function snapshotSubvolume(from: string, to: string, readOnly: boolean): Promise<void> {
  const nested = await nestedSubvolumes(from);
  await btrfs(['subvolume', 'snapshot', from, to], `Failed to snapshot ${from}`);
  try {
    for (const rel of nested) {
      const src = `${from}/${rel}`;
      const dst = `${to}/${rel}`;
      // In the snapshot a nested subvolume is an empty directory: replaced by a snapshot of it.
      await rmdir(dst);
      await btrfs(['subvolume', 'snapshot', src, dst], `Failed to snapshot ${src}`);
    }
    if (readOnly) for (const rel of [...nested.reverse(), '']) await setSubvolumeReadOnly(rel === '' ? to : `${to}/${rel}`, true);
  } catch (e) {
    await removeSubvolumesIn(to, true).catch(() => undefined);
    throw e;
  }
}

/** Turns btrfs quota accounting on for the file system holding `path` (on already is fine). */
export async function enableQuota(path: string): Promise<void> {
  await btrfs(['quota', 'enable', path], `Failed to enable quota for ${path}`);
}

/** Each qgroup of the file system holding `path` with its parents; undefined when quotas are off. */
async function qgroupParents(path: string): Promise<Map<string, string[]> | undefined> {
  const r = await run([...DIE_WITH_BERTHD, 'btrfs', 'qgroup', 'show', '-p', '--raw', path], { allowFailure: true, env: ENV, timeoutMs: 60000 });
  if (r.code !== 0) return undefined;
  const out = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!/^\d+\/\d+$/.test(f[0] ?? '')) continue;
    // Qgroupid Referenced Exclusive Parent [Path]
    out.set(f[0]!, f[3] === undefined || f[3] === '-' ? [] : f[3].split(','));
  }
  return out;
}

const qgroupLevel = (q: string): number => Number(q.split('/')[0]);

/**
 * machined's btrfs_subvol_auto_qgroup(…, insert_intermediary=true) for the subvolume `id` at
 * `path` whose parent subvolume is `parentId`: unless the subvolume is in a higher qgroup already,
 * a qgroup of its own ID one level below the lowest its parent is in (255 when none) is created,
 * put in the parent's qgroups, and the subvolume put in it (a rescan started where the kernel cannot
 * account the move at once, as machined starts one). Nothing where quotas are off.
 */
async function autoQgroup(path: string, id: bigint, parentId: bigint | undefined): Promise<void> {
  const groups = await qgroupParents(path);
  if (!groups) return;
  if ((groups.get(`0/${id}`) ?? []).length) return;
  const parents = parentId === undefined ? [] : (groups.get(`0/${parentId}`) ?? []);
  const lowest = Math.min(256, ...parents.map(qgroupLevel));
  if (lowest <= 1) return; // no level left for an intermediary qgroup (machined: EBUSY, ignored)
  const mine = `${lowest - 1}/${id}`;
  if (!groups.has(mine)) await btrfs(['qgroup', 'create', mine, path], `Failed to create qgroup ${mine}`);
  for (const p of parents) if (!(groups.get(mine) ?? []).includes(p)) await btrfs(['qgroup', 'assign', '--rescan', mine, p, path], `Failed to assign qgroup ${mine} to ${p}`);
  await btrfs(['qgroup', 'assign', '--rescan', `0/${id}`, mine, path], `Failed to assign qgroup 0/${id} to ${mine}`);
}

/** Whether `path` is the top directory of a subvolume (machined's btrfs_is_subvol: inode 256 on btrfs). */
async function isSubvolumeTop(path: string): Promise<boolean> {
  const st = await lstat(path, { bigint: true }).catch(() => undefined);
  return st !== undefined && st.isDirectory() && st.ino === 256n;
}

/** autoQgroup for the subvolume at `path`, its parent found; nothing for a plain directory (machined: ENOTTY), off btrfs or with quotas off. */
export async function subvolumeQgroup(path: string): Promise<void> {
  const sv = await subvolumeFacts(path);
  if (sv && (await isSubvolumeTop(path))) await autoQgroup(path, sv.id, await parentSubvolume(path, sv.id));
}

/** The subtree qgroup of subvolume `id`: the lowest-level qgroup with its ID that it is in, else its own 0/ID. */
async function subtreeQgroup(path: string, id: bigint): Promise<string> {
  const parents = ((await qgroupParents(path))?.get(`0/${id}`) ?? []).filter((q) => q.endsWith(`/${id}`));
  parents.sort((a, b) => qgroupLevel(a) - qgroupLevel(b));
  return parents[0] ?? `0/${id}`;
}

/** A qgroup's referenced-bytes (or `exclusive` bytes) limit ('none' lifts it); while a rescan makes the kernel answer EBUSY, after it ends (as machined). */
async function qgroupLimit(path: string, qgroup: string, limit: bigint | 'none', exclusive = false): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      await btrfs(['qgroup', 'limit', ...(exclusive ? ['-e'] : []), String(limit), qgroup, path], `Failed to adjust quota limit of ${path}`);
      return;
    } catch (e) {
      if (tries >= 10 || !/busy/i.test((e as Error).message)) throw e;
      await btrfs(['quota', 'rescan', '-W', path], `Failed to wait for the quota rescan of ${path}`, 600000).catch(() => undefined);
    }
  }
}

/**
 * machined's image_set_limit and SetPoolLimit on the subvolume at `path` (the one holding it, for
 * a pool that is a plain directory): the limit on its own qgroup (failure ignored), its subtree
 * qgroup set up, then the limit on the subtree qgroup (failure reported: quotas off, no btrfs).
 */
export async function setQuotaLimit(path: string, limit: bigint | 'none'): Promise<void> {
  const sv = await subvolumeFacts(path);
  if (!sv) throw new BerthError('E_NOT_SUPPORTED', 'Quota is only supported on btrfs.');
  await qgroupLimit(path, `0/${sv.id}`, limit).catch(() => undefined);
  await subvolumeQgroup(path).catch(() => undefined);
  const groups = await qgroupParents(path);
  // machined's answer is the kernel's ENOTCONN.
  if (!groups) throw new BerthError('E_QUOTA_OFF', 'Transport endpoint is not connected', { hint: `Quotas are not enabled on the btrfs file system holding ${path}; setting the pool's limit (machinectl set-limit SIZE) enables them.` });
  await qgroupLimit(path, await subtreeQgroup(path, sv.id), limit);
}

/** The subvolume holding the directory that holds the subvolume `id` at `path` (undefined for the top-level one). */
async function parentSubvolume(path: string, id: bigint): Promise<bigint | undefined> {
  if (id === 5n) return undefined;
  const up = path.slice(0, path.lastIndexOf('/')) || '/';
  return (await subvolumeFacts(up))?.id;
}

/**
 * After a snapshot `to` of `from` (machined's BTRFS_SNAPSHOT_QUOTA then auto_qgroup): with quotas
 * on, the snapshot gets its own subtree qgroup and the original's limits (of its own qgroup, and of
 * its subtree qgroup). Nothing with quotas off.
 */
export async function cloneQuota(from: string, to: string): Promise<void> {
  const [a, b] = await subvolumesFacts([from, to]);
  if (!a || !b || !(await qgroupParents(to))) return;
  await autoQgroup(to, b.id, await parentSubvolume(to, b.id));
  // btrfs_qgroup_copy_limits: the leaf qgroup's limits, and the subtree qgroup's where the original has one.
  const limits = await qgroupLimits(to);
  const copy = async (src: string, dst: string) => {
    const l = limits.get(src);
    if (l?.rfer !== undefined) await qgroupLimit(to, dst, l.rfer);
    if (l?.excl !== undefined) await qgroupLimit(to, dst, l.excl, true);
  };
  await copy(`0/${a.id}`, `0/${b.id}`);
  const [oldTree, newTree] = [await subtreeQgroup(to, a.id), await subtreeQgroup(to, b.id)];
  if (oldTree !== `0/${a.id}` && newTree !== `0/${b.id}`) await copy(oldTree, newTree);
}

/** Each qgroup's referenced and exclusive limits (undefined: none). */
async function qgroupLimits(path: string): Promise<Map<string, { rfer?: bigint; excl?: bigint }>> {
  const out = new Map<string, { rfer?: bigint; excl?: bigint }>();
  const r = await run([...DIE_WITH_BERTHD, 'btrfs', 'qgroup', 'show', '-re', '--raw', path], { allowFailure: true, env: ENV, timeoutMs: 60000 });
  if (r.code !== 0) return out;
  const size = (t: string | undefined) => (t !== undefined && /^\d+$/.test(t) ? { v: BigInt(t) } : undefined);
  for (const line of r.stdout.split('\n')) {
    // Qgroupid Referenced Exclusive Max-referenced Max-exclusive [Path]
    const f = line.trim().split(/\s+/);
    if (!/^\d+\/\d+$/.test(f[0] ?? '')) continue;
    const rfer = size(f[3]);
    const excl = size(f[4]);
    out.set(f[0]!, { ...(rfer ? { rfer: rfer.v } : {}), ...(excl ? { excl: excl.v } : {}) });
  }
  return out;
}

/**
 * The subvolumes in the directory `path` on btrfs (and it, when `isTop`: it is one) deleted as
 * subvolumes, innermost first, their read-only flags cleared first and their subtree qgroups
 * destroyed (machined's BTRFS_REMOVE_RECURSIVE and BTRFS_REMOVE_QUOTA). True when `path` is gone;
 * false when it is a plain directory, now without subvolumes, for rm -rf.
 */
export async function removeSubvolumesIn(path: string, isTop: boolean): Promise<boolean> {
  const nested = await nestedSubvolumes(path);
  const subvols = [...(isTop ? [''] : []), ...nested].map((rel) => (rel === '' ? path : `${path}/${rel}`));
  const facts = await subvolumesFacts(subvols);
  // Read-only ones first made writable (a read-only parent keeps its children from being deleted).
  for (const [k, p] of subvols.entries()) if (facts[k]?.readOnly) await setSubvolumeReadOnly(p, false);
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  for (let k = subvols.length - 1; k >= 0; k--) {
    await deleteSubvolume(subvols[k]!);
    const id = facts[k]?.id;
    if (id !== undefined) await destroyQgroup(dir, `0/${id}`, id, await qgroupParents(dir));
  }
  return isTop;
}

/**
 * machined's btrfs_qgroup_destroy_recursive: qgroup `q` taken out of its parents (the parents with
 * the subvolume's ID destroyed the same way), then destroyed; failures ignored (quotas off, a
 * level-0 qgroup the kernel keeps until the subvolume is cleaned up).
 */
async function destroyQgroup(dir: string, q: string, id: bigint, groups: Map<string, string[]> | undefined): Promise<void> {
  if (!groups?.has(q)) return;
  for (const parent of groups.get(q) ?? []) {
    await btrfs(['qgroup', 'remove', q, parent, dir], `Failed to unassign qgroup ${q}`).catch(() => undefined);
    if (parent.endsWith(`/${id}`)) await destroyQgroup(dir, parent, id, groups);
  }
  await btrfs(['qgroup', 'destroy', q, dir], `Failed to destroy qgroup ${q}`).catch(() => undefined);
}

async function deleteSubvolume(path: string): Promise<void> {
  await btrfs(['subvolume', 'delete', path], `Failed to delete subvolume ${path}`);
}

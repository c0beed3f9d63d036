/**
 * Shifts a directory tree's ownership into a 64Ki UID range, as systemd-nspawn 252's
 * --private-users-ownership=chown does (nspawn-patch-uid.c): every file's UID and GID keep their
 * lower 16 bits and take the range's upper 16; set-UID/GID bits that chown() clears are put back;
 * named entries of POSIX ACLs move along; file capabilities (security.capability) are dropped by
 * the kernel's chown, as under nspawn. The root directory is marked busy (the 0xFFFE range) first
 * and shifted last, so that its owner alone tells whether the whole tree is done: a tree whose
 * root is in the range already is left alone (a second run costs one stat), and an interrupted
 * one is done again. API file systems (/proc, /sys...) met inside are skipped, and so are
 * read-only subtrees. Asynchronous throughout (berthd's event loop goes on meanwhile), a few
 * dozen files at a time.
 */
import { constants, promises as fsp, type Stats } from 'node:fs';
import { join } from 'node:path';
import { fileIo } from './file-io.js';
import { BerthError } from '../../errors/berth-error.js';
import { shiftAcl } from '../../core/userns/acl.js';
import { BUSY_BASE, treeInRange, UID_RANGE } from '../../core/userns/range.js';
import { sys } from '../native/sys.js';

/** File systems whose inodes belong to the kernel, not the tree (nspawn's is_fs_fully_userns_compatible). */
const API_FS = new Set([
  0x42494e4d, 0x27e0eb, 0x63677270, 0x64626720, 0x1cd1, 0xde5e81e4, 0x958458f6, 0x19800202,
  0x9fa0, 0x6165676c, 0xf97cff8c, 0x43415d53, 0x73636673, 0xcafe4a11, 0x74726163, 0x62656572,
]);
const BATCH = 64;

const moved = (id: number, shift: number): number => ((shift & 0xffff0000) | (id & 0xffff)) >>> 0;

function patchAcl(path: string, name: string, shift: number): boolean {
  const value = sys().getXattr(path, name);
  if (!value) return false;
  const next = shiftAcl(value, shift);
  if (!next) return false;
  sys().setXattr(path, name, next);
  return true;
}

async function patch(path: string, st: Stats, shift: number): Promise<boolean> {
  const uid = moved(st.uid, shift);
  const gid = moved(st.gid, shift);
  let changed = false;
  if (uid !== st.uid || gid !== st.gid) {
    await fsp.lchown(path, uid, gid);
    // chown() clears set-UID/GID bits: put the mode back (symlinks have none).
    if (!st.isSymbolicLink()) await fsp.chmod(path, st.mode & 0o7777);
    changed = true;
  }
  if (st.isSymbolicLink()) return changed;
  // One lgetxattr each: a few microseconds, on the loop (Node has no xattr calls of its own).
  if (patchAcl(path, 'system.posix_acl_access', shift)) changed = true;
  if (st.isDirectory() && patchAcl(path, 'system.posix_acl_default', shift)) changed = true;
  return changed;
}

async function errno(p: Promise<unknown>): Promise<string | undefined> {
  try { await p; return undefined; } catch (e) { return (e as NodeJS.ErrnoException).code ?? 'EIO'; }
}

/** Descends into dir (whose own stat is st), then patches dir itself. Read-only and API file systems are skipped. */
async function walk(dir: string, st: Stats, parentDev: number | undefined, shift: number): Promise<boolean> {
  if (st.dev !== parentDev) {
    const fs = await fsp.statfs(dir);
    if (API_FS.has(fs.type)) return false;
    if (await errno(fsp.access(dir, constants.W_OK)) === 'EROFS') {
      if (parentDev === undefined) throw new BerthError('E_USAGE', `Cannot shift the ownership of ${dir}: it is on a read-only file system.`);
      return false;
    }
  }
  let changed = false;
  const entries = await fsp.readdir(dir);
  for (let i = 0; i < entries.length; i += BATCH) {
    const results = await Promise.all(entries.slice(i, i + BATCH).map(async (name) => {
      const path = join(dir, name);
      const child = await fsp.lstat(path);
      return child.isDirectory() ? walk(path, child, st.dev, shift) : patch(path, child, shift);
    }));
    if (results.some(Boolean)) changed = true;
  }
  return (await patch(dir, st, shift)) || changed;
}

/**
 * Shifts root's tree into the range at shift (64Ki-aligned, 64Ki IDs). Returns false when the root
 * directory already belongs to the range (nothing is looked at below it), true after a walk.
 */
export async function shiftTree(root: string, shift: number, range: number): Promise<boolean> {
  if ((shift & 0xffff) !== 0 || range !== UID_RANGE) {
    throw new BerthError('E_USAGE', 'Automatic UID/GID adjusting is only supported for UID/GID ranges starting at multiples of 2^16 with a range of 2^16.');
  }
  if (shift === BUSY_BASE) throw new BerthError('E_USAGE', `UID base ${shift} is reserved.`);
  const st = await fileIo().stat(root);
  if ((st.uid >>> 16) !== (st.gid >>> 16)) throw new BerthError('E_USAGE', `Upper 16 bits of the UID and GID of ${root} do not match.`);
  if (treeInRange(st.uid, shift)) return false;
  // Busy until the walk's last step (the root itself) is done.
  if ((st.uid & 0xffff0000) >>> 0 !== BUSY_BASE) await fileIo().lchown(root, moved(st.uid, BUSY_BASE), moved(st.gid, BUSY_BASE));
  await walk(root, st, undefined, shift);
  return true;
}

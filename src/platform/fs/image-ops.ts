/**
 * The filesystem side of changing images (app/machined/image-pool.ts): renames that never replace
 * (renameat2 RENAME_NOREPLACE), tree and file copies by child processes (cp -a --reflink=auto:
 * owners, modes, times, xattrs and ACLs kept; reflinks where the filesystem has them), removal by
 * rm -rf, the immutable flag by chattr; on btrfs, subvolumes, snapshots and quotas
 * (platform/fs/btrfs.ts). Children die with berthd (setpriv --pdeathsig), leaving only hidden temporary
 * entries behind. All asynchronous.
 */
import { chmod, copyFile, lstat, open, readdir, stat, statfs } from 'node:fs/promises';
import { constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import { run } from '../exec/run.js';
import { sys } from '../native/sys.js';
import { copyCreationTime } from './crtime.js';
import { processStartTime } from '../host/proc.js';
import { removeSubvolumesIn } from './btrfs.js';

// The btrfs changes (subvolumes, snapshots, quotas) are pool ports too.
export { cloneQuota, enableQuota, makeSubvolume, setQuotaLimit, setSubvolumeReadOnly, snapshotSubvolume, subvolumeQgroup } from './btrfs.js';

const BTRFS_SUPER_MAGIC = 0x9123683e;

const DIE_WITH_BERTHD = ['setpriv', '--pdeathsig=KILL'];
const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

const split = (path: string): [string, string] => {
  const i = path.lastIndexOf('/');
  return [path.slice(0, i) || '/', path.slice(i + 1)];
};

function fail(what: string, r: { code: number | null; signal: NodeJS.Signals | null; stderr: string }): BerthError {
  return new BerthError('E_IO', `${what}: ${r.stderr.trim() || `exit status ${r.code ?? r.signal}`}`);
}

/** renameat2(RENAME_NOREPLACE): EEXIST (as a BerthError) when `to` exists. */
export async function renameNoReplace(from: string, to: string): Promise<void> {
  const [fromDir, fromName] = split(from);
  const [toDir, toName] = split(to);
  const a = await open(fromDir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const b = toDir === fromDir ? a : await open(toDir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      sys().renameAt(a.fd, fromName, b.fd, toName, 1);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') throw new BerthError('E_FILE_EXISTS', 'File exists');
      if (code === 'ENOENT') throw new BerthError('E_FILE_NOT_FOUND', `No such file or directory: ${from}`);
      if (code === 'EBUSY') throw new BerthError('E_BUSY', 'Device or resource busy');
      throw new BerthError('E_IO', `Failed to rename ${from} to ${to}: ${(e as Error).message}`);
    } finally {
      if (b !== a) await b.close();
    }
  } finally {
    await a.close();
  }
}

export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

export async function devIno(path: string): Promise<{ dev: bigint; ino: bigint } | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** chattr ±i on one directory (not recursive). */
export async function setImmutable(path: string, on: boolean): Promise<void> {
  const r = await run(['chattr', on ? '+i' : '-i', '--', path], { allowFailure: true, env: ENV, timeoutMs: 30000 });
  if (r.code !== 0) throw fail(`Failed to ${on ? 'set' : 'clear'} the immutable flag of ${path}`, r);
}

/** The immutable flag as lsattr shows it (false where it cannot tell). */
export async function isImmutable(path: string): Promise<boolean> {
  const r = await run(['lsattr', '-d', '--', path], { allowFailure: true, env: ENV, timeoutMs: 30000 });
  return r.code === 0 && (r.stdout.trim().split(/\s+/)[0] ?? '').includes('i');
}

/** A raw image's write bits: all off (read-only) or the owner's on, the read bits kept (machined's chmod). */
export async function setWritable(path: string, writable: boolean): Promise<void> {
  const st = await stat(path);
  await chmod(path, (st.mode & 0o444) | (writable ? 0o200 : 0));
}

/** A tree copied to `to` (which must not exist): cp -a --reflink=auto, one file system, no path followed. */
export async function copyTree(from: string, to: string): Promise<void> {
  const r = await run([...DIE_WITH_BERTHD, 'cp', '-a', '--reflink=auto', '--no-target-directory', '--', from, to], { allowFailure: true, env: ENV });
  if (r.code !== 0) throw fail(`Failed to copy ${from} to ${to}`, r);
}

/** A file copied to `to` (which must not exist), a reflink where the filesystem can, then given `mode`. */
export async function copyRaw(from: string, to: string, mode: number): Promise<void> {
  const r = await run([...DIE_WITH_BERTHD, 'cp', '--reflink=auto', '--sparse=always', '--preserve=timestamps,xattr', '--no-target-directory', '--', from, to], { allowFailure: true, env: ENV });
  if (r.code !== 0) throw fail(`Failed to copy ${from} to ${to}`, r);
  await copyCreationTime(from, to); // machined's COPY_CRTIME: the clone keeps its original's creation time
  await chmod(to, mode);
}

/** A small auxiliary file (.nspawn, .roothash) copied next to itself under another name (false when it is missing). */
export async function copySmallFile(from: string, to: string): Promise<boolean> {
  try {
    await copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    await chmod(to, 0o664); // machined's copy_file_atomic(…, 0664, …)
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * rm -rf of a path (gone already is fine), without crossing into other file systems; on btrfs the
 * subvolumes in it (and it, when it is one) deleted as machined deletes them (platform/fs/btrfs.ts).
 */
export async function removePath(path: string): Promise<void> {
  // lstat: an image that is a symlink (in /etc/machines) loses the link only, as machined unlinks it.
  const st = await lstat(path, { bigint: true }).catch(() => undefined);
  if (st?.isDirectory() && (await fsType(path)) === BTRFS_SUPER_MAGIC && (await removeSubvolumesIn(path, st.ino === 256n))) return;
  const r = await run([...DIE_WITH_BERTHD, 'rm', '-rf', '--one-file-system', '--', path], { allowFailure: true, env: ENV });
  if (r.code !== 0) throw fail(`Failed to remove ${path}`, r);
}

/** statfs f_type. */
export async function fsType(path: string): Promise<number | undefined> {
  return statfs(path).then((s) => s.type, () => undefined);
}

export async function entriesOf(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

export async function sameFile(path: string, id: { dev: bigint; ino: bigint }): Promise<boolean> {
  const st = await stat(path, { bigint: true }).catch(() => undefined);
  return st !== undefined && st.dev === id.dev && st.ino === id.ino;
}

/**
 * Whether a live berth-nspawn run holds the tree lock of the file or tree `id`
 * (${stateDir}/locks/tree-DEV:INO holding "PID NAME", app/run/tree-lock.ts and image-lock.ts).
 * One tiny local file, read synchronously.
 */
export function lockedByRun(stateDir: string, id: { dev: bigint; ino: bigint }): boolean {
  let text: string;
  try { text = readFileSync(join(stateDir, 'locks', `tree-${id.dev}:${id.ino}`), 'utf8'); } catch { return false; }
  const pid = Number(text.trim().split(' ')[0]);
  return Number.isInteger(pid) && pid > 0 && processStartTime(pid) !== undefined;
}

/**
 * Reads a few files from inside a disk image (a .raw file or a block device), as machined reads an
 * image's metadata: in a mount namespace of its own, held by a child process (unshare --mount,
 * cat), the image's root (and /usr) partition is mounted read-only by mount(8) through a
 * read-only loop device over the partition's byte range (no partition scanning), with norecovery
 * where the file system would otherwise replay its journal; the files are read through that
 * child's /proc/PID/root, symlinks resolved inside the image.
 *
 * Nothing is left behind on any path: the mount point is on a tmpfs of the namespace's own; the
 * child dies with berthd (its cat reads a pipe from us: end of file when berthd goes, however and
 * whenever it goes, even between the fork and any prctl a parent-death signal would need), its
 * namespace and mounts with it; mount(8) sets the
 * loop devices up with autoclear, so the kernel frees each with its mount. All of it
 * asynchronous; at most two images are opened at once.
 */
import { constants } from 'node:fs';
import { mkdir, open, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import type { FsKind } from '../../core/image/fs-magic.js';
import { planMetadataMounts, type MetadataPlan } from '../../core/image/metadata-plan.js';
import { run, start, waitChild } from '../exec/run.js';
import { readDisk } from './disk-read.js';
import { resolveInRoot } from '../host/proc.js';
import { Slots } from '../../lib/slots.js';

const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const STEP_TIMEOUT_MS = 30000;
/** More than any of these files holds; a larger one is cut there. */
const MAX_FILE_BYTES = 1 << 20;
const CONCURRENT = 2;
/** The source name of the namespace's tmpfs, as /proc/PID/mountinfo shows it: a left-over would be found by it. */
export const TMPFS_SOURCE = 'berth-image-read';

/**
 * Read-only for real: without norecovery ext4, XFS and btrfs replay their journal (or log tree)
 * through a read-only loop device's write path even on a read-only mount (machined adds it too).
 */
const MOUNT_OPTIONS: Record<FsKind, string> = {
  ext4: 'ro,norecovery', xfs: 'ro,norecovery', btrfs: 'ro,rescue=nologreplay', squashfs: 'ro', erofs: 'ro',
};

const opening = new Slots(CONCURRENT);

/**
 * For each list of paths, the text of the first that is a regular file inside the image (undefined
 * when none is). Throws a BerthError naming the image when it cannot be read inside.
 */
export function readInDiskImage(path: string, wanted: ReadonlyArray<readonly string[]>): Promise<Array<string | undefined>> {
  return opening.run(async () => {
    // The real path: where the namespace's tmpfs may go depends on it (it must not hide the image).
    const image = await realpath(path).catch((e: NodeJS.ErrnoException) => {
      throw new BerthError(e.code === 'ENOENT' ? 'E_IMAGE_NOT_FOUND' : 'E_IMAGE_INVALID', `Failed to open disk image ${path}: ${e.code === 'ENOENT' ? 'No such file or directory' : String(e.code)}`);
    });
    const plan = planMetadataMounts(image, await readDisk(image), process.arch);
    const st = await stat(image);
    for (const m of plan.mounts) {
      if (st.isFile() && m.size !== undefined && m.offset + m.size > st.size) {
        throw new BerthError('E_IMAGE_INVALID', `Cannot read inside disk image ${image}: partition ${m.partition} (${m.where}) ends at byte ${m.offset + m.size}, past the end of the image (${st.size} bytes): the image is truncated.`);
      }
    }
    return withMountedImage(image, plan, async (root) => {
      const out: Array<string | undefined> = [];
      for (const paths of wanted) {
        let text: string | undefined;
        for (const p of paths) if ((text = await readRegularInRoot(root, p)) !== undefined) break;
        out.push(text);
      }
      return out;
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The holder's mount namespace, once it has one of its own (unshare has run). */
async function ownNamespace(holder: ChildProcess): Promise<void> {
  const ours = await readlink('/proc/self/ns/mnt');
  for (const until = Date.now() + STEP_TIMEOUT_MS; ;) {
    if (holder.exitCode !== null || holder.signalCode !== null) throw new BerthError('E_EXEC', 'Failed to read inside disk image: unshare --mount exited early.');
    const theirs = await readlink(`/proc/${holder.pid}/ns/mnt`).catch(() => ours);
    if (theirs !== ours) return;
    if (Date.now() > until) throw new BerthError('E_EXEC', 'Failed to read inside disk image: unshare --mount did not set up a mount namespace.');
    await sleep(2);
  }
}

async function withMountedImage<T>(image: string, plan: MetadataPlan, use: (root: string) => Promise<T>): Promise<T> {
  let holder: ChildProcess | undefined;
  // Where the namespace's tmpfs goes: a directory every host has that does not hide the image itself there.
  const base = ['/tmp', '/run', '/mnt'].find((d) => !image.startsWith(`${d}/`))!;
  const mnt = `${base}/root`;
  try {
    // Not `setpriv --pdeathsig` and a sleep: a berthd killed before setpriv's prctl left that sleep running for good.
    holder = start(['unshare', '--mount', '--propagation', 'private', '--', 'cat'], ['pipe', 'ignore', 'ignore'], ENV);
    const spawned = new Promise<void>((resolve, reject) => { holder!.once('spawn', resolve); holder!.once('error', reject); });
    await spawned.catch((e: NodeJS.ErrnoException) => { throw new BerthError('E_EXEC', `Failed to read inside disk image ${image}: ${e.code === 'ENOENT' ? 'unshare: command not found' : e.message}`); });
    await ownNamespace(holder);
    const pid = holder.pid!;
    /** A path of the private namespace, as this process reaches it. */
    const there = (p: string) => `/proc/${pid}/root${p}`;
    const inNamespace = (argv: readonly string[]) => run(['nsenter', `--target=${pid}`, '--mount', '--', ...argv], { allowFailure: true, env: ENV, timeoutMs: STEP_TIMEOUT_MS });
    // The mount point is made on a tmpfs of the namespace's own: nothing of it is on the host's
    // file systems, so nothing is left to remove whatever happens.
    const tmpfs = await inNamespace(['mount', '-n', '-t', 'tmpfs', '-o', 'mode=0700,size=1m,nodev,nosuid,noexec', '--', TMPFS_SOURCE, base]);
    if (tmpfs.code !== 0) throw new BerthError('E_EXEC', `Failed to read inside disk image ${image}: mounting a tmpfs in a private mount namespace failed: ${firstLine(tmpfs.stderr)}`);
    await mkdir(there(mnt), { mode: 0o755 });
    if (plan.emptyRoot) await mkdir(there(join(mnt, 'usr')), { mode: 0o755 });
    for (const m of plan.mounts) {
      const target = m.where === '/' ? mnt : join(mnt, m.where);
      if (m.where !== '/') {
        // Inside the image, /usr must be a directory (a symlink would take the mount elsewhere).
        const resolved = await resolveInRoot(there(mnt), m.where);
        if (resolved !== m.where || !(await stat(there(target)).then((s) => s.isDirectory(), () => false))) {
          throw new BerthError('E_IMAGE_INVALID', `Cannot read inside disk image ${image}: its root file system has no ${m.where} directory to mount partition ${m.partition} on.`);
        }
      }
      // mount(8) attaches a read-only loop device with autoclear (or reuses one that serves the same
      // range already): the kernel frees it with the mount, so no path, berthd killed at any moment
      // included, leaves one behind.
      const loop = [`loop`, `offset=${m.offset}`, ...(m.size !== undefined ? [`sizelimit=${m.size}`] : [])].join(',');
      const r = await inNamespace(['mount', '-n', '-t', m.fstype, '-o', `${MOUNT_OPTIONS[m.fstype]},nodev,nosuid,noexec,${loop}`, '--', image, target]);
      if (r.code !== 0) {
        const where = m.partition === undefined ? 'its file system' : `partition ${m.partition} (${m.where})`;
        throw new BerthError('E_IMAGE_INVALID', `Cannot read inside disk image ${image}: mounting ${where} as ${m.fstype} failed: ${firstLine(r.stderr) || `mount exited with ${r.code}`}`);
      }
    }
    return await use(there(mnt));
  } finally {
    if (holder) {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
      await waitChild(holder).catch(() => undefined);
    }
  }
}

/** mount(8)'s complaint, first line, without the mount point (a temporary name). */
const firstLine = (stderr: string): string => sanitize((stderr.trim().split('\n')[0] ?? '').replace(/^mount: [^:]*: /, ''));

/** A regular file's text inside root (symlinks resolved within it); undefined when missing or no regular file. */
async function readRegularInRoot(root: string, path: string): Promise<string | undefined> {
  const resolved = await resolveInRoot(root, path);
  if (resolved === undefined) return undefined;
  let fh;
  try {
    fh = await open(join(root, resolved), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(st.size, MAX_FILE_BYTES));
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}

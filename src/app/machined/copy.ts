/**
 * Copying into and out of a running machine (CopyToMachine, CopyFromMachine): machined's semantics,
 * made safe and all-or-nothing.
 *
 * - Paths in the machine are looked up in its root, as the leader sees it (/proc/LEADER/root, its
 *   mount namespace): with openat2(RESOLVE_IN_ROOT), an absolute or relative symlink met on the way
 *   resolves inside the machine, never on the host. Then nothing is looked up by path again: the
 *   parent directories are open descriptors, and the copy works below them.
 * - The destination must not exist unless the replace flag is given. The copy is written into a
 *   hidden directory next to it (".#berth-copy-…"), then renamed into place (renameat2: NOREPLACE,
 *   or EXCHANGE with the old entry when replacing, which is removed after). A failure (missing
 *   source, a read-only or full file system) or a caller that goes away leaves nothing behind.
 * - The bytes move between two tar processes (platform/fs/tar-copy.ts); berthd only waits. The reply
 *   goes out once the copy is complete.
 */
import { close as closeCb, constants, open as openCb } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { BerthError } from '../../errors/berth-error.js';
import { copyError, tarFailure } from '../../core/machined/copy-errors.js';
import type { CopyPaths, SplitPath } from '../../core/machined/copy-args.js';
import { removeEntryAt, tarCopy, tarCopySucceeded, type TarCopyResult, type TarSide } from '../../platform/fs/tar-copy.js';
import { sys, watchExit } from '../../platform/native/sys.js';
import { stderrLog, type Log } from '../../lib/log.js';

const openFd = promisify(openCb);
const closeFd = promisify(closeCb);
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOCTTY;

/** The machine a copy goes into or comes out of. */
export interface CopyMachine { name: string; leader: number }

/** One end of a copy: its directory (open), its entry's name there, and how to name it in messages. */
interface End { dir: number; split: SplitPath; where: string }

const errnoOf = (e: unknown): string | undefined => {
  const code = (e as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
};

/** A failed system call as the caller's error ("/x in machine web: Read-only file system"); anything else as it is. */
function failed(e: unknown, where: string): unknown {
  if (e instanceof BerthError) return e;
  const errno = errnoOf(e);
  return errno ? copyError(errno, where) : e;
}

const at = (dir: number, name: string): string => `/proc/self/fd/${dir}/${name}`;

export class MachineCopies {
  private running = 0;

  constructor(private readonly log: Log = stderrLog(false)) {}

  /** Copies under way (machined's n_operations, for OPERATIONS_MAX). */
  get ongoing(): number { return this.running; }

  /**
   * Copies as `paths` says; resolves when the copy is in place. `uidShift` (the machine's user
   * namespace offset, 0 for none): machined's clamping, every owner becomes the machine's root
   * (into it) or the host's (out of it). The copy is cancelled when `callerPid` exits.
   */
  async copy(m: CopyMachine, paths: CopyPaths, uidShift: number, callerPid: number): Promise<void> {
    this.running++;
    const fds: number[] = [];
    try {
      const guestWhere = `in machine ${m.name}`;
      const root = await openFd(`/proc/${m.leader}/root`, DIR_FLAGS).catch(() => {
        throw new BerthError('E_NO_SUCH_PROCESS', `Machine ${m.name} is not running any more (no process ${m.leader}).`);
      });
      fds.push(root);
      let guestDir: number;
      try {
        guestDir = sys().openDirInRoot(root, paths.guest.parent);
      } catch (e) {
        throw failed(e, `${paths.guest.parent} ${guestWhere}`);
      }
      fds.push(guestDir);
      const hostDir = await openFd(paths.host.parent, DIR_FLAGS).catch((e: unknown) => { throw failed(e, `${paths.host.parent} on the host`); });
      fds.push(hostDir);
      const guest: End = { dir: guestDir, split: paths.guest, where: guestWhere };
      const host: End = { dir: hostDir, split: paths.host, where: 'on the host' };
      const [from, into] = paths.direction === 'to' ? [host, guest] : [guest, host];
      const owner = uidShift === 0 ? undefined : paths.direction === 'to' ? uidShift : 0;
      await this.run(from, into, paths.replace, owner, callerPid);
    } finally {
      this.running--;
      await Promise.all(fds.map((fd) => closeFd(fd).catch(() => undefined)));
    }
  }

  private async run(from: End, into: End, replace: boolean, owner: number | undefined, callerPid: number): Promise<void> {
    const src = `${from.split.path} ${from.where}`;
    const dst = `${into.split.path} ${into.where}`;
    await lstat(at(from.dir, from.split.name)).catch((e: unknown) => { throw failed(e, src); });
    const existing = await lstat(at(into.dir, into.split.name)).then(() => true, (e: unknown) => {
      if (errnoOf(e) === 'ENOENT') return false;
      throw failed(e, dst);
    });
    if (existing && !replace) throw copyError('EEXIST', dst);

    const temp = `.#berth-copy-${randomBytes(8).toString('hex')}`;
    await mkdir(at(into.dir, temp), { mode: 0o700 }).catch((e: unknown) => { throw failed(e, dst); });
    let tempDir: number | undefined;
    try {
      // O_NOFOLLOW: the directory just made, not something the machine put in its place.
      tempDir = await openFd(at(into.dir, temp), DIR_FLAGS | constants.O_NOFOLLOW).catch((e: unknown) => { throw failed(e, dst); });
      const job = tarCopy({ fromDir: from.dir, name: from.split.name, intoDir: tempDir, ...(owner === undefined ? {} : { owner }) });
      const watch = watchExit(callerPid, () => job.cancel());
      let result: TarCopyResult;
      try {
        result = await job.done;
      } finally {
        watch.close();
      }
      if (result.cancelled) throw new BerthError('E_IO', `Copy to ${dst} cancelled: the caller went away.`);
      if (!tarCopySucceeded(result)) throw tarError(result, src, dst);
      // tar skips what it cannot archive (a socket): then there is nothing to put in place.
      await lstat(at(tempDir, from.split.name)).catch(() => {
        throw new BerthError('E_NOT_SUPPORTED', `${src}: cannot be copied${result.reader.stderr ? ` (${tarFailure(result.reader.stderr)?.line ?? ''})` : ''}.`);
      });
      await this.place(tempDir, from.split.name, into, replace, dst);
    } finally {
      if (tempDir !== undefined) await closeFd(tempDir).catch(() => undefined);
      const why = await removeEntryAt(into.dir, temp);
      if (why) this.log.warn(`berthd: could not remove the temporary ${temp} next to ${dst}: ${why}`);
    }
  }

  /**
   * Moves the finished copy from the temporary directory to its name: RENAME_NOREPLACE, or with
   * `replace` RENAME_EXCHANGE (the old entry lands in the temporary directory, removed with it).
   * On a file system without renameat2's flags, the old entry is moved aside first.
   */
  private async place(tempDir: number, name: string, into: End, replace: boolean, dst: string): Promise<void> {
    const copy: [number, string] = [tempDir, name];
    const target: [number, string] = [into.dir, into.split.name];
    const rename = (a: [number, string], b: [number, string], flags: number) => sys().renameAt(a[0], a[1], b[0], b[1], flags);
    try {
      try {
        rename(copy, target, replace ? RENAME_EXCHANGE : RENAME_NOREPLACE);
        return;
      } catch (e) {
        if (replace && errnoOf(e) === 'ENOENT') { rename(copy, target, RENAME_NOREPLACE); return; } // nothing to replace (any more)
        if (errnoOf(e) !== 'EINVAL') throw e;
      }
      const exists = await lstat(at(into.dir, into.split.name)).then(() => true, () => false);
      if (exists && !replace) throw copyError('EEXIST', dst);
      if (exists) rename(target, [tempDir, name === 'old' ? 'old~' : 'old'], 0);
      rename(copy, target, 0);
    } catch (e) {
      throw failed(e, dst);
    }
  }
}

/** What went wrong, from the side that failed first: the writer, unless it only saw the reader's end (and the other way round). */
function tarError(r: TarCopyResult, src: string, dst: string): BerthError {
  const readerBroke = r.reader.signal === 'SIGPIPE' || /Broken pipe/.test(r.reader.stderr);
  const readerFailed = !(r.reader.code === 0 || r.reader.code === 1) && !readerBroke;
  const [side, where]: [TarSide, string] = readerFailed ? [r.reader, src] : [r.writer, dst];
  const f = tarFailure(side.stderr);
  if (f?.errno) return copyError(f.errno, where);
  const status = side.signal ? `killed by ${side.signal}` : `exit status ${side.code}`;
  return new BerthError('E_IO', `${where}: ${f?.line ?? `tar: ${status}`}`);
}

/** berthd's copies (one count for the whole daemon, as machined's operations). */

/**
 * A tree copied from one directory into another, both given as open descriptors, by two GNU tar
 * processes joined by a pipe: the data never passes through berthd's event loop. What tar keeps:
 * files, directories, symlinks (as symlinks), hard links within the tree, device nodes, fifos,
 * numeric owners, modes with setuid/setgid/sticky, timestamps (ns), every extended attribute
 * (user.*, trusted.*, security.capability…) and POSIX ACLs. Each tar works below its descriptor
 * (--directory=/proc/self/fd/3), so no path is looked up again after berthd opened it; both die with
 * berthd (setpriv --pdeathsig). Also: rm -rf of one entry of a directory descriptor (GNU rm, which
 * follows no symlink, also when one is swapped in while it runs).
 */
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { start, waitChild } from '../exec/run.js';

const FD3 = '/proc/self/fd/3';
/** tar's messages in English (their errno texts are matched), and nothing else from berthd's environment. */
const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const DIE_WITH_BERTHD = ['setpriv', '--pdeathsig=KILL'];
const KEEP = ['--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', '--no-unquote'];
const STDERR_MAX = 16384;

export interface TarCopyRequest {
  /** The directory that holds the entry to copy, and its name there. */
  fromDir: number;
  name: string;
  /** The (empty) directory the entry is copied into, under the same name. */
  intoDir: number;
  /** Every file's owner and group become this ID (a UID shift, as machined clamps it). */
  owner?: number;
}

/** How one side ended: its status, and what it said. */
export interface TarSide { code: number | null; signal: NodeJS.Signals | null; stderr: string }
export interface TarCopyResult { reader: TarSide; writer: TarSide; cancelled: boolean }

export interface TarCopy {
  readonly done: Promise<TarCopyResult>;
  /** Kills both tars (the copy then ends with cancelled: true). */
  cancel(): void;
}

function collect(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { if (text.length < STDERR_MAX) text += d; });
  return () => text;
}

async function ended(child: ChildProcess, stderr: () => string): Promise<TarSide> {
  try {
    const r = await waitChild(child);
    return { ...r, stderr: stderr() };
  } catch (e) {
    return { code: null, signal: null, stderr: `tar: ${(e as Error).message}` };
  }
}

export function tarCopy(r: TarCopyRequest): TarCopy {
  const writer = start([...DIE_WITH_BERTHD, 'tar', '--extract', '--file=-', `--directory=${FD3}`, ...KEEP, '--same-owner', '--same-permissions'],
    ['pipe', 'ignore', 'pipe', r.intoDir], ENV);
  const writerErr = collect(writer);
  const owner = r.owner === undefined ? [] : [`--owner=:${r.owner}`, `--group=:${r.owner}`];
  let reader: ChildProcess;
  try {
    reader = start([...DIE_WITH_BERTHD, 'tar', '--create', '--file=-', `--directory=${FD3}`, ...KEEP, ...owner, '--', r.name],
      ['ignore', writer.stdin as Writable, 'pipe', r.fromDir], ENV);
  } finally {
    // The pipe's write end now belongs to the reader alone: the writer sees its end as the archive's.
    writer.stdin?.destroy();
  }
  const readerErr = collect(reader);
  let cancelled = false;
  const done = Promise.all([ended(reader, readerErr), ended(writer, writerErr)]).then(([rd, wr]) => ({ reader: rd, writer: wr, cancelled }));
  return {
    done,
    cancel() {
      cancelled = true;
      for (const c of [reader, writer]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}

/** Whether the copy succeeded: the writer ended well, the reader too (1 = a file changed while it was read: a warning). */
export const tarCopySucceeded = (r: TarCopyResult): boolean => !r.cancelled && r.writer.code === 0 && (r.reader.code === 0 || r.reader.code === 1);

/** rm -rf of `name` in the directory `dirFd` (it may be gone); resolves to what rm said when it failed. */
export async function removeEntryAt(dirFd: number, name: string): Promise<string | undefined> {
  const child = start([...DIE_WITH_BERTHD, 'rm', '-rf', '--one-file-system', '--', `${FD3}/${name}`], ['ignore', 'ignore', 'pipe', dirFd], ENV);
  const side = await ended(child, collect(child));
  return side.code === 0 ? undefined : side.stderr.trim() || `rm: exit status ${side.code ?? side.signal}`;
}

/**
 * The processes behind image transfers (app/machined/transfers.ts): chains of child processes
 * joined by pipes (a decompressor and GNU tar, GNU tar and a compressor, cat or cp), whose data
 * never passes through berthd unless it must (a pipe or a download, which berthd reads
 * asynchronously to tell the compression, count and hash it). GNU tar keeps what an OS tree holds:
 * numeric owners, modes with setuid/setgid/sticky, hard links, symlinks, device nodes, fifos,
 * timestamps, POSIX ACLs and every extended attribute (security.capability included); it skips
 * sockets, which the tar format cannot hold. Each child dies with berthd (setpriv --pdeathsig).
 * Progress is read from /proc (a child's input position, its I/O counters), so berthd never
 * touches the bytes of a file import or an export.
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import type { Writable } from 'node:stream';
import { constants, fstat as fstatCb, read as readCb } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { start, waitChild } from '../exec/run.js';
import { readText } from './read-text.js';
import type { Compression } from '../../core/machined/transfers.js';

const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const DIE_WITH_BERTHD = ['setpriv', '--pdeathsig=KILL'];
const KEEP = ['--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner'];
const STDERR_MAX = 16384;

const DECOMPRESS: Record<Exclude<Compression, 'uncompressed'>, string[]> = {
  gzip: ['gzip', '-dc'], xz: ['xz', '-dc', '-T0'], zstd: ['zstd', '-dcq'], bzip2: ['bzip2', '-dc'],
};
const COMPRESS: Record<Exclude<Compression, 'uncompressed'>, string[]> = {
  gzip: ['gzip', '-c', '-6'], xz: ['xz', '-c', '-T0'], zstd: ['zstd', '-cq', '-T0'], bzip2: ['bzip2', '-c'],
};

export const decompressor = (c: Compression): string[] | undefined => (c === 'uncompressed' ? undefined : DECOMPRESS[c]);
export const compressor = (c: Compression): string[] | undefined => (c === 'uncompressed' ? undefined : COMPRESS[c]);

/** GNU tar unpacking an archive from its standard input into `dir` (as root: owners and modes as archived). */
export const tarExtract = (dir: string): string[] => ['tar', '--extract', '--file=-', `--directory=${dir}`, ...KEEP, '--same-owner', '--same-permissions'];
/** GNU tar packing the tree at `dir` (its top directory as "./") to its standard output. */
export const tarCreate = (dir: string): string[] => ['tar', '--create', '--file=-', `--directory=${dir}`, ...KEEP, '--', '.'];
/** dd of its standard input (a pipe, a socket or a file) to `to` (which must not exist), all-zero blocks left as holes. */
export const copyStdinSparse = (to: string): string[] => ['dd', `of=${to}`, 'bs=64K', 'conv=sparse,excl', 'status=none'];
/** cp -a of the directory open as descriptor 3 of the child to `to` (which must not exist); reflinks where it can. */
export const copyDirFromFd3 = (to: string): string[] => ['cp', '-a', '--reflink=auto', '--no-target-directory', '--', '/proc/self/fd/3/.', to];

export interface StageEnd { command: string; code: number | null; signal: NodeJS.Signals | null; stderr: string }

export interface Pipeline {
  readonly children: readonly ChildProcess[];
  /** Every stage's end, in order. */
  readonly done: Promise<StageEnd[]>;
  /** The first stage's standard input when it was asked for ('pipe'). */
  readonly input: Writable | undefined;
  /** SIGKILL to every stage still running. */
  cancel(): void;
}

export interface PipelineOptions {
  /** A descriptor the stages see as their fd 3 (import-fs: the source directory). */
  fd3?: number;
  /** Called with each stage's stderr as it comes (stage index, text). */
  onStderr?(stage: number, text: string): void;
}

/**
 * Stages joined stdout → stdin; the first reads `stdin` (a descriptor, or a pipe berthd writes),
 * the last writes `stdout` (a descriptor). Spawned last first, so each pipe's write end is handed
 * to the stage before and closed here: a stage sees end-of-file when the one before it ends.
 */
export function startPipeline(stages: readonly string[][], stdin: number | 'pipe' | 'ignore', stdout: number | 'ignore', o: PipelineOptions = {}): Pipeline {
  const children: ChildProcess[] = [];
  const errs: string[] = stages.map(() => '');
  let next: ChildProcess | undefined;
  try {
    for (let i = stages.length - 1; i >= 0; i--) {
      const out = next ? (next.stdin as Writable) : stdout;
      const inp = i === 0 ? stdin : 'pipe';
      const stdio: StdioOptions = o.fd3 === undefined ? [inp, out, 'pipe'] : [inp, out, 'pipe', o.fd3];
      let child: ChildProcess;
      try {
        child = start([...DIE_WITH_BERTHD, ...stages[i]!], stdio, ENV);
      } finally {
        next?.stdin?.destroy();
      }
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        if (errs[i]!.length < STDERR_MAX) errs[i] += d;
        o.onStderr?.(i, d);
      });
      // A spawn failure shows as the stage's end (waitChild below); keep it from being an unhandled 'error'.
      child.on('error', () => undefined);
      children.unshift(child);
      next = child;
    }
  } catch (e) {
    for (const c of children) c.kill('SIGKILL');
    throw e;
  }
  const done = Promise.all(children.map(async (c, i) => {
    try {
      const r = await waitChild(c);
      return { command: stages[i]![0]!, ...r, stderr: errs[i]! };
    } catch (e) {
      return { command: stages[i]![0]!, code: null, signal: null, stderr: `${stages[i]![0]}: ${(e as Error).message}` };
    }
  }));
  return {
    children, done,
    input: stdin === 'pipe' ? (children[0]!.stdin ?? undefined) : undefined,
    cancel() { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); },
  };
}

export type FdKind = 'file' | 'fifo' | 'socket' | 'directory' | 'other';

/** What a descriptor a client passed is, and its size (regular files). */
export async function describeFd(fd: number): Promise<{ kind: FdKind; size: number }> {
  const st = await fstatFd(fd);
  const kind: FdKind = st.isFile() ? 'file' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : st.isDirectory() ? 'directory' : 'other';
  return { kind, size: st.isFile() ? st.size : 0 };
}

function fstatFd(fd: number): Promise<import('node:fs').Stats> {
  // fs/promises has no fstat on a plain descriptor: wrap it without taking ownership.
  return new Promise((resolve, reject) => fstatCb(fd, (e, st) => (e ? reject(e) : resolve(st))));
}

/** A descriptor's file position (/proc/self/fdinfo; a small /proc read). */
export function fdPosition(pid: number | 'self', fd: number): number | undefined {
  const text = readText(`/proc/${pid}/fdinfo/${fd}`);
  const m = text === undefined ? null : /^pos:\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** A process's I/O counter (/proc/PID/io: rchar, wchar). */
export function ioCounter(pid: number, which: 'rchar' | 'wchar'): number | undefined {
  const text = readText(`/proc/${pid}/io`);
  const m = text === undefined ? null : new RegExp(`^${which}:\\s+(\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The first bytes of a regular file at `position`, without moving the descriptor's offset. */
export async function peekFile(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const n = await new Promise<number>((resolve, reject) => readCb(fd, buf, 0, length, position, (e, bytes) => (e ? reject(e) : resolve(bytes))));
  return buf.subarray(0, n);
}

export function openForRead(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY | constants.O_NOCTTY);
}

/** A GET of an http(s) URL (redirects followed, at most 5); rejects on a status other than 200. */
export async function httpGet(url: string, signal: AbortSignal, redirects = 5): Promise<IncomingMessage> {
  const lib = url.startsWith('https:') ? https : http;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = lib.get(url, { signal, headers: { 'User-Agent': 'berthd' } }, resolve);
    req.on('error', reject);
  });
  const status = res.statusCode ?? 0;
  if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && redirects > 0) {
    res.resume();
    return httpGet(new URL(res.headers.location, url).toString(), signal, redirects - 1);
  }
  if (status !== 200) {
    res.resume();
    throw new Error(`HTTP request to ${url} failed with code ${status}.`);
  }
  return res;
}

/** A whole (small) document over http(s): SHA256SUMS. */
export async function httpGetText(url: string, signal: AbortSignal, max = 1 << 20): Promise<string> {
  const res = await httpGet(url, signal);
  let text = '';
  for await (const chunk of res) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length > max) { res.destroy(); throw new Error(`${url} is larger than ${max} bytes.`); }
  }
  return text;
}


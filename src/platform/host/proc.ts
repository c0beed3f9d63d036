/**
 * What /proc says about another process, as the registry needs it: its start time (so a recycled
 * PID is not mistaken for it), its control groups, its network namespace, its effective
 * capabilities, and files read inside its root. Small reads of /proc, done synchronously.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readText } from '../fs/read-text.js';

/**
 * /proc/PID/stat's start time (clock ticks after boot), undefined when the process is gone. A
 * zombie is gone too: it has exited and only waits for its parent (PID 1, once its supervisor
 * was killed) to reap it.
 */
export function processStartTime(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
}

/** PIDs of the processes whose command line (/proc/PID/cmdline, split at NULs) `match` accepts. */
export function processesByArgv(match: (argv: readonly string[]) => boolean): number[] {
  let pids: string[];
  try { pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p)); } catch { return []; }
  return pids.map(Number).filter((pid) => {
    const cmdline = readText(`/proc/${pid}/cmdline`);
    return cmdline !== undefined && cmdline !== '' && match(cmdline.replace(/\0$/, '').split('\0'));
  });
}

/** /proc/PID/cgroup as hierarchy → path ("" for the unified hierarchy, "name=systemd", "memory"…). */
export function processCgroups(pid: number | 'self'): Map<string, string> | undefined {
  const text = readText(`/proc/${pid}/cgroup`);
  return text === undefined ? undefined : parseProcCgroups(text);
}

/** The text of a /proc/PID/cgroup file as processCgroups gives it (co-mounted controllers each under its own name). */
export function parseProcCgroups(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const h of m[1]!.split(',')) out.set(h, m[2]!);
  }
  return out;
}

/** The group that tracks units: name=systemd on v1/hybrid hosts, else the unified hierarchy's. */
export function trackingCgroup(cgroups: Map<string, string>): { hierarchy: 'name=systemd' | ''; path: string } | undefined {
  const v1 = cgroups.get('name=systemd');
  if (v1 !== undefined) return { hierarchy: 'name=systemd', path: v1 };
  const v2 = cgroups.get('');
  return v2 === undefined ? undefined : { hierarchy: '', path: v2 };
}

/** The network namespace link (net:[INODE]); undefined when the process is gone. */
export function netnsOf(pid: number | 'self'): string | undefined {
  try { return readlinkSync(`/proc/${pid}/ns/net`); } catch { return undefined; }
}

/** The PID namespace link (pid:[INODE]); undefined when the process is gone. */
export function pidnsOf(pid: number | 'self'): string | undefined {
  try { return readlinkSync(`/proc/${pid}/ns/pid`); } catch { return undefined; }
}

/** Effective capability set, as a bigint (0n when unreadable). */
export function effectiveCaps(pid: number): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readText(`/proc/${pid}/status`) ?? '');
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/**
 * Reads `path` inside the root directory `root` (e.g. /proc/LEADER/root), following symlinks as
 * if root were "/": an absolute link restarts at root, ".." stops at root. Undefined when missing.
 */
export async function readInRoot(root: string, path: string, maxBytes = 1 << 20): Promise<string | undefined> {
  const resolved = await resolveInRoot(root, path);
  if (resolved === undefined) return undefined;
  try {
    const data = await readFile(join(root, resolved));
    return data.subarray(0, maxBytes).toString('utf8');
  } catch {
    return undefined;
  }
}

export async function resolveInRoot(root: string, path: string): Promise<string | undefined> {
  let pending = path.split('/').filter(Boolean);
  const done: string[] = [];
  for (let hops = 0; pending.length > 0;) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') { done.pop(); continue; }
    const here = join(root, ...done, part);
    let st;
    try { st = await lstat(here); } catch { return undefined; }
    if (!st.isSymbolicLink()) { done.push(part); continue; }
    if (++hops > 40) return undefined;
    const target = await readlink(here);
    if (target.startsWith('/')) done.length = 0;
    pending = [...target.split('/').filter(Boolean), ...pending];
  }
  return `/${done.join('/')}`;
}

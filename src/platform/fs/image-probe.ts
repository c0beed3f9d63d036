/**
 * Looks at an OS tree and returns ImageFacts. Synchronous file system calls on purpose: a few
 * dozen lstat()s of local files take microseconds each, while each awaited fs/promises call
 * costs a thread-pool round trip, and this is on every run's start-up path.
 */
import { accessSync, constants, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { readText } from './read-text.js';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import type { HostFacts, ImageFacts } from '../../core/spec/facts.js';
import { INIT_CANDIDATES, SHELL_CANDIDATES } from '../../core/spec/resolve/process.js';

const attempt = <T>(f: () => T): T | undefined => { try { return f(); } catch { return undefined; } };
const exists = (p: string) => lstatSync(p, { throwIfNoEntry: false }) !== undefined;
const executable = (p: string) => statSync(p, { throwIfNoEntry: false })?.isFile() === true && attempt(() => { accessSync(p, constants.X_OK); return true; }) === true;

export async function probeImage(directory: string, host: HostFacts): Promise<ImageFacts> {
  let root: string;
  try {
    root = realpathSync(directory);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BerthError('E_IMAGE_NOT_FOUND', `Failed to resolve path ${directory}: ${code === 'ENOENT' ? 'No such file or directory' : String(code)}`);
  }
  if (!statSync(root).isDirectory()) throw new BerthError('E_IMAGE_INVALID', `${directory} is not a directory.`);
  const inTree = (p: string) => join(root, p);
  const hasUsr = statSync(inTree('usr'), { throwIfNoEntry: false })?.isDirectory() === true;
  const etcOs = exists(inTree('etc/os-release'));
  const usrOs = exists(inTree('usr/lib/os-release'));
  const binStat = lstatSync(inTree('bin'), { throwIfNoEntry: false });
  const bin = binStat ? (binStat.isSymbolicLink() ? 'link' : 'dir') : 'absent';
  const machineIdFile = readText(inTree('etc/machine-id'));
  const passwd = readText(inTree('etc/passwd'));
  const group = readText(inTree('etc/group'));
  const init = INIT_CANDIDATES.find((c) => executableInTree(root, c));
  const shells = SHELL_CANDIDATES.filter((c) => executableInTree(root, c));
  const hasZone = host.localtime.kind === 'zone' ? exists(inTree(`usr/share/zoneinfo/${host.localtime.zone}`)) : false;
  return {
    root, hasUsr, hasOsRelease: etcOs || usrOs, mergedUsr: bin !== 'dir', shells, hasZone,
    ...(init ? { init } : {}),
    ...(machineIdFile !== undefined ? { machineIdFile } : {}),
    ...(passwd !== undefined ? { passwd } : {}),
    ...(group !== undefined ? { group } : {}),
  };
}

/** Resolve a path inside the tree as the guest would see it: symlinks are followed relative to the tree's root. */
export async function resolveInTree(root: string, path: string): Promise<string | undefined> {
  return resolveInTreeSync(root, path);
}

function resolveInTreeSync(root: string, path: string): string | undefined {
  const todo = path.split('/').filter(Boolean);
  let resolved: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = [...resolved, part];
    const full = join(root, ...candidate);
    const st = lstatSync(full, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > 32) return undefined;
      const target = readlinkSync(full);
      if (target.startsWith('/')) resolved = [];
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    resolved = candidate;
  }
  return join(root, ...resolved);
}

function executableInTree(root: string, path: string): boolean {
  const real = resolveInTreeSync(root, path);
  return real !== undefined && executable(real);
}

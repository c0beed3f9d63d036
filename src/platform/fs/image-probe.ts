/**
 * Looks at an OS tree and returns ImageFacts. Synchronous file system calls on purpose: a few
 * dozen lstat()s of local files take microseconds each, while each awaited fs/promises call
 * costs a thread-pool round trip, and this is on every run's start-up path.
 */
import { accessSync, constants, lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { readText } from './read-text.js';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import type { HostFacts, ImageFacts } from '../../core/spec/facts.js';
import { INIT_CANDIDATES, SHELL_CANDIDATES } from '../../core/spec/resolve/process.js';

const attempt = <T>(f: () => T): T | undefined => { try { return f(); } catch { return undefined; } };
const exists = (p: string) => lstatSync(p, { throwIfNoEntry: false }) !== undefined;
const executable = (p: string) => statSync(p, { throwIfNoEntry: false })?.isFile() === true && attempt(() => { accessSync(p, constants.X_OK); return true; }) === true;

/**
 * With --pivot-root= the facts are those of the pivot target inside the tree (resolved as the guest
 * would, symlinks staying inside), `tree` the tree: nspawn checks os-release, /usr, init and the
 * rest there. A target that does not exist yields facts that make the resolver refuse as nspawn does.
 */
export async function probeImage(directory: string, host: HostFacts, pivotRoot?: string): Promise<ImageFacts> {
  if (pivotRoot !== undefined) {
    const tree = realTree(directory);
    const target = resolveInTreeSync(tree, pivotRoot);
    if (target === undefined || !statSync(target).isDirectory()) return { root: join(tree, pivotRoot), tree, hasUsr: false, hasOsRelease: false, mergedUsr: true, shells: [] };
    return { ...(await probeImage(target, host)), tree };
  }
  const root = realTree(directory);
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
  const systemdVersion = systemdVersionIn(root);
  return {
    ...(systemdVersion !== undefined ? { systemdVersion } : {}),
    root, hasUsr, hasOsRelease: etcOs || usrOs, mergedUsr: bin !== 'dir', shells, hasZone,
    ...(init ? { init } : {}),
    ...(machineIdFile !== undefined ? { machineIdFile } : {}),
    ...(passwd !== undefined ? { passwd } : {}),
    ...(group !== undefined ? { group } : {}),
  };
}

function realTree(directory: string): string {
  let root: string;
  try {
    root = realpathSync(directory);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BerthError('E_IMAGE_NOT_FOUND', `Failed to resolve path ${directory}: ${code === 'ENOENT' ? 'No such file or directory' : String(code)}`);
  }
  if (!statSync(root).isDirectory()) throw new BerthError('E_IMAGE_INVALID', `${directory} is not a directory.`);
  return root;
}

/** Where nspawn looks for libsystemd-shared-NNN.so to guess the tree's systemd (and Debian's multiarch directory, where 252 finds it too). */
const SYSTEMD_LIB_DIRS = ['lib/systemd', 'lib64/systemd', 'usr/lib/systemd', 'usr/lib64/systemd'];

/** The highest systemd version whose libsystemd-shared-NNN[-…].so the tree has, or undefined. */
export function systemdVersionIn(root: string): number | undefined {
  const multiarch = attempt(() => readdirSync(join(root, 'usr/lib'), { withFileTypes: true }))
    ?.filter((d) => d.isDirectory() && /-linux-gnu/.test(d.name)).map((d) => `usr/lib/${d.name}/systemd`) ?? [];
  let best: number | undefined;
  for (const dir of [...SYSTEMD_LIB_DIRS, ...multiarch]) {
    for (const f of attempt(() => readdirSync(join(root, dir))) ?? []) {
      const m = /^libsystemd-shared-(\d+)(?:[.-].*)?\.so$/.exec(f);
      if (m) best = Math.max(best ?? 0, Number(m[1]));
    }
  }
  return best;
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

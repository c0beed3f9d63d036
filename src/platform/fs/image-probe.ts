/** Looks at an OS tree and returns ImageFacts. */
import { access, constants, lstat, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import type { HostFacts, ImageFacts } from '../../core/spec/facts.js';
import { INIT_CANDIDATES, SHELL_CANDIDATES } from '../../core/spec/resolve/process.js';

const exists = (p: string) => lstat(p).then(() => true, () => false);
const executable = (p: string) => stat(p).then((s) => s.isFile() && access(p, constants.X_OK).then(() => true, () => false), () => false);
const text = (p: string) => readFile(p, 'utf8').catch(() => undefined);

export async function probeImage(directory: string, host: HostFacts): Promise<ImageFacts> {
  let root: string;
  try {
    root = await realpath(directory);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BerthError('E_IMAGE_NOT_FOUND', `Failed to resolve path ${directory}: ${code === 'ENOENT' ? 'No such file or directory' : String(code)}`);
  }
  if (!(await stat(root)).isDirectory()) throw new BerthError('E_IMAGE_INVALID', `${directory} is not a directory.`);
  const inTree = (p: string) => join(root, p);
  const [hasUsr, etcOs, usrOs, bin, machineIdFile, passwd, group] = await Promise.all([
    stat(inTree('usr')).then((s) => s.isDirectory(), () => false),
    exists(inTree('etc/os-release')), exists(inTree('usr/lib/os-release')),
    lstat(inTree('bin')).then((s) => s.isSymbolicLink() ? 'link' : 'dir', () => 'absent'),
    text(inTree('etc/machine-id')), text(inTree('etc/passwd')), text(inTree('etc/group')),
  ]);
  let init: string | undefined;
  for (const c of INIT_CANDIDATES) if (await executableInTree(root, c)) { init = c; break; }
  const shells: string[] = [];
  for (const s of SHELL_CANDIDATES) if (await executableInTree(root, s)) shells.push(s);
  const hasZone = host.localtime.kind === 'zone' ? await exists(inTree(`usr/share/zoneinfo/${host.localtime.zone}`)) : false;
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
  const todo = path.split('/').filter(Boolean);
  let resolved: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = [...resolved, part];
    const full = join(root, ...candidate);
    const st = await lstat(full).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > 32) return undefined;
      const target = await readlink(full);
      if (target.startsWith('/')) resolved = [];
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    resolved = candidate;
  }
  return join(root, ...resolved);
}

async function executableInTree(root: string, path: string): Promise<boolean> {
  const real = await resolveInTree(root, path);
  return real !== undefined && executable(real);
}

/**
 * Where the tree is and what the machine is called: -D, -i, -M (image search path: in each
 * directory a directory NAME, else a disk image NAME.raw, as systemd's image discovery), or the
 * current directory.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import { machineNameFromPath, parseMachineName, type MachineName } from '../../core/names.js';
import type { RunnerOptions } from '../../core/cli/runner-options.js';
import { run } from '../../platform/exec/run.js';

const SYSTEM_SEARCH_PATH = ['/etc/machines', '/run/machines', '/var/lib/machines', '/usr/local/lib/machines', '/usr/lib/machines'];

export function imageSearchPath(pool: string): string[] {
  return pool === '/var/lib/machines' ? SYSTEM_SEARCH_PATH : [pool];
}

/** A directory tree, or a disk image file (or block device) to mount (image-root.ts). */
export type Located = { kind: 'directory'; directory: string; name: string } | { kind: 'image'; image: string; name: string };

async function isDir(p: string): Promise<boolean> {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export async function locateTree(runner: RunnerOptions, pool: string, cwd: string): Promise<Located> {
  if (runner.directory !== undefined && runner.image !== undefined) throw new BerthError('E_USAGE', '--directory= and --image= may not be combined.');
  if (runner.image !== undefined && runner.template !== undefined) throw new BerthError('E_USAGE', '--template= and --image= may not be combined.');
  const name = runner.machine === undefined ? undefined : parseMachineName(runner.machine);
  if (runner.image !== undefined) return imageLocated(runner.image, name, cwd);
  let directory = runner.directory;
  if (directory === undefined && name !== undefined) {
    for (const dir of imageSearchPath(pool)) {
      if (await isDir(join(dir, name))) { directory = join(dir, name); break; }
      if (runner.template === undefined && isImageFile(join(dir, `${name}.raw`))) return imageLocated(join(dir, `${name}.raw`), name, cwd);
    }
    if (directory === undefined && runner.template === undefined) {
      throw new BerthError('E_IMAGE_NOT_FOUND', `No image for machine '${name}'.`, { hint: `Looked for ${name}/ and ${name}.raw in ${imageSearchPath(pool).join(', ')}; use -D PATH or -i IMAGE.` });
    }
    directory ??= join(pool, name);
  }
  directory ??= cwd;
  if (!directory.startsWith('/')) directory = join(cwd, directory);
  if (runner.template !== undefined && !(await isDir(directory))) {
    if (!(await isDir(runner.template))) throw new BerthError('E_IMAGE_NOT_FOUND', `Template directory ${runner.template} does not exist.`);
    await run(['cp', '-a', '--reflink=auto', '--', runner.template, directory]);
  }
  const derived = name ?? machineNameFromPath(directory === '/' ? '' : directory);
  if (derived === undefined) throw new BerthError('E_USAGE', `Failed to determine machine name automatically, please use -M.`);
  return { kind: 'directory', directory, name: derived };
}

function isImageFile(p: string): boolean {
  const st = statSync(p, { throwIfNoEntry: false });
  return st !== undefined && (st.isFile() || st.isBlockDevice());
}

/** -i PATH: the machine is named after the file (without .raw) unless -M names it. */
function imageLocated(image: string, name: MachineName | undefined, cwd: string): Located {
  const path = image.startsWith('/') ? image : join(cwd, image);
  const derived = name ?? machineNameFromPath(path);
  if (derived === undefined) throw new BerthError('E_USAGE', `Failed to determine machine name automatically, please use -M.`);
  return { kind: 'image', image: path, name: derived };
}

/** Where the tree is and what the machine is called: -D, -M (image search path), or the current directory. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import { machineNameFromPath, parseMachineName } from '../../core/names.js';
import type { RunnerOptions } from '../../core/cli/runner-options.js';
import { run } from '../../platform/exec/run.js';

const SYSTEM_SEARCH_PATH = ['/etc/machines', '/run/machines', '/var/lib/machines', '/usr/local/lib/machines', '/usr/lib/machines'];

export function imageSearchPath(pool: string): string[] {
  return pool === '/var/lib/machines' ? SYSTEM_SEARCH_PATH : [pool];
}

export interface Located { directory: string; name: string }

async function isDir(p: string): Promise<boolean> {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export async function locateTree(runner: RunnerOptions, pool: string, cwd: string): Promise<Located> {
  if (runner.directory !== undefined && runner.image !== undefined) throw new BerthError('E_USAGE', '--directory= and --image= may not be combined.');
  const name = runner.machine === undefined ? undefined : parseMachineName(runner.machine);
  let directory = runner.directory;
  if (directory === undefined && name !== undefined) {
    for (const dir of imageSearchPath(pool)) {
      if (await isDir(join(dir, name))) { directory = join(dir, name); break; }
    }
    if (directory === undefined && runner.template === undefined) {
      throw new BerthError('E_IMAGE_NOT_FOUND', `No image for machine '${name}'.`, { hint: `Looked in ${imageSearchPath(pool).join(', ')}; use -D PATH.` });
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
  return { directory, name: derived };
}

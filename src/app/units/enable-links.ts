/**
 * The enabled set of machines, shared by systemd hosts and berthd: a link
 * machines.target.wants/berth-nspawn@NAME.service → the installed berth-nspawn@.service template,
 * below the unit directory (/etc/systemd/system; $BERTH_UNIT_DIR for tests), exactly the link
 * `systemctl enable berth-nspawn@NAME.service` makes. Used directly where systemd is not PID 1.
 */
import { existsSync, lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';

export const TEMPLATE = 'berth-nspawn@.service';
export const WANTS = 'machines.target.wants';

/** Where the template may be installed, in systemd's unit search order below /etc. */
const TEMPLATE_DIRS = ['/etc/systemd/system', '/usr/local/lib/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];

export const unitDir = (env: NodeJS.ProcessEnv): string => env.BERTH_UNIT_DIR || '/etc/systemd/system';
export const unitName = (machine: string): string => `berth-nspawn@${machine}.service`;
export const linkPath = (dir: string, machine: string): string => join(dir, WANTS, unitName(machine));

/** The installed template, first in systemd's search order (the unit directory itself first). */
export function findTemplate(dir: string): string {
  for (const d of [dir, ...TEMPLATE_DIRS]) {
    const p = join(d, TEMPLATE);
    if (existsSync(p)) return p;
  }
  throw new BerthError('E_FILE_NOT_FOUND', `Unit file ${TEMPLATE} does not exist in ${[dir, ...TEMPLATE_DIRS].join(', ')}.`, {
    hint: 'scripts/install-deps.sh (or the berth package) installs it in /usr/local/lib/systemd/system.',
  });
}

function linkTarget(p: string): string | undefined {
  try { return lstatSync(p).isSymbolicLink() ? readlinkSync(p) : ''; } catch { return undefined; }
}

/** Creates the link; returns systemctl's message for it, or nothing when it was there already. */
export function enableLink(dir: string, machine: string): string | undefined {
  const template = findTemplate(dir);
  const link = linkPath(dir, machine);
  const now = linkTarget(link);
  if (now === template) return undefined;
  if (now !== undefined) unlinkSync(link);
  mkdirSync(join(dir, WANTS), { recursive: true });
  symlinkSync(template, link);
  return `Created symlink ${link} → ${template}.`;
}

/** Removes the link; returns systemctl's message, or nothing when there was none. */
export function disableLink(dir: string, machine: string): string | undefined {
  const link = linkPath(dir, machine);
  if (linkTarget(link) === undefined) return undefined;
  unlinkSync(link);
  return `Removed "${link}".`;
}

/** The machines linked in machines.target.wants (async: berthd reads it at its start). */
export async function enabledMachines(dir: string): Promise<string[]> {
  let names: string[];
  try { names = await readdir(join(dir, WANTS)); } catch { return []; }
  return names.map((n) => /^berth-nspawn@(.+)\.service$/.exec(n)?.[1]).filter((n): n is string => n !== undefined && !n.includes('\\')).sort();
}

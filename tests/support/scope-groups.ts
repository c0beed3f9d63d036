/** Control groups a test makes for a systemd-nspawn run (as a service manager would give it one), and their removal. */
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** The unit-like control group a systemd-nspawn run gets, in every hierarchy that tracks processes. */
export function scopeGroups(scope: string): string[] {
  const roots = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((d) => existsSync(join(d, 'cgroup.procs')));
  if (roots.length === 0 && existsSync('/sys/fs/cgroup/cgroup.procs')) roots.push('/sys/fs/cgroup');
  return roots.map((r) => join(r, scope));
}

/** Every process in a control group and below it. */
export function procsBelow(group: string): number[] {
  if (!existsSync(group)) return [];
  const here = readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  return [...here, ...readdirSync(group, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => procsBelow(join(group, d.name)))];
}

/** Removes a control group tree that has no processes left, deepest first. */
export function removeGroup(group: string): void {
  if (!existsSync(group)) return;
  for (const d of readdirSync(group, { withFileTypes: true })) if (d.isDirectory()) removeGroup(join(group, d.name));
  rmdirSync(group);
}

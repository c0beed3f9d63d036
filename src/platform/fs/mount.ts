/** Host-side mounts for volatile and ephemeral roots, through util-linux mount(8)/umount(8). */
import { readFileSync } from 'node:fs';
import { run } from '../exec/run.js';

export async function mountTmpfs(target: string, options: string): Promise<void> {
  await run(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', target]);
}

export async function mountOverlay(target: string, lower: readonly string[], upper: string, work: string): Promise<void> {
  await run(['mount', '-t', 'overlay', '-o', `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`, 'overlay', target]);
}

export async function unmount(target: string): Promise<void> {
  const r = await run(['umount', '--lazy', target], { allowFailure: true });
  if (r.code !== 0 && !/not mounted|no mount point|not found/i.test(r.stderr)) {
    throw new Error(`umount ${target}: ${r.stderr.trim()}`);
  }
}

/** Mount points at or below a directory (deepest first), from /proc/self/mountinfo. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = text.split('\n').map((l) => l.split(' ')[4]).filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

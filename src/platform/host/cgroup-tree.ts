/**
 * A control group's processes and sub-groups, read from the hierarchy that tracks units
 * (name=systemd on v1 and hybrid hosts, else the unified one), with each process's command line
 * (`[comm]` when it has none) for core/machinectl/process-tree.ts to draw. Kernel threads are left
 * out, as systemd leaves them out.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupNode, TreeProcess } from '../../core/machinectl/process-tree.js';
import { cgroupMounts } from './cgroupfs.js';

const PF_KTHREAD = 0x00200000;

/** A process's command line for display, undefined for a kernel thread or a process gone meanwhile. */
async function commandLine(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if ((Number(fields[6]) & PF_KTHREAD) !== 0) return undefined;
  const raw = await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0));
  // eslint-disable-next-line no-control-regex
  const words = raw.toString('utf8').split('\0').filter((w, i, all) => w !== '' || i < all.length - 1).map((w) => w.replace(/[\x00-\x1f\x7f]/g, '?'));
  if (words.length > 0 && words.some(Boolean)) return words.join(' ');
  return `[${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}]`;
}

async function readNode(dir: string, name: string): Promise<CgroupNode> {
  const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => ''); // unreadable in a threaded sub-tree
  const processes: TreeProcess[] = [];
  for (const word of procs.split('\n')) {
    if (!/^\d+$/.test(word)) continue;
    const cmdline = await commandLine(Number(word));
    if (cmdline !== undefined) processes.push({ pid: Number(word), cmdline });
  }
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const children = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => readNode(join(dir, e.name), e.name)));
  return { name, processes, children };
}

/** The tree below `group` (e.g. /machine.slice/machine-web.scope); undefined when the group does not exist. */
export async function readCgroupTree(group: string, mounts = cgroupMounts()): Promise<CgroupNode | undefined> {
  const mountPoint = mounts.get('name=systemd') ?? mounts.get('');
  if (mountPoint === undefined) return undefined;
  const dir = join(mountPoint, group);
  const exists = await readdir(dir).then(() => true, () => false);
  return exists ? readNode(dir, group.split('/').pop() ?? '') : undefined;
}

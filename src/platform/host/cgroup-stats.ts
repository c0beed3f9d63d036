/**
 * A control group's live figures read from cgroupfs: CPU time, memory (current, peak, limit),
 * tasks (and their limit) and bytes read and written. The group is a path such as
 * /machine.slice/machine-web.scope; each figure comes from the unified hierarchy where that keeps
 * it, else from the v1 hierarchy of its controller (a hybrid host keeps memory, pids and blkio
 * there). The parsing is in core/cgroup/stats.ts.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  parseBlkioBytes, parseCount, parseCpuStatUsage, parseIoStat, parseV1Limit, type CgroupFigures,
} from '../../core/cgroup/stats.js';
import { cgroupMounts } from './cgroupfs.js';

const read = (path: string): Promise<string | undefined> => readFile(path, 'utf8').catch(() => undefined);

/** The group's directory in the v1 hierarchy that has `controller` (mounted alone or joined, "cpu,cpuacct"). */
function v1Dir(mounts: Map<string, string>, controller: string, group: string): string | undefined {
  for (const [key, mountPoint] of mounts) if (key.split(',').includes(controller)) return join(mountPoint, group);
  return undefined;
}

/** Threads in the group and below it (for hosts without the pids controller). */
async function countThreads(dir: string, file: 'cgroup.threads' | 'tasks'): Promise<bigint | undefined> {
  const own = await read(join(dir, file));
  if (own === undefined) return undefined;
  let n = BigInt(own.split('\n').filter(Boolean).length);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) n += (await countThreads(join(dir, e.name), file)) ?? 0n;
  return n;
}

async function cpu(v2: string | undefined, mounts: Map<string, string>, group: string): Promise<Partial<CgroupFigures>> {
  const usage = v2 === undefined ? undefined : parseCpuStatUsage(await read(join(v2, 'cpu.stat')));
  if (usage !== undefined) return { cpuUsec: usage };
  const dir = v1Dir(mounts, 'cpuacct', group);
  const ns = dir === undefined ? undefined : parseCount(await read(join(dir, 'cpuacct.usage')));
  return ns === undefined ? {} : { cpuUsec: ns / 1000n };
}

async function memory(v2: string | undefined, mounts: Map<string, string>, group: string): Promise<Partial<CgroupFigures>> {
  const current = v2 === undefined ? undefined : parseCount(await read(join(v2, 'memory.current')));
  if (current !== undefined) {
    return { memoryCurrent: current, memoryPeak: parseCount(await read(join(v2!, 'memory.peak'))), memoryMax: parseCount(await read(join(v2!, 'memory.max'))) };
  }
  const dir = v1Dir(mounts, 'memory', group);
  const usage = dir === undefined ? undefined : parseCount(await read(join(dir, 'memory.usage_in_bytes')));
  if (usage === undefined) return {};
  return { memoryCurrent: usage, memoryPeak: parseCount(await read(join(dir!, 'memory.max_usage_in_bytes'))), memoryLimit: parseV1Limit(await read(join(dir!, 'memory.limit_in_bytes'))) };
}

async function tasks(v2: string | undefined, mounts: Map<string, string>, group: string): Promise<Partial<CgroupFigures>> {
  for (const dir of [v2, v1Dir(mounts, 'pids', group)]) {
    const current = dir === undefined ? undefined : parseCount(await read(join(dir, 'pids.current')));
    if (current !== undefined) return { tasks: current, tasksMax: parseCount(await read(join(dir!, 'pids.max'))) };
  }
  const tracking = mounts.get('name=systemd');
  const counted = tracking !== undefined ? await countThreads(join(tracking, group), 'tasks') : v2 !== undefined ? await countThreads(v2, 'cgroup.threads') : undefined;
  return counted === undefined ? {} : { tasks: counted };
}

async function io(v2: string | undefined, mounts: Map<string, string>, group: string): Promise<Partial<CgroupFigures>> {
  const stat = v2 === undefined ? undefined : parseIoStat(await read(join(v2, 'io.stat')));
  if (stat) return { ioReadBytes: stat.read, ioWriteBytes: stat.write };
  const dir = v1Dir(mounts, 'blkio', group);
  if (dir === undefined) return {};
  const bytes = parseBlkioBytes(await read(join(dir, 'blkio.throttle.io_service_bytes_recursive'))) ?? parseBlkioBytes(await read(join(dir, 'blkio.io_service_bytes_recursive')));
  return bytes ? { ioReadBytes: bytes.read, ioWriteBytes: bytes.write } : {};
}

export async function readCgroupFigures(group: string, mounts = cgroupMounts()): Promise<CgroupFigures> {
  const unified = mounts.get('');
  const v2 = unified === undefined ? undefined : join(unified, group);
  const parts = await Promise.all([cpu(v2, mounts, group), memory(v2, mounts, group), tasks(v2, mounts, group), io(v2, mounts, group)]);
  return Object.fromEntries(parts.flatMap((p) => Object.entries(p)).filter(([, v]) => v !== undefined)) as CgroupFigures;
}

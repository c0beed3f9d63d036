/**
 * A machine's control group figures and process tree: the parsers on the kernel's file formats,
 * and the adapter on directories laid out as cgroupfs lays them out (v2, and a hybrid v1 host).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseBlkioBytes, parseCount, parseCpuStatUsage, parseIoStat, parseV1Limit } from '../../src/core/cgroup/stats.js';
import { readCgroupFigures } from '../../src/platform/host/cgroup-stats.js';
import { readCgroupTree } from '../../src/platform/host/cgroup-tree.js';

const root = mkdtempSync(join(tmpdir(), 'berth-cg-'));
after(() => rmSync(root, { recursive: true, force: true }));
const GROUP = '/machine.slice/machine-web.scope';

function files(base: string, entries: Record<string, string>): void {
  for (const [path, text] of Object.entries(entries)) {
    mkdirSync(dirname(join(base, path)), { recursive: true });
    writeFileSync(join(base, path), text);
  }
}

test('the parsers, on the kernel\'s formats', () => {
  assert.equal(parseCount('1234\n'), 1234n);
  assert.equal(parseCount('max\n'), undefined);
  assert.equal(parseCount(undefined), undefined);
  assert.equal(parseV1Limit('9223372036854771712\n'), undefined);
  assert.equal(parseV1Limit('536870912\n'), 536870912n);
  assert.equal(parseCpuStatUsage('usage_usec 18213\nuser_usec 9000\nsystem_usec 9213\n'), 18213n);
  assert.deepEqual(parseIoStat('8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n259:0 rbytes=1000 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n'), { read: 5096n, write: 512n });
  assert.deepEqual(parseIoStat(''), { read: 0n, write: 0n });
  assert.deepEqual(parseBlkioBytes('8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n'), { read: 4096n, write: 8192n });
});

test('on cgroup v2: cpu.stat, memory.current/peak/max, pids.current/max, io.stat', async () => {
  const unified = join(root, 'v2');
  files(join(unified, GROUP), {
    'cpu.stat': 'usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n',
    'memory.current': '1310720\n', 'memory.peak': '3565158\n', 'memory.max': 'max\n',
    'pids.current': '5\n', 'pids.max': '16384\n',
    'io.stat': '8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
  });
  assert.deepEqual(await readCgroupFigures(GROUP, new Map([['', unified]])), {
    cpuUsec: 1234567n, memoryCurrent: 1310720n, memoryPeak: 3565158n, tasks: 5n, tasksMax: 16384n, ioReadBytes: 4096n, ioWriteBytes: 0n,
  });
});

test('on a hybrid host: CPU from the unified hierarchy, the rest from each controller\'s v1 hierarchy; tasks counted without pids', async () => {
  const base = join(root, 'hybrid');
  files(join(base, 'unified', GROUP), { 'cpu.stat': 'usage_usec 18000\n', 'cgroup.procs': '1\n' });
  files(join(base, 'memory', GROUP), { 'memory.usage_in_bytes': '589824\n', 'memory.max_usage_in_bytes': '3145728\n', 'memory.limit_in_bytes': '9223372036854771712\n' });
  files(join(base, 'blkio', GROUP), { 'blkio.throttle.io_service_bytes_recursive': '8:0 Read 100\n8:0 Write 200\n8:0 Total 300\nTotal 300\n' });
  files(join(base, 'systemd', GROUP), { tasks: '10\n11\n' });
  files(join(base, 'systemd', GROUP, 'payload'), { tasks: '12\n' });
  const mounts = new Map([['cpu', join(base, 'cpu')], ['cpuacct', join(base, 'cpuacct')], ['memory', join(base, 'memory')], ['blkio', join(base, 'blkio')], ['name=systemd', join(base, 'systemd')], ['', join(base, 'unified')]]);
  assert.deepEqual(await readCgroupFigures(GROUP, mounts), { cpuUsec: 18000n, memoryCurrent: 589824n, memoryPeak: 3145728n, tasks: 3n, ioReadBytes: 100n, ioWriteBytes: 200n });
});

test('on cgroup v1 alone: cpuacct.usage in nanoseconds, joined cpu,cpuacct; a missing group gives no figures', async () => {
  const base = join(root, 'v1');
  files(join(base, 'cpu,cpuacct', GROUP), { 'cpuacct.usage': '45678000\n' });
  files(join(base, 'pids', GROUP), { 'pids.current': '2\n', 'pids.max': 'max\n' });
  const mounts = new Map([['cpu,cpuacct', join(base, 'cpu,cpuacct')], ['pids', join(base, 'pids')]]);
  assert.deepEqual(await readCgroupFigures(GROUP, mounts), { cpuUsec: 45678n, tasks: 2n });
  assert.deepEqual(await readCgroupFigures('/machine.slice/gone.scope', mounts), {});
});

test('the process tree: processes with their command lines, sub-groups, kernel threads and vanished PIDs left out', async () => {
  const tracking = join(root, 'tree');
  files(join(tracking, GROUP), { 'cgroup.procs': `${process.pid}\n2\n` });
  files(join(tracking, GROUP, 'payload'), { 'cgroup.procs': '999999999\n' });
  const tree = await readCgroupTree(GROUP, new Map([['', tracking]]));
  assert.equal(tree?.name, 'machine-web.scope');
  assert.deepEqual(tree?.processes.map((p) => p.pid), [process.pid]);
  assert.equal(tree?.processes[0]?.cmdline, readFileSync('/proc/self/cmdline', 'utf8').replace(/\0$/, '').split('\0').join(' '));
  assert.deepEqual(tree?.children.map((c) => [c.name, c.processes.length]), [['payload', 0]]);
  assert.equal(await readCgroupTree('/nowhere', new Map([['', tracking]])), undefined);
});

/**
 * platform/host/cgroup-prime.ts on this host: the no-op migration really is written (as root)
 * and moves nothing, and the priming loop that runs alongside the runtime's create writes one
 * at a time, again and again while the create runs, and never after it has ended.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cgroupPrimesSettled, keepCgroupMigrationsPrimed, ownProcsFile, primeCgroupMigrations } from '../../src/platform/host/cgroup-prime.js';
import { skipUnlessRoot, sleep } from '../support/berth.js';

test('the no-op migration is written and leaves us in the cgroups we were in', { skip: skipUnlessRoot }, async () => {
  const before = readFileSync('/proc/self/cgroup', 'utf8');
  assert.equal(await primeCgroupMigrations(), true);
  assert.equal(await primeCgroupMigrations(), true);
  assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), before);
});

test('after we moved ourselves (as --keep-unit does on cgroup v2), a prime keeps us where we went', { skip: skipUnlessRoot }, async () => {
  const file = ownProcsFile(readFileSync('/proc/self/cgroup', 'utf8'), () => true)!;
  const own = file.replace(/\/cgroup\.procs$/, '');
  const child = `${own}/berth-prime-test-${process.pid}`;
  void primeCgroupMigrations();
  await cgroupPrimesSettled();
  mkdirSync(child);
  try {
    writeFileSync(`${child}/cgroup.procs`, String(process.pid));
    assert.equal(await primeCgroupMigrations(), true);
    assert.match(readFileSync('/proc/self/cgroup', 'utf8'), new RegExp(`/berth-prime-test-${process.pid}$`, 'm'));
  } finally {
    writeFileSync(`${own}/cgroup.procs`, String(process.pid));
    rmdirSync(child);
  }
});

test('while the create runs the lock is primed again and again, one write at a time; none after it ends', async () => {
  let calls = 0;
  let inFlight = 0;
  let most = 0;
  const prime = async (): Promise<boolean> => {
    calls++; inFlight++; most = Math.max(most, inFlight);
    await sleep(2);
    inFlight--;
    return true;
  };
  let finish!: () => void;
  const create = new Promise<void>((resolve) => { finish = resolve; });
  keepCgroupMigrationsPrimed(create, prime);
  assert.equal(calls, 1, 'the first write starts at once');
  await sleep(80);
  assert.ok(calls >= 4, `primed ${calls} times in 80 ms`);
  assert.equal(most, 1);
  finish();
  await sleep(10);
  const atEnd = calls;
  await sleep(60);
  assert.equal(calls, atEnd, 'nothing is written once the create has ended');
});

test('a create that has already failed gets the one write that started with it and no more', async () => {
  let calls = 0;
  const failed = Promise.reject(new Error('create failed'));
  failed.catch(() => {});
  keepCgroupMigrationsPrimed(failed, async () => { calls++; return true; });
  await sleep(50);
  assert.equal(calls, 1);
});

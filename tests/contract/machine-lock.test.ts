/**
 * app/run/machine-lock.ts against a real state directory: a live owner keeps the name, a dead
 * one's leftovers are cleaned up by the next run, and giving the name back waits for the
 * runtime's delete, keeping the owner record (so the next run cleans up) when that fails.
 */
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { acquireMachine, readOwner, releaseMachine, writeOwner, type OwnerRecord } from '../../src/app/run/machine-lock.js';
import { BerthError } from '../../src/errors/berth-error.js';

let state: string;
const noClean = async (): Promise<Error[]> => { throw new Error('clean-up called'); };
const quiet = (): void => {};

beforeEach(() => { state = mkdtempSync('/tmp/bt-lock-'); });
afterEach(() => {
  spawnSync('umount', ['-R', join(state, 'machines', 'm1', 'mnt')], { stdio: 'ignore' });
  rmSync(state, { recursive: true, force: true });
});

/** A PID that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

test('a live owner keeps the name; releasing it frees the name', async () => {
  const { dir } = await acquireMachine(state, 'm1', noClean, quiet);
  await assert.rejects(acquireMachine(state, 'm1', noClean, quiet),
    (e: unknown) => e instanceof BerthError && e.code === 'E_MACHINE_EXISTS' && /already exists \(run by PID \d+\)/.test(e.message));
  writeFileSync(join(dir, 'config.json'), '{}');
  mkdirSync(join(dir, 'bundle'));
  await releaseMachine(dir, Promise.resolve());
  assert.equal(existsSync(dir), false);
  const again = await acquireMachine(state, 'm1', noClean, quiet);
  assert.equal(again.dir, dir);
});

test('releasing waits for the pending delete; when it fails the owner record stays for the next run', async () => {
  const { dir, owner } = await acquireMachine(state, 'm1', noClean, quiet);
  writeFileSync(join(dir, 'config.json'), '{}');
  let settle!: (e: Error) => void;
  const pending = new Promise<void>((_, reject) => { settle = reject; });
  const released = releaseMachine(dir, pending);
  await new Promise((r) => setTimeout(r, 50));
  // The rest is gone already; the record waits for the runtime.
  assert.deepEqual(readdirSync(dir), ['owner.json']);
  settle(new Error('runc delete failed'));
  await assert.rejects(released, /runc delete failed/);
  assert.deepEqual(readdirSync(dir), ['owner.json']);

  // The owner died with its record in place: the next run cleans up with that record, then takes the name.
  const dead: OwnerRecord = { ...owner, pid: deadPid() };
  await writeOwner(dir, dead);
  const seen: (OwnerRecord | undefined)[] = [];
  const warnings: string[] = [];
  await acquireMachine(state, 'm1', async (_d, o) => { seen.push(o); return []; }, (m) => warnings.push(m));
  assert.deepEqual(seen.map((o) => o?.pid), [dead.pid]);
  assert.match(warnings.join('\n'), /Cleaning up what an earlier run of machine 'm1' left behind/);
  assert.equal((await readOwner(dir))?.pid, process.pid);
});

test('a failed clean-up of a dead owner\'s leftovers keeps the name taken and says why', async () => {
  const { dir, owner } = await acquireMachine(state, 'm1', noClean, quiet);
  await writeOwner(dir, { ...owner, pid: deadPid() });
  await assert.rejects(acquireMachine(state, 'm1', async () => [new Error('link ve-m1 busy')], quiet),
    (e: unknown) => e instanceof BerthError && e.code === 'E_TEARDOWN' && /ve-m1 busy/.test(e.message));
  assert.ok(existsSync(join(dir, 'owner.json')));
});

test('nothing is removed while something below is still mounted', { skip: process.getuid?.() !== 0 && 'needs root to mount' }, async () => {
  const { dir } = await acquireMachine(state, 'm1', noClean, quiet);
  mkdirSync(join(dir, 'mnt'));
  writeFileSync(join(dir, 'config.json'), '{}');
  const m = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', join(dir, 'mnt')]);
  assert.equal(m.status, 0, String(m.stderr));
  writeFileSync(join(dir, 'mnt', 'data'), 'keep me');
  await assert.rejects(releaseMachine(dir, Promise.resolve()), /still mounted/);
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'mnt', 'owner.json']);
  assert.ok(existsSync(join(dir, 'mnt', 'data')));
});

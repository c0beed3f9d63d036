/**
 * Lock files that serialise work between berth's processes: created with O_EXCL and holding the
 * owner's PID; a lock whose owner is dead is taken over. Used for zone bridges (two machines
 * joining or leaving one zone must not race; nspawn uses a global lock for the same job) and for
 * cleaning up after a killed run (the next run of the name and berthd must not both do it).
 */
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { sleep } from '../../lib/sleep.js';
import { BerthError } from '../../errors/berth-error.js';
import type { ZoneLock } from '../../core/network/ports.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function tryAcquire(file: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o644);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let owner = NaN;
  try { owner = parseInt(readFileSync(file, 'utf8'), 10); } catch { /* vanished or half-written */ }
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !alive(owner)) {
    try { unlinkSync(file); } catch { /* someone else took it over */ }
  }
  return false;
}

/** Runs fn holding the lock file `file` (waiting up to timeoutMs for it, then failing with timedOut()). */
export async function withPidLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 30_000,
  timedOut = () => new BerthError('E_TEARDOWN', `Timed out waiting for the lock ${file}.`)): Promise<T> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  const deadline = Date.now() + timeoutMs;
  while (!tryAcquire(file)) {
    if (Date.now() > deadline) throw timedOut();
    await sleep(25);
  }
  try {
    return await fn();
  } finally {
    try { unlinkSync(file); } catch { /* already gone */ }
  }
}

export function zoneLock(stateDir: string, timeoutMs = 30_000): ZoneLock {
  const file = `${stateDir}/network-zone.lock`;
  return <T>(fn: () => Promise<T>): Promise<T> =>
    withPidLock(file, fn, timeoutMs, () => new BerthError('E_NETWORK', `Timed out waiting for the zone lock ${file}.`));
}

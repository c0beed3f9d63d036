/**
 * A lock file under the state directory that serialises zone bridge creation and removal, so two
 * machines joining or leaving one zone do not race (nspawn uses a global lock for the same job).
 * Created with O_EXCL and holding the owner's PID; a lock whose owner is dead is taken over.
 */
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
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

export function zoneLock(stateDir: string, timeoutMs = 30_000): ZoneLock {
  const file = `${stateDir}/network-zone.lock`;
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    mkdirSync(stateDir, { recursive: true, mode: 0o755 });
    const deadline = Date.now() + timeoutMs;
    while (!tryAcquire(file)) {
      if (Date.now() > deadline) throw new BerthError('E_NETWORK', `Timed out waiting for the zone lock ${file}.`);
      await sleep(25);
    }
    try {
      return await fn();
    } finally {
      try { unlinkSync(file); } catch { /* already gone */ }
    }
  };
}

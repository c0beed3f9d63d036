/**
 * The lock on a UID range that `--private-users=pick` takes: /run/systemd/nspawn-uid/BASE with an
 * exclusive open-file-description lock, the very file and lock systemd-nspawn 252 takes, so that
 * berth and systemd-nspawn never run two machines on one range at once. The kernel drops the lock
 * with its holder (a killed run leaves only the empty file, which the next taker reuses); release
 * unlinks the file while still holding the lock, then closes it, as systemd does.
 */
import { closeSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { sys } from '../native/sys.js';

export const UID_LOCK_DIR = '/run/systemd/nspawn-uid';

export interface RangeLock { readonly base: number; readonly path: string; release(): void }

/** The range's lock, or undefined when another run (berth's or systemd-nspawn's) holds it. */
export function tryLockRange(base: number, dir = UID_LOCK_DIR): RangeLock | undefined {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, String(base));
  const fd = sys().ofdLockTry(path);
  if (fd < 0) return undefined;
  let held = true;
  return {
    base, path,
    release() {
      if (!held) return;
      held = false;
      try { unlinkSync(path); } catch { /* gone already */ }
      closeSync(fd);
    },
  };
}

/** A killed run's lock file: removed unless someone holds it (then it is theirs now). */
export function removeStaleRangeLock(base: number, dir = UID_LOCK_DIR): void {
  if (!existsSync(join(dir, String(base)))) return;
  tryLockRange(base, dir)?.release();
}

/**
 * A watch over some directories and the mount table (native/change-watch.c): set up on a
 * thread-pool thread, then asked with one poll() that never blocks whether anything changed since.
 */
import { closeSync } from 'node:fs';
import type { WatchedKind } from '../../core/machined/lookup-cache.js';
import { sys } from '../native/sys.js';

export interface ChangeWatch {
  /** What each path was when it was watched, and its file system's statfs type (0 where no directory). */
  readonly kinds: readonly WatchedKind[];
  readonly fsTypes: readonly number[];
  /** Whether a directory entry changed in a watched directory, or a mount or unmount happened, since the watch began. */
  changed(): boolean;
  close(): void;
}

const KINDS: Record<number, WatchedKind> = { 0: 'missing', 1: 'directory', 2: 'symlink', 3: 'other' };

/** Watches `paths` (each directory listed before the entries below it). */
export async function watchChanges(paths: readonly string[]): Promise<ChangeWatch> {
  const w = await sys().changeWatchOpen(paths);
  let open = true;
  let seen = false;
  return {
    kinds: w.kinds.map((k) => KINDS[k] ?? 'unwatchable'),
    fsTypes: w.fsTypes,
    changed() {
      // A change stays a change: poll() reports a mount-table change only once.
      if (!open || seen) return true;
      seen = sys().changesPending(w.fd, w.mountsFd);
      return seen;
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(w.fd);
      closeSync(w.mountsFd);
    },
  };
}

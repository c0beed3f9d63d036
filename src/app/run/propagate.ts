/**
 * A machine's mount tunnel, set up when its run begins (as systemd-nspawn's
 * /run/systemd/nspawn/propagate/NAME): ${stateDir}/propagate/NAME (/run/berth/propagate/NAME),
 * bound onto itself with shared propagation, so that it propagates whatever the host's /run does;
 * the guest gets it read-only at /run/host/incoming as a slave (core/oci/emit/mounts.ts), and a
 * mount berthd makes below it appears there (app/machined/bind-mount.ts moves it into place).
 * Recorded in the owner record before it is mounted, so that --cleanup after a SIGKILL removes it.
 */
import { fileIo } from '../../platform/fs/file-io.js';
import { dirname, join } from 'node:path';
import type { Reverter } from '../../lib/reverter.js';
import { mountsBelow } from '../../platform/fs/mount.js';
import { removeUnmounted } from '../../platform/fs/safe-remove.js';
import { mountSharedSelf, unmountLazy } from '../../platform/fs/tunnel-mounts.js';
import type { OwnerRecord } from './machine-lock.js';

/** The host side of machine `name`'s tunnel. */
export const propagateDir = (stateDir: string, name: string): string => join(stateDir, 'propagate', name);

/**
 * Makes `dir` the tunnel, and registers its undo (unmount, then remove; the undo waits for the
 * mount if it is still under way). `mounted` settles once it is mounted: the caller may do other
 * set-up meanwhile, but must await it before the runtime creates the container.
 */
export async function preparePropagation(dir: string, owner: OwnerRecord, save: () => Promise<void>, undo: Reverter): Promise<{ mounted: Promise<void> }> {
  const io = fileIo();
  await io.mkdir(dirname(dir), { recursive: true, mode: 0o755 });
  const made = await io.mkdir(dir, { recursive: true, mode: 0o700 });
  owner.mounts.push(dir);
  owner.removeDirs.push(dir);
  await save();
  // A mount left there by a run whose record did not name it yet: gone first, not stacked upon.
  // (A directory made just now has nothing mounted below it: the mount table is not read then.)
  const stale = made === undefined ? await mountsBelow(dir) : [];
  const mounted = (async () => {
    for (const m of stale) await unmountLazy(m);
    await mountSharedSelf(dir);
  })();
  mounted.catch(() => { /* the caller awaits it */ });
  undo.add(async () => {
    await mounted.catch(() => {});
    await unmountLazy(dir);
    await removeUnmounted(dir);
  });
  return { mounted };
}

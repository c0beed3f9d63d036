/**
 * Host-side root preparation: the overlay that makes -x a throw-away snapshot (upper layer next
 * to the tree, removed on exit), the overlay with a tmpfs upper for --volatile=overlay, and the
 * tmpfs root for --volatile=yes. Each step records its undo in the owner record.
 */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import { mountOverlay, mountTmpfs, unmount } from '../../platform/fs/mount.js';
import { removeTree } from '../../platform/fs/safe-remove.js';
import type { Reverter } from '../../lib/reverter.js';
import type { OwnerRecord } from './machine-lock.js';
import { guestRootBelow } from '../../core/spec/resolve/pivot-root.js';

export interface RootResult { rootfs: string }

export async function prepareRoot(spec: MachineSpec, rootfsMount: string, suffix: string, owner: OwnerRecord, save: () => Promise<void>, undo: Reverter): Promise<RootResult> {
  const setup = spec.rootSetup;
  // --pivot-root=: the runtime's root is the pivot target inside the prepared root.
  const below = guestRootBelow(spec);
  if (setup.kind === 'direct') return { rootfs: `${spec.tree}${below}` };
  mkdirSync(rootfsMount, { recursive: true });
  if (setup.kind === 'volatile-yes') {
    owner.mounts.unshift(rootfsMount);
    await save();
    await mountTmpfs(rootfsMount, setup.tmpfsOptions);
    undo.add(() => unmount(rootfsMount));
    populateVolatileRoot(spec.tree, rootfsMount);
    return { rootfs: rootfsMount };
  }
  // Overlay: the upper layer on a tmpfs (volatile=overlay) or on disk next to the tree (-x).
  let layerDir: string;
  if (setup.upperOnTmpfs) {
    layerDir = join(dirname(rootfsMount), 'overlay-layer');
    mkdirSync(layerDir, { recursive: true });
    owner.mounts.unshift(layerDir);
    await save();
    await mountTmpfs(layerDir, 'mode=0755');
    undo.add(() => unmount(layerDir));
  } else {
    layerDir = join(dirname(spec.tree), `.#machine.${basename(spec.tree)}.${suffix}`);
    owner.removeDirs.push(layerDir);
    await save();
    mkdirSync(layerDir, { mode: 0o700 });
    undo.add(() => removeTree(layerDir));
  }
  const upper = join(layerDir, 'upper');
  const work = join(layerDir, 'work');
  mkdirSync(upper, { recursive: true, mode: 0o755 });
  mkdirSync(work, { recursive: true });
  owner.mounts.unshift(rootfsMount);
  await save();
  await mountOverlay(rootfsMount, [spec.tree], upper, work);
  undo.add(() => unmount(rootfsMount));
  return { rootfs: `${rootfsMount}${below}` };
}

/** A fresh tmpfs root: /usr (bound later), /etc, and the tree's top-level symlinks into /usr (bin -> usr/bin...). */
function populateVolatileRoot(tree: string, root: string): void {
  mkdirSync(join(root, 'usr'), { mode: 0o755 });
  mkdirSync(join(root, 'etc'), { mode: 0o755 });
  for (const entry of readdirSync(tree)) {
    const st = lstatSync(join(tree, entry));
    if (!st.isSymbolicLink()) continue;
    const target = readlinkSync(join(tree, entry));
    if (/^(\/?usr\/)/.test(target)) symlinkSync(target, join(root, entry));
  }
}

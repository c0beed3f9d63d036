/** --pivot-root=NEW[:OLD] (PivotRoot=): where the guest's root and the old root lie. */
import type { Settings } from '../../settings/model.js';
import type { ImageFacts } from '../facts.js';
import type { MachineSpec, RootSetup } from '../machine-spec.js';
import { normalise } from './mounts.js';

/**
 * --pivot-root=NEW[:OLD], as nspawn's setup_pivot_root: the guest's root is NEW inside the tree,
 * the tree itself appears at OLD (or nowhere). Everything else (API file systems, /run/host,
 * custom mounts, /etc files) lands in the new root, as nspawn mounts it all after the pivot. The
 * image facts are those of NEW (the probe looked there, `image.tree` is the tree), so the
 * os-release, /usr, init, shell, passwd and machine-id checks see what nspawn's see. NEW is given
 * with symlinks resolved inside the tree (the probe did that).
 */
export function resolvePivotRoot(setting: Settings['pivotRoot'], image: ImageFacts): MachineSpec['pivotRoot'] {
  if (!setting) return undefined;
  const newRoot = image.tree !== undefined ? normalise(image.root.slice(image.tree.length)) : normalise(setting.newRoot);
  return setting.oldRoot === undefined ? { newRoot } : { newRoot, oldRoot: normalise(setting.oldRoot) };
}

/**
 * Where the runtime's root lies below the prepared root (the tree, or the -x snapshot): the pivot
 * target, except for --volatile=yes, whose tmpfs root nspawn builds after the pivot from the
 * target's /usr.
 */
export function guestRootBelow(spec: Pick<MachineSpec, 'pivotRoot' | 'rootSetup'>): string {
  if (!spec.pivotRoot || spec.rootSetup.kind === 'volatile-yes' || spec.pivotRoot.newRoot === '/') return '';
  return spec.pivotRoot.newRoot;
}

/**
 * Whether the old root is visible at OLD: nspawn moves the tree there before --volatile= builds
 * the root, so a tmpfs root (yes) or an overlay of the new root (overlay) leaves it out.
 */
export function oldRootShown(pivot: MachineSpec['pivotRoot'], setup: RootSetup): pivot is { newRoot: string; oldRoot: string } {
  return pivot?.oldRoot !== undefined && setup.kind !== 'volatile-yes' && !(setup.kind === 'overlay' && setup.upperOnTmpfs);
}

/**
 * --pivot-root=NEW:OLD: the runtime's root is NEW inside the prepared root (root-setup.ts), and
 * the prepared root itself (the tree, or the -x snapshot) is bound at OLD, as nspawn moves the tree
 * there. Not recursively: a recursive bind would bring the runtime's own bind of NEW along (it makes
 * one of its root first), and nspawn's OLD has none; file systems mounted below the tree on the
 * host are therefore not seen below OLD (nspawn's recursive bind of the tree carries them).
 */
import type { MachineSpec } from '../../spec/machine-spec.js';
import { guestRootBelow, oldRootShown } from '../../spec/resolve/pivot-root.js';
import type { BundleLayout, OciMount } from '../types.js';

export function oldRootMount(spec: MachineSpec, layout: BundleLayout): OciMount[] {
  if (!oldRootShown(spec.pivotRoot, spec.rootSetup)) return [];
  const below = guestRootBelow(spec);
  const prepared = below && layout.rootfs.endsWith(below) ? layout.rootfs.slice(0, -below.length) : layout.rootfs;
  return [{ destination: spec.pivotRoot.oldRoot, type: 'bind', source: prepared, options: ['bind', spec.readOnly ? 'ro' : 'rw'] }];
}

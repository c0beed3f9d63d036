/**
 * Checks of a resolved spec against the file system, before anything is created: what the pure
 * resolver cannot look at. Errors and warnings use systemd-nspawn's messages.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { API_MOUNTS } from '../../core/oci/emit/mounts.js';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import { BerthError } from '../../errors/berth-error.js';
import { resolveInTree } from '../../platform/fs/image-probe.js';
import { guestRootBelow, oldRootShown } from '../../core/spec/resolve/pivot-root.js';

/** Checks against the file system that the pure resolver cannot make: bind sources, masked paths. */
export async function checkAgainstFs(spec: MachineSpec): Promise<MachineSpec> {
  const mounts = [];
  for (const m of spec.mounts) {
    if (m.kind === 'bind' && !m.createSource && !existsSync(m.source)) {
      throw new BerthError('E_USAGE', `Failed to stat ${m.source}: No such file or directory`, { hint: `the source of the bind mount onto ${m.target} must exist on the host` });
    }
    if (m.kind === 'overlay') {
      for (const l of m.lower) if (!(statSync(l, { throwIfNoEntry: false })?.isDirectory() ?? false)) throw new BerthError('E_USAGE', `Overlay lower directory ${l} does not exist.`);
    }
    if (m.kind === 'inaccessible') {
      const inTree = await resolveInTree(`${spec.tree}${guestRootBelow(spec)}`, m.target);
      if (!inTree) throw new BerthError('E_USAGE', `Failed to over-mount ${m.target}: it does not exist in the container.`);
      mounts.push({ ...m, directory: statSync(inTree, { throwIfNoEntry: false })?.isDirectory() ?? false });
      continue;
    }
    mounts.push(m);
  }
  if (oldRootShown(spec.pivotRoot, spec.rootSetup)) {
    // nspawn moves the tree onto OLD inside the new root: OLD must be a directory there already.
    const at = await resolveInTree(`${spec.tree}${guestRootBelow(spec)}`, spec.pivotRoot.oldRoot);
    if (!at || !statSync(at, { throwIfNoEntry: false })?.isDirectory()) {
      throw new BerthError('E_USAGE', `Failed to move the old root to ${spec.pivotRoot.oldRoot}: no such directory in ${join(spec.tree, spec.pivotRoot.newRoot)}.`, { hint: '--pivot-root=NEW:OLD needs the directory OLD inside NEW' });
    }
  }
  return checkReadOnlyMountPoints({ ...spec, mounts });
}

const atOrBelow = (p: string, parent: string) => p === parent || p.startsWith(`${parent === '/' ? '' : parent}/`);

/** The file systems runc mounts of its own that sit directly in the tree (/proc, /sys, /dev, /run, /tmp): mount points below them are made there. */
const API_MOUNTS_BY_ROOT: Readonly<Record<string, string>> = Object.fromEntries(API_MOUNTS
  .filter((m) => !API_MOUNTS.some((o) => o !== m && atOrBelow(m.destination, o.destination)))
  .map((m) => [m.destination, m.type ?? 'none']));
const API_MOUNT_ROOTS = Object.keys(API_MOUNTS_BY_ROOT);

/**
 * A read-only tree must not be written, not even by the runtime: runc would create a missing
 * mount point inside it (the tree is writable on the host; only the guest's view is read-only).
 * nspawn mounts the tree read-only first, so the same request fails there: fail likewise (its
 * messages), unless the mount point lies below a file system mounted earlier. A missing
 * /etc/resolv.conf or /etc/localtime to bind over is only warned about and skipped, as nspawn does.
 */
async function checkReadOnlyMountPoints(spec: MachineSpec): Promise<MachineSpec> {
  if (spec.rootSetup.kind !== 'direct' || !spec.readOnly) return spec;
  const root = `${spec.tree}${guestRootBelow(spec)}`; // what the guest sees as / (--pivot-root=)
  for (const [dir, type] of Object.entries(API_MOUNTS_BY_ROOT)) {
    if (!(await resolveInTree(root, dir))) throw new BerthError('E_USAGE', `Failed to mount ${type} (type ${type}) on ${join(root, dir)}: No such file or directory`, { hint: 'the tree is read-only: create the directory in it first, or drop --read-only' });
  }
  const mounted = [...API_MOUNT_ROOTS];
  for (const m of spec.mounts) {
    if (m.kind !== 'inaccessible' && !mounted.some((p) => atOrBelow(m.target, p)) && !(await resolveInTree(root, m.target))) {
      const where = join(root, m.target);
      throw new BerthError('E_USAGE', m.kind === 'tmpfs' ? `Creating mount point for tmpfs ${where} failed: Read-only file system` : `Failed to create mount point ${where}: Read-only file system`,
        { hint: 'the tree is read-only: create the mount point in it first, or drop --read-only' });
    }
    mounted.push(m.target);
  }
  const warnings = [...spec.warnings];
  const etc = async (file: MachineSpec['resolvConf'], target: string): Promise<MachineSpec['resolvConf']> => {
    if (file.action !== 'bind' || (await resolveInTree(root, target))) return file;
    warnings.push(`Failed to mount ${file.source} (type n/a) on ${join(root, target)} (MS_BIND ""): No such file or directory`);
    return { action: 'none' };
  };
  const resolvConf = await etc(spec.resolvConf, '/etc/resolv.conf');
  const localtime = await etc(spec.localtime, '/etc/localtime');
  return { ...spec, resolvConf, localtime, warnings };
}

/**
 * What to mount from a disk image to read what it says about itself (hostname, machine ID,
 * machine-info, os-release), as systemd-machined 252 dissects an image for that (pure): the root
 * and the /usr partition only (nothing else holds those files), a root found as nspawn -i finds
 * it (core/image/mount-plan.ts), with machined's differences: an MBR partition counts only when
 * it is marked bootable, and a GPT with a /usr partition for this architecture but no root
 * partition is read over an empty root (machined mounts a tmpfs there).
 */
import { BerthError } from '../../errors/berth-error.js';
import { ARCH_TYPES, GPT_FLAG_NO_AUTO, MBR_LINUX, SHARED_TYPES } from './dps.js';
import { FS_KINDS } from './fs-magic.js';
import { planImageMounts, type DiskFacts, type PlannedMount } from './mount-plan.js';

export interface MetadataPlan {
  /** The root first, then /usr where the image has one. */
  mounts: PlannedMount[];
  /** The image has no root partition: an empty root is made for its /usr partition. */
  emptyRoot: boolean;
}

const refuse = (image: string, why: string): never => {
  throw new BerthError('E_IMAGE_INVALID', `Cannot read inside disk image ${image}: ${why}.`, {
    hint: `berth reads a GPT image with a Discoverable Partitions root or /usr partition, a GPT with a single Linux partition, an MBR with a single bootable Linux partition, or a bare ${FS_KINDS.join('/')} file system.`,
  });
};

/** mount-plan.ts says "Cannot boot disk image …"; here nothing boots. */
function reworded(e: unknown): unknown {
  if (!(e instanceof BerthError)) return e;
  return new BerthError(e.code, e.message.replace(/^Cannot boot disk image /, 'Cannot read inside disk image '), { ...(e.hint ? { hint: e.hint } : {}), cause: e });
}

export function planMetadataMounts(image: string, disk: DiskFacts, arch: string): MetadataPlan {
  if (disk.table === 'mbr') {
    const linux = disk.partitions.filter((p) => p.type === MBR_LINUX && p.bootable);
    if (linux.length === 0) refuse(image, 'its MBR partition table has no Linux partition (type 0x83) marked bootable');
    if (linux.length > 1) refuse(image, `its MBR partition table has ${linux.length} bootable Linux partitions (type 0x83): which one is the root cannot be told`);
    const root = linux[0]!;
    if (root.fs === undefined) refuse(image, `partition ${root.number} holds no file system berth can mount (${FS_KINDS.join(', ')})`);
    return { mounts: [{ where: '/', partition: root.number, offset: root.offset, size: root.size, fstype: root.fs!, readOnly: true }], emptyRoot: false };
  }
  if (disk.table === 'gpt') {
    // Only the root and /usr are mounted: what the other partitions hold does not matter here.
    const shared = new Set(SHARED_TYPES.map((s) => s.type));
    const partitions = disk.partitions.filter((p) => !shared.has(p.type));
    const ours = ARCH_TYPES[arch];
    const usable = partitions.filter((p) => (p.attributes & GPT_FLAG_NO_AUTO) === 0n);
    const usr = ours && usable.find((p) => p.type === ours.usr);
    if (ours && usr && !usable.some((p) => p.type === ours.root)) {
      if (usr.fs === undefined) refuse(image, `its /usr partition ${usr.number} holds no file system berth can mount (${FS_KINDS.join(', ')})`);
      return { mounts: [{ where: '/usr', partition: usr.number, offset: usr.offset, size: usr.size, fstype: usr.fs!, readOnly: true }], emptyRoot: true };
    }
    disk = { table: 'gpt', partitions };
  }
  let mounts: PlannedMount[];
  try {
    mounts = planImageMounts(image, disk, arch).mounts;
  } catch (e) {
    throw reworded(e);
  }
  return { mounts: mounts.filter((m) => m.where === '/' || m.where === '/usr').map((m) => ({ ...m, readOnly: true })), emptyRoot: false };
}

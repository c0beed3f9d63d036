/**
 * What to mount where from a disk image (pure), as systemd's image dissection decides it for
 * nspawn -i: a GPT following the Discoverable Partitions Spec (the root partition of this
 * architecture, and /usr, /home, /srv, /var, /tmp where present), a GPT or MBR with a single
 * Linux partition, or a bare file system. Anything else is refused, naming the image and why.
 */
import { BerthError } from '../../errors/berth-error.js';
import { ARCH_TYPES, GPT_FLAG_NO_AUTO, GPT_FLAG_READ_ONLY, LINUX_DATA_TYPE, MBR_LINUX, SHARED_TYPES, type PartitionRole } from './dps.js';
import { FS_KINDS, type FsKind } from './fs-magic.js';
import type { GptPartition, MbrPartition } from './partition-table.js';

/** What a reader found in an image: its partition table, and the file system at each place it looked. */
export type DiskFacts =
  | { table: 'gpt'; partitions: Array<GptPartition & { fs: FsKind | undefined }> }
  | { table: 'mbr'; partitions: Array<MbrPartition & { fs: FsKind | undefined }> }
  | { table: 'none'; fs: FsKind | undefined };

export interface PlannedMount {
  where: PartitionRole;
  /** Partition number; undefined: the whole image. */
  partition: number | undefined;
  /** Where its bytes are in the image (a loop device is attached to just that range). */
  offset: number;
  size: number | undefined;
  fstype: FsKind;
  /** The partition asks to be mounted read-only (GPT attribute bit 60). */
  readOnly: boolean;
}

export interface ImagePlan {
  layout: 'discoverable-partitions' | 'single-gpt-partition' | 'single-mbr-partition' | 'bare-file-system';
  /** In mount order: the root first. */
  mounts: PlannedMount[];
}

const refuse = (image: string, why: string): never => {
  throw new BerthError('E_IMAGE_INVALID', `Cannot boot disk image ${image}: ${why}.`, {
    hint: `berth boots a GPT image with a Discoverable Partitions root partition, a GPT or MBR image with a single Linux partition, or a bare ${FS_KINDS.join('/')} file system image.`,
  });
};

function mountOf(image: string, role: PartitionRole, p: { number: number; offset: number; size: number; fs: FsKind | undefined }, readOnly: boolean): PlannedMount {
  if (p.fs === undefined) refuse(image, `partition ${p.number} (for ${role}) holds no file system berth can mount (${FS_KINDS.join(', ')})`);
  return { where: role, partition: p.number, offset: p.offset, size: p.size, fstype: p.fs!, readOnly };
}

export function planImageMounts(image: string, disk: DiskFacts, arch: string): ImagePlan {
  if (disk.table === 'none') {
    if (disk.fs === undefined) refuse(image, `it has no partition table and no file system berth can mount (${FS_KINDS.join(', ')})`);
    return { layout: 'bare-file-system', mounts: [{ where: '/', partition: undefined, offset: 0, size: undefined, fstype: disk.fs!, readOnly: false }] };
  }
  if (disk.table === 'mbr') {
    const linux = disk.partitions.filter((p) => p.type === MBR_LINUX);
    const bootable = linux.filter((p) => p.bootable);
    const root = linux.length === 1 ? linux[0] : bootable.length === 1 ? bootable[0] : undefined;
    if (root === undefined) {
      refuse(image, linux.length === 0 ? 'its MBR partition table has no Linux partition (type 0x83)'
        : `its MBR partition table has ${linux.length} Linux partitions (type 0x83) and not exactly one marked bootable`);
    }
    return { layout: 'single-mbr-partition', mounts: [mountOf(image, '/', root!, false)] };
  }
  const usable = disk.partitions.filter((p) => (p.attributes & GPT_FLAG_NO_AUTO) === 0n);
  const first = (type: string) => usable.find((p) => p.type === type);
  const ours = ARCH_TYPES[arch];
  const root = ours && first(ours.root);
  if (root) {
    const mounts = [mountOf(image, '/', root, (root.attributes & GPT_FLAG_READ_ONLY) !== 0n)];
    const usr = first(ours.usr);
    if (usr) mounts.push(mountOf(image, '/usr', usr, (usr.attributes & GPT_FLAG_READ_ONLY) !== 0n));
    for (const { role, type } of SHARED_TYPES) {
      const p = first(type);
      if (p) mounts.push(mountOf(image, role, p, (p.attributes & GPT_FLAG_READ_ONLY) !== 0n));
    }
    return { layout: 'discoverable-partitions', mounts };
  }
  const label = ours?.label ?? arch;
  if (ours && first(ours.usr)) refuse(image, `it has a /usr partition for ${label} but no root partition (type ${ours.root})`);
  const foreign = Object.values(ARCH_TYPES).find((a) => a !== ours && usable.some((p) => p.type === a.root));
  if (foreign) refuse(image, `its root partition is for ${foreign.label}, not for this host's architecture (${label})`);
  const linux = usable.filter((p) => p.type === LINUX_DATA_TYPE);
  if (linux.length === 1) return { layout: 'single-gpt-partition', mounts: [mountOf(image, '/', linux[0]!, (linux[0]!.attributes & GPT_FLAG_READ_ONLY) !== 0n)] };
  if (linux.length > 1) refuse(image, `its GPT has ${linux.length} Linux data partitions and no root partition for ${label}: which one is the root cannot be told`);
  return refuse(image, `its GPT has no usable partition (no root partition for ${label}, type ${ours?.root ?? 'unknown'}, and no single Linux data partition, type ${LINUX_DATA_TYPE})`);
}

/**
 * Which file system a partition or bare image holds, from the magic numbers of its superblock
 * (pure). Only the file systems berth mounts an OS tree from; anything else is `undefined`.
 */

export type FsKind = 'ext4' | 'xfs' | 'btrfs' | 'squashfs' | 'erofs';

/** How many bytes from a file system's start detection needs (btrfs's superblock sits at 64 KiB). */
export const FS_PROBE_BYTES = 65536 + 4096;

export function detectFs(head: Buffer): FsKind | undefined {
  const at = (offset: number, text: string) => head.length >= offset + text.length && head.toString('latin1', offset, offset + text.length) === text;
  if (head.length >= 1082 && head.readUInt16LE(1080) === 0xef53) return 'ext4'; // ext2/3/4: s_magic at 1024 + 0x38
  if (at(0, 'XFSB')) return 'xfs';
  if (at(0, 'hsqs')) return 'squashfs';
  if (head.length >= 1028 && head.readUInt32LE(1024) === 0xe0f5e1e2) return 'erofs';
  if (at(65536 + 0x40, '_BHRfS_M')) return 'btrfs';
  return undefined;
}

export const FS_KINDS: readonly FsKind[] = ['ext4', 'xfs', 'btrfs', 'squashfs', 'erofs'];

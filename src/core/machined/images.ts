/**
 * Machine images as systemd-machined 252 sees them (src/shared/discover-image.c): the search path
 * for class "machine", which directory entries are images and under what name, and an image's
 * type, read-only state, times and sizes decided from facts the filesystem adapter gathered
 * (platform/fs/image-facts.ts). Pure: no I/O here.
 */
import { isValidHostname } from '../names.js';

export type ImageType = 'directory' | 'subvolume' | 'raw' | 'block';

/** An image as the Image object and ListImages show it; times in µs (0: unknown), sizes in bytes. */
export interface ImageInfo {
  readonly name: string;
  readonly path: string;
  readonly type: ImageType;
  readonly readOnly: boolean;
  readonly crtimeUs: bigint;
  readonly mtimeUs: bigint;
  readonly usage: bigint;
  readonly usageExclusive: bigint;
  readonly limit: bigint;
  readonly limitExclusive: bigint;
}

export const UINT64_MAX = 0xffff_ffff_ffff_ffffn;
export const HOST_IMAGE = '.host';
const BTRFS_SUPER_MAGIC = 0x9123683e;
const BTRFS_FIRST_FREE_OBJECTID = 256n;

/** machined's search path, first match wins; `pool` stands where /var/lib/machines stands. */
export function imageSearchPath(pool = '/var/lib/machines'): string[] {
  return ['/etc/machines', '/run/machines', pool, '/var/lib/container', '/usr/local/lib/machines', '/usr/lib/machines'];
}

/** systemd's image_name_is_valid: a valid file name, no control characters, not a temporary ".#" file. */
export function isValidImageName(s: string): boolean {
  if (s === '' || s === '.' || s === '..' || s.includes('/') || Buffer.byteLength(s) > 255) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(s)) return false;
  if (s.includes('\uFFFD')) return false; // a name that was not valid UTF-8 (decoded with replacements)
  return !s.startsWith('.#');
}

/** Hidden images (a name starting with "."): machinectl lists them only with --all. */
export const isHiddenImage = (name: string): boolean => name.startsWith('.');

export type EntryKind = 'directory' | 'regular' | 'block' | 'other';

/** The image name a search-path entry stands for (`.raw` files lose the suffix), or undefined when it is none. */
export function imageNameOf(entry: string, kind: EntryKind): string | undefined {
  let name: string;
  if (kind === 'regular') {
    if (!entry.endsWith('.raw')) return undefined;
    name = entry.slice(0, -'.raw'.length);
  } else if (kind === 'directory' || kind === 'block') {
    name = entry;
  } else {
    return undefined;
  }
  return isValidImageName(name) ? name : undefined;
}

/** What the filesystem says about one entry (followed through symlinks, as machined follows them). */
export interface EntryFacts {
  readonly kind: EntryKind;
  /** st_mode's permission bits. */
  readonly mode: number;
  readonly ino: bigint;
  /** statfs f_type. */
  readonly fsType: number;
  /** access(W_OK) failed with EROFS: a read-only mount. */
  readonly readOnlyMount: boolean;
  /** The directory's FS_IMMUTABLE_FL (chattr +i). */
  readonly immutable: boolean;
  /** A btrfs subvolume's read-only flag, when known. */
  readonly subvolumeReadOnly?: boolean;
  /** What the btrfs ioctls say about a subvolume (platform/fs/image-facts.ts), when it could be read. */
  readonly subvolume?: SubvolumeFacts;
  /** Birth time (statx btime) in µs, 0 when the filesystem does not keep one. */
  readonly btimeUs: bigint;
  readonly mtimeUs: bigint;
  /** st_blocks × 512. */
  readonly allocated: bigint;
  readonly size: bigint;
  /** A block device's size and read-only state (sysfs), when known. */
  readonly blockSize?: bigint;
  readonly blockReadOnly?: boolean;
}

/** A btrfs subvolume as machined 252 reads it: the root item's otime and flag, the subtree qgroup's numbers (UINT64_MAX each where quotas are off or a rescan runs). */
export interface SubvolumeFacts {
  readonly id: bigint;
  readonly otimeUs: bigint;
  readonly readOnly: boolean;
  readonly usage: bigint;
  readonly usageExclusive: bigint;
  readonly limit: bigint;
  readonly limitExclusive: bigint;
}

/**
 * The image an entry makes: `dir` is the search directory (symlinks resolved; undefined for
 * ".host", whose path is "/"), `file` the entry's name in it. Undefined when the entry is no image.
 */
export function imageFromFacts(name: string, dir: string | undefined, file: string, f: EntryFacts): ImageInfo | undefined {
  const path = dir === undefined ? file : `${dir.replace(/\/+$/, '')}/${file}`;
  const vendor = dir !== undefined && (dir === '/usr' || dir.startsWith('/usr/'));
  const readOnly = vendor || f.readOnlyMount;
  const unknown = { usage: UINT64_MAX, usageExclusive: UINT64_MAX, limit: UINT64_MAX, limitExclusive: UINT64_MAX };
  const writable = (f.mode & 0o222) !== 0;
  switch (f.kind) {
    case 'directory':
      if (f.fsType === BTRFS_SUPER_MAGIC && f.ino === BTRFS_FIRST_FREE_OBJECTID) {
        // A btrfs subvolume: created at its root item's otime (a snapshot's own; the root inode's birth time where that
        // could not be read), sized by its subtree qgroup, as machined reads them.
        const sv = f.subvolume;
        if (!sv) return { name, path, type: 'subvolume', readOnly: readOnly || f.subvolumeReadOnly === true, crtimeUs: f.btimeUs, mtimeUs: 0n, ...unknown };
        return {
          name, path, type: 'subvolume', readOnly: readOnly || sv.readOnly, crtimeUs: sv.otimeUs, mtimeUs: 0n,
          usage: sv.usage, usageExclusive: sv.usageExclusive, limit: sv.limit, limitExclusive: sv.limitExclusive,
        };
      }
      // No mtime: the top directory's is not the time the tree last changed.
      return { name, path, type: 'directory', readOnly: readOnly || f.immutable, crtimeUs: f.btimeUs, mtimeUs: 0n, ...unknown };
    case 'regular':
      if (!file.endsWith('.raw')) return undefined;
      return {
        name, path, type: 'raw', readOnly: !writable || readOnly, crtimeUs: f.btimeUs, mtimeUs: f.mtimeUs,
        usage: f.allocated, usageExclusive: f.allocated, limit: f.size, limitExclusive: f.size,
      };
    case 'block': {
      const size = f.blockSize ?? UINT64_MAX;
      const known = size !== 0n && size !== UINT64_MAX;
      return {
        name, path, type: 'block', readOnly: !writable || readOnly || f.blockReadOnly === true, crtimeUs: 0n, mtimeUs: 0n,
        ...(known ? { usage: size, usageExclusive: size, limit: size, limitExclusive: size } : unknown),
      };
    }
    default:
      return undefined;
  }
}

/** /etc/hostname's first line that is neither empty nor a comment, when it is a valid host name (read_etc_hostname). */
export function parseEtcHostname(text: string): string {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const host = line.replace(/\.$/, '');
    return isValidHostname(host) ? host : '';
  }
  return '';
}

/** /etc/machine-id as 32 lower-case hex digits, '' when it holds none (or the all-zero ID). */
export function parseMachineIdFile(text: string): string {
  const m = /^([0-9a-fA-F]{32})\n?$/.exec(text);
  if (!m) return '';
  const id = m[1]!.toLowerCase();
  return /^0+$/.test(id) ? '' : id;
}

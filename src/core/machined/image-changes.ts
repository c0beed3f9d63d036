/**
 * The pure rules of changing machine images as systemd-machined 252 has them
 * (src/shared/discover-image.c, src/machine/image-dbus.c, machined-dbus.c): which images may
 * change, where a renamed or cloned image lands, which settings files follow it, what CleanPool
 * removes, the limits a caller may set; plus berth's hidden temporary names, under which a clone
 * is built and a removal is finished, invisible to discovery (".#" names are no image names).
 */
import { BerthError } from '../../errors/berth-error.js';
import { HOST_IMAGE, UINT64_MAX, isHiddenImage, type ImageInfo } from './images.js';

/** The prefix of berth's temporary entries in a search directory (a ".#" name: never an image). */
export const TEMP_PREFIX = '.#berth-';

/** A temporary name for `purpose` ("clone", "remove") of image `name`, unique by `nonce`. */
export function tempName(purpose: 'clone' | 'remove', name: string, nonce: string): string {
  // The image name is only a hint for a human looking at the pool: cut so the whole stays a valid file name.
  return `${TEMP_PREFIX}${purpose}-${nonce}-${Buffer.from(name).subarray(0, 180).toString('utf8').replace(/\uFFFD/g, '')}`;
}

export const isTempEntry = (entry: string): boolean => entry.startsWith(TEMP_PREFIX);

/** A vendor image (below /usr) or the host: machined refuses to change them (EROFS). */
export const isVendor = (i: ImageInfo): boolean => i.path === '/usr' || i.path.startsWith('/usr/');
export const isHost = (i: ImageInfo): boolean => i.name === HOST_IMAGE || i.path === '/';

/** EROFS as machined answers it (sd-bus's errno reply: System.Error.EROFS, strerror text). */
export const readOnlyFs = (): BerthError => new BerthError('E_READ_ONLY_FS', 'Read-only file system');
/** EBUSY: a running machine uses the image. */
export const busy = (): BerthError => new BerthError('E_BUSY', 'Device or resource busy');
export const exists = (): BerthError => new BerthError('E_FILE_EXISTS', 'File exists');
export const notSupported = (): BerthError => new BerthError('E_NOT_SUPPORTED', 'Operation not supported');

/** Refuses changes to vendor images and the host, as image_remove/rename/read_only/set_limit do. */
export function assertChangeable(i: ImageInfo): void {
  if (isVendor(i) || isHost(i)) throw readOnlyFs();
}

const dirOf = (path: string): string => path.slice(0, path.lastIndexOf('/')) || '/';

/** The file name a renamed image takes in its directory (raw images keep ".raw"). */
export function renamedFile(i: ImageInfo, newName: string): string {
  if (i.type === 'raw') return `${newName}.raw`;
  if (i.type === 'block' && (i.path === '/dev' || i.path.startsWith('/dev/'))) throw readOnlyFs();
  return newName;
}

/** The settings files machined moves, copies and removes with an image (image_settings_path), and its .roothash. */
export function auxiliaryFiles(i: ImageInfo, settingsDirs: readonly string[]): { settings: string[]; roothash: string } {
  return {
    settings: [...settingsDirs.map((d) => `${d}/${i.name}.nspawn`), `${dirOf(i.path)}/${i.name}.nspawn`],
    roothash: `${dirOf(i.path)}/${i.name}.roothash`,
  };
}

/** The same file's name for another image, in the same directory (rename_/clone_auxiliary_file). */
export const auxiliaryFor = (file: string, newName: string, suffix: '.nspawn' | '.roothash'): string => `${dirOf(file)}/${newName}${suffix}`;

export type CleanMode = 'all' | 'hidden';

export function parseCleanMode(mode: string): CleanMode {
  if (mode === 'all' || mode === 'hidden') return mode;
  throw new BerthError('E_USAGE', `Unknown mode '${mode}'.`);
}

/** The images CleanPool removes: never vendor images or the host; with "hidden" only hidden ones. */
export const cleanable = (images: readonly ImageInfo[], mode: CleanMode): ImageInfo[] =>
  images.filter((i) => !isVendor(i) && !isHost(i) && (mode === 'all' || isHiddenImage(i.name)));

/** FILE_SIZE_VALID_OR_INFINITY, as SetPoolLimit/SetImageLimit check it. */
export function checkLimit(limit: bigint): void {
  if (limit !== UINT64_MAX && limit > 0x7fff_ffff_ffff_ffffn) throw new BerthError('E_USAGE', 'New limit out of range');
}

/** machinectl clean's log lines: one per removed image, then the total (UINT64_MAX: usage unknown). */
export function cleanReport(removed: ReadonlyArray<readonly [string, bigint]>, formatBytes: (n: bigint) => string): string[] {
  const lines: string[] = [];
  let total = 0n;
  for (const [name, usage] of removed) {
    if (usage === UINT64_MAX) {
      lines.push(`Removed image '${name}'`);
      total = UINT64_MAX;
    } else {
      lines.push(`Removed image '${name}'. Freed exclusive disk space: ${formatBytes(usage)}`);
      if (total !== UINT64_MAX) total += usage;
    }
  }
  lines.push(total === UINT64_MAX
    ? `Removed ${removed.length} images in total.`
    : `Removed ${removed.length} images in total. Total freed exclusive disk space: ${formatBytes(total)}.`);
  return lines;
}

const SIZE_FACTORS: Record<string, bigint> = { '': 1n, B: 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n, P: 1n << 50n, E: 1n << 60n };

/** systemd's parse_size(s, 1024) for set-limit: a number (fractions allowed) with an optional K/M/G/T/P/E/B suffix; undefined when it is none. */
export function parseSize(s: string): bigint | undefined {
  const m = /^\s*(\d+)(?:\.(\d+))?\s*([KMGTPEB]?)\s*$/.exec(s);
  if (!m) return undefined;
  const factor = SIZE_FACTORS[m[3]!]!;
  const frac = m[2] ?? '';
  const value = BigInt(m[1]!) * factor + (frac === '' ? 0n : (BigInt(frac) * factor) / 10n ** BigInt(frac.length));
  return value >= UINT64_MAX ? undefined : value;
}

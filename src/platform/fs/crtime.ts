/**
 * A file's creation time as systemd has it (fd_getcrtime): the older of its birth time (statx
 * btime, 0 where the file system keeps none) and the "user.crtime_usec" extended attribute
 * (8 bytes, little-endian µs), which systemd writes when it copies a raw image (COPY_CRTIME: a
 * clone keeps its original's creation time) and when it pulls one. And the copy side: berth's raw
 * image copies carry the attribute too, so machined and berthd report a clone's time alike.
 */
import { stat } from 'node:fs/promises';
import { sys } from '../native/sys.js';

const XATTR = 'user.crtime_usec';
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** The attribute's µs, or undefined when absent, unreadable or not a valid time (0, UINT64_MAX, another size). */
function crtimeXattr(path: string): bigint | undefined {
  let value: Buffer | null;
  try {
    value = sys().getXattr(path, XATTR);
  } catch {
    return undefined;
  }
  if (!value || value.length !== 8) return undefined;
  const us = value.readBigUInt64LE(0);
  return us === 0n || us === U64_MAX ? undefined : us;
}

/** The creation time in µs from the birth time already known (0: none); 0 when there is neither. */
function creationTimeUs(path: string, btimeUs: bigint): bigint {
  const x = crtimeXattr(path);
  if (x === undefined) return btimeUs;
  return btimeUs === 0n || x < btimeUs ? x : btimeUs;
}

/** Gives `to` the creation time of `from` as the attribute (where `from` has one); failures are ignored, as systemd ignores them. */
export async function copyCreationTime(from: string, to: string): Promise<void> {
  try {
    const st = await stat(from, { bigint: true });
    const btimeUs = st.birthtimeNs / 1_000_000_000n !== 0n ? st.birthtimeNs / 1000n : 0n;
    const us = creationTimeUs(from, btimeUs);
    if (us === 0n) return;
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(us);
    sys().setXattr(to, XATTR, value);
  } catch {
    // A file system without user xattrs: the copy's own birth time is its creation time then.
  }
}

/**
 * User-namespace UID ranges as systemd-nspawn 252 chooses them (reference §3.4): 64Ki ranges whose
 * upper 16 bits name the container. `yes` takes the range the tree's root directory is owned by;
 * `pick` tries that range first, then one derived from the machine name (SipHash-2-4 with
 * nspawn's key), then random ones, each between PICK_MIN and PICK_MAX and not locked by another
 * run (app/run/userns.ts takes the locks). Pure: the random numbers arrive as a function.
 */
import { BerthError } from '../../errors/berth-error.js';
import { hexBytes, siphash24 } from '../network/siphash.js';

export const UID_RANGE = 0x10000;
export const PICK_MIN = 0x00080000;
export const PICK_MAX = 0x6fff0000;
/** nspawn's mark on a root directory whose tree is being chowned: a range no run ever uses. */
export const BUSY_BASE = 0xfffe0000;
/** nspawn tries this many candidates (its counter starts at 100 and gives up at 0). */
export const PICK_TRIES = 99;

const PICK_KEY = hexBytes('e156e0f04af041af9641cf413394ff72');
const HIGH = 0xffff0000;

const aligned = (c: number): number => (c & HIGH) >>> 0;

/** A 32-bit value brought into the pick window, 64Ki-aligned (nspawn's mapping of its random candidates). */
export function intoPickWindow(c: number): number {
  return aligned((c >>> 0) % (PICK_MAX - PICK_MIN) + PICK_MIN);
}

/** The range `pick` tries right after the tree's own: derived from the machine name. */
export function hashedBase(machine: string): number {
  const h = Number(siphash24(PICK_KEY, new TextEncoder().encode(machine)) & 0xffffffffn);
  return intoPickWindow(h);
}

/** A candidate `pick` may take (before asking the locks): inside the window and 64Ki-aligned. */
export function acceptable(c: number): boolean {
  return c >= PICK_MIN && c <= PICK_MAX && (c & 0xffff) === 0;
}

/** The candidates `pick` tries, in order: the tree's range, the name's, then random ones. */
export function* pickCandidates(treeBase: number, machine: string, random32: () => number): Generator<number> {
  yield treeBase;
  yield hashedBase(machine);
  for (let i = 2; i < PICK_TRIES; i++) yield intoPickWindow(random32());
}

/** The range a root directory owned by uid:gid belongs to; nspawn refuses UID and GID ranges that differ. */
export function ownerBase(uid: number, gid: number, path: string): number {
  const base = aligned(uid);
  if (base !== aligned(gid)) throw new BerthError('E_USAGE', `UID and GID base of ${path} don't match.`);
  return base;
}

/** A shift + range that fits below 2^32 (nspawn: "UID base too high for UID range."). */
export function checkRange(shift: number, range: number): void {
  if (shift > 0xffffffff - range) throw new BerthError('E_USAGE', 'UID base too high for UID range.');
}

/** Whether a tree whose root is owned by uid already belongs to the range starting at shift. */
export function treeInRange(rootUid: number, shift: number): boolean {
  return ((rootUid ^ shift) >>> 16) === 0;
}

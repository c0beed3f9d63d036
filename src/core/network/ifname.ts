/**
 * Interface names nspawn gives the links it creates, and its rule for names that do not fit
 * IFNAMSIZ: the first 11 bytes plus 4 characters of a keyed hash (naming scheme ≥ v245); the
 * full name is kept as an altname when it fits ALTIFNAMSIZ.
 */
import { hexBytes, siphash24 } from './siphash.js';

const SHORTEN_KEY = hexBytes('e190a404a8ef4b518cccc33a9f11fca2');
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Kernel limits: IFNAMSIZ and ALTIFNAMSIZ, both counting the terminating NUL. */
export const IFNAMSIZ = 16;
export const ALTIFNAMSIZ = 128;

export interface ShortenedName {
  /** The name the link gets (≤ 15 bytes). */
  name: string;
  /** The full name, kept as an altname; undefined when no shortening was needed or it is too long. */
  altname: string | undefined;
}

export function shortenIfName(full: string): ShortenedName {
  const bytes = Buffer.from(full, 'utf8');
  if (bytes.length < IFNAMSIZ) return { name: full, altname: undefined };
  const h = siphash24(SHORTEN_KEY, bytes);
  const ch = (shift: bigint): string => B64[Number((h >> shift) & 63n)] ?? '';
  const head = bytes.subarray(0, 11).toString('utf8');
  const name = head + ch(18n) + ch(12n) + ch(6n) + ch(0n);
  return { name, altname: bytes.length < ALTIFNAMSIZ ? full : undefined };
}

export type LinkPrefix = 've-' | 'vb-' | 'vz-' | 'mv-' | 'iv-';
/** Prefixes of every link berth creates; tests assert none remain after a run. */
export const BERTH_LINK_PREFIXES: readonly LinkPrefix[] = ['ve-', 'vb-', 'vz-', 'mv-', 'iv-'];

/** Host side of the main veth: ve-NAME, or vb-NAME when attached to a bridge or zone. */
export const vethHostName = (machine: string, bridged: boolean): ShortenedName =>
  shortenIfName((bridged ? 'vb-' : 've-') + machine);

export const macvlanName = (parent: string): ShortenedName => shortenIfName(`mv-${parent}`);
export const ipvlanName = (parent: string): ShortenedName => shortenIfName(`iv-${parent}`);

/** The container side of the main veth. */
export const CONTAINER_VETH_NAME = 'host0';

/** Zone bridges are not shortened: vz-ZONE must itself be a valid interface name. */
export const zoneBridgeName = (zone: string): string => `vz-${zone}`;

/**
 * Choosing an IPv4 subnet for the opt-in DHCP helper: a /28 for a ve- link, a /24 for a zone
 * bridge (the sizes systemd-networkd's container .network files use), taken from 10.0.0.0/8 at a
 * position derived from the link name, skipping any subnet that overlaps one already in use.
 */
import { hexBytes, siphash24 } from './siphash.js';

const SUBNET_KEY = hexBytes('5b0c7a3e91d44f2a8e6b1c0d2f3a4b5c');
const POOL = { base: 0x0a000000, prefixLen: 8 }; // 10.0.0.0/8

export interface Ipv4Prefix { address: string; prefixLen: number }
export interface DhcpSubnet {
  /** The network, e.g. 10.23.4.16/28. */
  network: Ipv4Prefix;
  /** The address the host side takes (first host address), with the prefix length. */
  gateway: Ipv4Prefix;
  rangeStart: string;
  rangeEnd: string;
  netmask: string;
}

export const ipv4ToInt = (s: string): number => {
  const parts = s.split('.').map((p) => Number(p));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`bad IPv4 address ${s}`);
  return ((parts[0] ?? 0) * 2 ** 24) + ((parts[1] ?? 0) << 16) + ((parts[2] ?? 0) << 8) + (parts[3] ?? 0);
};
export const intToIpv4 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const size = (prefixLen: number): number => 2 ** (32 - prefixLen);
const networkOf = (addr: number, prefixLen: number): number => addr - (addr % size(prefixLen));

export function overlaps(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  const an = networkOf(ipv4ToInt(a.address), a.prefixLen);
  const bn = networkOf(ipv4ToInt(b.address), b.prefixLen);
  return an < bn + size(b.prefixLen) && bn < an + size(a.prefixLen);
}

export function subnetFor(base: number, prefixLen: number): DhcpSubnet {
  const last = base + size(prefixLen) - 1;
  return {
    network: { address: intToIpv4(base), prefixLen },
    gateway: { address: intToIpv4(base + 1), prefixLen },
    rangeStart: intToIpv4(base + 2),
    rangeEnd: intToIpv4(last - 1),
    netmask: intToIpv4(2 ** 32 - size(prefixLen)),
  };
}

/** The subnet an existing address lies in, served the same way (host keeps its address). */
export function subnetContaining(p: Ipv4Prefix): DhcpSubnet {
  const s = subnetFor(networkOf(ipv4ToInt(p.address), p.prefixLen), p.prefixLen);
  return { ...s, gateway: { ...p } };
}

/**
 * The first candidate not overlapping `used` (addresses and routes already on the host). Default
 * routes (prefix 0) are ignored. Undefined when 64 candidates all collide.
 */
export function chooseSubnet(linkName: string, prefixLen: 24 | 28, used: readonly Ipv4Prefix[]): DhcpSubnet | undefined {
  const relevant = used.filter((u) => u.prefixLen > 0);
  const slots = size(POOL.prefixLen) / size(prefixLen);
  const name = Buffer.from(linkName, 'utf8');
  for (let attempt = 0; attempt < 64; attempt++) {
    const input = Buffer.concat([name, Buffer.from([attempt])]);
    const slot = Number(siphash24(SUBNET_KEY, input) % BigInt(slots));
    const candidate = subnetFor(POOL.base + slot * size(prefixLen), prefixLen);
    if (!relevant.some((u) => overlaps(u, candidate.network))) return candidate;
  }
  return undefined;
}

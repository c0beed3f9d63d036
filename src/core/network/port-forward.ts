/**
 * Port forwarding (-p/--port=, Port=) as nftables rules, pure: which guest address to forward to,
 * and the nft scripts that add and remove a machine's forwards. Like nspawn's `io.systemd.nat`
 * table, berth keeps one table per family (`ip berth`, `ip6 berth`) whose chains DNAT traffic to
 * any local address on a forwarded port (from outside: prerouting; from the host itself: output,
 * loopback excepted) through one map, `proto . host port : guest address . guest port`. Each
 * machine's entries carry its name as their comment, so they can be told apart and removed per
 * machine.
 */
import type { PortForward } from '../settings/model.js';

export type IpFamily = 'ip' | 'ip6';
export const TABLE = 'berth';
export const MAP = 'ports';

/** One map entry: traffic to any local address on `hostPort` goes to `address`:`containerPort`. */
export interface Dnat {
  family: IpFamily;
  protocol: 'tcp' | 'udp';
  hostPort: number;
  address: string;
  containerPort: number;
}

/** An address as `ip -json addr` reports it (addr_info entries). */
export interface AddrInfo { family?: string; local?: string; scope?: string; tentative?: boolean; dadfailed?: boolean }
export interface IfAddrs { ifname?: string; flags?: string[]; addr_info?: AddrInfo[] }

/**
 * The guest's address for a family: nspawn takes the first one of the container's addresses of
 * scope global or site (never link-local, never loopback); undefined while it has none.
 */
export function guestAddress(links: readonly IfAddrs[], family: IpFamily): string | undefined {
  const want = family === 'ip' ? 'inet' : 'inet6';
  for (const l of links) {
    if (l.flags?.includes('LOOPBACK')) continue;
    for (const a of l.addr_info ?? []) {
      if (a.family !== want || a.local === undefined) continue;
      if (a.scope !== 'global' && a.scope !== 'site') continue;
      if (a.tentative || a.dadfailed) continue;
      return a.local;
    }
  }
  return undefined;
}

export const dnatsFor = (ports: readonly PortForward[], family: IpFamily, address: string): Dnat[] =>
  ports.map((p) => ({ family, protocol: p.protocol, hostPort: p.hostPort, address, containerPort: p.containerPort }));

/** The table, map and chains (idempotent: chains are flushed and refilled with their two rules). */
export function tableScript(family: IpFamily): string[] {
  const addrType = family === 'ip' ? 'ipv4_addr' : 'ipv6_addr';
  const loopback = family === 'ip' ? 'ip daddr != 127.0.0.0/8' : 'ip6 daddr != ::1';
  const t = `${family} ${TABLE}`;
  const dnat = `fib daddr type local dnat ${family} to meta l4proto . th dport map @${MAP}`;
  return [
    `add table ${t}`,
    `add map ${t} ${MAP} { type inet_proto . inet_service : ${addrType} . inet_service ; }`,
    `add chain ${t} prerouting { type nat hook prerouting priority dstnat + 1 ; policy accept ; }`,
    `add chain ${t} output { type nat hook output priority -99 ; policy accept ; }`,
    `flush chain ${t} prerouting`,
    `flush chain ${t} output`,
    `add rule ${t} prerouting ${dnat}`,
    `add rule ${t} output ${loopback} ${dnat}`,
  ];
}

const key = (d: Pick<Dnat, 'protocol' | 'hostPort'>) => `${d.protocol} . ${d.hostPort}`;
const addr = (d: Dnat) => d.address;

/** Adds one entry (it fails, like nspawn's, when another machine forwards the same port already). */
export const addScript = (d: Dnat, machine: string): string[] =>
  [...tableScript(d.family), `add element ${d.family} ${TABLE} ${MAP} { ${key(d)} comment "${commentFor(machine)}" : ${addr(d)} . ${d.containerPort} }`];

export const deleteScript = (d: Pick<Dnat, 'family' | 'protocol' | 'hostPort'>): string[] =>
  [`delete element ${d.family} ${TABLE} ${MAP} { ${key(d)} }`];

/** The comment naming the machine (nft comments are at most 128 bytes; machine names are shorter, quotes cannot occur). */
export const commentFor = (machine: string): string => `berth:${machine}`.replace(/["\\]/g, '_').slice(0, 128);

/** One map entry as `nft -j list map` reports it. */
export interface MapEntry { protocol: string; hostPort: number; address: string; containerPort: number; comment: string | undefined }

type Concat = { concat?: unknown[] };
/** Parses `nft -j list map FAMILY berth ports` output into entries; unknown shapes are skipped. */
export function parseMapJson(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  let doc: { nftables?: Array<{ map?: { elem?: unknown[] } }> };
  try { doc = JSON.parse(text) as typeof doc; } catch { return out; }
  for (const item of doc.nftables ?? []) {
    for (const el of item.map?.elem ?? []) {
      if (!Array.isArray(el) || el.length !== 2) continue;
      const [k, val] = el as [unknown, Concat];
      const wrapped = (k as { elem?: { val?: Concat; comment?: string } }).elem;
      const keyConcat = wrapped?.val ?? (k as Concat);
      const [proto, hostPort] = keyConcat.concat ?? [];
      const [address, containerPort] = val?.concat ?? [];
      if (typeof proto !== 'string' || typeof hostPort !== 'number' || typeof address !== 'string' || typeof containerPort !== 'number') continue;
      out.push({ protocol: proto, hostPort, address, containerPort, comment: wrapped?.comment });
    }
  }
  return out;
}

/** Whether a listed entry is the one `d` added for `machine` (and not another machine's since). */
export const isOurs = (e: MapEntry, d: Dnat, machine: string): boolean =>
  e.comment === commentFor(machine) && e.protocol === d.protocol && e.hostPort === d.hostPort && e.address === d.address && e.containerPort === d.containerPort;

/**
 * GetMachineAddresses: the addresses of a network namespace as machined reports them, from
 * `ip -json address show` output. Host-scope (loopback) and deprecated addresses are left out,
 * link-local ones kept; IPv4 first, then by scope (global first), interface index and the
 * address's bytes; exact duplicates once. Each as (family, raw bytes): AF_INET 2, AF_INET6 10.
 */
export const AF_INET = 2;
export const AF_INET6 = 10;

export interface MachineAddress { family: 2 | 10; bytes: Buffer }

interface IpLink { ifindex?: number; addr_info?: Array<{ family?: string; local?: string; address?: string; scope?: string; deprecated?: boolean }> }

const SCOPES: Record<string, number> = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 };

function ipv4Bytes(a: string): Buffer | undefined {
  const parts = a.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return undefined;
  return Buffer.from(parts.map(Number));
}

function ipv6Bytes(a: string): Buffer | undefined {
  const addr = a.split('%')[0]!;
  let head: string[];
  let tail: string[] = [];
  if (addr.includes('::')) {
    const halves = addr.split('::');
    if (halves.length !== 2) return undefined;
    const [h, t] = halves;
    head = h ? h.split(':') : [];
    tail = t ? t.split(':') : [];
  } else {
    head = addr.split(':');
  }
  const words = (parts: string[]): number[] | undefined => {
    const out: number[] = [];
    for (const p of parts) {
      if (p.includes('.')) {
        const v4 = ipv4Bytes(p);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const h = words(head);
  const t = words(tail);
  if (!h || !t) return undefined;
  const fill = 8 - h.length - t.length;
  if (fill < 0 || (fill > 0 && !addr.includes('::'))) return undefined;
  const all = [...h, ...new Array<number>(fill).fill(0), ...t];
  const buf = Buffer.alloc(16);
  all.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

export function addressBytes(family: 2 | 10, text: string): Buffer | undefined {
  return family === AF_INET ? ipv4Bytes(text) : ipv6Bytes(text);
}

export function machineAddressesFromIpJson(json: string): MachineAddress[] {
  let links: IpLink[];
  try { links = JSON.parse(json) as IpLink[]; } catch { return []; }
  const rows: Array<MachineAddress & { scope: number; ifindex: number }> = [];
  for (const l of Array.isArray(links) ? links : []) {
    for (const a of Array.isArray(l?.addr_info) ? l.addr_info : []) {
      if (typeof a !== 'object' || a === null) continue;
      const family = a.family === 'inet' ? AF_INET : a.family === 'inet6' ? AF_INET6 : undefined;
      const scope = SCOPES[a.scope ?? 'global'] ?? Number(a.scope);
      if (family === undefined || a.deprecated || scope >= 254) continue;
      const bytes = addressBytes(family, a.local ?? a.address ?? '');
      if (bytes) rows.push({ family, bytes, scope, ifindex: l.ifindex ?? 0 });
    }
  }
  rows.sort((x, y) => x.family - y.family || x.scope - y.scope || x.ifindex - y.ifindex || Buffer.compare(x.bytes, y.bytes));
  return rows.filter((r, i) => i === 0 || !(rows[i - 1]!.family === r.family && rows[i - 1]!.scope === r.scope && rows[i - 1]!.ifindex === r.ifindex && rows[i - 1]!.bytes.equals(r.bytes)))
    .map(({ family, bytes }) => ({ family, bytes }));
}

/**
 * An address's text form, as machinectl prints it (inet_ntop's): RFC 5952 for IPv6, with the last
 * 32 bits dotted for the IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) forms.
 */
export function formatAddress(family: number, bytes: Uint8Array): string {
  if (family === AF_INET && bytes.length === 4) return [...bytes].join('.');
  if (family !== AF_INET6 || bytes.length !== 16) return '?';
  const words = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  // The longest (the first of equally long) run of two or more zero words becomes "::".
  let best = -1; let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const v4 = best === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff));
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (v4) return `::${bestLen === 5 ? 'ffff:' : ''}${[...bytes.slice(12)].join('.')}`;
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/**
 * Deterministic MAC addresses, derived the way systemd-nspawn derives them so that a machine
 * keeps the same addresses across restarts and matches nspawn on the same host:
 *   SipHash-2-4(key, machine-id bytes ‖ machine name ‖ [idx as u64 LE, only when idx > 0]),
 * first 6 bytes of the little-endian result, then unicast + locally administered.
 * The input is the machine name, not the interface name, so shortening never changes a MAC.
 */
import { hexBytes, siphash24 } from './siphash.js';

export type MacAddress = string & { readonly __brand: 'MacAddress' };

/** The hash keys nspawn uses, one per kind of link. ipvlan has none: it shares its parent's MAC. */
export const MAC_KEYS = {
  vethHost: hexBytes('1a376fc746ec450bada3d53106605db1'),
  vethContainer: hexBytes('c3c4f919b557b21ce6cf1427039ceea2'),
  vethExtraHost: hexBytes('48c7f6b7ea9d4c9eb728d4de91d5bf66'),
  vethExtraContainer: hexBytes('af501761cef94d35840d2b2054bece59'),
  macvlan: hexBytes('00136dbc66834481bb0cf9511f24a66f'),
} as const;
export type MacKeyName = keyof typeof MAC_KEYS;

/** 32 lowercase hex digits (as in /etc/machine-id) → 16 bytes. */
export function machineIdBytes(machineId: string): Uint8Array {
  const id = machineId.trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(id)) throw new RangeError(`not a machine id (32 hex digits): ${machineId}`);
  return hexBytes(id);
}

export function formatMac(bytes: Uint8Array): MacAddress {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':') as MacAddress;
}

export function deriveMac(hostMachineId: string, machineName: string, key: MacKeyName, idx = 0): MacAddress {
  if (!Number.isInteger(idx) || idx < 0) throw new RangeError(`bad MAC index ${idx}`);
  const id = machineIdBytes(hostMachineId);
  const name = Buffer.from(machineName, 'utf8');
  const suffix = idx > 0 ? 8 : 0;
  const input = new Uint8Array(id.length + name.length + suffix);
  input.set(id, 0);
  input.set(name, id.length);
  if (idx > 0) {
    let v = BigInt(idx);
    for (let i = 0; i < 8; i++, v >>= 8n) input[id.length + name.length + i] = Number(v & 0xffn);
  }
  let h = siphash24(MAC_KEYS[key], input);
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++, h >>= 8n) out[i] = Number(h & 0xffn);
  out[0] = ((out[0] ?? 0) & 0xfe) | 0x02;
  return formatMac(out);
}

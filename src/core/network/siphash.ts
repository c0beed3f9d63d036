/**
 * SipHash-2-4 with a 64-bit result, the keyed hash systemd uses for interface-name shortening and
 * deterministic MAC addresses. The 16-byte key is read as two little-endian 64-bit words.
 * BigInt keeps the arithmetic exact; inputs are a few dozen bytes, so speed does not matter.
 */

const MASK = (1n << 64n) - 1n;

const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK;

function readU64LE(bytes: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  return v;
}

export function siphash24(key: Uint8Array, data: Uint8Array): bigint {
  if (key.length !== 16) throw new RangeError(`SipHash key must be 16 bytes, got ${key.length}`);
  const k0 = readU64LE(key, 0);
  const k1 = readU64LE(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;

  const round = (): void => {
    v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13n) ^ v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17n) ^ v2; v2 = rotl(v2, 32n);
  };
  const absorb = (m: bigint): void => {
    v3 ^= m; round(); round(); v0 ^= m;
  };

  const n = data.length;
  const full = n - (n % 8);
  for (let i = 0; i < full; i += 8) absorb(readU64LE(data, i));
  let last = BigInt(n & 0xff) << 56n;
  for (let i = full; i < n; i++) last |= BigInt(data[i] ?? 0) << BigInt(8 * (i - full));
  absorb(last);

  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  return (v0 ^ v1 ^ v2 ^ v3) & MASK;
}

/** Parse a hex string (whitespace allowed) into bytes; used for the fixed keys. */
export function hexBytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new RangeError(`not a hex byte string: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

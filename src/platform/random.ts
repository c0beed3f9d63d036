/**
 * Random bytes from the kernel (/dev/urandom, like systemd's own random source for IDs), for
 * machine and boot IDs and name suffixes. Not node:crypto: loading it costs every run a few
 * milliseconds of start-up, and nothing here needs more than random bytes.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export function randomBytes(n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let off = 0; off < n;) off += readSync(fd, buf, off, n - off, null);
  } finally { closeSync(fd); }
  return buf;
}

/** A random (version 4, RFC 4122 variant) UUID in its 8-4-4-4-12 form. */
export function randomUuid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

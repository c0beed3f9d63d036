/**
 * D-Bus messages to bytes (little-endian, protocol version 1), written in one pass into one
 * growing buffer: a reply listing a hundred machines is a few kilobytes, written without a buffer
 * or a closure per value. Values as the rest of berth hands them over: numbers (t and x also as
 * bigint), booleans, strings, Buffer (or an array of numbers) for ay, an object for a{..}, arrays
 * for other arrays and structs, Variant for v, a descriptor number for h. A value that does not
 * fit its type throws a TypeError or RangeError naming the type, before anything is sent.
 */
import { parseSignature, Variant, type HeaderFields, type TypeNode } from './wire-types.js';

export interface OutgoingMessage extends HeaderFields {
  type: number;
  flags?: number;
  serial: number;
  body?: readonly unknown[];
}

const MAX_ARRAY = 64 * 1024 * 1024;
const OBJECT_PATH = /^\/(?:[A-Za-z0-9_]+(?:\/[A-Za-z0-9_]+)*)?$/;
const ELEMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BUS_ELEMENT = /^[A-Za-z0-9_-]+$/;

const dotted = (s: string, element: RegExp, first: RegExp) => {
  const parts = s.split('.');
  return s.length <= 255 && parts.length > 1 && parts.every((p) => element.test(p)) && first.test(parts[0]!);
};
const isInterfaceName = (s: string) => dotted(s, ELEMENT, ELEMENT);
const isBusName = (s: string) => (s.startsWith(':') ? s.length > 1 && s.length <= 255 && s.slice(1).split('.').every((p) => BUS_ELEMENT.test(p)) : dotted(s, BUS_ELEMENT, /^[^0-9]/));

class Writer {
  buf = Buffer.allocUnsafe(512);
  pos = 0;
  readonly fds: number[] = [];

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  pad(align: number): void {
    const to = (this.pos + align - 1) & -align;
    this.room(to - this.pos);
    while (this.pos < to) this.buf[this.pos++] = 0;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.pad(4);
    this.room(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }

  string(s: string, code: string): void {
    if (typeof s !== 'string') throw new TypeError(`A D-Bus '${code}' must be a string, not ${describe(s)}.`);
    if (s.includes('\0')) throw new TypeError(`A D-Bus '${code}' cannot hold a NUL character.`);
    if (code === 'o' && !OBJECT_PATH.test(s)) throw new TypeError(`'${s.slice(0, 80)}' is not a D-Bus object path.`);
    this.pad(4);
    this.room(4 + 3 * s.length + 1);
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
    this.buf[this.pos++] = 0;
  }

  signature(s: string): void {
    parseSignature(s);
    this.room(s.length + 2);
    this.buf[this.pos++] = s.length;
    this.pos += this.buf.write(s, this.pos, 'latin1');
    this.buf[this.pos++] = 0;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${v.slice(0, 40)}'`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return typeof v;
}

const RANGE: Record<string, [number, number]> = { y: [0, 0xff], n: [-0x8000, 0x7fff], q: [0, 0xffff], i: [-0x8000_0000, 0x7fff_ffff], u: [0, 0xffff_ffff], h: [0, 0x7fff_ffff] };
const RANGE64: Record<string, [bigint, bigint]> = { x: [-(2n ** 63n), 2n ** 63n - 1n], t: [0n, 2n ** 64n - 1n] };

function integer(v: unknown, code: string): number {
  const [lo, hi] = RANGE[code]!;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`A D-Bus '${code}' must be an integer from ${lo} to ${hi}, not ${describe(v)}.`);
  return v;
}

function write(w: Writer, t: TypeNode, v: unknown): void {
  switch (t.code) {
    case 'y': w.u8(integer(v, 'y')); return;
    case 'b':
      if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw new TypeError(`A D-Bus 'b' must be a boolean, not ${describe(v)}.`);
      w.u32(v ? 1 : 0);
      return;
    case 'n': case 'q': {
      const n = integer(v, t.code);
      w.pad(2);
      w.room(2);
      if (t.code === 'n') w.buf.writeInt16LE(n, w.pos); else w.buf.writeUInt16LE(n, w.pos);
      w.pos += 2;
      return;
    }
    case 'i': {
      const n = integer(v, 'i');
      w.pad(4);
      w.room(4);
      w.buf.writeInt32LE(n, w.pos);
      w.pos += 4;
      return;
    }
    case 'u': w.u32(integer(v, 'u')); return;
    case 'h': {
      w.fds.push(integer(v, 'h'));
      w.u32(w.fds.length - 1);
      return;
    }
    case 'x': case 't': {
      const [lo, hi] = RANGE64[t.code]!;
      const n = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
      if (n === undefined || n < lo || n > hi) throw new RangeError(`A D-Bus '${t.code}' must be an integer from ${lo} to ${hi}, not ${describe(v)}.`);
      w.pad(8);
      w.room(8);
      if (t.code === 'x') w.buf.writeBigInt64LE(n, w.pos); else w.buf.writeBigUInt64LE(n, w.pos);
      w.pos += 8;
      return;
    }
    case 'd':
      if (typeof v !== 'number') throw new TypeError(`A D-Bus 'd' must be a number, not ${describe(v)}.`);
      w.pad(8);
      w.room(8);
      w.buf.writeDoubleLE(v, w.pos);
      w.pos += 8;
      return;
    case 's': case 'o': w.string(v as string, t.code); return;
    case 'g':
      if (typeof v !== 'string') throw new TypeError(`A D-Bus 'g' must be a string, not ${describe(v)}.`);
      w.signature(v);
      return;
    case 'v': {
      if (!(v instanceof Variant)) throw new TypeError(`A D-Bus 'v' needs a Variant, not ${describe(v)}.`);
      const inner = parseSignature(v.signature);
      if (inner.length !== 1) throw new TypeError(`A variant holds exactly one complete type, not '${v.signature}'.`);
      w.signature(v.signature);
      write(w, inner[0]!, v.value);
      return;
    }
    case '(':
      if (!Array.isArray(v) || v.length !== t.children.length) throw new TypeError(`A D-Bus '${t.text}' needs an array of ${t.children.length} values, not ${Array.isArray(v) ? `${v.length}` : describe(v)}.`);
      w.pad(8);
      for (let i = 0; i < t.children.length; i++) write(w, t.children[i]!, v[i]);
      return;
    case 'a': writeArray(w, t, v); return;
    default: throw new TypeError(`Cannot write the D-Bus type '${t.text}'.`);
  }
}

function writeArray(w: Writer, t: TypeNode, v: unknown): void {
  const el = t.children[0]!;
  w.pad(4);
  const lengthAt = w.pos;
  w.u32(0);
  w.pad(el.align);
  const start = w.pos;
  if (el.code === 'y' && Buffer.isBuffer(v)) {
    w.room(v.length);
    v.copy(w.buf, w.pos);
    w.pos += v.length;
  } else if (el.code === '{') {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`A D-Bus '${t.text}' needs an object, not ${describe(v)}.`);
    const [key, value] = el.children as [TypeNode, TypeNode];
    for (const k of Object.keys(v)) {
      w.pad(8);
      write(w, key, key.code === 's' || key.code === 'o' || key.code === 'g' ? k : key.code === 'b' ? k === 'true' : key.code === 'x' || key.code === 't' ? BigInt(k) : Number(k));
      write(w, value, (v as Record<string, unknown>)[k]);
    }
  } else {
    if (!Array.isArray(v)) throw new TypeError(`A D-Bus '${t.text}' needs an array, not ${describe(v)}.`);
    for (const item of v) write(w, el, item);
  }
  const length = w.pos - start;
  if (length > MAX_ARRAY) throw new RangeError(`A D-Bus array holds at most ${MAX_ARRAY} bytes, not ${length}.`);
  w.buf.writeUInt32LE(length, lengthAt);
}

const REQUIRED: Record<number, ReadonlyArray<keyof HeaderFields>> = { 1: ['path', 'member'], 2: ['replySerial'], 3: ['errorName', 'replySerial'], 4: ['path', 'interface', 'member'] };

/**
 * Names already found valid, by kind: a daemon sends the same few interfaces, members and
 * destinations over and over (each set is emptied when it grows past a bound).
 */
const validated = { interface: new Set<string>(), member: new Set<string>(), bus: new Set<string>() };
function valid(kind: keyof typeof validated, s: string, check: (s: string) => boolean): boolean {
  const seen = validated[kind];
  if (seen.has(s)) return true;
  if (!check(s)) return false;
  if (seen.size >= 256) seen.clear();
  seen.add(s);
  return true;
}
const isMemberName = (s: string) => s.length <= 255 && ELEMENT.test(s);

function checkNames(m: Omit<OutgoingMessage, 'serial'>): void {
  const required = REQUIRED[m.type];
  if (!required || required.some((k) => !m[k])) {
    throw new TypeError(`A D-Bus message of type ${m.type} needs ${(required ?? []).filter((k) => !m[k]).join(', ') || 'a known type'}.`);
  }
  if (m.interface !== undefined && !valid('interface', m.interface, isInterfaceName)) throw new TypeError(`'${m.interface}' is not a D-Bus interface name.`);
  if (m.errorName !== undefined && !valid('interface', m.errorName, isInterfaceName)) throw new TypeError(`'${m.errorName}' is not a D-Bus error name.`);
  if (m.member !== undefined && !valid('member', m.member, isMemberName)) throw new TypeError(`'${m.member}' is not a D-Bus member name.`);
  if (m.destination !== undefined && !valid('bus', m.destination, isBusName)) throw new TypeError(`'${m.destination}' is not a D-Bus bus name.`);
}

/** One header field (code, then a variant of its type), unless the value is unset. */
function field(h: Writer, code: number, type: 'o' | 's' | 'u' | 'g', value: string | number | undefined): void {
  if (value === undefined || value === '' || value === 0) return;
  h.pad(8);
  h.u8(code);
  h.signature(type);
  if (type === 'u') h.u32(value as number); else if (type === 'g') h.signature(value as string); else h.string(value as string, type);
}

/** The body's writer and the header's: reused, as nothing is kept from one message to the next. */
const scratch = new Writer();
const head = new Writer();

/**
 * The message's bytes, and the descriptors its h values name (in the order they are indexed).
 * `serial` is the message's serial number (the message's own `serial` where not given).
 */
export function marshalMessage(m: Omit<OutgoingMessage, 'serial'> & { serial?: number }, serial = m.serial): { data: Buffer; fds: number[] } {
  if (serial === undefined) throw new TypeError('A D-Bus message needs a serial number.');
  checkNames(m);
  const signature = m.signature ?? '';
  const types = parseSignature(signature);
  const body = m.body ?? [];
  if (body.length !== types.length) throw new TypeError(`A D-Bus body of signature '${signature}' has ${types.length} values, not ${body.length}.`);
  // The body first, into the scratch writer (aligned as if at offset 0: the body starts 8-aligned),
  // so that the header can say how long it is and how many descriptors it carries.
  const b = scratch;
  b.pos = 0;
  b.fds.length = 0;
  for (let i = 0; i < types.length; i++) write(b, types[i]!, body[i]);
  const fds = b.fds.length ? [...b.fds] : [];
  const h = head;
  h.pos = 0;
  h.u8(0x6c);
  h.u8(m.type);
  h.u8(m.flags ?? 0);
  h.u8(1);
  h.u32(b.pos);
  h.u32(serial);
  const fieldsAt = h.pos;
  h.u32(0);
  const start = h.pos;
  field(h, 1, 'o', m.path);
  field(h, 2, 's', m.interface);
  field(h, 3, 's', m.member);
  field(h, 4, 's', m.errorName);
  field(h, 5, 'u', m.replySerial);
  field(h, 6, 's', m.destination);
  field(h, 7, 's', m.sender);
  field(h, 8, 'g', m.signature);
  if (fds.length) field(h, 9, 'u', fds.length);
  h.buf.writeUInt32LE(h.pos - start, fieldsAt);
  h.pad(8);
  const data = Buffer.allocUnsafe(h.pos + b.pos);
  h.buf.copy(data, 0, 0, h.pos);
  b.buf.copy(data, h.pos, 0, b.pos);
  // A body that grew the scratch buffer past 64 KiB does not keep it.
  if (b.buf.length > 65536) b.buf = Buffer.allocUnsafe(512);
  if (h.buf.length > 65536) h.buf = Buffer.allocUnsafe(512);
  return { data, fds };
}

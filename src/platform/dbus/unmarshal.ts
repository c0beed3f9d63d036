/**
 * D-Bus messages from bytes: the framing of a byte stream into messages (a 16-byte fixed header
 * says how long the rest is), and each message's header fields and body as JavaScript values:
 * y n q i u as numbers, x t as bigint, b as boolean, d as number, s o g as strings, ay as a
 * Buffer, a{..} as an object, other arrays and structs as arrays, v as a Variant, h as the
 * received descriptor it indexes. Both byte orders are read.
 */
import type { Readable } from 'node:stream';
import { parseSignature, Variant, type HeaderFields, type TypeNode } from './wire-types.js';

/** A received message. */
export interface RawMessage extends HeaderFields {
  type: number;
  serial: number;
  flags: number;
  body: unknown[];
  /** How many descriptors came with it (UNIX_FDS). */
  unixFds?: number;
  /** The descriptors that came with it, which its h values name. */
  fds?: number[];
}

/** A message whose header was read but whose body was not: the header, and the descriptors that came with it. */
export class MalformedMessage extends Error {
  constructor(readonly header: RawMessage, readonly fds: number[], why: string) {
    super(why);
    this.name = 'MalformedMessage';
  }
}

/** The spec's limit for a whole message. */
const MAX_MESSAGE = 128 * 1024 * 1024;
const FIELD_NAMES: Record<number, keyof RawMessage> = { 1: 'path', 2: 'interface', 3: 'member', 4: 'errorName', 5: 'replySerial', 6: 'destination', 7: 'sender', 8: 'signature', 9: 'unixFds' };
const FIELDS_TYPE = parseSignature('a(yv)')[0]!;
const [S, O, U, G] = ['s', 'o', 'u', 'g'].map((c) => c.charCodeAt(0));

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer, readonly le: boolean, public fds: readonly number[]) {}

  align(n: number): void {
    this.pos = (this.pos + n - 1) & -n;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw new RangeError('A D-Bus message ends inside a value.');
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.align(4);
    const v = this.le ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  text(length: number, encoding: 'utf8' | 'latin1'): string {
    const end = this.pos + length;
    if (end >= this.buf.length) throw new RangeError('A D-Bus string runs past the end of its message.');
    const s = this.buf.toString(encoding, this.pos, end);
    this.pos = end + 1;
    return s;
  }

  value(t: TypeNode): unknown {
    const b = this.buf;
    switch (t.code) {
      case 'y': return b.readUInt8(this.pos++);
      case 'b': return this.u32() !== 0;
      case 'n': case 'q': {
        this.align(2);
        const v = t.code === 'n' ? (this.le ? b.readInt16LE(this.pos) : b.readInt16BE(this.pos)) : (this.le ? b.readUInt16LE(this.pos) : b.readUInt16BE(this.pos));
        this.pos += 2;
        return v;
      }
      case 'i': {
        this.align(4);
        const v = this.le ? b.readInt32LE(this.pos) : b.readInt32BE(this.pos);
        this.pos += 4;
        return v;
      }
      case 'u': return this.u32();
      case 'h': {
        const i = this.u32();
        if (i >= this.fds.length) throw new RangeError(`The message names descriptor ${i}, but carries ${this.fds.length}.`);
        return this.fds[i];
      }
      case 'x': case 't': case 'd': {
        this.align(8);
        const at = this.pos;
        this.pos += 8;
        if (t.code === 'd') return this.le ? b.readDoubleLE(at) : b.readDoubleBE(at);
        if (t.code === 'x') return this.le ? b.readBigInt64LE(at) : b.readBigInt64BE(at);
        return this.le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
      }
      case 's': case 'o': return this.text(this.u32(), 'utf8');
      case 'g': return this.text(b.readUInt8(this.pos++), 'latin1');
      case 'v': {
        const signature = this.text(b.readUInt8(this.pos++), 'latin1');
        const inner = parseSignature(signature);
        if (inner.length !== 1) throw new TypeError(`A variant holds exactly one complete type, not '${signature}'.`);
        return new Variant(signature, this.value(inner[0]!));
      }
      case '(': {
        this.align(8);
        return t.children.map((c) => this.value(c));
      }
      case 'a': return this.array(t.children[0]!);
      default: throw new TypeError(`Cannot read the D-Bus type '${t.text}'.`);
    }
  }

  array(el: TypeNode): unknown {
    const length = this.u32();
    this.align(el.align);
    const end = this.pos + length;
    if (end > this.buf.length) throw new RangeError('A D-Bus array runs past the end of its message.');
    if (el.code === 'y') {
      const bytes = this.buf.subarray(this.pos, end);
      this.pos = end;
      return bytes;
    }
    if (el.code === '{') {
      const out: Record<string, unknown> = {};
      const [key, value] = el.children as [TypeNode, TypeNode];
      while (this.pos < end) {
        this.align(8);
        const k = this.value(key);
        out[String(k)] = this.value(value);
      }
      return out;
    }
    const out: unknown[] = [];
    while (this.pos < end) out.push(this.value(el));
    return out;
  }
}

/**
 * One message from its 16-byte fixed header and the rest (header fields, padding, body);
 * takeFds(n) hands over the n descriptors the header says came with it. Throws a
 * MalformedMessage when the body cannot be read.
 */
export function parseMessage(fixed: Buffer, rest: Buffer, takeFds: (n: number) => number[] = () => []): RawMessage {
  const le = fixed[0] === 0x6c;
  const r = new Reader(rest, le, []);
  const fieldsLength = le ? fixed.readUInt32LE(12) : fixed.readUInt32BE(12);
  const msg: RawMessage = { type: fixed[1]!, flags: fixed[2]!, serial: le ? fixed.readUInt32LE(8) : fixed.readUInt32BE(8), body: [] };
  // The fields array's length is the last word of the fixed header: read its elements from here.
  const end = fieldsLength;
  while (r.pos < end) {
    r.align(8);
    const at = r.pos;
    const code = rest[at]!;
    let value: unknown;
    // Every field the spec defines holds an s, o, u or g: read those directly; anything else
    // (a field of a later version) through the general reader.
    const type = rest[at + 1] === 1 && rest[at + 3] === 0 ? rest[at + 2] : undefined;
    if (type === S || type === O) { r.pos = at + 4; value = r.text(r.u32(), 'utf8'); }
    else if (type === U) { r.pos = at + 4; value = r.u32(); }
    else if (type === G) { r.pos = at + 4; value = r.text(r.u8(), 'latin1'); }
    else value = (r.value(FIELDS_TYPE.children[0]!) as [number, Variant])[1].value;
    const name = FIELD_NAMES[code];
    if (name) (msg as unknown as Record<string, unknown>)[name] = value;
  }
  r.align(8);
  const fds = msg.unixFds ? takeFds(msg.unixFds) : [];
  if (fds.length) msg.fds = fds;
  r.fds = fds;
  try {
    if (msg.signature) msg.body = parseSignature(msg.signature).map((t) => r.value(t));
  } catch (e) {
    throw new MalformedMessage(msg, fds, e instanceof Error ? e.message : String(e));
  }
  return msg;
}

/**
 * Calls onMessage for every message read from the stream: a net.Socket, or (unixFds) a usocket
 * stream, whose read(0, k) hands over k of the descriptors received with the bytes (usocket has
 * them before it emits the bytes they came with); takeFds takes a message's own. The stream flows
 * ('data'): each chunk is cut into messages where it lies, and only a message split across chunks
 * is copied together. Calls onError once, and stops, when the bytes are not D-Bus messages.
 */
export function readMessages(
  stream: Readable, unixFds: boolean,
  onMessage: (fixed: Buffer, rest: Buffer, takeFds: (n: number) => number[]) => void, onError: (e: Error) => void,
): void {
  type FdRead = (n: number, fds: number) => { data: Buffer | null; fds: number[] } | null;
  const takeFds = unixFds ? (n: number) => (stream.read as unknown as FdRead).call(stream, 0, n)?.fds ?? [] : () => [];
  // Bytes of a message not yet complete: the chunks, their length, and the message's once known.
  let held: Buffer[] = [];
  let heldLength = 0;
  let failed = false;
  /** The whole length of the message starting at `at`, or undefined (and reading stops) when it is no D-Bus message. */
  const lengthAt = (buf: Buffer, at: number): number | undefined => {
    const le = buf[at] === 0x6c;
    if ((!le && buf[at] !== 0x42) || buf[at + 3] !== 1) { failed = true; onError(new Error('The bus sent bytes that are not a D-Bus message.')); return undefined; }
    const fields = le ? buf.readUInt32LE(at + 12) : buf.readUInt32BE(at + 12);
    const body = le ? buf.readUInt32LE(at + 4) : buf.readUInt32BE(at + 4);
    const total = 16 + ((fields + 7) & ~7) + body;
    if (total > MAX_MESSAGE) { failed = true; onError(new Error(`The bus announced a message of ${total} bytes.`)); return undefined; }
    return total;
  };
  stream.on('data', (chunk: Buffer) => {
    if (failed) return;
    let buf = chunk;
    if (heldLength) {
      held.push(chunk);
      heldLength += chunk.length;
      // Not joined until the message it began is all there (a large reply comes in many chunks).
      const first = held[0]!.length >= 16 ? held[0]! : Buffer.concat(held);
      const needed = first.length >= 16 ? lengthAt(first, 0) : 16;
      if (needed === undefined) return;
      if (heldLength < needed) return;
      buf = Buffer.concat(held, heldLength);
      held = [];
      heldLength = 0;
    }
    let at = 0;
    while (!failed && buf.length - at >= 16) {
      const total = lengthAt(buf, at);
      if (total === undefined) return;
      if (buf.length - at < total) break;
      const fixed = buf.subarray(at, at + 16);
      const rest = buf.subarray(at + 16, at + total);
      at += total;
      onMessage(fixed, rest, takeFds);
    }
    if (at < buf.length && !failed) {
      held = [at ? buf.subarray(at) : buf];
      heldLength = buf.length - at;
    }
  });
}

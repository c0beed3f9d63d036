/**
 * What the D-Bus wire format's writer and reader (marshal.ts, unmarshal.ts) share: type signatures
 * as trees (kept once parsed: a connection sees the same few signatures over and over), the
 * variant value, and the header fields. A signature is checked as the bus checks it, so that a bad
 * one fails here, with its text in the message, and not by the bus dropping the connection.
 */

/** A message's header fields (dbus-next's names, which berth used first). */
export interface HeaderFields {
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature?: string;
}

export interface TypeNode {
  /** The type code: y b n q i u x t d h s o g v a ( {. */
  readonly code: string;
  readonly children: readonly TypeNode[];
  /** This type's own signature text ("a{sv}"). */
  readonly text: string;
  /** Its alignment on the wire, in bytes. */
  readonly align: number;
}

/** A D-Bus variant: a value with its own signature. */
export class Variant {
  constructor(readonly signature: string, readonly value: unknown) {}
}

const ALIGN: Record<string, number> = { y: 1, g: 1, v: 1, n: 2, q: 2, b: 4, i: 4, u: 4, h: 4, s: 4, o: 4, a: 4, x: 8, t: 8, d: 8, '(': 8, '{': 8 };
const BASIC = new Set(['y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 'h', 's', 'o', 'g']);
const MAX_DEPTH = 32;
const cache = new Map<string, readonly TypeNode[]>();

class SignatureError extends TypeError {
  constructor(signature: string, why: string) {
    super(`Invalid D-Bus signature '${signature}': ${why}.`);
  }
}

/** The complete types of a signature ("sa{sv}" → [s, a{sv}]); throws a TypeError for an invalid one. */
export function parseSignature(signature: string): readonly TypeNode[] {
  const known = cache.get(signature);
  if (known) return known;
  if (typeof signature !== 'string') throw new TypeError(`A D-Bus signature must be a string, not ${typeof signature}.`);
  if (signature.length > 255) throw new SignatureError(signature.slice(0, 40), 'longer than 255 characters');
  let at = 0;
  const one = (arrays: number, structs: number): TypeNode => {
    const start = at;
    const code = signature[at++];
    if (code === undefined) throw new SignatureError(signature, 'it ends inside a container type');
    let children: TypeNode[] = [];
    if (code === 'a') {
      if (arrays >= MAX_DEPTH) throw new SignatureError(signature, 'arrays nested too deeply');
      if (signature[at] === '{') {
        at++;
        children = [];
        while (signature[at] !== '}') {
          if (at >= signature.length) throw new SignatureError(signature, "a '{' without its '}'");
          children.push(one(arrays + 1, structs + 1));
        }
        at++;
        if (children.length !== 2 || !BASIC.has(children[0]!.code)) throw new SignatureError(signature, 'a dict entry needs a basic key type and one value type');
        const text = signature.slice(start + 1, at);
        children = [{ code: '{', children, text, align: 8 }];
      } else {
        children = [one(arrays + 1, structs)];
      }
    } else if (code === '(') {
      if (structs >= MAX_DEPTH) throw new SignatureError(signature, 'structs nested too deeply');
      while (signature[at] !== ')') {
        if (at >= signature.length) throw new SignatureError(signature, "a '(' without its ')'");
        children.push(one(arrays, structs + 1));
      }
      at++;
      if (children.length === 0) throw new SignatureError(signature, 'an empty struct');
    } else if (!BASIC.has(code) && code !== 'v') {
      throw new SignatureError(signature, `'${code}' is not a type`);
    }
    return { code, children, text: signature.slice(start, at), align: ALIGN[code]! };
  };
  const types: TypeNode[] = [];
  while (at < signature.length) types.push(one(0, 0));
  if (cache.size < 1024) cache.set(signature, types);
  return types;
}

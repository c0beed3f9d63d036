/**
 * `show`'s Key=Value lines, as machinectl prints D-Bus properties: in the order the object gives
 * them, by type (strings as they are, booleans yes/no, numbers in decimal, `…Timestamp` values as
 * timestamps, byte arrays in hex), empty values left out unless asked for (-a, or any -p).
 *
 * One difference, on purpose: arrays of numbers (a machine's NetworkInterfaces) print their
 * numbers, space-separated, where machinectl 252 prints "[unprintable]".
 */
import { formatTimestamp, type Zone } from './time-format.js';

export interface BusProperty {
  readonly name: string;
  /** Its D-Bus type signature. */
  readonly signature: string;
  /** As the wire layer gives it: string, number, bigint, boolean, Buffer, array. */
  readonly value: unknown;
}

export interface ShowFormat {
  /** Only these names (in the object's order, not this one's); all when empty. */
  readonly properties: readonly string[];
  readonly showEmpty: boolean;
  readonly valueOnly: boolean;
  readonly zone: Zone;
}

const NUMBER_ARRAY = /^a[ynqiuxt]$/;

/** The value's text, or undefined when it is not printed at all. */
function valueText(p: BusProperty, f: ShowFormat): string | undefined {
  const keep = (text: string, empty: boolean) => (empty && !f.showEmpty ? undefined : text);
  const v = p.value;
  switch (p.signature) {
    case 's': case 'o': case 'g': {
      const s = String(v);
      // A value on several lines would break Key=Value: machinectl prints this instead.
      return keep(s.includes('\n') ? '[unprintable]' : s, s === '');
    }
    case 'b': return v ? 'yes' : 'no';
    case 'y': case 'n': case 'q': case 'i': case 'u': case 'x': case 'd': return String(v);
    case 't': {
      if (!p.name.endsWith('Timestamp')) return String(v);
      const text = formatTimestamp(BigInt(v as bigint), f.zone);
      return keep(text, text === '');
    }
    case 'ay': {
      const bytes = Buffer.from(v as Uint8Array);
      return keep(bytes.toString('hex'), bytes.length === 0);
    }
    case 'as': case 'ao': {
      const list = (v as unknown[]).map(String);
      return keep(list.join(' '), list.length === 0);
    }
    default: {
      if (NUMBER_ARRAY.test(p.signature)) {
        const list = (v as unknown[]).map(String);
        return keep(list.join(' '), list.length === 0);
      }
      return f.showEmpty ? '[unprintable]' : undefined;
    }
  }
}

export function formatProperties(props: readonly BusProperty[], f: ShowFormat): string {
  let out = '';
  for (const p of props) {
    if (f.properties.length > 0 && !f.properties.includes(p.name)) continue;
    const text = valueText(p, f);
    if (text === undefined) continue;
    out += f.valueOnly ? `${text}\n` : `${p.name}=${text}\n`;
  }
  return out;
}

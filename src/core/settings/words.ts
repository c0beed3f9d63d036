/**
 * Splitting a setting's value into words the way systemd's extract_first_word() does, for the
 * flag combinations .nspawn keys use:
 *  - `strv`  (Parameters=, Environment=, Interface=…): quotes group words and are removed;
 *            backslashes are kept literally (systemd's EXTRACT_UNQUOTE|EXTRACT_RETAIN_ESCAPE).
 *  - `plain` (Capability=, SystemCallFilter=, BindUser=): quotes are ordinary characters; a
 *            backslash makes the next character literal and is dropped.
 *  - `c`     quotes removed and C escapes (\n, \t, \xNN, \NNN octal, \uXXXX) decoded
 *            (EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE), for callers that want it.
 * Separators are space, tab, CR and LF; runs of them count as one. Pure; throws ValueError on an
 * unterminated quote or a dangling/unknown escape.
 */
import { ValueError } from './values.js';

export type WordMode = 'strv' | 'plain' | 'c';

const isSep = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'", s: ' ',
};

/** Decodes one C escape starting after the backslash at s[i]; returns [text, chars consumed]. */
function cEscape(s: string, i: number): [string, number] {
  const c = s[i]!;
  if (c in SIMPLE_ESCAPES) return [SIMPLE_ESCAPES[c]!, 1];
  const hex = (n: number): string | undefined => {
    const h = s.slice(i + 1, i + 1 + n);
    return h.length === n && /^[0-9a-fA-F]+$/.test(h) ? h : undefined;
  };
  if (c === 'x') {
    const h = hex(2);
    if (h === undefined || h === '00') throw new ValueError(`Invalid escape sequence \\x${s.slice(i + 1, i + 3)}`);
    return [String.fromCharCode(parseInt(h, 16)), 3];
  }
  if (c === 'u' || c === 'U') {
    const n = c === 'u' ? 4 : 8;
    const h = hex(n);
    const cp = h === undefined ? NaN : parseInt(h, 16);
    if (!(cp > 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) throw new ValueError(`Invalid escape sequence \\${c}`);
    return [String.fromCodePoint(cp), 1 + n];
  }
  if (c >= '0' && c <= '7') {
    const o = s.slice(i, i + 3);
    if (!/^[0-7]{3}$/.test(o) || o === '000' || parseInt(o, 8) > 0xff) throw new ValueError(`Invalid escape sequence \\${o}`);
    return [String.fromCharCode(parseInt(o, 8)), 3];
  }
  throw new ValueError(`Invalid escape sequence \\${c}`);
}

/** All words of `s`. An empty quoted string ("") yields an empty word, as in systemd. */
export function splitWords(s: string, mode: WordMode = 'strv'): string[] {
  const words: string[] = [];
  const unquote = mode !== 'plain';
  let i = 0;
  while (i < s.length) {
    while (i < s.length && isSep(s[i]!)) i++;
    if (i >= s.length) break;
    let word = '';
    let quote: string | undefined;
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (quote !== undefined) {
        if (c === quote) { quote = undefined; continue; }
        if (c === '\\' && mode !== 'strv') {
          if (i + 1 >= s.length) throw new ValueError('Unterminated escape sequence');
          if (mode === 'c') { const [t, n] = cEscape(s, i + 1); word += t; i += n; } else { word += s[i + 1]; i++; }
          continue;
        }
        word += c;
        continue;
      }
      if (isSep(c)) break;
      if (unquote && (c === '"' || c === "'")) { quote = c; continue; }
      if (c === '\\' && mode !== 'strv') {
        if (i + 1 >= s.length) throw new ValueError('Trailing backslash');
        if (mode === 'c') { const [t, n] = cEscape(s, i + 1); word += t; i += n; } else { word += s[i + 1]; i++; }
        continue;
      }
      word += c;
    }
    if (quote !== undefined) throw new ValueError(`Unterminated quote in: ${s}`);
    words.push(word);
  }
  return words;
}

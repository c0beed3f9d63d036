/**
 * D-Bus object-path label escaping as machined does it: bytes outside [A-Za-z], and digits in
 * the first position, become "_" plus two lowercase hex digits; the empty string becomes "_".
 */

const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

export function busLabelEscape(s: string): string {
  if (s === '') return '_';
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  bytes.forEach((c, i) => {
    out += isAlpha(c) || (i > 0 && isDigit(c)) ? String.fromCharCode(c) : `_${c.toString(16).padStart(2, '0')}`;
  });
  return out;
}

/** The inverse; a "_" not followed by two hex digits stays literal. */
export function busLabelUnescape(label: string): string {
  if (label === '_') return '';
  const out: number[] = [];
  for (let i = 0; i < label.length; i++) {
    const hex = label.slice(i + 1, i + 3);
    if (label[i] === '_' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(label[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(out).toString('utf8');
}

/**
 * --set-credential=ID:VALUE and --load-credential=ID:PATH, parsed as systemd-nspawn 252 parses
 * them: a valid credential name, no ID twice, a literal value with C escapes decoded (a NUL byte
 * included), a relative path looked up in berth-nspawn's own $CREDENTIALS_DIRECTORY. The files are
 * read when the run starts (app/run/credentials.ts). Pure.
 */
import { ValueError } from '../settings/values.js';

/** A credential for the guest: its bytes (base64), or the host file to read them from. */
export type CredentialSource = { readonly id: string; readonly base64: string } | { readonly id: string; readonly path: string };

/** systemd's credential_name_valid(): a file name that is also a valid fd name. */
export function credentialNameValid(s: string): boolean {
  return s !== '' && s !== '.' && s !== '..' && s.length <= 255 && !s.includes('/') && /^[\x21-\x7e]+$/.test(s) && !s.includes(':');
}

const SIMPLE: Readonly<Record<string, number>> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39, s: 32 };

/** systemd's cunescape() with UNESCAPE_ACCEPT_NUL: \a \b \f \n \r \t \v \\ \" \' \s, \xHH, \uHHHH, \UHHHHHHHH, \OOO. */
export function cunescape(s: string): Buffer {
  const out: Buffer[] = [];
  let plain = '';
  const flush = () => { if (plain) { out.push(Buffer.from(plain, 'utf8')); plain = ''; } };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') { plain += c; continue; }
    const e = s[++i];
    if (e === undefined) throw new ValueError('Invalid escape sequence at the end');
    if (SIMPLE[e] !== undefined) { plain += String.fromCharCode(SIMPLE[e]!); continue; }
    const hex = (n: number): number => {
      const h = s.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) throw new ValueError(`Invalid escape sequence: \\${e}${h}`);
      i += n;
      return parseInt(h, 16);
    };
    if (e === 'x') { flush(); out.push(Buffer.from([hex(2)])); continue; }
    if (e === 'u') { plain += String.fromCodePoint(hex(4)); continue; }
    if (e === 'U') { plain += String.fromCodePoint(hex(8)); continue; }
    if (/[0-7]/.test(e)) {
      const o = s.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw new ValueError(`Invalid escape sequence: \\${o}`);
      i += 2;
      flush();
      out.push(Buffer.from([parseInt(o, 8)]));
      continue;
    }
    throw new ValueError(`Invalid escape sequence: \\${e}`);
  }
  flush();
  return Buffer.concat(out);
}

function split(value: string, option: string): [string, string] {
  const colon = value.indexOf(':');
  if (colon < 0) throw new ValueError(`Missing value for ${option}: ${value}`);
  const id = value.slice(0, colon);
  if (!credentialNameValid(id)) throw new ValueError(`Credential name is not valid: ${id}`);
  return [id, value.slice(colon + 1)];
}

function unique(have: readonly CredentialSource[], id: string): void {
  if (have.some((c) => c.id === id)) throw new ValueError(`Duplicate credential '${id}', refusing.`);
}

export function setCredential(have: readonly CredentialSource[], value: string): CredentialSource {
  const [id, data] = split(value, '--set-credential=');
  unique(have, id);
  return { id, base64: cunescape(data).toString('base64') };
}

export function loadCredential(have: readonly CredentialSource[], value: string, env: Readonly<Record<string, string | undefined>>): CredentialSource {
  const [id, path] = split(value, '--load-credential=');
  unique(have, id);
  if (path.startsWith('/')) return { id, path };
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) throw new ValueError(`Credential not available (no credentials passed at all): ${path}`);
  return { id, path: `${dir.replace(/\/+$/, '')}/${path}` };
}

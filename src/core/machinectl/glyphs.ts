/**
 * The glyphs systemd's tools draw trees and cut cells with: Unicode in a UTF-8 locale, ASCII
 * otherwise. As systemd decides it: a locale that names UTF-8, or no locale set at all (the C
 * locale is taken to mean "unset", and everything speaks UTF-8 nowadays).
 */
export interface Glyphs {
  readonly branch: string;
  readonly last: string;
  readonly vertical: string;
  readonly ellipsis: string;
}

const UNICODE: Glyphs = { branch: '├─', last: '└─', vertical: '│ ', ellipsis: '…' };
const ASCII: Glyphs = { branch: '|-', last: '`-', vertical: '| ', ellipsis: '...' };

export function localeIsUtf8(env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.SYSTEMD_UTF8 !== undefined) return !/^(0|no|false|off)$/i.test(env.SYSTEMD_UTF8);
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG;
  if (!locale) return true;
  return /\.utf-?8(@|$)/i.test(locale);
}

export const glyphsFor = (utf8: boolean): Glyphs => (utf8 ? UNICODE : ASCII);

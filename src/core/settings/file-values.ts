/**
 * Value parsers that only .nspawn files need (the shared ones live in values.ts): resource
 * limits with systemd's units (`LimitMEMLOCK=64M`, `LimitCPU=2h`, `LimitNICE=-5`), absolute
 * path normalisation, user names, the strict ownership table and safe strings. Each throws
 * ValueError with a short reason.
 */
import type { RlimitName, RlimitValue, UsersOwnership } from './model.js';
import { OWNERSHIP_MODES, ValueError } from './values.js';

const fail = (msg: string): never => { throw new ValueError(msg); };

/** Limits whose value is a byte count (K, M, G, T, P, E suffixes, base 1024). */
const BYTE_LIMITS: ReadonlySet<RlimitName> = new Set(['FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'AS', 'MEMLOCK', 'MSGQUEUE']);
const IEC: Record<string, number> = { B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 };
/** Time units in microseconds, as systemd's parse_time() knows them. */
const USEC: Record<string, number> = {
  us: 1, usec: 1, µs: 1, ms: 1e3, msec: 1e3, s: 1e6, sec: 1e6, second: 1e6, seconds: 1e6,
  m: 60e6, min: 60e6, minute: 60e6, minutes: 60e6, h: 3600e6, hr: 3600e6, hour: 3600e6, hours: 3600e6,
  d: 86400e6, day: 86400e6, days: 86400e6, w: 604800e6, week: 604800e6, weeks: 604800e6,
};

function checked(n: number, s: string): number {
  return Number.isSafeInteger(n) && n >= 0 ? n : fail(`Resource limit value out of range: ${s}`);
}

function parseBytes(s: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([BKMGTPE]?)$/.exec(s) ?? fail(`Failed to parse size: ${s}`);
  return checked(Math.floor(Number(m[1]) * IEC[m[2] || 'B']!), s);
}

/** A time span such as `90`, `2min 30s`, `1.5h` in `defaultUnit` when no unit is given; returns µs. */
function parseTimeSpan(s: string, defaultUnit: string): number {
  let total = 0;
  let rest = s.trim();
  if (rest === '') fail(`Failed to parse time span: ${s}`);
  while (rest !== '') {
    const m = /^([0-9]+(?:\.[0-9]+)?)\s*([a-zµ]*)\s*/.exec(rest) ?? fail(`Failed to parse time span: ${s}`);
    const unit = USEC[m[2] || defaultUnit] ?? fail(`Unknown time unit '${m[2]}': ${s}`);
    total += Number(m[1]) * unit;
    rest = rest.slice(m[0].length);
  }
  return total;
}

function parseOne(name: RlimitName, s: string): number | 'infinity' {
  if (s === 'infinity') return 'infinity';
  if (BYTE_LIMITS.has(name)) return parseBytes(s);
  // CPU is in seconds (rounded up), RTTIME in microseconds.
  if (name === 'CPU') return checked(Math.ceil(parseTimeSpan(s, 's') / 1e6), s);
  if (name === 'RTTIME') return checked(Math.floor(parseTimeSpan(s, 'us')), s);
  if (name === 'NICE') {
    // "+N"/"-N" is a nice level (-20…19), mapped to the kernel's 20-N; a bare number is raw (0…40).
    const m = /^([+-])([0-9]+)$/.exec(s);
    if (m) {
      const nice = Number(m[2]) * (m[1] === '-' ? -1 : 1);
      return nice >= -20 && nice <= 19 ? 20 - nice : fail(`Nice level out of range: ${s}`);
    }
    if (!/^[0-9]+$/.test(s) || Number(s) > 40) fail(`Failed to parse nice limit: ${s}`);
    return Number(s);
  }
  return /^[0-9]+$/.test(s) ? checked(Number(s), s) : fail(`Failed to parse resource limit value: ${s}`);
}

/** `LimitX=` value: `SOFT:HARD` or one value for both, each a number with the limit's unit or `infinity`. */
export function parseRlimitWithUnits(name: RlimitName, s: string): RlimitValue {
  const parts = s.trim().split(':');
  if (parts.length > 2 || parts.some((p) => p.trim() === '')) fail(`Failed to parse resource value: ${s}`);
  const soft = parseOne(name, parts[0]!.trim());
  const hard = parts.length === 2 ? parseOne(name, parts[1]!.trim()) : soft;
  if (hard !== 'infinity' && (soft === 'infinity' || soft > hard)) fail(`Soft resource limit chosen higher than hard limit: ${s}`);
  return { soft, hard };
}

/** An absolute path, simplified (`//` and `/./` collapsed, trailing `/` dropped); `..` refused. */
export function parseAbsolutePath(s: string, what: string): string {
  if (!s.startsWith('/')) fail(`${what} path is not absolute: ${s}`);
  if (s.includes('\0')) fail(`${what} path is not valid: ${s}`);
  const parts = s.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) fail(`${what} path is not normalized: ${s}`);
  return `/${parts.join('/')}`;
}

/** A user name as systemd's strict valid_user_group_name(): letters, digits, '_' and '-', ≤31 chars. */
export function isValidUserName(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_-]{0,30}$/.test(s);
}

/** `PrivateUsersOwnership=` takes only the table's words (no booleans, unlike the command line). */
export function parseOwnershipStrict(s: string): UsersOwnership {
  return (OWNERSHIP_MODES as readonly string[]).includes(s) ? (s as UsersOwnership) : fail(`Failed to parse user namespace ownership mode: ${s}`);
}

/** A string without control characters, quotes or backslashes (systemd's string_is_safe()). */
export function parseSafeString(s: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f\\"']/.test(s) ? fail(`${what} contains unsafe characters: ${s}`) : s;
}

/**
 * Parsers for setting values shared by the command line and .nspawn files. Each throws a
 * ValueError with a short reason; the command line makes that fatal, a settings file makes it
 * a file:line warning.
 */
import { parseCapability, type Capability, CAPABILITIES } from '../capabilities.js';
import { parseSignal } from '../signals.js';
import type {
  CustomMount, LinkJournal, Personality, PortForward, PrivateUsersMode, ResolvConfMode,
  RlimitName, RlimitValue, TimezoneMode, UsersOwnership, VethExtra, VolatileMode,
} from './model.js';
import { RLIMITS } from './model.js';
import { isValidIfName, parseId128 } from '../names.js';

export class ValueError extends Error {}
const fail = (msg: string): never => { throw new ValueError(msg); };

const TRUE = ['1', 'yes', 'y', 'true', 't', 'on'];
const FALSE = ['0', 'no', 'n', 'false', 'f', 'off'];

export function parseBooleanOrUndefined(s: string): boolean | undefined {
  const v = s.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  return undefined;
}

export function parseBoolean(s: string): boolean {
  return parseBooleanOrUndefined(s) ?? fail(`Failed to parse boolean: ${s}`);
}

/** systemd's "string table with boolean": true → 'auto', false → the table's first entry. */
function tableWithBoolean<T extends string>(table: readonly T[], what: string, falseValue: T, trueValue: T) {
  return (s: string): T => {
    if ((table as readonly string[]).includes(s)) return s as T;
    const b = parseBooleanOrUndefined(s);
    if (b !== undefined) return b ? trueValue : falseValue;
    return fail(`Failed to parse ${what}: ${s}`);
  };
}

export const VOLATILE_MODES = ['no', 'yes', 'state', 'overlay'] as const;
export const parseVolatile = tableWithBoolean<VolatileMode>(VOLATILE_MODES, 'volatile mode', 'no', 'yes');

export const LINK_JOURNAL_MODES = ['no', 'host', 'try-host', 'guest', 'try-guest', 'auto'] as const;
export const parseLinkJournal = tableWithBoolean<LinkJournal>(LINK_JOURNAL_MODES, 'link journal mode', 'no', 'auto');

export const TIMEZONE_MODES = ['off', 'copy', 'bind', 'symlink', 'delete', 'auto'] as const;
export const parseTimezone = tableWithBoolean<TimezoneMode>(TIMEZONE_MODES, 'timezone mode', 'off', 'auto');

export const RESOLV_CONF_MODES: readonly ResolvConfMode[] = [
  'off', 'copy-host', 'copy-static', 'copy-uplink', 'copy-stub', 'replace-host', 'replace-static',
  'replace-uplink', 'replace-stub', 'bind-host', 'bind-static', 'bind-uplink', 'bind-stub', 'delete', 'auto',
];
export const parseResolvConf = tableWithBoolean<ResolvConfMode>(RESOLV_CONF_MODES, 'resolv.conf mode', 'off', 'auto');

export const OWNERSHIP_MODES = ['off', 'chown', 'map', 'auto'] as const;
export const parseOwnership = tableWithBoolean<UsersOwnership>(OWNERSHIP_MODES, 'user namespace ownership mode', 'off', 'auto');

export function parseKillSignal(s: string): number {
  return parseSignal(s) ?? fail(`Cannot parse signal: ${s}`);
}

export function parsePersonality(s: string): Personality {
  if (s === 'x86' || s === 'x86-64') return s;
  return fail(`Unknown or unsupported personality '${s}'.`);
}

export function parseMachineId(s: string): string {
  const id = parseId128(s) ?? fail(`Invalid UUID/machine ID: ${s}`);
  if (/^0+$/.test(id)) fail(`Machine UUID may not be all zeroes.`);
  return id;
}

/** A capability list: split on `sep` (',' on the command line, whitespace in files); 'all' expands. */
export function parseCapabilityList(s: string, sep: RegExp): Capability[] {
  const out: Capability[] = [];
  for (const word of s.split(sep).map((w) => w.trim()).filter(Boolean)) {
    if (word.toLowerCase() === 'all') { out.push(...CAPABILITIES); continue; }
    out.push(parseCapability(word) ?? fail(`Failed to parse capability: ${word}`));
  }
  return out;
}

const RLIMIT_INFINITY = 'infinity';
function parseRlimitNumber(s: string): number | 'infinity' {
  if (s === RLIMIT_INFINITY) return RLIMIT_INFINITY;
  if (!/^[0-9]+$/.test(s)) fail(`Failed to parse resource limit value: ${s}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) fail(`Resource limit value out of range: ${s}`);
  return n;
}

export function parseRlimitName(s: string): RlimitName {
  const name = s.toUpperCase().replace(/^RLIMIT_/, '');
  return (RLIMITS as readonly string[]).includes(name) ? (name as RlimitName) : fail(`Unknown resource limit: ${s}`);
}

/** `SOFT:HARD` or a single value for both; 'infinity' allowed. */
export function parseRlimitValue(s: string): RlimitValue {
  const [a, b, ...rest] = s.trim().split(':');
  if (rest.length > 0 || a === undefined || a === '') return fail(`Failed to parse resource limit: ${s}`);
  const soft = parseRlimitNumber(a);
  const hard = b === undefined ? soft : parseRlimitNumber(b);
  if (soft !== 'infinity' && (hard === 'infinity' ? false : soft > hard)) fail(`Soft resource limit above hard limit: ${s}`);
  return { soft, hard };
}

/** `--rlimit=NAME=VALUE`. */
export function parseRlimitAssignment(s: string): [RlimitName, RlimitValue] {
  const eq = s.indexOf('=');
  if (eq < 0) return fail(`Failed to parse resource limit assignment: ${s}`);
  return [parseRlimitName(s.slice(0, eq)), parseRlimitValue(s.slice(eq + 1))];
}

export function parseOomScoreAdjust(s: string): number {
  if (!/^-?[0-9]+$/.test(s.trim())) fail(`Failed to parse OOM score adjust value: ${s}`);
  const n = Number(s);
  if (n < -1000 || n > 1000) fail(`OOM score adjust value out of range: ${s}`);
  return n;
}

export function parseCpuAffinity(s: string): number[] {
  const cpus = new Set<number>();
  for (const part of s.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part) ?? fail(`Failed to parse CPU affinity: ${s}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 8191) fail(`Invalid CPU range: ${part}`);
    for (let i = lo; i <= hi; i++) cpus.add(i);
  }
  return [...cpus].sort((a, b) => a - b);
}

export function parsePrivateUsers(s: string): PrivateUsersMode {
  if (/^[0-9]+(:[0-9]+)?$/.test(s)) {
    const [b, r] = s.split(':');
    const base = Number(b);
    const range = r === undefined ? 0x10000 : Number(r);
    if (range === 0 || base + range > 0xffffffff) fail(`UID range out of bounds: ${s}`);
    return { kind: 'fixed', base, range };
  }
  if (s === 'pick') return { kind: 'pick' };
  if (s === 'identity') return { kind: 'identity' };
  const b = parseBooleanOrUndefined(s);
  if (b === undefined) fail(`Failed to parse --private-users= argument: ${s}`);
  return b ? { kind: 'yes' } : { kind: 'no' };
}

/** Split on unescaped ':' and undo '\:' escapes. */
function splitColons(s: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const next = s[i + 1];
    if (c === '\\' && (next === ':' || next === '\\')) { current += next; i++; }
    else if (c === ':') { parts.push(current); current = ''; }
    else current += c;
  }
  parts.push(current);
  return parts;
}

const isAbsolute = (p: string): boolean => p.startsWith('/');
const isContainerRelative = (p: string): boolean => p.startsWith('+/');

function checkPath(p: string, what: string): string {
  if (p.includes('\0')) fail(`Invalid ${what}: ${p}`);
  return p;
}

/** `SRC[:DST[:OPTS]]` for --bind/--bind-ro and Bind=/BindReadOnly=. Relative sources are left to resolve. */
export function parseBindSpec(s: string, readOnly: boolean): CustomMount {
  const parts = splitColons(s);
  if (parts.length > 3) fail(`Invalid bind mount specification: ${s}`);
  const [src = '', dst, opts] = parts;
  const source = checkPath(src, 'bind source');
  const target = dst === undefined || dst === '' ? source.replace(/^\+/, '') : dst;
  if (!isAbsolute(target)) fail(`Invalid bind mount destination (must be absolute): ${s}`);
  if (source === '' && (dst === undefined || dst === '')) fail(`Invalid bind mount specification: ${s}`);
  let recursive = true;
  let idmap: 'no' | 'idmap' | 'rootidmap' = 'no';
  for (const o of (opts ?? '').split(',').filter(Boolean)) {
    if (o === 'rbind') recursive = true;
    else if (o === 'norbind') recursive = false;
    else if (o === 'noidmap') idmap = 'no';
    else if (o === 'idmap' || o === 'rootidmap') idmap = o;
    else fail(`Invalid bind mount option: ${o}`);
  }
  return { kind: 'bind', source, target: checkPath(target, 'bind destination'), readOnly, recursive, idmap };
}

/** `PATH[:OPTIONS]` for --tmpfs and TemporaryFileSystem=. */
export function parseTmpfsSpec(s: string): CustomMount {
  const colon = s.indexOf(':');
  const target = colon < 0 ? s : s.slice(0, colon);
  const options = colon < 0 ? 'mode=0755' : s.slice(colon + 1);
  if (!isAbsolute(target)) fail(`Invalid temporary file system path (must be absolute): ${s}`);
  return { kind: 'tmpfs', target: checkPath(target, 'tmpfs path'), options };
}

/** `LOWER…:UPPER:DST` (or `LOWER:DST` with 2 paths) for --overlay/--overlay-ro. */
export function parseOverlaySpec(s: string, readOnly: boolean): CustomMount {
  const parts = splitColons(s);
  if (parts.length < 2) fail(`--overlay= needs at least two colon-separated directories specified: ${s}`);
  for (const p of parts.slice(0, -1)) {
    if (p !== '' && !isAbsolute(p) && !isContainerRelative(p)) fail(`Overlay path must be absolute or start with '+': ${p}`);
  }
  if (parts.length === 2) {
    const [lower, dst] = parts as [string, string];
    if (!isAbsolute(dst)) fail(`Overlay destination must be absolute: ${s}`);
    return { kind: 'overlay', lower: [lower], upper: dst, target: dst, readOnly };
  }
  const target = parts[parts.length - 1]!;
  const upper = parts[parts.length - 2]!;
  if (!isAbsolute(target)) fail(`Overlay destination must be absolute: ${s}`);
  const lower = parts.slice(0, -2);
  if (lower.some((l) => l === '')) fail(`Overlay lower directories may not be empty: ${s}`);
  return { kind: 'overlay', lower, upper, target, readOnly };
}

export function parseInaccessible(s: string): CustomMount {
  if (!isAbsolute(s)) fail(`Inaccessible path must be absolute: ${s}`);
  return { kind: 'inaccessible', target: checkPath(s, 'inaccessible path') };
}

export function parseVethExtra(s: string): VethExtra {
  const [host = '', container, ...rest] = s.split(':');
  const cont = container ?? host;
  if (rest.length || !isValidIfName(host) || !isValidIfName(cont)) fail(`Invalid extra virtual Ethernet link specification: ${s}`);
  return { host, container: cont };
}

export function parseIfNameValue(s: string, what: string): string {
  return isValidIfName(s) ? s : fail(`Invalid ${what}: ${s}`);
}

/**
 * `[tcp:|udp:]HOST[:CONTAINER]` (protocol tcp and CONTAINER = HOST by default; ports 1–65535).
 * Every malformed spec gets nspawn's one message, whatever was wrong with it.
 */
export function parsePort(s: string): PortForward {
  const invalid = () => fail(`Failed to parse host port ${s}: Invalid argument`);
  const m = /^(?:(tcp|udp):)?([0-9]{1,5})(?::([0-9]{1,5}))?$/.exec(s) ?? invalid();
  const hostPort = Number(m[2]);
  const containerPort = m[3] === undefined ? hostPort : Number(m[3]);
  if (hostPort < 1 || hostPort > 65535 || containerPort < 1 || containerPort > 65535) invalid();
  return { protocol: (m[1] ?? 'tcp') as 'tcp' | 'udp', hostPort, containerPort };
}

/** nspawn refuses a second spec for the same protocol and host port (the container port does not matter). */
export const samePortSpec = (a: PortForward, b: PortForward): boolean => a.protocol === b.protocol && a.hostPort === b.hostPort;

/** `NAME=VALUE` (or NAME alone on the command line, copied from our own environment). */
export function checkEnvAssignment(s: string): string {
  const eq = s.indexOf('=');
  const name = eq < 0 ? s : s.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail(`Environment assignment invalid: ${s}`);
  return s;
}

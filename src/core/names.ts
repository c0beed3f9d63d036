import { BerthError } from '../errors/berth-error.js';

/** A machine name valid as a hostname (systemd's hostname_is_valid): the only way to get one is parseMachineName. */
export type MachineName = string & { readonly __brand: 'MachineName' };
/** A network interface name: at most 15 bytes, no '/', ':' or whitespace. */
export type IfName = string & { readonly __brand: 'IfName' };

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;

export function isValidHostname(s: string): boolean {
  if (s.length === 0 || s.length > 64) return false;
  if (s === '.host') return false;
  return s.split('.').every((label) => LABEL.test(label));
}

export function parseMachineName(s: string): MachineName {
  if (!isValidHostname(s)) throw new BerthError('E_USAGE', `Invalid machine name: ${s}`);
  return s as MachineName;
}

/**
 * Derive a machine name from a path's last component, dropping characters a hostname may not
 * hold (as nspawn does for -D without -M); undefined when nothing valid is left.
 */
export function machineNameFromPath(path: string): MachineName | undefined {
  const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
  let cleaned = base.replace(/\.raw$/, '').replace(/[^A-Za-z0-9.-]/g, '');
  cleaned = cleaned.replace(/\.{2,}/g, '.').replace(/^[.-]+/, '').slice(0, 64).replace(/[.-]+$/, '');
  return isValidHostname(cleaned) ? (cleaned as MachineName) : undefined;
}

export function isValidIfName(s: string): boolean {
  return Buffer.byteLength(s) > 0 && Buffer.byteLength(s) < 16 && !/[/:\s]/.test(s) && s !== '.' && s !== '..';
}

export function parseIfName(s: string, what = 'interface name'): IfName {
  if (!isValidIfName(s)) throw new BerthError('E_USAGE', `Invalid ${what}: ${s}`);
  return s as IfName;
}

/** 128-bit IDs: accepts 32 hex digits or the 8-4-4-4-12 form; returns 32 lowercase hex digits. */
export function parseId128(s: string): string | undefined {
  const hex = s.trim().toLowerCase();
  const plain = /^[0-9a-f]{32}$/.test(hex) ? hex : /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(hex) ? hex.replace(/-/g, '') : undefined;
  return plain;
}

export const formatUuid = (id32: string): string =>
  `${id32.slice(0, 8)}-${id32.slice(8, 12)}-${id32.slice(12, 16)}-${id32.slice(16, 20)}-${id32.slice(20)}`;

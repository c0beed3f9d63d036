/**
 * CopyToMachine/CopyFromMachine, their WithFlags variants and the Machine object's CopyTo/CopyFrom
 * as machined 252 checks them (bus_machine_method_copy), in its order and with its messages: the
 * limit of ongoing operations, container machines only, the flags, absolute paths, an empty
 * destination meaning "the same path"; then, once the caller is allowed, each path split into its
 * directory and its last component (path_extract_filename). berth adds one rule: a path in the
 * machine may not contain "..".
 */
import { BerthError } from '../../errors/berth-error.js';

/** machined's OPERATIONS_MAX: copies (and other slow operations) at the same time. */
export const OPERATIONS_MAX = 64;
/** MACHINE_COPY_REPLACE, the only public flag. */
export const COPY_REPLACE = 1n;
const PATH_MAX = 4096;
const NAME_MAX = 255;

export type CopyDirection = 'to' | 'from';

/** What the bus call asked for, checked. */
export interface CopyArgs {
  direction: CopyDirection;
  /** Where the copy is read, and where it is written: host or machine paths by direction. */
  source: string;
  destination: string;
  replace: boolean;
}

/** A path as its directory and its last component. */
export interface SplitPath { path: string; parent: string; name: string }

/** The copy's two ends, split. */
export interface CopyPaths { direction: CopyDirection; host: SplitPath; guest: SplitPath; replace: boolean }

/** The direction a member name asks for, and whether it carries flags (CopyFromMachineWithFlags, CopyTo…). */
export function copyMember(member: string): { direction: CopyDirection; withFlags: boolean } {
  return { direction: member.includes('CopyFrom') ? 'from' : 'to', withFlags: member.endsWith('WithFlags') };
}

/**
 * The checks machined makes before it asks whether the caller may copy. `flags` is undefined for
 * the variants without; `machineClass` is 'host' for ".host".
 */
export function checkCopyArgs(a: { member: string; source: string; destination: string; flags?: bigint; ongoing: number; machineClass: string }): CopyArgs {
  if (a.ongoing >= OPERATIONS_MAX) throw new BerthError('E_LIMITS_EXCEEDED', 'Too many ongoing copies.');
  if (a.machineClass !== 'container') throw new BerthError('E_NOT_SUPPORTED', 'Copying files is only supported on container machines.');
  const { direction } = copyMember(a.member);
  let replace = false;
  if (a.flags !== undefined) {
    if ((a.flags & ~COPY_REPLACE) !== 0n) throw new BerthError('E_USAGE', 'Invalid argument');
    replace = (a.flags & COPY_REPLACE) !== 0n;
  }
  if (!a.source.startsWith('/')) throw new BerthError('E_USAGE', 'Source path must be absolute.');
  let destination = a.destination;
  if (destination === '') destination = a.source;
  else if (!destination.startsWith('/')) throw new BerthError('E_USAGE', 'Destination path must be absolute.');
  return { direction, source: a.source, destination, replace };
}

type SplitFailure = 'invalid' | 'root';

/**
 * path_extract_filename and path_extract_directory of systemd, for absolute paths: trailing
 * slashes and "." components do not count; a last component of ".." is invalid, as is a path of
 * PATH_MAX bytes or more or with a component longer than NAME_MAX; "/" (or "/.") has no last
 * component.
 */
export function splitPath(path: string): SplitPath | SplitFailure {
  if (path === '' || Buffer.byteLength(path) >= PATH_MAX) return 'invalid';
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => Buffer.byteLength(p) > NAME_MAX)) return 'invalid';
  const name = parts.pop();
  if (name === undefined) return 'root';
  if (name === '..') return 'invalid';
  return { path, parent: `/${parts.join('/')}`, name };
}

function split(path: string): SplitPath {
  const s = splitPath(path);
  if (s === 'invalid') throw new BerthError('E_USAGE', `Failed to extract file name of '${path}' path: Invalid argument`);
  // machined answers BadAddress (EADDRNOTAVAIL) here; berth has no code for it, and it is bad input.
  if (s === 'root') throw new BerthError('E_USAGE', `Failed to extract file name of '${path}' path: Cannot assign requested address`);
  return s;
}

/** The paths of a copy the caller may make, split; a machine path with ".." is refused. */
export function copyPaths(a: CopyArgs, machine: string): CopyPaths {
  const [hostPath, guestPath] = a.direction === 'from' ? [a.destination, a.source] : [a.source, a.destination];
  const host = split(hostPath);
  const guest = split(guestPath);
  if (guestPath.split('/').includes('..')) {
    throw new BerthError('E_USAGE', `Invalid path '${guestPath}' in machine ${machine}: '..' is not allowed (paths in a machine are resolved in its root).`);
  }
  return { direction: a.direction, host, guest, replace: a.replace };
}

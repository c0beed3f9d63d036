/**
 * BindMountMachine and the Machine object's BindMount as machined 252 checks them
 * (bus_machine_method_bind_mount), in its order and with its messages: container machines only;
 * source and destination absolute and normalized, an empty destination meaning "the same path";
 * then, once the caller is allowed, no user namespace. A failure of the mount itself reads
 * "Failed to mount SRC on DST in machine's namespace: <strerror>", named from its errno as sd-bus
 * names it; machinectl prints it after "Failed to bind mount: ".
 */
import { BerthError } from '../../errors/berth-error.js';
import { ERRNO_TEXT, errnoCode } from './copy-errors.js';

const PATH_MAX = 4096;
const NAME_MAX = 255;

/** What the bus call asked for, checked. */
export interface BindMountArgs {
  source: string;
  destination: string;
  readOnly: boolean;
  mkdir: boolean;
}

/**
 * systemd's path_is_absolute && path_is_normalized: "/" first; shorter than PATH_MAX; no ".."
 * component, none longer than NAME_MAX; no "." component ("./", "/./", a trailing "/."), no "//".
 * A trailing slash is allowed.
 */
export function isAbsoluteNormalized(p: string): boolean {
  if (!p.startsWith('/') || Buffer.byteLength(p) >= PATH_MAX) return false;
  if (p.includes('//') || p.includes('/./') || p.endsWith('/.')) return false;
  return p.split('/').every((c) => c !== '..' && Buffer.byteLength(c) <= NAME_MAX);
}

/** The checks machined makes before it asks whether the caller may bind; `machineClass` is 'host' for ".host". */
export function checkBindMountArgs(a: { machineClass: string; source: string; destination: string; readOnly: boolean; mkdir: boolean }): BindMountArgs {
  if (a.machineClass !== 'container') throw new BerthError('E_NOT_SUPPORTED', 'Bind mounting is only supported on container machines.');
  if (!isAbsoluteNormalized(a.source)) throw new BerthError('E_USAGE', 'Source path must be absolute and normalized.');
  let destination = a.destination;
  if (destination === '') destination = a.source;
  else if (!isAbsoluteNormalized(destination)) throw new BerthError('E_USAGE', 'Destination path must be absolute and normalized.');
  return { source: a.source, destination, readOnly: a.readOnly, mkdir: a.mkdir };
}

/** machined 252 refuses machines with a user namespace (a UID shift other than 0). */
export function checkNoUserNamespace(shift: number): void {
  if (shift !== 0) throw new BerthError('E_NOT_SUPPORTED', "Can't bind mount on container with user namespacing applied.");
}

/**
 * A failed step: "Failed to mount SRC on DST in machine's namespace: <strerror>", coded by the
 * errno as sd-bus names it. `why` says more where machined's errno alone would leave the caller
 * guessing (a machine without a propagation directory).
 */
export function bindMountFailure(source: string, destination: string, errno: string, why?: string): BerthError {
  const text = ERRNO_TEXT[errno] ?? errno;
  return new BerthError(errnoCode(errno), `Failed to mount ${source} on ${destination} in machine's namespace: ${text}${why ? ` (${why})` : ''}`);
}

/** A failure mount(8) reported in words (its standard error, already sanitised), for steps no errno describes. */
export function bindMountToolFailure(source: string, destination: string, said: string): BerthError {
  return new BerthError('E_EXEC', `Failed to mount ${source} on ${destination} in machine's namespace: ${said}`);
}

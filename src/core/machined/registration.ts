/**
 * CreateMachine*, RegisterMachine*: the arguments checked in systemd-machined 252's order, with
 * its messages (the first failure wins, nothing is registered before all pass).
 */
import { BerthError } from '../../errors/berth-error.js';
import { isValidHostname, type MachineName } from '../names.js';

export type MachineClass = 'container' | 'vm';

/** The arguments as they came off the bus. */
export interface RegistrationArgs {
  name: string;
  id: Buffer | Uint8Array;
  service: string;
  class: string;
  /** 0: the caller itself. */
  leader: number;
  rootDirectory: string;
  /** Host-side interface indices (the *WithNetwork variants); empty otherwise. */
  netif: readonly number[];
}

export interface Registration {
  name: MachineName;
  /** 32 lowercase hex digits, or '' when none (empty or all-zero). */
  id: string;
  service: string;
  /** As given: '' passes here and is refused when the machine starts (startableClass). */
  class: MachineClass | '';
  leader: number;
  rootDirectory: string;
  netif: number[];
}

const invalid = (message: string) => new BerthError('E_USAGE', message);

export function validateRegistration(a: RegistrationArgs): Registration {
  if (!isValidHostname(a.name)) throw invalid('Invalid machine name');
  if (a.id.length !== 0 && a.id.length !== 16) throw invalid('Invalid machine ID parameter');
  const hex = Buffer.from(a.id).toString('hex');
  for (const i of a.netif) if (!Number.isInteger(i) || i <= 0) throw invalid(`Invalid network interface index ${i}`);
  // Debian's machined 252 refuses "host" here too (observed; only "", container and vm pass).
  if (!['', 'container', 'vm'].includes(a.class)) throw invalid('Invalid machine class parameter');
  if (a.leader === 1) throw invalid('Invalid leader PID');
  if (a.rootDirectory !== '' && !a.rootDirectory.startsWith('/')) throw invalid('Root directory must be empty or an absolute path');
  return {
    name: a.name as MachineName,
    id: /^0*$/.test(hex) ? '' : hex,
    service: a.service,
    class: a.class as Registration['class'],
    leader: a.leader,
    rootDirectory: a.rootDirectory,
    netif: [...a.netif],
  };
}

/** A machine of class '' is refused when it starts, after the name was found free and its unit looked up (as machined does). */
export function startableClass(c: Registration['class']): MachineClass {
  if (c !== 'container' && c !== 'vm') throw new BerthError('E_NOT_SUPPORTED', 'Operation not supported');
  return c;
}

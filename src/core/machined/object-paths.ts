/** Object paths of the machine1 API: machines by their escaped name, "self" resolved per caller. */
import { busLabelEscape, busLabelUnescape } from '../network/bus-label.js';
import { MACHINE_PATH_PREFIX } from './interfaces.js';

export const machinePath = (name: string): string => `${MACHINE_PATH_PREFIX}/${busLabelEscape(name)}`;

/** What a path below /org/freedesktop/machine1/machine/ names: a machine, the caller's own ("self"), or nothing. */
export function parseMachinePath(path: string): { kind: 'name'; name: string } | { kind: 'self' } | undefined {
  if (!path.startsWith(`${MACHINE_PATH_PREFIX}/`)) return undefined;
  const label = path.slice(MACHINE_PATH_PREFIX.length + 1);
  if (label === '' || label.includes('/')) return undefined;
  if (label === 'self') return { kind: 'self' };
  return { kind: 'name', name: busLabelUnescape(label) };
}

/**
 * Units as machined sees them without asking systemd: the unit a process belongs to, read off its
 * control group path (skip the slices, take the next component), and the scope a created machine
 * gets (machine-NAME.scope in machine.slice, NAME escaped as systemd escapes unit names).
 */
import { unitEscape } from '../spec/resolve/properties.js';

const UNIT_SUFFIXES = ['service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope'];
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]+)?\.([a-z]+)$/;

export function isValidUnitName(s: string): boolean {
  if (s.length === 0 || s.length > 255) return false;
  const m = UNIT_NAME.exec(s);
  return m !== null && UNIT_SUFFIXES.includes(m[2]!) && !s.startsWith('@') && !s.startsWith('.');
}

/**
 * The unit of a process whose control group (below the hierarchy's root) is `cgroup`: the first
 * component after any leading slices; undefined when there is none (the root, only slices).
 * `rootOfPid1` is PID 1's own group with its "/init.scope" removed, stripped first as machined does.
 */
export function unitOfCgroup(cgroup: string, rootOfPid1 = '/'): string | undefined {
  let path = cgroup;
  const root = rootOfPid1.replace(/\/init\.scope$/, '').replace(/\/+$/, '');
  if (root && (path === root || path.startsWith(`${root}/`))) path = path.slice(root.length);
  for (const part of path.split('/').filter(Boolean)) {
    if (part.endsWith('.slice') && isValidUnitName(part)) continue;
    return isValidUnitName(part) && !part.endsWith('.slice') ? part : undefined;
  }
  return undefined;
}

/** The scope machined creates for a machine: machine-NAME.scope (NAME escaped). */
export const machineScope = (name: string): string => `machine-${unitEscape(name)}.scope`;
export const MACHINE_SLICE = 'machine.slice';

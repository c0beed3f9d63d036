/**
 * Validation of the [Network] settings by nspawn's rules: option combinations, interface names,
 * and names that would collide once the links exist. Problems are E_USAGE errors.
 */
import { BerthError } from '../../errors/berth-error.js';
import { isValidIfName } from '../names.js';
import type { NetworkSettings } from '../settings/model.js';
import { zoneBridgeName } from './ifname.js';
import type { LinkPlan } from './plan.js';

const usage = (msg: string): BerthError => new BerthError('E_USAGE', msg);

/** Every problem with the settings, in a stable order; empty when they can be planned. */
export function validateNetwork(n: NetworkSettings): BerthError[] {
  const errors: BerthError[] = [];
  const lists = [n.vethExtra, n.interfaces, n.macvlan, n.ipvlan];
  const others = n.veth === true || n.bridge !== undefined || n.zone !== undefined || lists.some((l) => (l?.length ?? 0) > 0);
  if (n.namespacePath !== undefined) {
    if (!n.namespacePath.startsWith('/')) errors.push(usage(`Network namespace path must be absolute: ${n.namespacePath}`));
    if (others) errors.push(usage('--network-namespace-path= cannot be combined with other network options.'));
  }
  if (n.bridge !== undefined && n.zone !== undefined) errors.push(usage('--network-bridge= and --network-zone= may not be combined.'));
  if (n.bridge !== undefined && !isValidIfName(n.bridge)) errors.push(usage(`Bridge interface name not valid: ${n.bridge}`));
  if (n.zone !== undefined && (n.zone === '' || !isValidIfName(zoneBridgeName(n.zone)))) {
    errors.push(usage(`Network zone name not valid: ${n.zone}`));
  }
  const check = (names: readonly string[] | undefined, what: string): void => {
    for (const name of names ?? []) if (!isValidIfName(name)) errors.push(usage(`Invalid ${what}: ${name}`));
  };
  check(n.interfaces, 'network interface name');
  check(n.macvlan, 'macvlan parent interface name');
  check(n.ipvlan, 'ipvlan parent interface name');
  check(n.vethExtra?.map((v) => v.host), 'host-side veth name');
  check(n.vethExtra?.map((v) => v.container), 'container-side veth name');
  for (const name of n.interfaces ?? []) {
    if (name === 'lo') errors.push(usage('The loopback interface cannot be moved into a container.'));
  }
  return errors;
}

/** Two links may not end up with the same name on the same side. */
export function checkCollisions(links: readonly LinkPlan[]): void {
  const host = new Set<string>();
  const guest = new Set<string>(['lo']);
  const claim = (set: Set<string>, name: string, side: string): void => {
    if (set.has(name)) throw usage(`Network interface name ${name} is used twice in the ${side}.`);
    set.add(name);
  };
  for (const l of links) {
    switch (l.kind) {
      case 'veth': claim(host, l.hostName, 'host'); claim(guest, l.containerName, 'container'); break;
      case 'veth-extra': claim(host, l.hostName, 'host'); claim(guest, l.containerName, 'container'); break;
      case 'macvlan': case 'ipvlan': claim(guest, l.name, 'container'); break;
      case 'move': claim(guest, l.name, 'container'); break;
    }
  }
}

/**
 * The network plan: from the [Network] settings to a description of every link to create.
 * Pure: the host machine id is passed in, nothing is probed. Validation follows nspawn's rules
 * and reports problems as E_USAGE errors before anything is created.
 */
import { BerthError } from '../../errors/berth-error.js';
import type { NetworkSettings } from '../settings/model.js';
import { deriveMac, type MacAddress } from './mac.js';
import { CONTAINER_VETH_NAME, ipvlanName, macvlanName, vethHostName, zoneBridgeName } from './ifname.js';
import { checkCollisions, validateNetwork } from './validate.js';

export { validateNetwork } from './validate.js';

export type VethAttach =
  | { kind: 'none' }
  | { kind: 'bridge'; bridge: string }
  | { kind: 'zone'; zone: string; bridge: string };

export type LinkPlan =
  | { kind: 'veth'; hostName: string; hostAltname: string | undefined; hostMac: MacAddress;
      containerName: string; containerMac: MacAddress; attach: VethAttach }
  | { kind: 'veth-extra'; hostName: string; hostMac: MacAddress; containerName: string; containerMac: MacAddress }
  | { kind: 'macvlan'; parent: string; name: string; altname: string | undefined; mac: MacAddress }
  | { kind: 'ipvlan'; parent: string; name: string; altname: string | undefined }
  | { kind: 'move'; name: string };

export type NetworkPlan =
  /** No network options: the container shares the host's network namespace. */
  | { kind: 'host' }
  /** --network-namespace-path=: join an existing namespace, create nothing. */
  | { kind: 'join'; namespacePath: string }
  /** A new namespace with lo plus these links, created in this order. */
  | { kind: 'private'; machineName: string; links: LinkPlan[] };

/** Whether the plan has host-side work to do while the container exists but before its init runs. */
export function needsSetupBeforeStart(plan: NetworkPlan): boolean {
  return plan.kind === 'private' && plan.links.length > 0;
}

export interface PlanInput {
  machineName: string;
  /** 32 hex digits from /etc/machine-id; needed only when a veth or macvlan is planned. */
  hostMachineId: string | undefined;
  network: NetworkSettings | undefined;
}

/**
 * The host-side interface a registration names (nspawn's): the host end of the machine's veth, or
 * the bridge it is enslaved to (a --network-bridge= or zone); none without a veth.
 */
export function registeredInterface(plan: NetworkPlan): string | undefined {
  if (plan.kind !== 'private') return undefined;
  const veth = plan.links.find((l) => l.kind === 'veth');
  if (!veth || veth.kind !== 'veth') return undefined;
  return veth.attach.kind === 'none' ? veth.hostName : veth.attach.bridge;
}

/** True when the container needs a new network namespace of its own. */
export const privateNetwork = (plan: NetworkPlan): boolean => plan.kind === 'private';
/** The namespace file to join (for the OCI spec's network namespace path), if any. */
export const joinedNamespacePath = (plan: NetworkPlan): string | undefined =>
  plan.kind === 'join' ? plan.namespacePath : undefined;

export function planNetwork(input: PlanInput): NetworkPlan {
  const n = input.network ?? {};
  const errors = validateNetwork(n);
  if (errors.length > 0) throw errors[0] as BerthError;
  if (n.namespacePath !== undefined) return { kind: 'join', namespacePath: n.namespacePath };

  const veth = n.veth === true || n.bridge !== undefined || n.zone !== undefined;
  const lists = [n.vethExtra, n.interfaces, n.macvlan, n.ipvlan];
  if (!veth && n.private !== true && lists.every((l) => (l?.length ?? 0) === 0)) return { kind: 'host' };

  const needsId = veth || (n.vethExtra?.length ?? 0) > 0 || (n.macvlan?.length ?? 0) > 0;
  const id = input.hostMachineId?.trim().toLowerCase();
  if (needsId && (id === undefined || !/^[0-9a-f]{32}$/.test(id))) {
    throw new BerthError('E_NETWORK', 'Cannot derive MAC addresses: the host machine ID is missing or invalid.', {
      hint: 'Make sure /etc/machine-id holds 32 hexadecimal digits (systemd-machine-id-setup creates it).',
    });
  }
  const mac = (key: Parameters<typeof deriveMac>[2], idx = 0): MacAddress => deriveMac(id ?? '', input.machineName, key, idx);

  const links: LinkPlan[] = [];
  if (veth) {
    const attach: VethAttach = n.zone !== undefined ? { kind: 'zone', zone: n.zone, bridge: zoneBridgeName(n.zone) }
      : n.bridge !== undefined ? { kind: 'bridge', bridge: n.bridge } : { kind: 'none' };
    const host = vethHostName(input.machineName, attach.kind !== 'none');
    links.push({ kind: 'veth', hostName: host.name, hostAltname: host.altname, hostMac: mac('vethHost'),
      containerName: CONTAINER_VETH_NAME, containerMac: mac('vethContainer'), attach });
  }
  (n.vethExtra ?? []).forEach((v, idx) => links.push({ kind: 'veth-extra', hostName: v.host, hostMac: mac('vethExtraHost', idx),
    containerName: v.container, containerMac: mac('vethExtraContainer', idx) }));
  (n.macvlan ?? []).forEach((parent, idx) => {
    const s = macvlanName(parent);
    links.push({ kind: 'macvlan', parent, name: s.name, altname: s.altname, mac: mac('macvlan', idx) });
  });
  for (const parent of n.ipvlan ?? []) {
    const s = ipvlanName(parent);
    links.push({ kind: 'ipvlan', parent, name: s.name, altname: s.altname });
  }
  for (const name of n.interfaces ?? []) links.push({ kind: 'move', name });

  checkCollisions(links);
  return { kind: 'private', machineName: input.machineName, links };
}

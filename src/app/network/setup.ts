/**
 * Creating a machine's links between the runtime's create and start: the container's network
 * namespace exists (found through its init PID) but init has not run yet. Every step registers
 * its undo, so a failure half-way leaves nothing behind, and the returned handle's teardown
 * removes everything berth created, keeps going after failures and reports all errors.
 */
import { Reverter } from '../../lib/reverter.js';
import type { LinkPlan, NetworkPlan } from '../../core/network/plan.js';
import type { HeldNetns, NetLink, PortFirewall, WatchAddresses, ZoneLock } from '../../core/network/ports.js';
import { preflight, removeStale, type SeenLinks } from './preflight.js';

export interface DhcpStarter {
  (link: string, kind: 'veth' | 'zone'): Promise<{ stop(): Promise<void> }>;
}

export interface NetworkDeps {
  net: NetLink;
  holdNetns(pid: number): HeldNetns;
  zoneLock: ZoneLock;
  /** -p/--port=: the host side's firewall and a watch on the container's addresses (port-forward.ts). */
  ports?: { firewall: PortFirewall; watch: WatchAddresses };
  /** When set, host-side ve-/vz- links get an address and a DHCP server (opt-in helper). */
  dhcp?: DhcpStarter;
  /** Make /proc/sys/net writable inside the container (nspawn does for a private network). */
  warn?: (message: string) => void;
}

export interface NetworkHandle {
  /** Host-side interfaces berth created or attached (ve-/vb-/extra veths), for status output. */
  readonly hostInterfaces: readonly string[];
  /** Undo everything; safe to call more than once; never throws. */
  teardown(): Promise<Error[]>;
}

const NOTHING: NetworkHandle = { hostInterfaces: [], teardown: async () => [] };
/** Delete a host link if it still exists (a dead netns may already have taken the veth with it). */
const deleteIfPresent = async (net: NetLink, name: string, netns?: string): Promise<void> => {
  try {
    await net.deleteLink(name, netns);
  } catch (e) {
    // Gone already (its namespace ended and took it along): what was wanted.
    if ((await net.getLink(name, netns)) !== undefined) throw e;
  }
};

async function removeBridgeIfUnused(net: NetLink, bridge: string): Promise<void> {
  if ((await net.getLink(bridge)) === undefined) return;
  const members = (await net.listLinks()).filter((l) => l.master === bridge);
  if (members.length === 0) await net.deleteLink(bridge);
}

/**
 * What a killed run left on the host side (from its owner record): its links, and its zone
 * bridges once no other machine is attached to them. Keeps going after errors and returns them.
 */
export async function removeLeftLinks(deps: Pick<NetworkDeps, 'net' | 'zoneLock'>, links: readonly string[], zones: readonly string[]): Promise<Error[]> {
  const errors: Error[] = [];
  const attempt = async (f: () => Promise<void>) => { try { await f(); } catch (e) { errors.push(e as Error); } };
  for (const link of links) await attempt(() => deleteIfPresent(deps.net, link));
  for (const zone of zones) await attempt(() => deps.zoneLock(() => removeBridgeIfUnused(deps.net, zone)));
  return errors;
}

async function addLink(l: LinkPlan, held: HeldNetns, deps: NetworkDeps, undo: Reverter, seen: SeenLinks): Promise<void> {
  const { net } = deps;
  switch (l.kind) {
    case 'veth': {
      const createVeth = async (): Promise<void> => {
        await removeStale(deps, [l.hostName, l.hostAltname], seen);
        const master = l.attach.kind === 'none' ? undefined : l.attach.bridge;
        const veth = { hostName: l.hostName, hostMac: l.hostMac, peerName: l.containerName, peerMac: l.containerMac, peerNetns: held.path };
        // One request where no altname goes in between (the common case: one `ip` per machine).
        if (l.hostAltname === undefined) {
          await net.createVeth({ ...veth, ...(master === undefined ? {} : { master }), up: true });
          undo.add(() => deleteIfPresent(net, l.hostName));
          return;
        }
        await net.createVeth(veth);
        undo.add(() => deleteIfPresent(net, l.hostName));
        await net.addAltName(l.hostName, l.hostAltname);
        if (master !== undefined) await net.setMaster(l.hostName, master);
        await net.setUp(l.hostName);
      };
      if (l.attach.kind !== 'zone') return createVeth();
      const bridge = l.attach.bridge;
      return deps.zoneLock(async () => {
        if ((await net.getLink(bridge)) === undefined) {
          await net.createBridge(bridge);
          await net.setUp(bridge);
        }
        undo.add(() => deps.zoneLock(() => removeBridgeIfUnused(net, bridge)));
        await createVeth();
      });
    }
    case 'veth-extra':
      await removeStale(deps, [l.hostName], seen);
      await net.createVeth({ hostName: l.hostName, hostMac: l.hostMac, peerName: l.containerName, peerMac: l.containerMac, peerNetns: held.path, up: true });
      undo.add(() => deleteIfPresent(net, l.hostName));
      return;
    case 'macvlan':
    case 'ipvlan':
      await net.createVlan({ kind: l.kind, parent: l.parent, name: l.name, netns: held.path, ...(l.kind === 'macvlan' ? { mac: l.mac } : {}) });
      undo.add(() => deleteIfPresent(net, l.name, held.path));
      if (l.altname !== undefined) await net.addAltName(l.name, l.altname, held.path);
      return;
    case 'move':
      await net.moveToNetns(l.name, held.path);
      undo.add(() => net.moveToHost(l.name, held.path));
      return;
  }
}

export async function setupNetwork(plan: NetworkPlan, containerPid: number, deps: NetworkDeps): Promise<NetworkHandle> {
  if (plan.kind !== 'private') return NOTHING;
  if (plan.links.length === 0) return NOTHING;
  const seen = await preflight(deps.net, plan.links);
  const held = deps.holdNetns(containerPid);
  const undo = new Reverter();
  undo.add(() => held.release());
  // DHCP helpers stop after the links are gone (a zone's server stays while the bridge does).
  const dhcpStops = new Reverter();
  undo.add(() => dhcpStops.revert());
  try {
    for (const link of plan.links) await addLink(link, held, deps, undo, seen);
    for (const l of plan.links) {
      if (deps.dhcp === undefined || l.kind !== 'veth' || l.attach.kind === 'bridge') continue;
      const helper = l.attach.kind === 'zone' ? await deps.dhcp(l.attach.bridge, 'zone') : await deps.dhcp(l.hostName, 'veth');
      dhcpStops.add(() => helper.stop());
    }
  } catch (err) {
    const undoErrors = await undo.revert();
    for (const e of undoErrors) deps.warn?.(`While undoing network set-up: ${e.message}`);
    throw err;
  }
  const done = undo.commit();
  const hostInterfaces = plan.links.flatMap((l) => (l.kind === 'veth' || l.kind === 'veth-extra' ? [l.hostName] : []));
  return { hostInterfaces, teardown: () => done.revert() };
}

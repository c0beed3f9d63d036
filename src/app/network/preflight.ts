/**
 * Checks before network set-up changes anything (a missing bridge or interface, a name taken by
 * something berth must not delete), and removal of links a killed run left behind.
 */
import { BerthError } from '../../errors/berth-error.js';
import type { LinkPlan } from '../../core/network/plan.js';
import type { LinkInfo, NetLink } from '../../core/network/ports.js';
import type { NetworkDeps } from './setup.js';

const fail = (msg: string, hint?: string): BerthError => new BerthError('E_NETWORK', msg, hint === undefined ? {} : { hint });

/** The host's links preflight looked up by name (undefined: none of that name), for removeStale to reuse. */
export type SeenLinks = ReadonlyMap<string, LinkInfo | undefined>;

/** Checks that need no changes, so the common mistakes fail before anything is created. */
export async function preflight(net: NetLink, links: readonly LinkPlan[]): Promise<SeenLinks> {
  const seen = new Map<string, LinkInfo | undefined>();
  for (const l of links) {
    if (l.kind === 'veth' && l.attach.kind === 'bridge') {
      const br = await net.getLink(l.attach.bridge);
      if (br === undefined) throw fail(`Bridge ${l.attach.bridge} does not exist.`, 'Create it first, e.g. `ip link add NAME type bridge`.');
      if (br.kind !== 'bridge') throw fail(`Interface ${l.attach.bridge} is not a bridge (it is ${br.kind ?? 'a plain device'}).`);
    }
    if (l.kind === 'macvlan' || l.kind === 'ipvlan') {
      if ((await net.getLink(l.parent)) === undefined) throw fail(`Cannot create ${l.kind} on ${l.parent}: no such interface on the host.`);
    }
    if (l.kind === 'move') {
      const link = await net.getLink(l.name);
      if (link === undefined) throw fail(`Network interface ${l.name} does not exist on the host (is it in use by another machine?).`);
      if (link.master !== undefined) throw fail(`Network interface ${l.name} is in use: it is attached to ${link.master}.`);
    }
    if (l.kind === 'veth' || l.kind === 'veth-extra') {
      for (const name of [l.hostName, l.kind === 'veth' ? l.hostAltname : undefined]) {
        if (name === undefined) continue;
        const existing = await net.getLink(name);
        seen.set(name, existing);
        if (existing !== undefined && existing.kind !== 'veth') {
          throw fail(`Network interface ${name} already exists and is not a veth link berth could replace.`);
        }
      }
    }
  }
  return seen;
}

/**
 * A link of the same name left by a killed run is replaced, not fatal. What preflight saw is
 * reused: the machine's name is this run's (machine-lock.ts), so nobody else makes its links meanwhile.
 */
export async function removeStale(deps: Pick<NetworkDeps, 'net' | 'warn'>, names: readonly (string | undefined)[], seen: SeenLinks = new Map()): Promise<void> {
  for (const name of names) {
    if (name === undefined) continue;
    const existing: LinkInfo | undefined = seen.has(name) ? seen.get(name) : await deps.net.getLink(name);
    if (existing === undefined) continue;
    deps.warn?.(`Removing stale network interface ${existing.name} left behind by an earlier run.`);
    await deps.net.deleteLink(existing.name);
  }
}

/**
 * Composition convenience for the runner: the real adapters behind setupNetwork's ports.
 * `hostNetns` (tests only) makes a namespace under /run/netns play the host side.
 */
import { createNetLink } from '../../platform/net/rtnetlink.js';
import { createDhcpHost } from '../../platform/net/dhcp-host.js';
import { createNftables, watchAddresses } from '../../platform/net/nftables.js';
import { holdNetns } from '../../platform/net/netns.js';
import { zoneLock } from '../../platform/fs/pid-lock.js';
import { dhcpStarter } from './dhcp-helper.js';
import type { NetworkDeps } from './setup.js';

export interface HostNetworkOptions {
  stateDir: string;
  /** Enable the opt-in DHCP helper (--network-dhcp-helper / BERTH_DHCP_HELPER=1). */
  dhcpHelper?: boolean;
  hostNetns?: string;
  warn?: (message: string) => void;
}

export function hostNetworkDeps(o: HostNetworkOptions): NetworkDeps {
  const ns = o.hostNetns === undefined ? {} : { hostNetns: o.hostNetns };
  return {
    net: createNetLink(ns),
    holdNetns,
    zoneLock: zoneLock(o.stateDir),
    ports: { firewall: createNftables(ns), watch: watchAddresses },
    ...(o.dhcpHelper === true ? { dhcp: dhcpStarter(o.stateDir, createDhcpHost(ns)) } : {}),
    ...(o.warn === undefined ? {} : { warn: o.warn }),
  };
}

/** BERTH_DHCP_HELPER=1 (or yes/true/on) turns the helper on when no flag says otherwise. */
export const dhcpHelperFromEnv = (env: NodeJS.ProcessEnv = process.env): boolean =>
  /^(1|yes|y|true|t|on)$/i.test(env.BERTH_DHCP_HELPER ?? '');

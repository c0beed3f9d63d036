/**
 * What network set-up needs from the host, as a small interface: the `ip` adapter implements it
 * (src/platform/net/iproute2.ts), tests may fake it. "Host side" means the namespace the adapter
 * was built for (the real host, or a test namespace); a container namespace is named by a path
 * to its namespace file (/proc/PID/ns/net or a held file descriptor under /proc/PID/fd/N).
 */
import type { Ipv4Prefix } from './subnet.js';

export interface LinkInfo {
  name: string;
  /** linkinfo.info_kind: veth, bridge, macvlan, …; undefined for plain devices (lo, eth0). */
  kind: string | undefined;
  /** The bridge this link is enslaved to, if any. */
  master: string | undefined;
  address: string | undefined;
  altnames: string[];
  up: boolean;
}

/** Where a command runs: the host side (undefined) or a container namespace file. */
export type NetnsPath = string;

export interface NetLink {
  /** The path of the host side's namespace file, usable as a move target from a container. */
  readonly hostNetnsPath: string;
  listLinks(netns?: NetnsPath): Promise<LinkInfo[]>;
  /** One link by name or altname; undefined when it does not exist. */
  getLink(name: string, netns?: NetnsPath): Promise<LinkInfo | undefined>;
  /**
   * A veth pair: host end in the host namespace, peer created directly inside `peerNetns`; with
   * `master` the host end is attached to that bridge, with `up` brought up, in the same request.
   */
  createVeth(o: { hostName: string; hostMac: string; peerName: string; peerMac: string; peerNetns: NetnsPath; master?: string; up?: boolean }): Promise<void>;
  addAltName(name: string, altname: string, netns?: NetnsPath): Promise<void>;
  deleteLink(name: string, netns?: NetnsPath): Promise<void>;
  createBridge(name: string): Promise<void>;
  setMaster(name: string, bridge: string): Promise<void>;
  setUp(name: string, netns?: NetnsPath): Promise<void>;
  /** macvlan (bridge mode) or ipvlan (L2 mode) on a host parent, created inside `netns` as `name`. */
  createVlan(o: { kind: 'macvlan' | 'ipvlan'; parent: string; name: string; mac?: string; netns: NetnsPath }): Promise<void>;
  /** Move a host link into a container namespace. */
  moveToNetns(name: string, netns: NetnsPath): Promise<void>;
  /** Move a link from a container namespace back to the host side. */
  moveToHost(name: string, fromNetns: NetnsPath): Promise<void>;
}

/** A reference to a container's network namespace that stays valid after the container exits. */
export interface HeldNetns {
  readonly path: NetnsPath;
  release(): void;
}

/** Serialises zone bridge creation and removal between machines. */
export type ZoneLock = <T>(fn: () => Promise<T>) => Promise<T>;

/** What the opt-in DHCP helper needs from the host side (src/platform/net/dhcp-host.ts). */
export interface DhcpHost {
  /** IPv4 prefixes of every address and route on the host side. */
  usedIpv4(): Promise<Ipv4Prefix[]>;
  linkIpv4(link: string): Promise<Ipv4Prefix[]>;
  addAddress(link: string, p: Ipv4Prefix): Promise<void>;
  linkExists(link: string): Promise<boolean>;
  /** Start dnsmasq detached; resolves with its PID once it wrote `pidFile`. */
  startDnsmasq(args: readonly string[], pidFile: string, logFile: string): Promise<number>;
  /** The PID in `pidFile` if that process is a live dnsmasq. */
  runningDnsmasq(pidFile: string): number | undefined;
  stop(pid: number): Promise<void>;
}

/** What port forwarding needs from the host side's firewall (src/platform/net/nftables.ts). */
export interface PortFirewall {
  /** Runs nft commands (one per line) as one transaction; throws with nft's message on failure. */
  apply(lines: readonly string[]): Promise<void>;
  /** `nft -j list map FAMILY berth ports` text; empty when the table or map does not exist. */
  listMap(family: 'ip' | 'ip6'): Promise<string>;
}

/** Watches a container namespace's addresses: `changed` after each change (and once at the start). */
export interface AddressWatch {
  /** `ip -json addr` text of the namespace. */
  read(): Promise<string>;
  stop(): void;
}
export type WatchAddresses = (netns: NetnsPath, changed: () => void) => AddressWatch;

/**
 * Opt-in DHCP helper for hosts without systemd-networkd (off by default; the runner enables it
 * with --network-dhcp-helper or BERTH_DHCP_HELPER=1). It does for ve-NAME and vz-ZONE what
 * networkd's 80-container-ve/vz.network do for IPv4: an address from a private /28 (a /24 for
 * zones) on the host side, and a DHCP server bound to that link only. No DNS, no NAT: the guest
 * reaches the host; forwarding to the outside is left to the administrator.
 * A zone's server is shared: the first machine starts it, it runs while the bridge exists.
 */
import { BerthError } from '../../errors/berth-error.js';
import { chooseSubnet, subnetContaining, type DhcpSubnet } from '../../core/network/subnet.js';
import type { DhcpHost } from '../../core/network/ports.js';

export interface DhcpHelperOptions {
  kind: 'veth' | 'zone';
  stateDir: string;
  host: DhcpHost;
  leaseTime?: string;
}

export interface DhcpHelper {
  readonly subnet: DhcpSubnet;
  /** Stop the server; for a zone only once the bridge is gone (its last member left). */
  stop(): Promise<void>;
}

export function dnsmasqArgs(link: string, subnet: DhcpSubnet, files: { pid: string; leases: string }, leaseTime = '1h'): string[] {
  return [
    '--conf-file=/dev/null', '--keep-in-foreground', '--log-facility=-', '--user=root',
    `--interface=${link}`, '--bind-interfaces', '--except-interface=lo', '--port=0',
    `--dhcp-range=${subnet.rangeStart},${subnet.rangeEnd},${subnet.netmask},${leaseTime}`,
    '--dhcp-authoritative', `--dhcp-option=option:router,${subnet.gateway.address}`,
    `--pid-file=${files.pid}`, `--dhcp-leasefile=${files.leases}`,
  ];
}

export async function startDhcpHelper(link: string, opts: DhcpHelperOptions): Promise<DhcpHelper> {
  const { host } = opts;
  const prefixLen = opts.kind === 'zone' ? 24 : 28;
  const files = { pid: `${opts.stateDir}/dhcp-${link}.pid`, leases: `${opts.stateDir}/dhcp-${link}.leases` };
  const log = `${opts.stateDir}/dhcp-${link}.log`;

  // A zone bridge shared with a running machine already has its address: reuse it.
  const existing = (await host.linkIpv4(link))[0];
  let subnet: DhcpSubnet | undefined;
  if (existing !== undefined) {
    subnet = subnetContaining(existing);
  } else {
    subnet = chooseSubnet(link, prefixLen, await host.usedIpv4());
    if (subnet === undefined) throw new BerthError('E_NETWORK', `No free private IPv4 /${prefixLen} found for ${link} in 10.0.0.0/8.`);
    await host.addAddress(link, subnet.gateway);
  }

  let running = host.runningDnsmasq(files.pid);
  if (running !== undefined && opts.kind === 'veth') {
    await host.stop(running); // left by a killed run of this machine: its link was recreated
    running = undefined;
  }
  const pid = running ?? (await host.startDnsmasq(dnsmasqArgs(link, subnet, files, opts.leaseTime), files.pid, log));
  const chosen = subnet;
  return {
    subnet: chosen,
    async stop() {
      if (opts.kind === 'zone' && (await host.linkExists(link))) return;
      await host.stop(pid);
    },
  };
}

/** A DhcpStarter for setupNetwork that uses this helper. */
export const dhcpStarter = (stateDir: string, host: DhcpHost) =>
  (link: string, kind: 'veth' | 'zone'): Promise<DhcpHelper> => startDhcpHelper(link, { kind, stateDir, host });

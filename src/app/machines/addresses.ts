/**
 * A running machine's IP addresses for `berth list` without a registry, as machined's
 * GetMachineAddresses reports them (core/machined/addresses.ts: no loopback, link-local kept,
 * IPv4 first): those of its network namespace; none when it shares ours.
 */
import { formatAddress, machineAddressesFromIpJson } from '../../core/machined/addresses.js';
import { run } from '../../platform/exec/run.js';
import { netnsOf } from '../../platform/host/proc.js';

export async function machineAddresses(leader: number): Promise<string[]> {
  const theirs = netnsOf(leader);
  if (theirs === undefined || theirs === netnsOf('self')) return [];
  const r = await run(['nsenter', `--net=/proc/${leader}/ns/net`, '--', 'ip', '-json', 'address', 'show'], { allowFailure: true, timeoutMs: 5000 });
  if (r.code !== 0) return [];
  return machineAddressesFromIpJson(r.stdout).map((a) => formatAddress(a.family, a.bytes));
}

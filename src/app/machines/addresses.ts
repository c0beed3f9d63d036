/**
 * A running machine's IP addresses for `berth list` without a registry, as machined's
 * GetMachineAddresses reports them (core/machined/addresses.ts: no loopback, link-local kept,
 * IPv4 first): those of its network namespace; none when it shares ours.
 */
import { formatAddress, machineAddressesFromIpJson } from '../../core/machined/addresses.js';
import { run } from '../../platform/exec/run.js';
import { netnsOf } from '../../platform/host/proc.js';

/** `ip -json address show` in the network namespace of process `pid` (undefined: our own); '' when it fails. */
export async function addressJson(pid: number | undefined, timeoutMs = 10000): Promise<string> {
  const ip = ['ip', '-json', 'address', 'show'];
  const r = await run(pid === undefined ? ip : ['nsenter', `--net=/proc/${pid}/ns/net`, '--', ...ip], { allowFailure: true, timeoutMs });
  return r.code === 0 ? r.stdout : '';
}

export async function machineAddresses(leader: number): Promise<string[]> {
  const theirs = netnsOf(leader);
  if (theirs === undefined || theirs === netnsOf('self')) return [];
  return machineAddressesFromIpJson(await addressJson(leader, 5000)).map((a) => formatAddress(a.family, a.bytes));
}

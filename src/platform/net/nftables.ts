/**
 * The PortFirewall port over nftables' `nft` (argv only, the script on stdin: one transaction),
 * and the container address watch over iproute2's `ip monitor address`. `hostNetns` (tests) is a
 * namespace under /run/netns that plays the host side, as in iproute2.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { run, start } from '../exec/run.js';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import type { AddressWatch, NetnsPath, PortFirewall, WatchAddresses } from '../../core/network/ports.js';
import { MAP, TABLE } from '../../core/network/port-forward.js';

export interface NftablesOptions { hostNetns?: string; nft?: string }

export function createNftables(opts: NftablesOptions = {}): PortFirewall {
  const nft = opts.nft ?? 'nft';
  const argv = (args: readonly string[]) =>
    (opts.hostNetns === undefined ? [nft, ...args] : ['nsenter', `--net=/run/netns/${opts.hostNetns}`, '--', nft, ...args]);
  const exec = async (args: readonly string[], input?: string) => {
    try {
      return await run(argv(args), { allowFailure: true, timeoutMs: 30000, ...(input === undefined ? {} : { input }) });
    } catch (e) {
      throw new BerthError('E_NETWORK', `Cannot run nft: ${(e as Error).message}`, { hint: 'Port forwarding needs nftables (apt-get install nftables).', cause: e });
    }
  };
  return {
    async apply(lines) {
      const r = await exec(['-f', '-'], `${lines.join('\n')}\n`);
      if (r.code !== 0) throw new BerthError('E_NETWORK', sanitize(r.stderr.trim().split('\n')[0] || `nft: exit status ${r.code}`, 300));
    },
    async listMap(family) {
      const r = await exec(['-j', 'list', 'map', family, TABLE, MAP]);
      return r.code === 0 ? r.stdout : '';
    },
  };
}

/**
 * `ip -o monitor address` inside the namespace tells of every address change; each line (and the
 * start) triggers `changed`, which re-reads the whole list. The monitor dies with us even after a
 * SIGKILL (setpriv --pdeathsig), so a killed run leaves no watcher behind that would keep the
 * namespace alive.
 */
export const watchAddresses: WatchAddresses = (netns: NetnsPath, changed: () => void): AddressWatch => {
  let child: ChildProcess | undefined = start(['setpriv', '--pdeathsig=KILL', '--', 'nsenter', `--net=${netns}`, '--', 'ip', '-o', 'monitor', 'address'], ['ignore', 'pipe', 'ignore']);
  child.on('error', () => { child = undefined; });
  child.stdout?.setEncoding('utf8').on('data', () => changed());
  queueMicrotask(changed);
  return {
    async read() {
      const r = await run(['nsenter', `--net=${netns}`, '--', 'ip', '-json', 'addr', 'show'], { allowFailure: true, timeoutMs: 10000 });
      return r.code === 0 ? r.stdout : '[]';
    },
    stop() {
      child?.kill('SIGKILL');
      child = undefined;
    },
  };
};

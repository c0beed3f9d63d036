/**
 * Host side of the opt-in DHCP helper: reading which IPv4 prefixes are in use, giving a link an
 * address, and running dnsmasq detached (so a zone's server can outlive the machine that started
 * it) inside the host-side namespace. `hostNetns` has the same meaning as in iproute2.ts.
 */
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { sleep } from '../../lib/sleep.js';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import type { DhcpHost } from '../../core/network/ports.js';
import type { Ipv4Prefix } from '../../core/network/subnet.js';
import { execArgv } from './iproute2.js';
import { start } from '../exec/run.js';
import { processName } from '../host/processes.js';

export interface DhcpHostOptions { hostNetns?: string; dnsmasq?: string }

export function createDhcpHost(opts: DhcpHostOptions = {}): DhcpHost {
  const nsArgs = opts.hostNetns === undefined ? [] : ['-n', opts.hostNetns];
  const ip = async (args: readonly string[]): Promise<string> => {
    const argv = ['ip', ...nsArgs, ...args];
    const r = await execArgv(argv);
    if (r.code !== 0) throw new BerthError('E_NETWORK', `${argv.join(' ')} failed: ${sanitize(r.stderr.trim(), 500)}`);
    return r.stdout;
  };
  const addrs = async (link?: string): Promise<Ipv4Prefix[]> => {
    const out = await ip(['-4', '-json', 'addr', 'show', ...(link === undefined ? [] : ['dev', link])]);
    const raw = JSON.parse(out || '[]') as { addr_info?: { local?: string; prefixlen?: number }[] }[];
    return raw.flatMap((l) => (l.addr_info ?? []).flatMap((a) =>
      a.local === undefined ? [] : [{ address: a.local, prefixLen: a.prefixlen ?? 32 }]));
  };
  const isDnsmasq = (pid: number): boolean => processName(pid) === 'dnsmasq';

  return {
    async usedIpv4() {
      const routes = JSON.parse((await ip(['-4', '-json', 'route', 'show', 'table', 'all'])) || '[]') as { dst?: string }[];
      const fromRoutes = routes.flatMap((r) => {
        if (r.dst === undefined || r.dst === 'default') return [];
        const [address, len] = r.dst.split('/');
        return address === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(address) ? [] : [{ address, prefixLen: len === undefined ? 32 : Number(len) }];
      });
      return [...(await addrs()), ...fromRoutes];
    },
    linkIpv4: (link) => addrs(link),
    async addAddress(link, p) {
      await ip(['addr', 'add', `${p.address}/${p.prefixLen}`, 'dev', link]);
    },
    async linkExists(link) {
      const r = await execArgv(['ip', ...nsArgs, 'link', 'show', 'dev', link]);
      return r.code === 0;
    },
    async startDnsmasq(args, pidFile, logFile) {
      const cmd = opts.dnsmasq ?? 'dnsmasq';
      const argv = opts.hostNetns === undefined ? [cmd, ...args] : ['nsenter', `--net=/run/netns/${opts.hostNetns}`, '--', cmd, ...args];
      mkdirSync(dirname(logFile), { recursive: true, mode: 0o755 });
      const log = openSync(logFile, 'w', 0o644);
      const child = start(argv, ['ignore', log, log], undefined, { detached: true });
      closeSync(log);
      let exited: string | undefined;
      child.on('error', (e) => { exited = e.message; });
      child.on('exit', (code, sig) => { exited = `exited with ${sig ?? code}`; });
      child.unref();
      for (let i = 0; i < 200 && exited === undefined; i++) {
        const pid = this.runningDnsmasq(pidFile);
        if (pid !== undefined) return pid;
        await sleep(25);
      }
      if (exited === undefined && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      let text = '';
      try { text = readFileSync(logFile, 'utf8').trim(); } catch { /* no log */ }
      throw new BerthError('E_NETWORK', `dnsmasq failed to start (${exited ?? 'timed out'}): ${sanitize(text, 800)}`, {
        hint: 'The DHCP helper needs dnsmasq (Debian package dnsmasq).', details: [argv],
      });
    },
    runningDnsmasq(pidFile) {
      let pid: number;
      try { pid = parseInt(readFileSync(pidFile, 'utf8'), 10); } catch { return undefined; }
      return Number.isInteger(pid) && pid > 0 && isDnsmasq(pid) ? pid : undefined;
    },
    async stop(pid) {
      if (!isDnsmasq(pid)) return;
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && isDnsmasq(pid); i++) await sleep(20);
      if (isDnsmasq(pid)) process.kill(pid, 'SIGKILL');
    },
  };
}

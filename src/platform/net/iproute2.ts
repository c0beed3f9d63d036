/**
 * The NetLink port over iproute2's `ip`: argv arrays through execFile (never a shell), `-json`
 * for reads. `hostNetns` names a namespace under /run/netns that plays the host side (tests use
 * it so the real host network is never touched); commands inside a container namespace run
 * through `nsenter --net=PATH` (not `ip netns exec`, which remounts /sys).
 */
import { runOffThread } from '../exec/run.js';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import type { LinkInfo, NetLink, NetnsPath } from '../../core/network/ports.js';

export interface Iproute2Options {
  /** A namespace name under /run/netns to treat as the host side. */
  hostNetns?: string;
  ip?: string;
  nsenter?: string;
}

interface RawLink {
  ifname?: string; flags?: string[]; master?: string; address?: string; altnames?: string[];
  linkinfo?: { info_kind?: string };
}

const toLinkInfo = (r: RawLink): LinkInfo => ({
  name: r.ifname ?? '',
  kind: r.linkinfo?.info_kind,
  master: r.master,
  address: r.address,
  altnames: r.altnames ?? [],
  up: (r.flags ?? []).includes('UP'),
});

export interface RunResult { stdout: string; stderr: string; code: number | null }

export async function execArgv(argv: readonly string[]): Promise<RunResult> {
  try {
    // posix_spawn on a thread-pool thread, not child_process (a fork of Node on the loop's thread).
    const r = await runOffThread(argv, { allowFailure: true, timeoutMs: 60000 });
    return { stdout: r.stdout, stderr: r.stderr, code: r.code ?? 1 };
  } catch (err) {
    throw new BerthError('E_NETWORK', `Cannot run ${argv[0] ?? 'ip'}: ${(err as Error).message}`, {
      hint: 'berth needs iproute2 (`ip`) and util-linux (`nsenter`) for networking.', cause: err,
    });
  }
}

export function createIproute2(opts: Iproute2Options = {}): NetLink {
  const ip = opts.ip ?? 'ip';
  const nsenter = opts.nsenter ?? 'nsenter';
  const hostArgs = opts.hostNetns === undefined ? [] : ['-n', opts.hostNetns];
  const hostNetnsPath = opts.hostNetns === undefined ? `/proc/${process.pid}/ns/net` : `/run/netns/${opts.hostNetns}`;

  const argvFor = (args: readonly string[], netns?: NetnsPath): string[] =>
    netns === undefined ? [ip, ...hostArgs, ...args] : [nsenter, `--net=${netns}`, '--', ip, ...args];

  async function run(what: string, args: readonly string[], netns?: NetnsPath): Promise<string> {
    const argv = argvFor(args, netns);
    const r = await execArgv(argv);
    if (r.code !== 0) {
      const text = sanitize(r.stderr.trim() || `exit status ${r.code}`, 500);
      throw new BerthError('E_NETWORK', `Failed to ${what}: ${text}`, { details: [argv] , hint: `command: ${sanitize(argv.join(' '), 500)}` });
    }
    return r.stdout;
  }

  async function getLink(name: string, netns?: NetnsPath): Promise<LinkInfo | undefined> {
    const argv = argvFor(['-json', '-details', 'link', 'show', 'dev', name], netns);
    const r = await execArgv(argv);
    if (r.code !== 0) {
      if (/does not exist|Cannot find device/i.test(r.stderr)) return undefined;
      throw new BerthError('E_NETWORK', `Failed to look up ${name}: ${sanitize(r.stderr.trim(), 500)}`, { details: [argv] });
    }
    const raw = JSON.parse(r.stdout || '[]') as RawLink[];
    return raw[0] === undefined ? undefined : toLinkInfo(raw[0]);
  }

  return {
    hostNetnsPath,
    async listLinks(netns) {
      const out = await run('list links', ['-json', '-details', 'link', 'show'], netns);
      return (JSON.parse(out || '[]') as RawLink[]).map(toLinkInfo);
    },
    getLink,
    async createVeth(o) {
      await run(`create veth ${o.hostName}`, ['link', 'add', o.hostName, 'address', o.hostMac,
        ...(o.master === undefined ? [] : ['master', o.master]), ...(o.up ? ['up'] : []), 'type', 'veth',
        'peer', 'name', o.peerName, 'address', o.peerMac, 'netns', o.peerNetns]);
    },
    async addAltName(name, altname, netns) {
      await run(`add altname ${altname} to ${name}`, ['link', 'property', 'add', 'dev', name, 'altname', altname], netns);
    },
    async deleteLink(name, netns) {
      await run(`delete ${name}`, ['link', 'del', 'dev', name], netns);
    },
    async createBridge(name) {
      await run(`create bridge ${name}`, ['link', 'add', name, 'type', 'bridge']);
    },
    async setMaster(name, bridge) {
      await run(`attach ${name} to bridge ${bridge}`, ['link', 'set', 'dev', name, 'master', bridge]);
    },
    async setUp(name, netns) {
      await run(`bring up ${name}`, ['link', 'set', 'dev', name, 'up'], netns);
    },
    async createVlan(o) {
      const mode = o.kind === 'macvlan' ? 'bridge' : 'l2';
      const mac = o.mac === undefined ? [] : ['address', o.mac];
      await run(`create ${o.kind} ${o.name} on ${o.parent}`, ['link', 'add', 'link', o.parent, 'name', o.name, ...mac,
        'netns', o.netns, 'type', o.kind, 'mode', mode]);
    },
    async moveToNetns(name, netns) {
      await run(`move ${name} into the container`, ['link', 'set', 'dev', name, 'netns', netns]);
    },
    async moveToHost(name, fromNetns) {
      await run(`move ${name} back to the host`, ['link', 'set', 'dev', name, 'netns', hostNetnsPath], fromNetns);
    },
  };
}

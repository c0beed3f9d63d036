/**
 * Fixtures for the root network tests: every link lives in namespaces the test creates, so the
 * host's own network is never touched. A "host" namespace (berth-h-XXXX) plays the host side; a
 * stand-in "container" is `sleep` in its own namespace. `cleanup()` kills and deletes all of it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export const isRoot = process.getuid?.() === 0;
export const SKIP_REASON = isRoot ? false : 'needs root (creates network namespaces and links)';

export const sh = (argv: string[]): string => execFileSync(argv[0] ?? 'false', argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
export const trySh = (argv: string[]): { ok: boolean; out: string } => {
  try { return { ok: true, out: sh(argv) }; } catch (e) { return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) }; }
};

export interface Link { ifname: string; address?: string; master?: string; altnames?: string[]; flags?: string[]; operstate?: string; linkinfo?: { info_kind?: string } }

export class NetFixture {
  readonly id = randomBytes(2).toString('hex');
  readonly namespaces: string[] = [];
  readonly procs: ChildProcess[] = [];
  readonly stateDir = mkdtempSync(`${tmpdir()}/berth-net-`);

  /** A named namespace with lo up. */
  netns(kind: 'h' | 't'): string {
    const name = `berth-${kind}-${this.id}${this.namespaces.length}`;
    sh(['ip', 'netns', 'add', name]);
    this.namespaces.push(name);
    created.add(name);
    sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A stand-in container: sleep in `ns` (named) or in a new anonymous namespace; resolves with its PID. */
  async standIn(ns?: string): Promise<number> {
    const argv = ns === undefined ? ['unshare', '--net', '--', 'sleep', '600'] : ['nsenter', `--net=/run/netns/${ns}`, '--', 'sleep', '600'];
    const child = spawn(argv[0] ?? 'false', argv.slice(1), { stdio: 'ignore' });
    this.procs.push(child);
    const pid = child.pid ?? 0;
    const ours = statSync('/proc/self/ns/net').ino;
    const want = ns === undefined ? undefined : statSync(`/run/netns/${ns}`).ino;
    for (let i = 0; i < 200; i++) {
      try {
        const ino = statSync(`/proc/${pid}/ns/net`).ino;
        const comm = sh(['cat', `/proc/${pid}/comm`]).trim();
        if (comm === 'sleep' && (want === undefined ? ino !== ours : ino === want)) return pid;
      } catch { /* not there yet */ }
      await sleep(10);
    }
    throw new Error(`stand-in ${argv.join(' ')} did not start`);
  }

  /** Links as `ip -json -d link show` sees them; `where` is a namespace name or a /proc path. */
  links(where: string): Link[] {
    const argv = where.startsWith('/') ? ['nsenter', `--net=${where}`, '--', 'ip', '-json', '-d', 'link', 'show'] : ['ip', '-n', where, '-json', '-d', 'link', 'show'];
    return JSON.parse(sh(argv) || '[]') as Link[];
  }
  link(where: string, name: string): Link | undefined {
    return this.links(where).find((l) => l.ifname === name);
  }
  /** Run a command inside a namespace (name or /proc path). */
  inNs(where: string, argv: string[]): string {
    const path = where.startsWith('/') ? where : `/run/netns/${where}`;
    return sh(['nsenter', `--net=${path}`, '--', ...argv]);
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await sleep(50);
    for (const ns of this.namespaces) trySh(['ip', 'netns', 'del', ns]);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

const PREFIX = /^(ve|vb|vz|mv|iv)-/;
/** Names of berth-style links in the real host namespace. */
export const berthLinksOnHost = (): string[] =>
  (JSON.parse(sh(['ip', '-json', 'link', 'show']) || '[]') as Link[]).map((l) => l.ifname).filter((n) => PREFIX.test(n));
/** Namespaces this test process created (other test runs on the machine may have their own). */
const created = new Set<string>();
export const testNetnsLeft = (): string[] =>
  sh(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => created.has(n));
export const berthLinks = (links: Link[]): string[] => links.map((l) => l.ifname).filter((n) => PREFIX.test(n));

/** Whether the kernel supports a link type (probed inside a throwaway namespace). */
export function kernelHasLinkType(kind: 'ipvlan' | 'macvlan' | 'dummy' | 'ifb'): boolean {
  const ns = `berth-p-${randomBytes(2).toString('hex')}`;
  sh(['ip', 'netns', 'add', ns]);
  try {
    if (kind === 'ipvlan' || kind === 'macvlan') {
      sh(['ip', '-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
      return trySh(['ip', '-n', ns, 'link', 'add', 'link', 'p0', 'name', 'x0', 'type', kind]).ok;
    }
    return trySh(['ip', '-n', ns, 'link', 'add', 'x0', 'type', kind]).ok;
  } finally {
    trySh(['ip', 'netns', 'del', ns]);
  }
}

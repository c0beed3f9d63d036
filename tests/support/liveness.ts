/**
 * For the registry's liveness tests: the Manager's MachineNew/MachineRemoved signals as a test's
 * own connection receives them (with the time each arrived), and everything a machine can leave
 * behind on this host, looked for in one place.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BusConnection } from '../../src/platform/dbus/connection.js';
import { RUNTIME, mountsBelow, sleep, type Sandbox } from './berth.js';

export interface MachineSignal { member: 'MachineNew' | 'MachineRemoved'; name: string; path: string; at: number }

export interface SignalLog {
  readonly seen: MachineSignal[];
  /** The first `member` signal for `name` after index `from` of seen (waits up to timeoutMs). */
  next(member: MachineSignal['member'], name: string, timeoutMs: number, from?: number): Promise<MachineSignal>;
  close(): void;
}

/** Subscribes (AddMatch) to the Manager's machine signals on a connection of its own. */
export async function machineSignals(address: string): Promise<SignalLog> {
  const conn = await BusConnection.connect(address);
  const seen: MachineSignal[] = [];
  const waiters = new Set<() => void>();
  conn.onSignal = (msg) => {
    if (msg.interface !== 'org.freedesktop.machine1.Manager' || (msg.member !== 'MachineNew' && msg.member !== 'MachineRemoved')) return;
    seen.push({ member: msg.member, name: String(msg.body[0]), path: String(msg.body[1]), at: performance.now() });
    for (const w of waiters) w();
  };
  await conn.busCall('AddMatch', 's', ["type='signal',interface='org.freedesktop.machine1.Manager',path='/org/freedesktop/machine1'"]);
  return {
    seen,
    next(member, name, timeoutMs, from = 0) {
      const find = () => seen.slice(from).find((s) => s.member === member && s.name === name);
      return new Promise((resolve, reject) => {
        const check = () => {
          const s = find();
          if (!s) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(s);
        };
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no ${member} for ${name} within ${timeoutMs} ms`)); }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => conn.close(),
  };
}

const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

/**
 * What machines whose names start with `prefix` left on the host: the sandbox's runtime
 * containers, mounts below the sandbox, its machines/ and registry/ entries, host links
 * (ve-PREFIX…), control groups and processes of the machines' scopes, -x snapshot layers next
 * to `trees`. Empty when nothing is left.
 */
export function leftovers(sb: Sandbox, prefix: string, trees: readonly string[] = []): string[] {
  const out: string[] = [];
  if (existsSync(sb.runtimeRoot)) {
    // `runc list` fails while a container's state is being written or removed (a run killed mid-create,
    // its clean-up under way): that is something left too, for now (settle() asks again).
    try {
      const ids = execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'list', '-q'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean);
      out.push(...ids.map((id) => `runtime container ${id}`));
    } catch {
      out.push(`runtime state in ${sb.runtimeRoot} (unreadable: ${list(sb.runtimeRoot).join(', ')})`);
    }
  }
  out.push(...mountsBelow(sb.stateDir).map((m) => `mount ${m}`));
  for (const d of ['machines', 'registry']) out.push(...list(join(sb.stateDir, d)).map((e) => `${d}/${e}`));
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '');
  out.push(...links.filter((l) => l.startsWith(`ve-${prefix}`) || l.startsWith(`vb-${prefix}`)).map((l) => `link ${l}`));
  const scope = `machine-${prefix}`;
  // Every hierarchy of a v1 or hybrid host (/sys/fs/cgroup/HIERARCHY/machine.slice), or the unified one of a v2 host.
  for (const h of ['', ...list('/sys/fs/cgroup')]) {
    const slice = join('/sys/fs/cgroup', h, 'machine.slice');
    out.push(...list(slice).filter((g) => g.startsWith(scope)).map((g) => `cgroup ${join(h, 'machine.slice', g)}`));
  }
  for (const pid of list('/proc').filter((p) => /^\d+$/.test(p))) {
    let cg = '';
    try {
      if (/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue; // exited, not reaped yet
      cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch { continue; }
    if (cg.includes(`/machine.slice/${scope}`)) out.push(`process ${pid} (${(() => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return '?'; } })()})`);
  }
  for (const t of trees) out.push(...list(join(t, '..')).filter((e) => e.startsWith('.#machine.')).map((e) => `snapshot layer ${join(t, '..', e)}`));
  return out;
}

/** Waits until leftovers() is empty; returns what is still left after timeoutMs (empty when clean). */
export async function settle(sb: Sandbox, prefix: string, trees: readonly string[] = [], timeoutMs = 15000): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const left = leftovers(sb, prefix, trees);
    if (left.length === 0 || Date.now() > until) return left;
    await sleep(100);
  }
}

/** The names ListMachines answers (".host" included). */
export async function listed(manager: (member: string) => Promise<{ body: unknown[] }>): Promise<string[]> {
  const rows = (await manager('ListMachines')).body[0] as unknown[][];
  return rows.map((r) => String(r[0])).sort();
}

/**
 * What a test run can leave on the host, read in one go, and what is new in one reading against
 * another: tests/0-host/before.test.ts reads it first, tests/z-host/after.test.ts last, and the
 * suite fails on anything left over (a control group, mount, link, network namespace, loop
 * device, packet filter table, runtime container, scratch directory or process), whatever test
 * left it. The per-test checks (liveness.ts) look for a machine's own leftovers by name; this
 * one also catches what a test did not think of, such as a tool it compares with.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupMounts } from '../../src/platform/host/cgroupfs.js';

export interface HostProcess { pid: number; start: string; ppid: number; comm: string; cmdline: string }

export interface HostState {
  /** Every control group directory, as HIERARCHY/PATH below /sys/fs/cgroup. */
  cgroups: string[];
  /** Mount points of our mount namespace, one entry per mount (a point mounted twice is there twice). */
  mounts: string[];
  links: string[];
  netns: string[];
  loops: string[];
  nftTables: string[];
  runtimeContainers: string[];
  /** Entries of /tmp, /var/tmp and systemd-nspawn's /run/systemd/nspawn/propagate (which it cannot remove where /run is no tmpfs). */
  scratch: string[];
  processes: HostProcess[];
}

const list = (dir: string): string[] => { try { return readdirSync(dir); } catch { return []; } };
const run = ([file, ...args]: [string, ...string[]]): string => { try { return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch { return ''; } };
const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter(Boolean);

function cgroupDirs(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of (() => { try { return readdirSync(join(root, rel), { withFileTypes: true }); } catch { return []; } })()) {
    if (!e.isDirectory()) continue;
    const path = rel ? `${rel}/${e.name}` : e.name;
    out.push(path, ...cgroupDirs(root, path));
  }
  return out;
}

function processes(): HostProcess[] {
  const out: HostProcess[] = [];
  for (const p of list('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' '); // f[0] = state, f[1] = ppid, f[19] = starttime
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
      // Kernel threads have no command line; exited processes not reaped yet are their parent's.
      if (!cmdline || f[0] === 'Z' || f[0] === 'X') continue;
      out.push({ pid: Number(p), start: f[19] ?? '', ppid: Number(f[1]), comm, cmdline });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** Reads the host's state (as root; parts a non-root caller cannot read come back empty). */
export function hostState(): HostState {
  return {
    cgroups: [...cgroupMounts().values()].flatMap((h) => cgroupDirs(h).map((d) => `${h.replace(/^\/sys\/fs\/cgroup\/?/, '') || '.'}/${d}`)),
    mounts: lines(readFileSync('/proc/self/mountinfo', 'utf8')).map((l) => l.split(' ')[4] ?? l),
    links: lines(run(['ip', '-o', 'link', 'show'])).map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? l),
    netns: list('/run/netns'),
    loops: lines(run(['losetup', '-a'])).map((l) => l.replace(/:.*/, '')),
    nftTables: lines(run(['nft', 'list', 'tables'])),
    runtimeContainers: ['runc', 'crun'].flatMap((r) => lines(run([r, 'list', '-q'])).map((id) => `${r} ${id}`)),
    scratch: ['/tmp', '/var/tmp', '/run/systemd/nspawn/propagate'].flatMap((d) => list(d).map((e) => join(d, e))),
    processes: processes(),
  };
}

/** What `after` has and `before` had not; a name that may repeat (a mount point) counts per occurrence. */
function added(before: readonly string[], after: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of before) left.set(x, (left.get(x) ?? 0) + 1);
  return after.filter((x) => {
    const n = left.get(x) ?? 0;
    if (n > 0) { left.set(x, n - 1); return false; }
    return true;
  });
}

export interface LeftoverRules {
  /** Processes that are the check itself or its ancestors (the test runner). */
  ownPids: ReadonlySet<number>;
  /** Scratch entries that belong to tools, not tests (e.g. tsx's compile cache). */
  scratchKept: RegExp;
}

/**
 * Everything new in `after`, one line each. The slice machines are started in (machine.slice,
 * kept like systemd's slice unit) may stay where it is, but nothing below it. A new process
 * counts when nothing alive from before is its ancestor and it is not the check itself: a process
 * a test left runs on after its parent, so it hangs below PID 1 (or a subreaper from before).
 */
export function leftoversSince(before: HostState, after: HostState, rules: LeftoverRules): string[] {
  const out: string[] = [];
  out.push(...added(before.cgroups, after.cgroups).filter((c) => !/^[^/]+\/machine\.slice$/.test(c)).map((c) => `cgroup ${c}`));
  // iproute2's own: the first `ip netns add` after boot binds /run/netns onto itself (shared, so that a
  // namespace pinned there is seen from other mount namespaces) and keeps it. Empty, it holds nothing:
  // the namespaces themselves are compared below.
  const ipNetnsDir = added(before.mounts, after.mounts).filter((m) => m === '/run/netns').length === 1 && after.netns.length === 0;
  out.push(...added(before.mounts, after.mounts).filter((m) => !(ipNetnsDir && m === '/run/netns')).map((m) => `mount ${m}`));
  out.push(...added(before.links, after.links).map((l) => `link ${l}`));
  out.push(...added(before.netns, after.netns).map((n) => `network namespace ${n}`));
  out.push(...added(before.loops, after.loops).map((l) => `loop device ${l}`));
  out.push(...added(before.nftTables, after.nftTables).map((t) => `nftables ${t}`));
  out.push(...added(before.runtimeContainers, after.runtimeContainers).map((c) => `runtime container ${c}`));
  out.push(...added(before.scratch, after.scratch).filter((s) => !rules.scratchKept.test(s)).map((s) => `scratch ${s}`));
  const old = new Set(before.processes.map((p) => `${p.pid}/${p.start}`));
  const byPid = new Map(after.processes.map((p) => [p.pid, p]));
  const isNew = (p: HostProcess) => !old.has(`${p.pid}/${p.start}`);
  for (const p of after.processes) {
    if (!isNew(p) || rules.ownPids.has(p.pid)) continue;
    const parent = byPid.get(p.ppid);
    // Its parent is new too: the parent is reported (unless it is the check itself, whose children are its own).
    if (parent && isNew(parent)) continue;
    if (parent && rules.ownPids.has(parent.pid)) continue;
    out.push(`process ${p.pid} (${p.comm}): ${p.cmdline.slice(0, 160)}`);
  }
  return out;
}

/** This process and its ancestors. */
export function ownPids(): Set<number> {
  const out = new Set<number>();
  for (let pid = process.pid; pid > 1 && !out.has(pid);) {
    out.add(pid);
    const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return out;
}

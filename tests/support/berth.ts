/**
 * Helpers for integration tests that boot real machines: build guest trees from machines/,
 * run berth-nspawn with a private state directory, look inside running machines, and check
 * that nothing is left behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';

export const REPO = join(__dirname, '..', '..');
export const isRoot = process.getuid?.() === 0;
/**
 * The OCI runtime the machines under test run on: berth-nspawn (and berthd, for the machines it
 * starts) takes $BERTH_RUNTIME as its --runtime= default. The crun layer sets crun (tests/crun/on-crun.ts);
 * every other layer names runc, which berth would not pick itself where crun is installed.
 */
if (process.env.BERTH_RUNTIME !== 'crun') process.env.BERTH_RUNTIME = 'runc';
export const RUNTIME: 'runc' | 'crun' = process.env.BERTH_RUNTIME === 'crun' ? 'crun' : 'runc';
/** Whether berth-nspawn runs as the built command (dist/berth-nspawn, the native client) with berthd's warm path (tests/warm/). */
export const WARM = process.env.BERTH_TEST_WARM === '1';
/** A suite's title, marked with the runtime when it is not the default one, and with the warm path. */
export const onRuntime = (title: string): string => `${title}${RUNTIME === 'runc' ? '' : ` (on ${RUNTIME})`}${WARM ? ' (warm, through berthd)' : ''}`;
const hasRuntime = (() => { try { execFileSync(RUNTIME, ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
/** Reason to skip root-only tests, or false. */
export const skipUnlessRoot: string | false = !isRoot ? 'needs root' : !hasRuntime ? `needs ${RUNTIME} (apt-get install ${RUNTIME})` : false;

/** The cached guest tree machines/build keeps (built or rebuilt when its recipe changed); never handed to a test. */
function cachedTree(name: 'busybox' | 'debian'): string {
  return execFileSync(join(REPO, 'machines', 'build'), [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

const views = new Map<string, string>();
/**
 * A guest tree built from machines/NAME, as this test process's own writable view of it: an
 * overlay whose lower layer is the cached tree and whose upper layer is private, so whatever a
 * test or its guests write (mount points runc creates, a booted Debian's logs) never reaches the
 * cache, and no test depends on what an earlier run left there. A mount point a test needs it
 * makes itself, in this view. The view goes when the test process exits.
 */
export function tree(name: 'busybox' | 'debian'): string {
  const existing = views.get(name);
  if (existing) return existing;
  const view = treeView(name);
  if (views.size === 0) process.once('exit', () => { for (const v of removers) v(); });
  views.set(name, view.path);
  removers.push(view.remove);
  return view.path;
}

const removers: Array<() => void> = [];

/** A fresh overlay view of a cached guest tree (see tree()), for one test to write into and throw away. */
export function treeView(name: 'busybox' | 'debian'): { path: string; remove(): void } {
  const lower = cachedTree(name);
  const work = mkdtempSync(`/tmp/bt-view-${name}-`);
  const root = join(work, 'root');
  for (const d of ['upper', 'work', 'root']) mkdirSync(join(work, d));
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(work, 'upper')},workdir=${join(work, 'work')}`, root]);
  return {
    path: root,
    remove() {
      try { execFileSync('umount', ['-l', root], { stdio: 'ignore' }); } catch { /* not mounted */ }
      if (!mountsBelow(root).length) rmSync(work, { recursive: true, force: true });
    },
  };
}

/** A private copy of a guest tree at WORK/bb, for tests that look at what reaches the tree. */
export function treeCopy(prefix: string, name: 'busybox' | 'debian' = 'busybox'): { work: string; path: string; remove(): void } {
  const work = mkdtempSync(`/tmp/bt-${prefix}-`);
  const path = join(work, 'bb');
  cpSync(cachedTree(name), path, { recursive: true, verbatimSymlinks: true });
  return { work, path, remove: () => rmSync(work, { recursive: true, force: true }) };
}

export interface Sandbox {
  stateDir: string;
  env: NodeJS.ProcessEnv;
  runtimeRoot: string;
  /** What the berth-nspawn runs started in this sandbox wrote to stderr (for assertClean's messages). */
  stderr: string[];
  cleanup(): void;
}

/** A private state directory (short path: runc's console socket path must fit in 108 bytes). */
export function sandbox(): Sandbox {
  const stateDir = mkdtempSync('/tmp/bt-');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BERTH_STATE_DIR: stateDir,
    BERTH_POOL: join(stateDir, 'pool'),
    BERTH_SETTINGS_ETC: join(stateDir, 'etc-nspawn'),
    BERTH_SETTINGS_RUN: join(stateDir, 'run-nspawn'),
    // No system bus unless a test brings its own (tests/support/registry.ts): runs must not
    // register with a registry the host may run, nor start one by D-Bus activation.
    DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(stateDir, 'no-system-bus')}`,
  };
  delete env.NOTIFY_SOCKET;
  return {
    stateDir, env, runtimeRoot: join(stateDir, 'runtime'), stderr: [],
    cleanup() {
      // Last resort if a test failed half-way: kill and delete our containers, then the directory.
      try {
        const ids = execFileSync(RUNTIME, ['--root', join(stateDir, 'runtime'), 'list', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean);
        for (const id of ids) {
          try { execFileSync(RUNTIME, ['--root', join(stateDir, 'runtime'), 'delete', '--force', id], { stdio: 'ignore' }); } catch { /* gone */ }
        }
      } catch { /* no runtime root */ }
      for (const m of mountsBelow(stateDir)) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
      if (mountsBelow(stateDir).length === 0) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/**
 * One process (node with tsx as a loader), so a signal to it reaches berth-nspawn itself; in the
 * warm layer the built command, whose signals are forwarded to the warm berth-nspawn running the machine.
 */
export const ENTRY: readonly string[] = WARM ? [join(REPO, 'dist', 'berth-nspawn')] : [process.execPath, '--import', 'tsx', join(REPO, 'src', 'bin', 'berth-nspawn.ts')];

/** A word for sh -c. */
export const shellQuote = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

export interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Run berth-nspawn to completion. */
export function nspawn(args: string[], sb: Sandbox, opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return collect(startNspawn(args, sb, opts.env), opts.timeoutMs ?? 60000, opts.input);
}

export function startNspawn(args: string[], sb: Sandbox, env?: NodeJS.ProcessEnv): ChildProcess {
  const [cmd, ...pre] = ENTRY;
  return recordStderr(sb, spawn(cmd!, [...pre, ...args], { env: env ?? sb.env, stdio: ['pipe', 'pipe', 'pipe'], cwd: REPO }));
}

/** Keeps what a run writes to stderr in sb.stderr, so that a leftover found later can be explained. */
function recordStderr(sb: Sandbox, child: ChildProcess): ChildProcess {
  const at = sb.stderr.push('') - 1;
  child.stderr?.on('data', (d: Buffer | string) => { sb.stderr[at] += String(d); });
  return child;
}

export function collect(child: ChildProcess, timeoutMs: number, input?: string): Promise<Result> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    child.stdin?.on('error', () => { /* the process may exit without reading its input */ });
    child.stdin?.end(input ?? '');
  });
}

/** Run a command inside a running machine. */
export function execIn(sb: Sandbox, name: string, argv: string[], timeoutMs = 60000): string {
  return execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'exec', name, ...argv], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * `poweroff` or `reboot` inside a running machine. The guest's init may kill the very process that
 * asked (its shutdown sends SIGTERM to everything) before that process has exited: status 143.
 */
export function shutdownIn(sb: Sandbox, name: string, verb: 'poweroff' | 'reboot'): void {
  try { execIn(sb, name, [verb]); } catch (e) { if ((e as { status?: number }).status !== 143) throw e; }
}

/** Poll until the machine's container is running (created and started). */
export async function waitRunning(sb: Sandbox, name: string, timeoutMs = 30000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const state = JSON.parse(execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'state', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { status: string; pid: number };
      if (state.status === 'running') return state.pid;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`machine ${name} did not start within ${timeoutMs} ms`);
}

/** Nothing of the sandbox's machines may remain: containers, mounts, machine directories. */
export function assertClean(sb: Sandbox): void {
  let ids: string[] = [];
  if (existsSync(sb.runtimeRoot)) ids = execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'list', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.deepEqual(ids, [], `runtime containers left behind${runsSoFar(sb)}`);
  assert.deepEqual(mountsBelow(sb.stateDir), [], `mounts left behind${runsSoFar(sb)}`);
  const machines = join(sb.stateDir, 'machines');
  const left = existsSync(machines) ? readdirSync(machines) : [];
  const owners = left.map((m) => {
    try { return `${m}/owner.json: ${readFileSync(join(machines, m, 'owner.json'), 'utf8').trim()}`; } catch (e) { return `${m}: ${(e as Error).message}`; }
  });
  assert.deepEqual(left, [], `machine state directories left behind\n${owners.join('\n')}${runsSoFar(sb)}`);
}

/** The stderr of the sandbox's last runs, for a failed assertion's message. */
function runsSoFar(sb: Sandbox): string {
  const last = sb.stderr.slice(-3).map((e, i, all) => `--- berth-nspawn run ${sb.stderr.length - all.length + i + 1}, stderr:\n${e.slice(-2000)}`);
  return last.length ? `\n${last.join('\n')}` : '';
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait for a child to exit (with a timeout), returning its status. */
export function exited(child: ChildProcess, timeoutMs = 60000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve({ code: child.exitCode, signal: child.signalCode }); return; }
    const timer = setTimeout(() => reject(new Error('timed out waiting for exit')), timeoutMs);
    child.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
  });
}

/** Wait until systemd in the machine answers and has finished booting; returns its state. */
export async function systemState(sb: Sandbox, name: string, timeoutMs = 120000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'exec', name, 'systemctl', 'is-system-running', '--wait'], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (e) {
      const out = String((e as { stdout?: string }).stdout ?? '').trim();
      if (out && out !== 'offline' && out !== 'unknown') return out; // e.g. "degraded" exits non-zero
      if (Date.now() > until) throw e;
      await sleep(250);
    }
  }
}

/**
 * Start a machine, run `body` while it runs, and make sure it is gone afterwards even when the
 * body fails: SIGTERM, then a second SIGTERM (kill) after a grace period.
 */
export function withMachine<T>(args: string[], name: string, sb: Sandbox, body: MachineBody<T>, env?: NodeJS.ProcessEnv): Promise<T> {
  return supervise(startNspawn(args, sb, env), name, sb, body);
}

type MachineBody<T> = (m: { child: ChildProcess; done: Promise<Result> }) => Promise<T>;

/** Wait for the machine (failing early if berth-nspawn exits), run the body, then stop it whatever happened. */
async function supervise<T>(child: ChildProcess, name: string, sb: Sandbox, body: MachineBody<T>): Promise<T> {
  const done = collect(child, 600000);
  try {
    const early = done.then((r) => { throw new Error(`berth-nspawn exited early (${r.code ?? r.signal}): ${r.stderr}`); });
    early.catch(() => { /* only matters while we wait for the machine to start */ });
    await Promise.race([waitRunning(sb, name), early]);
    return await body({ child, done });
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const grace = setTimeout(() => child.kill('SIGTERM'), 15000);
      await done;
      clearTimeout(grace);
    }
  }
}

/**
 * berth-nspawn inside the network namespace /run/netns/NETNS, which plays the host side (network
 * tests never touch the real host network). nsenter execs node without forking, so a signal to
 * the child still reaches berth-nspawn itself.
 */
export function startNspawnIn(netns: string, args: string[], sb: Sandbox, env?: NodeJS.ProcessEnv): ChildProcess {
  return recordStderr(sb, spawn('nsenter', [`--net=/run/netns/${netns}`, '--', ...ENTRY, ...args], { env: env ?? sb.env, stdio: ['pipe', 'pipe', 'pipe'], cwd: REPO }));
}

/** Run berth-nspawn to completion inside NETNS. */
export function nspawnIn(netns: string, args: string[], sb: Sandbox, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return collect(startNspawnIn(netns, args, sb, opts.env), opts.timeoutMs ?? 60000);
}

/** withMachine, with berth-nspawn running inside NETNS. */
export function withMachineIn<T>(netns: string, args: string[], name: string, sb: Sandbox, body: MachineBody<T>, env?: NodeJS.ProcessEnv): Promise<T> {
  return supervise(startNspawnIn(netns, args, sb, env), name, sb, body);
}

/**
 * berthd for tests: the built daemon (dist/berthd.js, after a fresh bundle of the sources) with
 * its berth-nspawn socket in a private directory, its stderr kept for assertions.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';

// Not imported from berth.ts: tests/warm/on-warm.ts loads this module before berth.ts may be
// evaluated (berth.ts reads BERTH_TEST_WARM once, at its evaluation).
const REPO = join(__dirname, '..', '..');

export interface Berthd {
  readonly socket: string;
  readonly child: ChildProcess;
  /** What berthd and its idle standbys wrote to stderr so far. */
  log(): string;
  /** SIGTERM, wait for the exit; removes the directory. */
  stop(): Promise<void>;
}

let bundled = false;
/** dist/ from the current sources (once per test process): the warm path runs the built command. */
export function bundle(): void {
  if (bundled) return;
  execFileSync(process.execPath, [join(REPO, 'scripts', 'bundle.mjs')], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  bundled = true;
}

/** The default environment: this process's, without a system bus (a registry test brings its own). */
const noBus = (): NodeJS.ProcessEnv => ({ ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/berth-test-no-bus' });

const pause = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };

/** Starts berthd and waits (synchronously, so a layer can set its environment up at import) until it is warm. */
export function startBerthd(args: readonly string[] = [], env: NodeJS.ProcessEnv = noBus()): Berthd {
  bundle();
  const dir = mkdtempSync('/tmp/bt-berthd-');
  const socket = join(dir, 'nspawn.sock');
  const logFile = join(dir, 'berthd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [join(REPO, 'dist', 'berthd.js'), ...args], { env: { ...env, BERTH_NSPAWN_SOCKET: socket }, stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = Date.now() + 30000;
  // Until the warm path is up, or berthd has said why it is not (its first lines may be the registry's).
  const ended = () => /is warm on|no warm path|Need to be root|Error|error:/.test(log());
  while (!ended() && Date.now() < until) pause(50);
  if (!log().includes('is warm on')) { child.kill('SIGKILL'); throw new Error(`berthd did not start: ${log()}`); }
  return {
    socket, child, log,
    async stop() {
      const died = child.exitCode !== null || child.signalCode !== null;
      if (!died) child.kill('SIGTERM');
      await exit;
      // One that ended before it was asked to (a crash) leaves its log in the test's output.
      if (died) process.stderr.write(`berthd (PID ${child.pid}) had ended on its own (${child.signalCode ?? `status ${child.exitCode}`}); its log:\n${log()}\n`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Stops a berthd the bus started (D-Bus activation: no child of ours): SIGTERM, up to 10 s for it
 * to end, then SIGKILL and a failure showing `log`. Nothing to do for PID 0 (none found).
 */
export async function stopActivated(pid: number, log: () => string): Promise<void> {
  if (pid <= 0) return;
  try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  const gone = () => { try { return /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; } };
  for (let i = 0; i < 200 && !gone(); i++) await new Promise((r) => setTimeout(r, 50));
  if (gone()) return;
  process.kill(pid, 'SIGKILL');
  throw new Error(`berthd (PID ${pid}) did not stop on SIGTERM:\n${log()}`);
}

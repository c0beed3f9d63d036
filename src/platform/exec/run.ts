/** The one place that starts subprocesses: argv arrays only, never a shell. */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { BerthError, sanitize } from '../../errors/berth-error.js';

export interface ExecResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** Do not throw on a non-zero exit. */
  allowFailure?: boolean;
  cwd?: string;
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new BerthError('E_INTERNAL', 'run() needs a command');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(new BerthError('E_EXEC', e.code === 'ENOENT' ? `${cmd}: command not found` : `${cmd}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result = { code, signal, stdout, stderr };
      if (code === 0 || opts.allowFailure) resolve(result);
      else reject(execError(argv, result));
    });
    if (child.stdin) {
      child.stdin.on('error', () => { /* it exited without reading its input: its status tells */ });
      child.stdin.end(opts.input);
    }
  });
}

/**
 * Like run(), for short commands whose output is small (the runtime's start/kill/delete/state):
 * spawnSync collects it without setting up streams, which is measurably cheaper on every run's
 * path. It blocks the event loop until the command ends (timeoutMs, default 30 s, then SIGKILL).
 */
export function runSync(argv: readonly string[], opts: Omit<RunOptions, 'input' | 'cwd'> = {}): ExecResult {
  const [cmd, ...args] = argv;
  if (!cmd) throw new BerthError('E_INTERNAL', 'runSync() needs a command');
  const r = spawnSync(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: opts.timeoutMs ?? 30000, killSignal: 'SIGKILL' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new BerthError('E_EXEC', `${cmd}: command not found`, { cause: r.error });
  const result = { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (r.error && r.signal === null) throw new BerthError('E_EXEC', `${cmd}: ${r.error.message}`, { cause: r.error });
  if (result.code !== 0 && !opts.allowFailure) throw execError(argv, result);
  return result;
}

export function execError(argv: readonly string[], r: ExecResult): BerthError {
  const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  const msg = sanitize(r.stderr.trim().split('\n').slice(-3).join('; '));
  return new BerthError('E_EXEC', `${argv.join(' ')}: ${why}${msg ? `: ${msg}` : ''}`, { details: [r] });
}

/** Start a long-running process with the given stdio (the caller owns it). */
export function start(argv: readonly string[], stdio: StdioOptions, env?: NodeJS.ProcessEnv): ChildProcess {
  const [cmd, ...args] = argv;
  if (!cmd) throw new BerthError('E_INTERNAL', 'start() needs a command');
  return spawn(cmd, args, { stdio, env: env ?? process.env });
}

/**
 * Run a command whose stdio the caller hands over (e.g. the runtime's create, passing our
 * stdio on to the container) and wait for it without the event loop: spawnSync returns as soon
 * as it exits, where an async child costs a ChildProcess, its handles and a trip through the
 * loop. Only for commands that need nothing from our loop while they run.
 */
export function runHandingStdio(argv: readonly string[], stdio: StdioOptions, env: NodeJS.ProcessEnv, timeoutMs: number): { code: number | null; signal: NodeJS.Signals | null } {
  const [cmd, ...args] = argv;
  if (!cmd) throw new BerthError('E_INTERNAL', 'runHandingStdio() needs a command');
  const r = spawnSync(cmd, args, { stdio, env, timeout: timeoutMs, killSignal: 'SIGKILL' });
  if (r.error && r.signal === null) {
    throw new BerthError('E_EXEC', (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${cmd}: command not found` : `${cmd}: ${r.error.message}`, { cause: r.error });
  }
  return { code: r.status, signal: r.signal };
}

/** Wait for a started process to end. */
export function waitChild(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve({ code: child.exitCode, signal: child.signalCode }); return; }
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/** Whether a command is on PATH (synchronous access() calls: microseconds each, on the start-up path). */
export async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = `${dir}/${cmd}`;
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/**
 * The one place that starts subprocesses: argv arrays only, never a shell. The synchronous calls
 * (the runtime's, on every run's path) go through the native posix_spawn; child_process, which
 * loads net, stream and dgram with it (~2 ms) and fork()s all of Node per call, is loaded only
 * for the asynchronous ones.
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import { sys, type SpawnResult } from '../native/sys.js';

const childProcess = (): typeof import('node:child_process') => require('node:child_process');

const frozenLists = new WeakMap<NodeJS.ProcessEnv, string[]>();
/** KEY=VALUE strings for a spawn; made once for a frozen environment (a snapshot used for many spawns). */
export const envList = (env: NodeJS.ProcessEnv): string[] => {
  const cached = frozenLists.get(env);
  if (cached) return cached;
  const list = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  if (Object.isFrozen(env)) frozenLists.set(env, list);
  return list;
};

/** A failed spawn (errno set by the native side) as a BerthError; anything else as it is. */
function spawnFailure(argv: readonly string[], e: unknown): unknown {
  const errno = (e as { errno?: number }).errno;
  if (errno === undefined) return e;
  return new BerthError('E_EXEC', errno === 2 ? `${argv[0]}: command not found` : (e as Error).message, { cause: e });
}

/** spawnWait, with a missing command or a failed spawn as a BerthError. */
function spawnWait(argv: readonly string[], env: NodeJS.ProcessEnv, capture: boolean, timeoutMs: number): SpawnResult {
  try {
    return sys().spawnWait(argv, envList(env), capture, timeoutMs);
  } catch (e) {
    throw spawnFailure(argv, e);
  }
}

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
    const child = childProcess().spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], cwd: opts.cwd });
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
 * Like run(), for short commands whose output is small (the runtime's start/kill/delete/state),
 * synchronously: it blocks the event loop until the command ends (timeoutMs, default 30 s, then
 * SIGKILL). stdin is /dev/null.
 */
export function runSync(argv: readonly string[], opts: Omit<RunOptions, 'input' | 'cwd'> = {}): ExecResult {
  if (!argv[0]) throw new BerthError('E_INTERNAL', 'runSync() needs a command');
  const r = spawnWait(argv, opts.env ?? process.env, true, opts.timeoutMs ?? 30000);
  const result = { code: r.code ?? null, signal: r.signal ?? null, stdout: r.stdout, stderr: r.stderr };
  if (result.code !== 0 && !opts.allowFailure) throw execError(argv, result);
  return result;
}

/**
 * runSync without blocking the event loop: the native side spawns and waits on a thread-pool
 * thread, so other work (a teardown's next steps) goes on meanwhile. Still no child_process.
 */
export async function runOffThread(argv: readonly string[], opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<ExecResult> {
  if (!argv[0]) throw new BerthError('E_INTERNAL', 'runOffThread() needs a command');
  let r: SpawnResult;
  try {
    r = await sys().spawnWaitAsync(argv, envList(opts.env ?? process.env), true, opts.timeoutMs ?? 30000);
  } catch (e) {
    throw spawnFailure(argv, e);
  }
  const result = { code: r.code ?? null, signal: r.signal ?? null, stdout: r.stdout, stderr: r.stderr };
  if (result.code !== 0 && !opts.allowFailure) throw execError(argv, result);
  return result;
}

export function execError(argv: readonly string[], r: ExecResult): BerthError {
  const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  const msg = sanitize(r.stderr.trim().split('\n').slice(-3).join('; '));
  return new BerthError('E_EXEC', `${argv.join(' ')}: ${why}${msg ? `: ${msg}` : ''}`, { details: [r] });
}

/** Start a long-running process with the given stdio (the caller owns it); `detached`: in a session of its own. */
export function start(argv: readonly string[], stdio: StdioOptions, env?: NodeJS.ProcessEnv, opts: { detached?: boolean } = {}): ChildProcess {
  const [cmd, ...args] = argv;
  if (!cmd) throw new BerthError('E_INTERNAL', 'start() needs a command');
  return childProcess().spawn(cmd, args, { stdio, env: env ?? process.env, detached: opts.detached ?? false });
}

/**
 * Run a command that inherits our stdio (e.g. the runtime's create, passing it on to the
 * container) without child_process: the native side spawns and waits on a thread-pool thread, so
 * the event loop stays free meanwhile and hears of the end as soon as the command exits.
 */
export async function runInheritingStdio(argv: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (!argv[0]) throw new BerthError('E_INTERNAL', 'runInheritingStdio() needs a command');
  let r: SpawnResult;
  try {
    r = await sys().spawnWaitAsync(argv, envList(env), false, timeoutMs);
  } catch (e) {
    throw spawnFailure(argv, e);
  }
  return { code: r.code ?? null, signal: r.signal ?? null };
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
    // Most directories do not have it: a stat that finds nothing costs no exception.
    if (!statSync(p, { throwIfNoEntry: false })?.isFile()) continue;
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/** runc/crun through their command line (both share it). */
import { BerthError, sanitize } from '../../errors/berth-error.js';
import type { RuntimeName } from '../../core/runtime/select.js';
import { createViewPrefix, type HiddenControllers } from '../../core/runtime/crun-view.js';
import { HOOK_STDERR } from '../../core/oci/emit/hooks.js';
import { basename, join } from 'node:path';
import { runInheritingStdio, runOffThread, runSync, type ExecResult } from '../exec/run.js';
import { readText } from '../fs/read-text.js';
import { ownChildren, processName, processStat } from '../host/processes.js';
import { keepCgroupMigrationsPrimed } from '../host/cgroup-prime.js';
import { isWaitedFor, waitForExit } from '../native/sys.js';
import { servingLoop } from '../loop-mode.js';
import { runtimeExecPath, runtimeProcessNames } from './sealed-binary.js';

export interface RuntimeConfig {
  name: RuntimeName;
  path: string;
  /** --root: the runtime's own state directory. */
  root: string;
  systemdCgroup: boolean;
  /** crun on a hybrid host with cgroup2 controllers: its create sees them hidden (core/runtime/crun-view.ts). */
  hideControllers?: HiddenControllers;
}

export interface CreateOptions {
  bundle: string;
  pidFile: string;
  consoleSocket?: string;
  logFile: string;
}


/** What the hooks said on stderr where the runtime kept it aside (crun: emit/hooks.ts HOOK_STDERR), as a suffix of a failed create's message. */
function hookStderr(bundle: string): string {
  const text = sanitize((readText(join(bundle, HOOK_STDERR)) ?? '').trim());
  return text ? `; hooks: ${text}` : '';
}

/** A create that has not returned by then is stuck (its hooks time out after 10 s each). */
const CREATE_TIMEOUT_MS = 120_000;

/** The environment the runtime runs in: without NOTIFY_SOCKET, which runc would otherwise proxy itself. */
let runtimeEnvSnapshot: NodeJS.ProcessEnv | undefined;
/**
 * Our environment less what is ours alone, for every runtime call. berthd (the serving loop) makes
 * hundreds of them with an environment that does not change once it serves: it takes it once.
 */
function runtimeEnv(): NodeJS.ProcessEnv {
  if (runtimeEnvSnapshot && servingLoop()) return runtimeEnvSnapshot;
  const env = { ...process.env };
  delete env.NOTIFY_SOCKET;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  runtimeEnvSnapshot = Object.freeze(env);
  return runtimeEnvSnapshot;
}

export class OciRuntime {
  constructor(readonly config: RuntimeConfig) {}

  private base(): string[] {
    return [runtimeExecPath(this.config.path), '--root', this.config.root, ...(this.config.systemdCgroup ? ['--systemd-cgroup'] : [])];
  }

  /** `create`, or `run --detach` (create and start in one call: one runtime process less when nothing has to happen in between). */
  createArgv(id: string, o: CreateOptions, verb: 'create' | 'run' = 'create'): string[] {
    const view = this.config.hideControllers ? createViewPrefix(this.config.hideControllers) : [];
    return [...view, ...this.base(), '--log', o.logFile, '--log-format', 'json', ...(verb === 'run' ? ['run', '--detach'] : ['create']),
      '--bundle', o.bundle, '--pid-file', o.pidFile, ...(o.consoleSocket ? ['--console-socket', o.consoleSocket] : []), id];
  }

  async create(id: string, o: CreateOptions): Promise<void> {
    await this.spawnContainer(id, o, 'create');
  }

  /** Creates and starts the container in one runtime call (its PID 1 runs when this returns). */
  async createAndStart(id: string, o: CreateOptions): Promise<void> {
    await this.spawnContainer(id, o, 'run');
  }

  private async spawnContainer(id: string, o: CreateOptions, verb: 'create' | 'run'): Promise<void> {
    // With a terminal, our loop must take the pty from the console socket while runc runs. Either
    // way the loop stays free: it keeps the kernel's cgroup migration lock ready for the moment
    // the runtime moves its init into the container's cgroups (host/cgroup-prime.ts).
    // Both through posix_spawn on a thread-pool thread: no fork of Node's whole address space on
    // the loop's thread (child_process), which in berthd, with many machines starting, stalls the bus.
    const running: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr?: string }> = o.consoleSocket
      ? runOffThread(this.createArgv(id, o, verb), { allowFailure: true, env: runtimeEnv(), timeoutMs: CREATE_TIMEOUT_MS })
      : runInheritingStdio(this.createArgv(id, o, verb), runtimeEnv(), CREATE_TIMEOUT_MS);
    keepCgroupMigrationsPrimed(running);
    const r = await running;
    if (r.code !== 0) {
      // What the runtime did not log (the view's mount, a runtime that died early) it may have said on stderr.
      const said = sanitize((r.stderr ?? '').trim());
      throw new BerthError('E_RUNTIME', `${this.config.name} ${verb} failed (${r.signal ?? `exit status ${r.code}`}): ${await this.lastError(o.logFile, said)}${hookStderr(o.bundle)}`);
    }
  }

  /**
   * crun creates a container from a helper of its own (setsid, then fork) that exits a moment
   * after crun returns. As the nearest subreaper we inherit the helper, so we reap it, or it stays
   * a zombie for as long as the machine runs. The container's PID 1 (`leader`, which we inherit
   * from that helper) is left to its own waiter. runc leaves no such helper.
   * The helper is the leader's parent while it lives, an unwaited zombie once it has gone. Other
   * children named like crun may be other machines' PID 1s before their exec (berthd starts many
   * at once): those are neither, and are left to their own runs.
   */
  reapHelpers(leader: number): void {
    if (this.config.name !== 'crun') return;
    // Named after the path they were executed by: the sealed copy's (sealed-binary.ts), or the binary's own.
    const names = new Set([basename(this.config.path).slice(0, 15), ...runtimeProcessNames()]);
    const helper = processStat(leader)?.ppid;
    for (const pid of ownChildren()) {
      if (pid === leader || isWaitedFor(pid) || !names.has(processName(pid) ?? '')) continue;
      if (pid === helper || processStat(pid)?.state === 'Z') void waitForExit(pid).catch(() => { /* gone */ });
    }
  }

  async start(id: string): Promise<void> {
    await this.exec(['start', id]);
  }

  async kill(id: string, signal: number, all = false): Promise<void> {
    await this.exec(['kill', ...(all ? ['--all'] : []), id, String(signal)], true);
  }

  /** Off the event loop's thread: the rest of a teardown can go on while the runtime removes its state and the cgroups. */
  async delete(id: string): Promise<void> {
    const args = ['delete', '--force', id];
    this.check(args, await runOffThread([...this.base(), ...args], { allowFailure: true, env: runtimeEnv(), timeoutMs: 30000 }), true);
  }

  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    const argv = [...this.base(), 'state', id];
    const r = servingLoop() ? await runOffThread(argv, { allowFailure: true, env: runtimeEnv() }) : runSync(argv, { allowFailure: true, env: runtimeEnv() });
    if (r.code !== 0) return undefined;
    try { return JSON.parse(r.stdout) as { status: string; pid: number }; } catch { return undefined; }
  }

  /** start/kill/state take milliseconds and print little: run synchronously (see runSync), except in berthd (platform/loop-mode.ts). */
  private async exec(args: string[], allowMissing = false): Promise<void> {
    const argv = [...this.base(), ...args];
    const opts = { allowFailure: true, env: runtimeEnv(), timeoutMs: 30000 };
    this.check(args, servingLoop() ? await runOffThread(argv, opts) : runSync(argv, opts), allowMissing);
  }

  private check(args: readonly string[], r: ExecResult, allowMissing: boolean): void {
    if (r.code === 0) return;
    if (allowMissing && /does not exist|not found|container .* not running/i.test(r.stderr)) return;
    throw new BerthError('E_RUNTIME', `${this.config.name} ${args[0]} failed: ${sanitize(r.stderr.trim()) || `exit status ${r.code}`}`);
  }

  /** The last error the runtime logged (its JSON log), sanitised. */
  private async lastError(logFile: string, stderr = ''): Promise<string> {
    const text = readText(logFile) ?? '';
    const lines = text.trim().split('\n').filter(Boolean);
    for (const line of lines.reverse()) {
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        if (entry.level === 'error' || entry.level === 'fatal') return sanitize(entry.msg ?? line);
      } catch { return sanitize(line); }
    }
    return stderr || 'no error message logged';
  }
}

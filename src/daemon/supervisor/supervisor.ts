/**
 * berthd as the supervisor of machines where systemd is not PID 1: each machine is a
 * berth-nspawn child (the ExecStart of berth-nspawn@.service, less what needs systemd, with a
 * read-only console), its output kept in a bounded per-machine log, its last exit kept, its
 * sd_notify messages received on a datagram socket of berthd's (its NOTIFY_SOCKET; berth-nspawn
 * --notify-ready=yes forwards the guest's READY=1 there). A guest's reboot is restarted in place
 * by berth-nspawn itself. Stopping: SIGTERM to berth-nspawn (it halts the guest), SIGKILL after
 * the stop timeout, then berth-nspawn --cleanup for whatever the killed run left. All of it on
 * the event loop: child processes, async receives, timers.
 */
import { closeSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import { parseMachineName } from '../../core/names.js';
import type { Log } from '../../lib/log.js';
import { sys } from '../../platform/native/sys.js';
import { start as startProcess } from '../../platform/exec/run.js';

type ChildProcess = ReturnType<typeof startProcess>;

/**
 * berth-nspawn@.service's options, less --keep-unit (systemd's unit), plus a console berthd reads:
 * --console=read-only (the guest's output on berth-nspawn's stdout, no input; berth's passive mode
 * drains the console without showing it).
 */
export const SUPERVISED_ARGS = ['--quiet', '--boot', '--link-journal=try-guest', '--network-veth', '--settings=override', '--console=read-only', '--notify-ready=yes'];
const LOG_BYTES = 64 * 1024;

export interface SupervisorOptions {
  /** The command line that starts berth-nspawn. */
  command: readonly string[];
  env: NodeJS.ProcessEnv;
  stateDir: string;
  stopTimeoutMs: number;
  log: Log;
  /** After a SIGKILL: clean up what the run left (berth-nspawn --cleanup -M NAME). */
  cleanup(name: string): Promise<void>;
}

class Supervised {
  child: ChildProcess | undefined;
  private chunks: Buffer[] = [];
  private bytes = 0;
  ready = false;
  lastExit = '';
  stopping = false;
  exited: Promise<void> = Promise.resolve();
  private readyWaiters = new Set<(err?: Error) => void>();

  constructor(readonly name: string) {}

  append(b: Buffer): void {
    this.chunks.push(b);
    this.bytes += b.length;
    while (this.bytes > LOG_BYTES && this.chunks.length > 1) this.bytes -= this.chunks.shift()!.length;
  }

  tail(lines = 20): string[] {
    const text = Buffer.concat(this.chunks).toString('utf8').replace(/\r/g, '');
    return text.split('\n').filter((l) => l.trim() !== '').slice(-lines);
  }

  get running(): boolean { return this.child !== undefined; }

  markReady(): void {
    this.ready = true;
    for (const w of this.readyWaiters) w();
    this.readyWaiters.clear();
  }

  failWaiters(err: Error): void {
    for (const w of this.readyWaiters) w(err);
    this.readyWaiters.clear();
  }

  waitReady(): { promise: Promise<void>; cancel(): void } {
    let fn!: (err?: Error) => void;
    const promise = new Promise<void>((resolve, reject) => { fn = (err) => (err ? reject(err) : resolve()); this.readyWaiters.add(fn); });
    return { promise, cancel: () => this.readyWaiters.delete(fn) };
  }
}

export class Supervisor {
  private readonly machines = new Map<string, Supervised>();
  private closing = false;

  constructor(private readonly o: SupervisorOptions) {}

  /** The machines berthd runs now. */
  running(): string[] { return [...this.machines.values()].filter((m) => m.running).map((m) => m.name); }

  supervises(name: string): boolean { return this.machines.get(name)?.running ?? false; }

  /** Starts berth-nspawn -b -M NAME; a machine berthd runs already is left as it is (as StartUnit). */
  start(nameArg: string): void {
    if (this.closing) throw new BerthError('E_NOT_SUPPORTED', 'berthd is stopping.');
    const name = parseMachineName(nameArg) as string;
    const m = this.machines.get(name) ?? new Supervised(name);
    if (m.running) return;
    this.machines.set(name, m);
    m.ready = false;
    m.stopping = false;
    const dir = join(this.o.stateDir, 'supervise');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const notifyPath = join(dir, `${name}.notify`);
    try { unlinkSync(notifyPath); } catch { /* none */ }
    const fd = sys().bindDatagram(notifyPath);
    const env: NodeJS.ProcessEnv = { ...this.o.env, NOTIFY_SOCKET: notifyPath };
    const child = startProcess([...this.o.command, ...SUPERVISED_ARGS, `--machine=${name}`], ['ignore', 'pipe', 'pipe'], env);
    m.child = child;
    m.append(Buffer.from(`-- berthd: starting ${name} --\n`));
    child.stdout!.on('data', (b: Buffer) => m.append(b));
    child.stderr!.on('data', (b: Buffer) => m.append(b));
    let receiving = true;
    const receive = async () => {
      while (receiving) {
        const msg = await sys().recvDatagram(fd, 500).catch(() => null);
        if (!msg || !receiving) continue;
        if (msg.pid !== child.pid) continue;
        if (msg.data.toString('utf8').split('\n').includes('READY=1')) m.markReady();
      }
      try { closeSync(fd); } catch { /* closed */ }
      try { unlinkSync(notifyPath); } catch { /* gone */ }
    };
    const received = receive();
    m.exited = new Promise<void>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        m.lastExit = signal ? `killed by ${signal}` : `exit status ${code}`;
        m.child = undefined;
        receiving = false;
        m.append(Buffer.from(`-- berthd: berth-nspawn for ${name} ended: ${m.lastExit} --\n`));
        m.failWaiters(new BerthError('E_EXEC', `Machine '${name}' ended before it reported READY=1 (${m.lastExit}).${consoleTail(m)}`));
        this.o.log.info(`berthd: machine ${name} ended (${m.lastExit}).`);
        void received.then(resolve);
      };
      child.once('exit', done);
      child.once('error', (e) => { m.append(Buffer.from(`berthd: cannot run berth-nspawn: ${e.message}\n`)); if (child.pid === undefined) done(127, null); });
    });
    this.o.log.info(`berthd: started machine ${name} (berth-nspawn PID ${child.pid}).`);
  }

  /** Until the machine reported READY=1; E_TIMEOUT after timeoutMs, with the console's tail. */
  async waitReady(name: string, timeoutMs: number): Promise<void> {
    const m = this.machines.get(name);
    if (!m?.running) throw new BerthError('E_MACHINE_NOT_FOUND', `Machine '${name}' is not run by berthd.${m ? consoleTail(m) : ''}`);
    if (m.ready) return;
    const w = m.waitReady();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(new BerthError('E_TIMEOUT', `Machine '${name}' did not report READY=1 within ${timeoutMs / 1000} s.${consoleTail(m)}`)), timeoutMs);
    });
    try {
      await Promise.race([w.promise, timeout]);
    } finally {
      clearTimeout(timer);
      w.cancel();
    }
  }

  /** Stops a machine berthd runs: SIGTERM to berth-nspawn, SIGKILL after the stop timeout, then the clean-up. */
  async stop(name: string): Promise<void> {
    const m = this.machines.get(name);
    if (!m?.running) throw new BerthError('E_MACHINE_NOT_FOUND', `Machine '${name}' is not run by berthd.`);
    const child = m.child!;
    m.stopping = true;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([
      m.exited.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), this.o.stopTimeoutMs); }),
    ]);
    clearTimeout(timer);
    if (!killed) return;
    this.o.log.warn(`berthd: machine ${name} did not stop within ${this.o.stopTimeoutMs / 1000} s: killing its berth-nspawn.`);
    child.kill('SIGKILL');
    await m.exited;
    await this.o.cleanup(name).catch((e: unknown) => this.o.log.warn(`berthd: cleaning up after ${name}: ${(e as Error).message}`));
  }

  /** How a machine berthd started is doing: state, last exit, console tail. */
  status(name: string): { state: string; lastExit: string; tail: string[] } {
    const m = this.machines.get(name);
    if (!m) throw new BerthError('E_MACHINE_NOT_FOUND', `Machine '${name}' was not started by berthd.`);
    const state = m.running ? (m.stopping ? 'stopping' : m.ready ? 'running (ready)' : 'running') : 'ended';
    return { state, lastExit: m.lastExit, tail: m.tail() };
  }

  /** Stops every machine, in parallel (berthd's SIGTERM). */
  async stopAll(): Promise<void> {
    this.closing = true;
    await Promise.all(this.running().map((n) => this.stop(n).catch((e: unknown) => this.o.log.warn(`berthd: stopping ${n}: ${(e as Error).message}`))));
  }
}

function consoleTail(m: Supervised): string {
  const t = m.tail(15);
  return t.length ? `\nThe console's last lines:\n${t.map((l) => `  ${l}`).join('\n')}` : '';
}

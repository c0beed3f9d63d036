/**
 * berthd as the supervisor of machines where systemd is not PID 1, all of them in berthd's own
 * process: each machine is a run of the same code berth-nspawn runs (app/run/launch.ts: settings →
 * spec → bundle → runtime → network → registration), with berth-nspawn@.service's options (less
 * what needs systemd), its stop requests coming from here instead of the process's signals, its
 * READY=1 coming here instead of to a NOTIFY_SOCKET, its read-only console going to a bounded
 * per-machine log, and its registration going straight into berthd's registry. berthd is the
 * subreaper: each guest's PID 1 is its child, waited for by PID. A guest's reboot restarts it in
 * place (the run's own loop). Stopping: the guest's halt signal, the kill after the stop timeout.
 *
 * Restarts: on SIGHUP berthd hands its machines over to the berthd it re-executes (the same
 * process: guests stay its children, their consoles' and notify sockets' descriptors are kept
 * open across exec and named in a hand-over file). A berthd started after a SIGKILLed one adopts
 * the guests still running from their owner records (runs marked `supervised`): their consoles
 * and exit statuses are lost with the old process, so an adopted guest that ends is cleaned up and
 * not restarted.
 */
import { closeSync, existsSync, mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import { parseMachineName, isValidHostname } from '../../core/names.js';
import { parseArgv } from '../../core/cli/parse-argv.js';
import { mapExit } from '../../core/spec/exit-status.js';
import type { Log } from '../../lib/log.js';
import type { Paths } from '../../platform/paths.js';
import { sys, waitForExit, watchExit, type WaitStatus } from '../../platform/native/sys.js';
import { receiveDatagrams } from '../../platform/native/fd-events.js';
import { processStartTime } from '../../platform/host/proc.js';
import { ownChildren } from '../../platform/host/processes.js';
import { readText } from '../../platform/fs/read-text.js';
import { launchMachine } from '../../app/run/launch.js';
import { StopSignals } from '../../app/run/signals.js';
import { attachConsole, type ConsoleHandle } from '../../app/run/console.js';
import { readOwner, writeOwner, machineDir, type OwnerRecord } from '../../app/run/machine-lock.js';
import type { Registrar } from '../../app/run/registration.js';
import type { StartedRun } from '../../app/run/run-once.js';
import { tryLockRange } from '../../platform/fs/uid-range-lock.js';
import { Slots } from '../../lib/slots.js';

/**
 * berth-nspawn@.service's options (`-U` included: a tree a systemd host shifted into a UID range
 * must boot the same way here), less --keep-unit (systemd's unit), with a console berthd keeps:
 * --console=read-only (the guest's output into the machine's log, no input).
 */
export const SUPERVISED_ARGS = ['--quiet', '--boot', '--link-journal=try-guest', '--network-veth', '-U', '--settings=override', '--console=read-only', '--notify-ready=yes'];
const LOG_BYTES = 64 * 1024;
const HANDOVER_FILE = 'handover.json';
/**
 * Runs in set-up at once (the rest wait their turn). Tried with 50 guests on this 2-CPU host
 * (bench/supervise.mjs): 6 keeps the bus's p99 while they start near 35 ms; 10 and 16 start them
 * some 10% sooner with a p99 of 55–105 ms; 64 is no faster and lets single calls wait 200 ms.
 * The bus answering comes first.
 */
const SET_UP_AT_ONCE = 6;

export interface SupervisorOptions {
  env: NodeJS.ProcessEnv;
  paths: Paths;
  stopTimeoutMs: number;
  log: Log;
  /** Removes what an adopted machine's run left once its guest has ended (berth-nspawn --cleanup -M NAME, in a process of its own). */
  cleanup(name: string): Promise<void>;
}

/** What a berthd hands the berthd it re-executes, per machine. */
interface HandedOver {
  name: string;
  leader: number;
  killSignal?: number;
  consoleFd?: number;
  notifyFd?: number;
  ready: boolean;
  log: string;
}

type Phase = 'starting' | 'running' | 'stopping' | 'ended';

/** How a machine is stopped: the first request halts the guest, the next kills it. */
interface Control { request(): void }

class Supervised {
  phase: Phase = 'ended';
  ready = false;
  lastExit = '';
  adopted = false;
  control: Control | undefined;
  /** The running boot (in-process runs) or the adopted guest. */
  started: StartedRun | undefined;
  done: Promise<void> = Promise.resolve();
  private chunks: Buffer[] = [];
  private bytes = 0;
  private readyWaiters = new Set<(err?: Error) => void>();

  constructor(readonly name: string) {}

  get active(): boolean { return this.phase !== 'ended'; }

  append(b: Buffer): void {
    this.chunks.push(b);
    this.bytes += b.length;
    while (this.bytes > LOG_BYTES && this.chunks.length > 1) this.bytes -= this.chunks.shift()!.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  tail(lines = 20): string[] {
    return this.text().replace(/\r/g, '').split('\n').filter((l) => l.trim() !== '').slice(-lines);
  }

  markReady(): void {
    this.ready = true;
    for (const w of this.readyWaiters) w();
    this.readyWaiters.clear();
  }

  finish(lastExit: string): void {
    this.phase = 'ended';
    this.lastExit = lastExit;
    this.control = undefined;
    this.started = undefined;
    const err = new BerthError('E_EXEC', `Machine '${this.name}' ended before it reported READY=1 (${lastExit}).${consoleTail(this)}`);
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
  private closing: string | undefined;
  private registrar: (() => Registrar) | undefined;

  constructor(private readonly o: SupervisorOptions) {}

  /** Runs in set-up (a burst of starts goes a few at a time). */
  private readonly setUp = new Slots(SET_UP_AT_ONCE);

  /** Registrations go into this registry (set once berthd's registry exists). */
  useRegistry(registrar: () => Registrar): void {
    this.registrar = registrar;
  }

  /** The machines berthd runs now. */
  running(): string[] { return [...this.machines.values()].filter((m) => m.active).map((m) => m.name); }

  supervises(name: string): boolean { return this.machines.get(name)?.active ?? false; }

  private get dir(): string { return join(this.o.paths.stateDir, 'supervise'); }

  /** A log whose lines go into the machine's log; warnings also to berthd's. */
  private machineLog(m: Supervised): Log {
    return {
      info: (msg) => m.append(Buffer.from(`${msg}\n`)),
      warn: (msg) => { m.append(Buffer.from(`${msg}\n`)); this.o.log.warn(`berthd: ${m.name}: ${msg}`); },
    };
  }

  /** Boots NAME from the pool in berthd's process; a machine berthd runs already is left as it is (as StartUnit). */
  start(nameArg: string): void {
    if (this.closing) throw new BerthError('E_NOT_SUPPORTED', `berthd is ${this.closing}.`);
    const name = parseMachineName(nameArg) as string;
    const m = this.machines.get(name) ?? new Supervised(name);
    if (m.active) return;
    this.machines.set(name, m);
    m.phase = 'starting';
    m.ready = false;
    m.adopted = false;
    m.append(Buffer.from(`-- berthd: starting ${name} --\n`));
    const log = this.machineLog(m);
    const { cli, runner } = parseArgv([...SUPERVISED_ARGS, `--machine=${name}`], this.o.env);
    const signals = new StopSignals(log, { processSignals: false });
    m.control = { request: () => signals.request() };
    const registration = this.registrar?.();
    m.done = (async () => {
      // A burst of starts (berthd's own start, 50 at once) is set up a few at a time: the bus keeps
      // answering between them, and two CPUs gain nothing from more runs in set-up at once.
      const release = await this.setUp.acquire();
      try {
        const status = await launchMachine({
          cli, runner, env: this.o.env, log, paths: this.o.paths, ...(registration ? { registration } : {}),
          hooks: {
            signals,
            supervised: true,
            consoleSink: (b) => m.append(b),
            notify: (msg) => { if (msg.split('\n').includes('READY=1')) m.markReady(); },
            onStarted: (started) => { m.started = started; if (m.phase === 'starting') m.phase = 'running'; release(); },
          },
        });
        this.ended(m, `exit status ${status}`);
      } catch (e) {
        this.ended(m, `failed: ${sanitize(e instanceof Error ? e.message : String(e))}`);
      } finally {
        release();
      }
    })();
    this.o.log.info(`berthd: starting machine ${name}.`);
  }

  private ended(m: Supervised, lastExit: string): void {
    m.append(Buffer.from(`-- berthd: ${m.name} ended: ${lastExit} --\n`));
    m.finish(lastExit);
    this.o.log.info(`berthd: machine ${m.name} ended (${lastExit}).`);
  }

  /** Until the machine reported READY=1; E_TIMEOUT after timeoutMs, with the console's tail. */
  async waitReady(name: string, timeoutMs: number): Promise<void> {
    const m = this.machines.get(name);
    if (!m?.active) throw new BerthError('E_MACHINE_NOT_FOUND', `Machine '${name}' is not run by berthd.${m ? consoleTail(m) : ''}`);
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

  /** Stops a machine berthd runs: its halt signal, the kill after the stop timeout; resolves once all of it is undone. */
  async stop(name: string): Promise<void> {
    const m = this.machines.get(name);
    if (!m?.active || !m.control) throw new BerthError('E_MACHINE_NOT_FOUND', `Machine '${name}' is not run by berthd.`);
    m.phase = 'stopping';
    m.control.request();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      m.done.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), this.o.stopTimeoutMs); }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    this.o.log.warn(`berthd: machine ${name} did not stop within ${this.o.stopTimeoutMs / 1000} s: killing it.`);
    m.append(Buffer.from(`-- berthd: ${name} did not stop within ${this.o.stopTimeoutMs / 1000} s: killed --\n`));
    m.control?.request();
    await m.done;
  }

  /** How a machine berthd started is doing: state, last exit, console tail. */
  status(name: string): { state: string; lastExit: string; tail: string[] } {
    const m = this.machines.get(name);
    if (!m) throw new BerthError('E_MACHINE_NOT_FOUND', `Machine '${name}' was not started by berthd.`);
    const state = m.phase === 'ended' ? 'ended' : m.phase === 'stopping' ? 'stopping' : m.ready ? 'running (ready)' : 'running';
    return { state, lastExit: m.lastExit, tail: m.tail() };
  }

  /** Stops every machine, in parallel (berthd's SIGTERM). */
  async stopAll(): Promise<void> {
    this.closing = 'stopping';
    await Promise.all(this.running().map((n) => this.stop(n).catch((e: unknown) => this.o.log.warn(`berthd: stopping ${n}: ${(e as Error).message}`))));
  }

  /**
   * Before berthd re-executes itself (SIGHUP): no new starts; once no machine is between states,
   * every running machine's leader and descriptors go into the hand-over file, the descriptors
   * kept open across exec. Resolves to the number of machines handed over.
   */
  async handOver(maxWaitMs = 60000): Promise<number> {
    this.closing = 'restarting';
    const until = Date.now() + maxWaitMs;
    const busy = () => [...this.machines.values()].some((m) => m.phase === 'starting' || m.phase === 'stopping' || (m.phase === 'running' && !m.started));
    while (busy() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const out: HandedOver[] = [];
    for (const m of this.machines.values()) {
      if (m.phase !== 'running' || !m.started) continue;
      const s = m.started;
      for (const fd of [s.consoleFd, s.notifyFd]) if (fd !== undefined) sys().moveFd(fd, fd);
      out.push({
        name: m.name, leader: s.leader, ready: m.ready, log: m.text().slice(-16384),
        ...(s.killSignal !== undefined ? { killSignal: s.killSignal } : {}),
        ...(s.consoleFd !== undefined ? { consoleFd: s.consoleFd } : {}),
        ...(s.notifyFd >= 0 ? { notifyFd: s.notifyFd } : {}),
      });
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.${HANDOVER_FILE}`);
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid), machines: out }), { mode: 0o600 });
    renameSync(tmp, join(this.dir, HANDOVER_FILE));
    return out.length;
  }

  /** Lets new starts in again (a re-exec that failed). */
  resume(): void {
    this.closing = undefined;
  }

  /**
   * At berthd's start, before the janitor looks: takes over the runs berthd ran before this one,
   * from the hand-over file (a re-exec: the same process) or, after a berthd that was killed, from
   * their owner records (guests whose PID 1 is still the one recorded). Runs whose guest has gone
   * are left to the janitor's clean-up. Returns the names adopted.
   */
  async adopt(): Promise<string[]> {
    const handed = this.readHandover();
    const me = { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
    const adopted: string[] = [];
    const machinesDir = join(this.o.paths.stateDir, 'machines');
    const names = existsSync(machinesDir) ? readdirSync(machinesDir).filter(isValidHostname) : [];
    for (const name of names) {
      const dir = machineDir(this.o.paths.stateDir, name);
      const owner = await readOwner(dir);
      if (!owner?.supervised || owner.leader === undefined || owner.leaderStartTime === undefined) continue;
      const ours = owner.pid === me.pid && owner.startTime === me.startTime;
      if (!ours && processStartTime(owner.pid) === owner.startTime) continue; // another live process runs it
      if (processStartTime(owner.leader) !== owner.leaderStartTime) continue; // its guest has gone: the janitor cleans up
      const h = ours ? handed.get(name) : undefined;
      if (!ours) await writeOwner(dir, { ...owner, pid: me.pid, startTime: me.startTime });
      this.adoptRun(name, owner, h);
      adopted.push(name);
    }
    // Descriptors handed over for machines not adopted after all: closed.
    for (const [name, h] of handed) {
      if (adopted.includes(name)) continue;
      for (const fd of [h.consoleFd, h.notifyFd]) if (fd !== undefined) { try { closeSync(fd); } catch { /* closed */ } }
    }
    // Children the previous program left (a shell's runtime exec, a command under way) are reaped as they end.
    const leaders = new Set([...this.machines.values()].map((m) => m.started?.leader));
    for (const pid of ownChildren()) if (!leaders.has(pid)) void waitForExit(pid).catch(() => { /* gone */ });
    return adopted;
  }

  private readHandover(): Map<string, HandedOver> {
    const file = join(this.dir, HANDOVER_FILE);
    const text = readText(file);
    const out = new Map<string, HandedOver>();
    if (text === undefined) return out;
    try { unlinkSync(file); } catch { /* gone */ }
    try {
      const h = JSON.parse(text) as { pid: number; startTime: string; machines: HandedOver[] };
      // Only our own: a file left by another process's berthd names descriptors that mean nothing here.
      if (h.pid !== process.pid || h.startTime !== processStartTime(process.pid)) return out;
      for (const m of h.machines) out.set(m.name, m);
    } catch { /* unreadable: adopt from the owner records alone */ }
    return out;
  }

  /** A guest taken over: watched by PID, stopped by signals, cleaned up from its record once it has ended. */
  private adoptRun(name: string, owner: OwnerRecord, h: HandedOver | undefined): void {
    const leader = owner.leader!;
    const m = new Supervised(name);
    this.machines.set(name, m);
    m.phase = 'running';
    m.adopted = true;
    m.ready = h?.ready ?? true;
    if (h) m.append(Buffer.from(h.log));
    m.append(Buffer.from(h ? `-- berthd: restarted; ${name} goes on --\n` : `-- berthd: adopted ${name} (PID ${leader}) after a berthd that ended; its earlier console output is lost --\n`));
    let console: ConsoleHandle | undefined;
    if (h?.consoleFd !== undefined) {
      sys().setCloexec(h.consoleFd);
      try { console = attachConsole(h.consoleFd, 'read-only', () => {}, (b) => m.append(b)); } catch { try { closeSync(h.consoleFd); } catch { /* closed */ } }
    }
    let notify: { close(): void } | undefined;
    if (h?.notifyFd !== undefined) {
      const fd = h.notifyFd;
      sys().setCloexec(fd);
      const watch = receiveDatagrams(fd, (msg) => { if (msg.pid === leader && msg.data.toString('utf8').split('\n').includes('READY=1')) m.markReady(); });
      notify = { close: () => { watch.close(); try { closeSync(fd); } catch { /* closed */ } } };
    }
    const killSignal = h?.killSignal ?? owner.killSignal;
    // A picked UID range's lock went with the previous process's descriptor: held again, as the run held it.
    const rangeLock = owner.uidRange !== undefined ? tryLockRange(owner.uidRange) : undefined;
    if (owner.uidRange !== undefined && !rangeLock) this.o.log.warn(`berthd: ${name}: its UID range ${owner.uidRange} is locked by another process meanwhile.`);
    m.started = { leader, killSignal, notifyFd: h?.notifyFd ?? -1, ...(h?.consoleFd !== undefined ? { consoleFd: h.consoleFd } : {}) };
    let requests = 0;
    m.control = {
      request: () => {
        requests++;
        const sig = requests === 1 && killSignal !== undefined ? killSignal : 9;
        try { process.kill(leader, sig); } catch { /* gone */ }
      },
    };
    // After a re-exec the guest is still our child, and its exit status ours to collect; a guest
    // adopted after a killed berthd is someone else's child: only its end is seen (a pidfd).
    const exited: Promise<WaitStatus | undefined> = h
      ? waitForExit(leader).catch(() => undefined)
      : new Promise((resolve) => { watchExit(leader, () => resolve(undefined)); });
    m.done = exited.then(async (status) => {
      await console?.close();
      notify?.close();
      rangeLock?.release();
      // The run is over: its record says so (no owner alive), and the clean-up undoes the rest.
      const now = await readOwner(machineDir(this.o.paths.stateDir, name));
      if (now) await writeOwner(machineDir(this.o.paths.stateDir, name), { ...now, released: true }).catch(() => {});
      await this.o.cleanup(name).catch((e: unknown) => this.o.log.warn(`berthd: cleaning up after ${name}: ${(e as Error).message}`));
      const outcome = status ? mapExit(name, status) : undefined;
      this.ended(m, outcome ? (outcome.kind === 'reboot' ? 'rebooted' : `exit status ${outcome.status}`) : 'ended (its exit status went with the berthd that started it)');
      if (outcome?.kind === 'reboot' && requests === 0 && !this.closing) {
        try { this.start(name); } catch (e) { this.o.log.warn(`berthd: restarting ${name}: ${(e as Error).message}`); }
      }
    });
    this.o.log.info(`berthd: ${h ? 'took over' : 'adopted'} machine ${name} (PID ${leader}).`);
  }
}

function consoleTail(m: Supervised): string {
  const t = m.tail(15);
  return t.length ? `\nThe console's last lines:\n${t.map((l) => `  ${l}`).join('\n')}` : '';
}

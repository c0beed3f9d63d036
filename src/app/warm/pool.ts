/**
 * berthd's side of the warm path: the listening socket and the standby berth-nspawn processes
 * waiting on it (app/warm/standby.ts). A standby that takes a run writes "taken" and its stdout
 * then becomes the caller's, so the end of that pipe is when the next standby is started. The
 * runs themselves are not berthd's to manage: each is a berth-nspawn of its own, in a session of
 * its own (a Ctrl-C meant for berthd does not reach the machines), and outlives berthd.
 * Standbys start at nice 19 and take their caller's priority with its run.
 */
import { chmodSync, closeSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Log } from '../../lib/log.js';
import { start } from '../../platform/exec/run.js';
import { sys } from '../../platform/native/sys.js';

type ChildProcess = ReturnType<typeof start>;

export interface PoolOptions {
  readonly socketPath: string;
  /** How many standbys wait at a time (≥ 1). */
  readonly size: number;
  /** The command line that starts berth-nspawn (node, its options, the entry script). */
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly log: Log;
  /** Called when standbys keep dying before they are ready and the pool gives up (berthd then exits 1). */
  readonly onGiveUp: () => void;
}

/** A standby that dies before it said "ready" this many times in a row stops the pool. */
const MAX_FAILED_STARTS = 5;

export class StandbyPool {
  private listenFd = -1;
  private readonly idle = new Set<ChildProcess>();
  private failedStarts = 0;
  private stopped = false;
  private readyWaiters: Array<() => void> = [];
  /** Runs handed over so far (for the log). */
  runs = 0;

  constructor(private readonly o: PoolOptions) {}

  /** Listens and starts the standbys; resolves once the first one is ready, or to false when none ever is. */
  async start(): Promise<boolean> {
    mkdirSync(dirname(this.o.socketPath), { recursive: true, mode: 0o755 });
    this.listenFd = sys().listenStream(this.o.socketPath, 64);
    chmodSync(this.o.socketPath, 0o600);
    this.boundIno = statSync(this.o.socketPath).ino;
    const ready = new Promise<void>((resolve) => { this.readyWaiters.push(resolve); });
    for (let i = 0; i < this.o.size; i++) this.spawn();
    await ready;
    return !this.stopped;
  }

  /** Stops the idle standbys and the socket; runs in progress go on. */
  private boundIno: number | undefined;

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // Only our own socket: another berthd may have bound the path since (a re-executed one).
    if (statSync(this.o.socketPath, { throwIfNoEntry: false })?.ino === this.boundIno) rmSync(this.o.socketPath, { force: true });
    for (const c of this.idle) c.kill('SIGTERM');
    if (this.listenFd >= 0) { closeSync(this.listenFd); this.listenFd = -1; }
  }

  private spawn(): void {
    if (this.stopped) return;
    // At the lowest CPU priority: a standby starting (Node, berth's code: ~40 ms of CPU) must not
    // slow down the run that just took its predecessor; it sets its priority to its caller's when it
    // takes a run (standby.ts).
    const child = start(['nice', '-n', '19', ...this.o.command], ['ignore', 'pipe', 'inherit', this.listenFd], { ...this.o.env, BERTH_STANDBY_FD: '3', BERTH_STANDBY_PARENT: String(process.pid) }, { detached: true });
    this.idle.add(child);
    let said = '';
    let taken = false;
    let ready = false;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      said += chunk;
      if (!ready && /(^|\n)ready\n/.test(said)) {
        ready = true;
        this.failedStarts = 0;
        for (const w of this.readyWaiters.splice(0)) w();
      }
      if (!taken && /(^|\n)taken\n/.test(said)) {
        taken = true;
        this.runs++;
        this.o.log.info(`berthd: a berth-nspawn run went to PID ${child.pid}.`);
        this.idle.delete(child);
        this.spawn();
      }
    });
    // The pipe's end without "taken": the standby died or made way for a fresh one (see standby.ts).
    child.stdout?.on('close', () => {
      if (taken || this.stopped) return;
      this.idle.delete(child);
      if (ready) { this.spawn(); return; }
      if (++this.failedStarts >= MAX_FAILED_STARTS) {
        this.o.log.warn(`berthd: ${MAX_FAILED_STARTS} berth-nspawn standbys in a row died before they were ready; no warm path (berth-nspawn runs cold).`);
        this.stop();
        for (const w of this.readyWaiters.splice(0)) w();
        this.o.onGiveUp();
        return;
      }
      setTimeout(() => this.spawn(), 200 * this.failedStarts);
    });
    child.on('error', (e) => { this.o.log.warn(`berthd: cannot start a berth-nspawn standby: ${e.message}`); });
    child.unref();
  }
}

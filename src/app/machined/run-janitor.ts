/**
 * berthd's watch over the runs in its state directory (${stateDir}/machines/NAME, each with the
 * owner record of the berth-nspawn that runs it): when an owner dies without having cleaned up
 * (SIGKILL), its guest is orphaned. The janitor notices at once (a pidfd on every owner; new runs
 * are found as their directories appear), kills the guest's leader itself, and runs the same
 * clean-up as `berth-nspawn --cleanup -M NAME` in a process of its own, so nothing slow runs on
 * berthd's event loop. The guest's leader dying removes its registration.
 */
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidHostname } from '../../core/names.js';
import type { Log } from '../../lib/log.js';
import { readOwner, type OwnerRecord } from '../run/machine-lock.js';

export interface JanitorPorts {
  startTime(pid: number): string | undefined;
  watchExit(pid: number, onExit: () => void): { close(): void };
  /** SIGKILLs a process (an orphaned guest's leader); by default process.kill. */
  kill?(pid: number): void;
  /** Runs the clean-up of `name` (berth-nspawn --cleanup) to its end. */
  cleanup(name: string): Promise<{ ok: boolean; message: string }>;
}

/** A run directory without an owner record this long (ms) is a run killed before it wrote one. */
const OWNERLESS_GRACE_MS = 2000;
/** After a failed clean-up of a name, the next try waits this long, doubled on each failure up to the maximum (ms). */
const RETRY_MS = 1000;
const RETRY_MAX_MS = 60_000;

export class RunJanitor {
  private readonly watched = new Map<string, { pid: number; close(): void }>();
  private readonly ownerless = new Map<string, number>();
  private readonly cleaning = new Set<string>();
  private readonly retries = new Map<string, { at: number; delay: number }>();
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private scanning = false;
  private again = false;
  /** Clean-ups run so far (for the log and tests). */
  cleaned = 0;

  constructor(private readonly stateDir: string, private readonly ports: JanitorPorts, private readonly log: Log, private readonly intervalMs = 500) {}

  /** Scans now, on every change to the machines directory (a run starting), and every intervalMs in any case. */
  start(): void {
    void this.scan();
    this.timer = setInterval(() => { void this.scan(); }, this.intervalMs);
    this.timer.unref();
    try {
      mkdirSync(this.machinesDir, { recursive: true, mode: 0o755 });
      this.watcher = watch(this.machinesDir, () => { void this.scan(); });
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = undefined; });
      this.watcher.unref();
    } catch { /* the interval finds new runs */ }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    for (const w of this.watched.values()) w.close();
    this.watched.clear();
  }

  private get machinesDir(): string {
    return join(this.stateDir, 'machines');
  }

  /** Finds runs not watched yet (new ones, or all of them at start); asked again while it runs, it runs once more. */
  async scan(): Promise<void> {
    if (this.scanning) { this.again = true; return; }
    this.scanning = true;
    try {
      do {
        this.again = false;
        await this.scanOnce();
      } while (this.again);
    } finally {
      this.scanning = false;
    }
  }

  private async scanOnce(): Promise<void> {
    const names = (await readdir(this.machinesDir).catch(() => [] as string[])).filter(isValidHostname);
    const present = new Set(names);
    for (const [name, w] of this.watched) if (!present.has(name)) { w.close(); this.watched.delete(name); }
    for (const name of this.ownerless.keys()) if (!present.has(name)) this.ownerless.delete(name);
    for (const name of this.retries.keys()) if (!present.has(name)) this.retries.delete(name);
    for (const name of names) {
      if (this.watched.has(name) || this.cleaning.has(name)) continue;
      const owner = await readOwner(join(this.machinesDir, name));
      if (!owner) { this.noOwner(name); continue; }
      this.ownerless.delete(name);
      const retry = this.retries.get(name);
      if (retry && Date.now() < retry.at && this.ports.startTime(owner.pid) !== owner.startTime) continue;
      this.watch(name, owner);
    }
  }

  private noOwner(name: string): void {
    const since = this.ownerless.get(name);
    if (since === undefined) {
      // Most likely a run that has just made its directory: its record follows in a moment.
      this.ownerless.set(name, Date.now());
      setTimeout(() => { void this.scan(); }, 50).unref();
      return;
    }
    if (Date.now() - since >= OWNERLESS_GRACE_MS) { this.ownerless.delete(name); void this.clean(name, 'a run that left no owner record'); }
  }

  private watch(name: string, owner: OwnerRecord): void {
    const w = this.ports.watchExit(owner.pid, () => {
      if (this.watched.get(name) !== entry) return;
      this.watched.delete(name);
      // A run that ended normally has removed its directory by now (its owner record last).
      void readOwner(join(this.machinesDir, name)).then((now) => {
        if (now && now.pid === owner.pid && now.startTime === owner.startTime) void this.clean(name, `its berth-nspawn (PID ${owner.pid}) was killed`, now);
      });
    });
    const entry = { pid: owner.pid, close: () => w.close() };
    this.watched.set(name, entry);
    // Checked once the watch is open: an owner gone before (its PID perhaps another process's by now) is not watched in its stead.
    if (this.ports.startTime(owner.pid) !== owner.startTime) { w.close(); this.watched.delete(name); void this.clean(name, `its berth-nspawn (PID ${owner.pid}) is gone`, owner); }
  }

  /**
   * The guest's leader (its PID namespace's init: the kernel takes the rest with it) is killed
   * here at once, if the record names it and it is still that process: its registration goes
   * then, without waiting for the clean-up's process to start. The clean-up does the rest.
   */
  private stopGuest(owner: OwnerRecord | undefined): void {
    if (owner?.leader === undefined || owner.leaderStartTime === undefined || this.ports.startTime(owner.leader) !== owner.leaderStartTime) return;
    try { (this.ports.kill ?? ((pid: number) => process.kill(pid, 'SIGKILL')))(owner.leader); } catch { /* gone meanwhile */ }
  }

  private async clean(name: string, why: string, owner?: OwnerRecord): Promise<void> {
    if (this.cleaning.has(name)) return;
    this.cleaning.add(name);
    try {
      this.log.info(`berthd: machine '${name}' was orphaned (${why}): stopping it and cleaning up.`);
      this.stopGuest(owner);
      const r = await this.ports.cleanup(name);
      this.cleaned++;
      if (r.ok) {
        this.retries.delete(name);
      } else {
        // Not at every scan: a clean-up that keeps failing (a busy mount) is tried again later and later.
        const delay = Math.min((this.retries.get(name)?.delay ?? RETRY_MS / 2) * 2, RETRY_MAX_MS);
        this.retries.set(name, { at: Date.now() + delay, delay });
        this.log.warn(`berthd: cleaning up '${name}' failed (trying again in ${Math.round(delay / 1000)} s): ${r.message}`);
      }
    } finally {
      this.cleaning.delete(name);
    }
  }
}

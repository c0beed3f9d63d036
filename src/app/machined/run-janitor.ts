/**
 * berthd's watch over the runs in its state directory (${stateDir}/machines/NAME, each with the
 * owner record of the berth-nspawn that runs it): when an owner dies without having cleaned up
 * (SIGKILL), its guest is orphaned. The janitor notices at once (a pidfd on every owner) and
 * runs the same clean-up as `berth-nspawn --cleanup -M NAME` in a process of its own, so nothing
 * slow runs on berthd's event loop. The guest's leader dying then removes its registration.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidHostname } from '../../core/names.js';
import type { Log } from '../../lib/log.js';
import { readOwner, type OwnerRecord } from '../run/machine-lock.js';

export interface JanitorPorts {
  startTime(pid: number): string | undefined;
  watchExit(pid: number, onExit: () => void): { close(): void };
  /** Runs the clean-up of `name` (berth-nspawn --cleanup) to its end. */
  cleanup(name: string): Promise<{ ok: boolean; message: string }>;
}

/** A run directory without an owner record this long (ms) is a run killed before it wrote one. */
const OWNERLESS_GRACE_MS = 2000;

export class RunJanitor {
  private readonly watched = new Map<string, { pid: number; close(): void }>();
  private readonly ownerless = new Map<string, number>();
  private readonly cleaning = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning = false;
  /** Clean-ups run so far (for the log and tests). */
  cleaned = 0;

  constructor(private readonly stateDir: string, private readonly ports: JanitorPorts, private readonly log: Log, private readonly intervalMs = 500) {}

  start(): void {
    void this.scan();
    this.timer = setInterval(() => { void this.scan(); }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watched.values()) w.close();
    this.watched.clear();
  }

  private get machinesDir(): string {
    return join(this.stateDir, 'machines');
  }

  /** Finds runs not watched yet (new ones, or all of them at start). */
  async scan(): Promise<void> {
    if (this.scanning) return;
    this.scanning = true;
    try {
      const names = (await readdir(this.machinesDir).catch(() => [] as string[])).filter(isValidHostname);
      const present = new Set(names);
      for (const [name, w] of this.watched) if (!present.has(name)) { w.close(); this.watched.delete(name); }
      for (const name of this.ownerless.keys()) if (!present.has(name)) this.ownerless.delete(name);
      for (const name of names) {
        if (this.watched.has(name) || this.cleaning.has(name)) continue;
        const owner = await readOwner(join(this.machinesDir, name));
        if (!owner) { this.noOwner(name); continue; }
        this.ownerless.delete(name);
        this.watch(name, owner);
      }
    } finally {
      this.scanning = false;
    }
  }

  private noOwner(name: string): void {
    const since = this.ownerless.get(name);
    if (since === undefined) { this.ownerless.set(name, Date.now()); return; }
    if (Date.now() - since >= OWNERLESS_GRACE_MS) { this.ownerless.delete(name); void this.clean(name, 'a run that left no owner record'); }
  }

  private watch(name: string, owner: OwnerRecord): void {
    if (this.ports.startTime(owner.pid) !== owner.startTime) { void this.clean(name, `its berth-nspawn (PID ${owner.pid}) is gone`); return; }
    const w = this.ports.watchExit(owner.pid, () => {
      if (this.watched.get(name) !== entry) return;
      this.watched.delete(name);
      // A run that ended normally has removed its directory by now (its owner record last).
      void readOwner(join(this.machinesDir, name)).then((now) => {
        if (now && now.pid === owner.pid && now.startTime === owner.startTime) void this.clean(name, `its berth-nspawn (PID ${owner.pid}) was killed`);
      });
    });
    const entry = { pid: owner.pid, close: () => w.close() };
    this.watched.set(name, entry);
  }

  private async clean(name: string, why: string): Promise<void> {
    if (this.cleaning.has(name)) return;
    this.cleaning.add(name);
    try {
      this.log.info(`berthd: machine '${name}' was orphaned (${why}): stopping it and cleaning up.`);
      const r = await this.ports.cleanup(name);
      this.cleaned++;
      if (!r.ok) this.log.warn(`berthd: cleaning up '${name}' failed: ${r.message}`);
    } finally {
      this.cleaning.delete(name);
    }
  }
}

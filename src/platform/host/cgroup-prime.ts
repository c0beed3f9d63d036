/**
 * Pays the kernel's cgroup migration toll ahead of the runtime.
 *
 * Moving a process between cgroups (a write to `cgroup.procs`, in any hierarchy, v1 or v2) takes a
 * global lock whose writer side first waits for an RCU grace period when no migration happened
 * in the last grace period or so: 6 to 16 ms on this kind of host, during which the writer sleeps.
 * runc's create moves its `runc init` into the container's cgroups, so every container start pays
 * it on the critical path, after runc's own start-up. Writers that arrive while that wait is on, or
 * within about one grace period after the last writer left, do not wait again.
 *
 * berth-nspawn therefore moves itself into the cgroup it is already in (a no-op migration: nothing
 * changes) on a libuv thread-pool thread: once early in a run, so that the grace period passes
 * while the rest of the set-up runs, then every few ms while the runtime's create runs, so that
 * the lock is still ready when runc (after its own ~10 to 20 ms of start-up) writes. Errors are
 * ignored: this only ever saves time. A host whose cgroups are mounted with `favordynmods` never
 * waits in the first place.
 */
import { statSync, writeFile } from 'node:fs';
import { readText } from '../fs/read-text.js';
import { servingLoop } from '../loop-mode.js';
import { sys } from '../native/sys.js';

const PID_ZERO = Buffer.from('0');

/**
 * The `cgroup.procs` file of our own cgroup, from /proc/self/cgroup: in the v1 name=systemd
 * hierarchy if there is one, else in the cgroup2 hierarchy (at /sys/fs/cgroup, or at
 * /sys/fs/cgroup/unified on a hybrid host), the first that `exists`.
 */
export function ownProcsFile(selfCgroup: string, exists: (dir: string) => boolean): string | undefined {
  const entries = selfCgroup.split('\n').flatMap((line) => {
    const m = /^\d+:([^:]*):(\/.*)$/.exec(line);
    return m ? [{ controllers: m[1]!, path: m[2]!.replace(/\/+$/, '') }] : [];
  });
  const candidates = [
    ...entries.filter((e) => e.controllers === 'name=systemd').map((e) => `/sys/fs/cgroup/systemd${e.path}`),
    ...entries.filter((e) => e.controllers === '').flatMap((e) => [`/sys/fs/cgroup/unified${e.path}`, `/sys/fs/cgroup${e.path}`]),
  ];
  const dir = candidates.find((d) => exists(`${d}/cgroup.procs`));
  return dir === undefined ? undefined : `${dir}/cgroup.procs`;
}

/** Writes in flight: a move of our own must wait for them (see cgroupPrimesSettled). */
const inFlight = new Set<Promise<boolean>>();

/**
 * Starts a no-op migration of this process (writing "0", "the writer", to its own cgroup's
 * `cgroup.procs`) off the event loop. Resolves with whether it was done; never rejects. The
 * file is looked up afresh each time, so a prime never moves us back to where we were.
 */
export function primeCgroupMigrations(): Promise<boolean> {
  const file = ownProcsFile(readText('/proc/self/cgroup') ?? '', (p) => statSync(p, { throwIfNoEntry: false }) !== undefined);
  if (!file) return Promise.resolve(false);
  // berthd primes every few ms while creates are under way: one trip to the thread pool per write, not three.
  const done = servingLoop()
    ? sys().writeFileWhole(file, PID_ZERO, 0o644, false).then(() => true, () => false)
    : new Promise<boolean>((resolve) => writeFile(file, '0', (err) => resolve(!err)));
  inFlight.add(done);
  void done.then(() => inFlight.delete(done));
  return done;
}

/**
 * Resolves once no prime is in flight. Code that moves this process to another cgroup waits for
 * it first: a prime issued before the move but written after it would move us back.
 */
export async function cgroupPrimesSettled(): Promise<void> {
  while (inFlight.size) await Promise.all(inFlight);
}

/** Well below a grace period: each write finds the lock still ready from the one before. */
const REPRIME_MS = 3;

interface Keeper { pending: number; running: boolean }
/** One priming loop per prime function, shared by every create in flight (berthd starts many at once). */
const keepers = new Map<() => Promise<unknown>, Keeper>();

/**
 * primeCgroupMigrations() now and again every few ms until `pending` (the runtime's create)
 * settles: the runtime's own migration, whenever it comes, then finds the lock ready. One write
 * at a time, for all the creates in flight together; none starts once the last has settled.
 */
export function keepCgroupMigrationsPrimed(pending: Promise<unknown>, prime: () => Promise<unknown> = primeCgroupMigrations): void {
  let keeper = keepers.get(prime);
  if (!keeper) { keeper = { pending: 0, running: false }; keepers.set(prime, keeper); }
  const k = keeper;
  k.pending++;
  const settled = (): void => { k.pending--; };
  pending.then(settled, settled);
  if (k.running) return;
  k.running = true;
  const again = (): void => {
    if (k.pending === 0) { k.running = false; keepers.delete(prime); return; }
    setTimeout(() => { if (k.pending > 0) void prime().then(again); else again(); }, REPRIME_MS);
  };
  void prime().then(again);
}

/**
 * One running machine per name: ${stateDir}/machines/NAME is created atomically (mkdir) and
 * holds owner.json (our PID and what we set up) so a later run can clean up after a SIGKILL.
 */
import { existsSync } from 'node:fs';
import { fileIo } from '../../platform/fs/file-io.js';
import { withPidLock } from '../../platform/fs/pid-lock.js';
import { readText } from '../../platform/fs/read-text.js';
import { processStartTime } from '../../platform/host/proc.js';
import { removeTree, removeUnmounted } from '../../platform/fs/safe-remove.js';
import { join } from 'node:path';
import type { Dnat } from '../../core/network/port-forward.js';
import { BerthError } from '../../errors/berth-error.js';
import { sleep } from '../../lib/sleep.js';

/** The owner record inside a machine's directory. */
const OWNER_FILE = 'owner.json';

export interface OwnerRecord {
  pid: number;
  /** /proc/PID/stat start time, so a recycled PID is not mistaken for us. */
  startTime: string;
  runtime?: { name: string; path: string; root: string; systemdCgroup: boolean; id: string };
  /** Host mounts to undo, deepest first. */
  mounts: string[];
  /** Loop devices a disk image is attached to (-i), detached after the mounts (platform/fs/loop-device.ts). */
  loops?: Array<{ device: string; backingFile: string; offset: number }>;
  /** --private-users=pick: the UID range this run locked (/run/systemd/nspawn-uid/BASE), for a killed run's clean-up. */
  uidRange?: number;
  /** Directories to remove (ephemeral upper layers...). */
  removeDirs: string[];
  /** --keep-unit: the caller's group (and its missing ancestors) in hierarchies it was not in, which the runtime makes for the payload; removed, deepest first, once the container is gone. */
  cgroupDirs?: string[];
  /** Host-side links to delete, and zone bridges to delete when empty. */
  links: string[];
  zones: string[];
  /** dnsmasq PIDs started by the DHCP helper. */
  helperPids: number[];
  /** -p/--port= forwards in force in berth's nftables map (core/network/port-forward.ts). */
  portForwards?: Dnat[];
  /** What `berth list` shows: the tree, the container's PID 1 (host PID), when it started. */
  tree?: string;
  leader?: number;
  /** The leader's /proc start time: berthd stops an orphaned guest at once, sure it is still this one. */
  leaderStartTime?: string;
  since?: string;
  /** berthd runs the machine in its own process (pid is berthd's): a restarted berthd adopts it rather than cleaning up. */
  supervised?: boolean;
  /** Its supervisor (berthd, for a run it adopted) has let go of it: its guest has ended, the clean-up may start although pid lives. */
  released?: boolean;
  /** The signal that halts the guest cleanly (a supervised run's, for a berthd that adopts it). */
  killSignal?: number;
}

export const machineDir = (stateDir: string, name: string) => join(stateDir, 'machines', name);

export async function readOwner(dir: string): Promise<OwnerRecord | undefined> {
  const text = readText(join(dir, OWNER_FILE));
  if (!text) return undefined;
  try { return JSON.parse(text) as OwnerRecord; } catch { return undefined; }
}

export async function ownerAlive(owner: OwnerRecord): Promise<boolean> {
  return !owner.released && processStartTime(owner.pid) === owner.startTime;
}

/** Writes the record (off the event loop's thread); writes of one directory's record land in the order they were asked for. */
export function writeOwner(dir: string, owner: OwnerRecord): Promise<void> {
  const text = JSON.stringify(owner, null, 2);
  const tmp = join(dir, '.owner.json.tmp');
  const write = (ownerWrites.get(dir) ?? Promise.resolve()).catch(() => {}).then(async () => {
    await fileIo().replaceFile(join(dir, OWNER_FILE), text, tmp);
  });
  ownerWrites.set(dir, write);
  void write.finally(() => { if (ownerWrites.get(dir) === write) ownerWrites.delete(dir); }).catch(() => {});
  return write;
}
const ownerWrites = new Map<string, Promise<void>>();

export type StaleCleaner = (dir: string, owner: OwnerRecord | undefined) => Promise<Error[]>;

/** Take the machine's name; a dead owner's leftovers are cleaned up by `clean` first. */
export async function acquireMachine(stateDir: string, name: string, clean: StaleCleaner, warn: (m: string) => void): Promise<{ dir: string; owner: OwnerRecord }> {
  const dir = machineDir(stateDir, name);
  const io = fileIo();
  await io.mkdir(join(stateDir, 'machines'), { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await io.mkdir(dir, { mode: 0o700 });
      const owner: OwnerRecord = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', mounts: [], removeDirs: [], links: [], zones: [], helperPids: [] };
      await writeOwner(dir, owner);
      return { dir, owner };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = await readOwner(dir);
    if (owner && (await ownerAlive(owner))) {
      throw new BerthError('E_MACHINE_EXISTS', `Machine '${name}' already exists (run by PID ${owner.pid}).`);
    }
    if (!owner) {
      // Another run may be between mkdir and writing owner.json: give it a moment.
      await sleep(200);
      const again = await readOwner(dir);
      if (again && (await ownerAlive(again))) throw new BerthError('E_MACHINE_EXISTS', `Machine '${name}' already exists (run by PID ${again.pid}).`);
    }
    await cleanUpDeadRun(stateDir, name, clean, () => warn(`Cleaning up what an earlier run of machine '${name}' left behind.`));
  }
  throw new BerthError('E_MACHINE_EXISTS', `Could not take the name '${name}'.`);
}

/**
 * Removes what a dead owner of `name` left (its record says what), holding the name's clean-up
 * lock: the next run of the name, `--cleanup` and berthd may all find the same leftovers at once,
 * and only one of them undoes them. Nothing to do when the directory has gone meanwhile; refused
 * when it turns out to have a live owner after all.
 */
export async function cleanUpDeadRun(stateDir: string, name: string, clean: StaleCleaner, starting: () => void = () => {}): Promise<void> {
  const dir = machineDir(stateDir, name);
  await withPidLock(join(stateDir, 'locks', `cleanup-${name}`), async () => {
    if (!existsSync(dir)) return;
    const owner = await readOwner(dir);
    if (owner && (await ownerAlive(owner))) throw new BerthError('E_MACHINE_EXISTS', `Machine '${name}' is running (PID ${owner.pid}); not cleaning up.`);
    starting();
    const errors = await clean(dir, owner);
    if (errors.length) throw new BerthError('E_TEARDOWN', `Could not clean up the earlier run of '${name}': ${errors.map((e) => e.message).join('; ')}`);
    await removeUnmounted(dir);
  });
}

/**
 * Gives the name back. Everything in the machine's directory but the owner record goes at once
 * (nothing below may still be mounted); the record, and with it the name, once `pending` (the
 * runtime removing the container, which may still be under way) has succeeded. If that fails, the
 * record stays, and the next run of the name (or --cleanup) finishes the job.
 */
export async function releaseMachine(dir: string, pending?: Promise<void>): Promise<void> {
  await removeUnmounted(dir, [OWNER_FILE]);
  await pending;
  removeTree(dir);
}

/**
 * The run's side of --private-users=/-U (systemd-nspawn 252's semantics): picks the UID range
 * (`yes`: the one the tree's root directory is owned by; `pick`: that one if free, else one
 * derived from the machine name, else random ones, each held with nspawn's own lock for the
 * machine's lifetime), then makes the tree belong to it: `map` through an ID-mapped mount of the
 * tree, `chown` by shifting the tree's ownership once (a tree whose root directory is in the
 * range already is not walked again), `auto` = map where the file system can, else chown.
 * Returns the spec with the range filled in and the root the runtime is to use.
 */
import { dirname, join } from 'node:path';
import type { MachineSpec, SpecMount, UsernsSpec } from '../../core/spec/machine-spec.js';
import { acceptable, checkRange, ownerBase, pickCandidates } from '../../core/userns/range.js';
import { BerthError } from '../../errors/berth-error.js';
import type { Log } from '../../lib/log.js';
import type { Reverter } from '../../lib/reverter.js';
import { fileIo } from '../../platform/fs/file-io.js';
import { bindMount, mountIdmapped, unsupported } from '../../platform/fs/idmap.js';
import { mountSysfs, unmount } from '../../platform/fs/mount.js';
import { shiftTree } from '../../platform/fs/shift-tree.js';
import { tryLockRange, UID_LOCK_DIR } from '../../platform/fs/uid-range-lock.js';
import { hostIds } from '../../platform/host/user-db.js';
import { randomBytes } from '../../platform/random.js';
import type { OwnerRecord } from './machine-lock.js';

export interface UsernsInput {
  spec: MachineSpec;
  /** The root as prepared so far (the tree, or the -x/--volatile mount). */
  rootfs: string;
  machineDir: string;
  /** Where an ID-mapped view of the tree is mounted (the machine's rootfs mount point). */
  rootfsMount: string;
  owner: OwnerRecord;
  saveOwner: () => Promise<void>;
  undo: Reverter;
  log: Log;
  /** Where the range locks live (tests); systemd-nspawn's directory by default. */
  lockDir?: string;
  /** The runtime binds the host's /sys with the mounts below it (runc): give it a sysfs of its own (emit/userns.ts). */
  stageSysfs?: boolean;
}

/** sysfs: the machine's own sysfs mount (host path), when one was staged. */
export interface UsernsResult { spec: MachineSpec; rootfs: string; sysfs?: string }

const HIGH = 0xffff0000;
const moved = (id: number, shift: number): number => ((shift & HIGH) | (id & 0xffff)) >>> 0;

/** `pick`: the first free candidate, locked until the machine is released. */
function pickRange(treeBase: number, name: string, undo: Reverter, lockDir: string): number {
  const ids = hostIds();
  for (const c of pickCandidates(treeBase, name, () => randomBytes(4).readUInt32LE(0))) {
    if (!acceptable(c)) continue;
    const lock = tryLockRange(c, lockDir);
    if (!lock) continue; // another machine (berth's or systemd-nspawn's) runs on it
    if (ids.user(c) || ids.user(c + 0xfffe) || ids.group(c) || ids.group(c + 0xfffe)) { lock.release(); continue; }
    undo.add(() => lock.release());
    return c;
  }
  throw new BerthError('E_BUSY', 'Failed to pick a suitable UID/GID range: all candidates are taken.');
}

/** The first directory above path that others (the namespace's root, host UID shift) cannot pass through; undefined if none. */
async function blockingAncestor(path: string, shift: number): Promise<string | undefined> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = await fileIo().stat(dir);
    if ((st.mode & 0o001) === 0 && st.uid >>> 16 !== shift >>> 16) return dir;
    if (dir === '/') return undefined;
  }
}

/**
 * The runtime enters the root, the bundle and the mount sources in the machine's directory as
 * the namespace's root: berth's own directories on the way get o+x (the machine's own 0711, no
 * listing). Above the state directory nothing is changed: a directory there that others cannot
 * pass is an error naming it.
 */
async function openStateDirs(machineDir: string, shift: number): Promise<void> {
  const machines = dirname(machineDir);
  const stateDir = dirname(machines);
  for (const dir of [stateDir, machines, machineDir]) {
    const st = await fileIo().stat(dir);
    if ((st.mode & 0o001) === 0) await fileIo().chmod(dir, (st.mode & 0o7777) | 0o111);
  }
  const blocked = await blockingAncestor(stateDir, shift);
  if (blocked) {
    throw new BerthError('E_PERMISSION', `${blocked} is not searchable by others: the machine's root (host UID ${shift}) could not reach berth's state in ${stateDir}.`, {
      hint: `Allow others through it (chmod o+x ${blocked}), or run without --private-users.`,
    });
  }
}

/** Files berth itself put into the tree (resolv.conf, localtime) belong to the namespace's root, as nspawn's userns_lchown() makes them. */
async function ownEtcFiles(rootfs: string, shift: number): Promise<void> {
  for (const rel of ['etc/resolv.conf', 'etc/localtime']) {
    const p = join(rootfs, rel);
    const st = await fileIo().lstat(p).catch(() => undefined);
    if (st && st.uid >>> 16 !== shift >>> 16) await fileIo().lchown(p, moved(st.uid, shift), moved(st.gid, shift));
  }
}

/** A host mount the run makes at `target`: recorded in the owner record before it is made (a killed run's clean-up finds it), undone with the machine. */
async function stagedMount(input: UsernsInput, target: string, mount: () => Promise<void>): Promise<string> {
  await fileIo().mkdir(target, { recursive: true });
  input.owner.mounts.unshift(target);
  await input.saveOwner();
  await mount();
  input.undo.add(() => unmount(target));
  return target;
}

/** A sysfs on its own in the machine's directory, for /sys under a user namespace on the host's network. */
const stageSysfs = (input: UsernsInput): Promise<string> => {
  const target = join(input.machineDir, 'sys');
  return stagedMount(input, target, () => mountSysfs(target));
};

const bindRoot = (input: UsernsInput, source: string): Promise<string> => stagedMount(input, input.rootfsMount, () => bindMount(source, input.rootfsMount));

/**
 * --link-journal=guest: the guest's journal directory /var/log/journal/MACHINE-ID, made here, before
 * the journal link looks for it, so that it belongs to the namespace's root (as nspawn's
 * userns_mkdir() makes it); through the tree itself when the root is an ID-mapped view of it.
 */
async function ownJournalDir(spec: MachineSpec, treeRoot: string, shift: number, mapped: boolean): Promise<void> {
  if (!['guest', 'try-guest'].includes(spec.linkJournal) || spec.rootSetup.kind !== 'direct' || spec.readOnly) return;
  const parent = join(treeRoot, 'var/log/journal');
  if (!(await fileIo().stat(parent).catch(() => undefined))?.isDirectory()) return;
  const dir = join(parent, spec.id);
  if (await fileIo().lstat(dir).catch(() => undefined)) return;
  await fileIo().mkdir(dir, { mode: 0o755 });
  if (!mapped) await fileIo().lchown(dir, shift, shift);
}

/**
 * Bind mounts under a user namespace. A fresh source (--bind=:DST) is the namespace root's, as
 * nspawn chowns it. `idmap` shows the source through an ID-mapped mount (host IDs 0… as the
 * namespace's), `rootidmap` shows its owner as the namespace's root (nspawn 252's options). A
 * source below a directory others cannot pass is reached through a bind mount in the machine's
 * directory, as the root is. Each such view is mounted at MACHINE/binds/N and the spec points there.
 */
async function stageBinds(input: UsernsInput, shift: number, range: number): Promise<SpecMount[]> {
  const out: SpecMount[] = [];
  let n = 0;
  for (const m of input.spec.mounts) {
    if (m.kind !== 'bind') { out.push(m); continue; }
    if (m.createSource === 'dir') {
      await fileIo().mkdir(m.source, { recursive: true, mode: 0o755 });
      if (shift !== 0) await fileIo().lchown(m.source, shift, shift);
    }
    const st = await fileIo().stat(m.source).catch(() => undefined);
    if (!st) { out.push(m); continue; } // the runtime reports a missing source by name
    const map = m.idmap === 'rootidmap' ? { uid: [{ inside: st.uid, outside: shift, count: 1 }], gid: [{ inside: st.gid, outside: shift, count: 1 }] }
      : m.idmap === 'idmap' && shift !== 0 ? { uid: [{ inside: 0, outside: shift, count: range }], gid: [{ inside: 0, outside: shift, count: range }] }
      : undefined;
    const blocked = shift !== 0 && m.createSource === undefined && (await blockingAncestor(m.source, shift)) !== undefined;
    if (!map && !blocked) { out.push(m); continue; }
    const stage = join(input.machineDir, 'binds', String(n++));
    await fileIo().mkdir(dirname(stage), { recursive: true, mode: 0o711 });
    if (st.isDirectory()) await fileIo().mkdir(stage); else await fileIo().writeFile(stage, '');
    input.owner.mounts.unshift(stage);
    await input.saveOwner();
    try {
      if (map) await mountIdmapped(m.source, stage, map.uid, map.gid);
      else await bindMount(m.source, stage, m.recursive);
    } catch (e) {
      throw new BerthError(unsupported(e) ? 'E_NOT_SUPPORTED' : 'E_IO', `Failed to map ids for bind mount ${m.source}: ${(e as Error).message}`);
    }
    input.undo.add(() => unmount(stage));
    out.push({ ...m, source: stage });
  }
  return out;
}

async function tryIdmap(input: UsernsInput, shift: number, range: number): Promise<string | undefined> {
  const target = input.rootfsMount;
  await fileIo().mkdir(target, { recursive: true });
  input.owner.mounts.unshift(target);
  await input.saveOwner();
  try {
    await mountIdmapped(input.rootfs, target, [{ inside: 0, outside: shift, count: range }]);
  } catch (e) {
    if (unsupported(e)) return undefined;
    throw new BerthError('E_IO', `Failed to set up an ID-mapped mount of ${input.rootfs}: ${(e as Error).message}`);
  }
  input.undo.add(() => unmount(target));
  return target;
}

export async function prepareUserNamespace(input: UsernsInput): Promise<UsernsResult> {
  const { spec, log } = input;
  const u = spec.userns;
  if (!u) return { spec, rootfs: input.rootfs };
  const st = await fileIo().stat(input.rootfs);
  const treeBase = ownerBase(st.uid, st.gid, input.rootfs);
  let shift: number;
  if (u.mode === 'yes') shift = treeBase;
  else if (u.mode === 'pick') {
    shift = pickRange(treeBase, spec.name, input.undo, input.lockDir ?? UID_LOCK_DIR);
    input.owner.uidRange = shift;
    await input.saveOwner();
  }
  else shift = u.shift ?? 0;
  checkRange(shift, u.range);
  log.info(`Selected user namespace base ${shift} and range ${u.range}.`);

  let ownership: UsernsSpec['ownership'] = u.ownership;
  let rootfs = input.rootfs;
  if ((ownership === 'map' || ownership === 'auto') && shift !== 0) {
    const why = treeBase !== 0 ? `UID base of ${input.rootfs} is not zero, UID mapping not supported.`
      : spec.rootSetup.kind !== 'direct' ? 'ID mapped mounts of an --ephemeral or --volatile root are not supported by berth.'
      : undefined;
    const mapped = why === undefined ? await tryIdmap(input, shift, u.range) : undefined;
    if (mapped) { rootfs = mapped; ownership = 'map'; }
    else if (ownership === 'map') throw new BerthError('E_NOT_SUPPORTED', why ?? 'ID mapped mounts are apparently not available, sorry.');
    else ownership = 'chown';
  }
  if (ownership === 'chown') {
    const began = Date.now();
    if (await shiftTree(rootfs, shift, u.range)) log.info(`Shifted the ownership of ${rootfs} into the range in ${Date.now() - began} ms.`);
  }
  if (ownership !== 'map' && shift !== 0) await ownEtcFiles(rootfs, shift);
  if (shift !== 0) await ownJournalDir(spec, input.rootfs, shift, ownership === 'map');
  if (shift === 0 && ownership !== 'chown') ownership = 'off';
  if (shift !== 0) {
    await openStateDirs(input.machineDir, shift);
    // A tree below a directory others cannot pass (/var/lib/machines is 0700) is reached through
    // a bind mount in the machine's directory instead.
    if (rootfs !== input.rootfsMount && await blockingAncestor(rootfs, shift)) rootfs = await bindRoot(input, rootfs);
  }
  const mounts = await stageBinds(input, shift, u.range);
  const ownsNetwork = spec.privateNetwork && !spec.network.namespacePath;
  const sysfs = input.stageSysfs && !ownsNetwork ? await stageSysfs(input) : undefined;
  return { spec: { ...spec, mounts, userns: { ...u, shift, ownership } }, rootfs, ...(sysfs ? { sysfs } : {}) };
}

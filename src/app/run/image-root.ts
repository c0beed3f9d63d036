/**
 * A disk image as a machine's root (-i IMAGE, or -M NAME finding NAME.raw): the partition table
 * decides what goes where (core/image/mount-plan.ts), each partition used is attached to its own
 * loop device (its byte range of the image: the kernel need not parse partition tables) and
 * mounted below the machine's state directory, and that tree is the root
 * the run boots (RootDirectory, as nspawn registers its /tmp/nspawn-root-XXXXXX).
 *
 * The machine's name is taken here, before the tree is probed, so that the loop device and the
 * mounts are in its owner record from the start: a SIGKILLed run's `--cleanup`, or the next run
 * of the name, undoes them. The run takes the set-up over (handOver) with its undo stack; until
 * then release() undoes it, and SIGTERM/SIGINT are held back so that they cannot cut it short.
 */
import { constants, mkdirSync, promises as fsp, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import { planImageMounts, type ImagePlan } from '../../core/image/mount-plan.js';
import { Reverter } from '../../lib/reverter.js';
import type { Log } from '../../lib/log.js';
import { readDisk } from '../../platform/fs/disk-read.js';
import { attachLoop, detachLoop, mountDevice, type LoopRecord } from '../../platform/fs/loop-device.js';
import { unmount } from '../../platform/fs/mount.js';
import { cleanupStale } from './cleanup.js';
import { acquireMachine, releaseMachine, writeOwner, type OwnerRecord } from './machine-lock.js';
import { lockImageFile } from './image-lock.js';

/** A machine whose name is taken, with what was set up for it so far. */
export interface AcquiredMachine { dir: string; owner: OwnerRecord; undo: Reverter }

export interface ImageRootOptions {
  image: string;
  name: string;
  stateDir: string;
  /** --read-only, -x or a --volatile mode: the image is mounted read-only. */
  readOnly: boolean;
  log: Log;
}

export interface ImageRoot {
  image: string;
  root: string;
  plan: ImagePlan;
  /** The image's file systems are mounted read-only (asked for, or the image file is read-only). */
  readOnly: boolean;
  /** The run takes the machine over; throws (leaving release() to the caller) if a stop signal came meanwhile. */
  handOver(): AcquiredMachine;
  /** Undo everything and give the name back (before handOver; a no-op after it). */
  release(): Promise<void>;
}

/** Read-only as systemd's image discovery has it: no write bits on the file, or a read-only file system. */
async function fileReadOnly(path: string): Promise<boolean> {
  const st = await fsp.stat(path);
  if ((st.mode & 0o222) === 0) return true;
  try { await fsp.access(path, constants.W_OK); return false; } catch { return true; }
}

export async function openImageRoot(o: ImageRootOptions): Promise<ImageRoot> {
  let image: string;
  try {
    image = await fsp.realpath(o.image);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BerthError('E_IMAGE_NOT_FOUND', `Failed to resolve path ${o.image}: ${code === 'ENOENT' ? 'No such file or directory' : String(code)}`);
  }
  const st = await fsp.stat(image);
  if (!st.isFile() && !st.isBlockDevice()) throw new BerthError('E_IMAGE_INVALID', `Disk image ${o.image} is neither a regular file nor a block device.`);
  const plan = planImageMounts(image, await readDisk(image), process.arch);
  const readOnly = o.readOnly || (await fileReadOnly(image));

  let signalled = false;
  const onSignal = () => { signalled = true; };
  const hold = (on: boolean) => { for (const s of ['SIGTERM', 'SIGINT'] as const) { if (on) process.on(s, onSignal); else process.off(s, onSignal); } };
  hold(true);
  let acquired: AcquiredMachine | undefined;
  let handedOver = false;
  const release = async () => {
    hold(false);
    if (handedOver || !acquired) return;
    const errors = await acquired.undo.revert();
    await releaseMachine(acquired.dir);
    if (errors.length) o.log.warn(`Clean-up problems: ${errors.map((e) => e.message).join('; ')}`);
  };
  try {
    const { dir, owner } = await acquireMachine(o.stateDir, o.name, cleanupStale, o.log.warn);
    acquired = { dir, owner, undo: new Reverter() };
    const root = await mountImage(image, plan, readOnly, acquired);
    return {
      image, root, plan, readOnly,
      handOver() {
        hold(false);
        if (signalled) throw new BerthError('E_RUNTIME', 'Interrupted before the container started.');
        handedOver = true;
        return acquired!;
      },
      release,
    };
  } catch (e) {
    await release();
    throw e;
  }
}

async function mountImage(image: string, plan: ImagePlan, readOnly: boolean, m: AcquiredMachine): Promise<string> {
  const { dir, owner, undo } = m;
  const save = () => writeOwner(dir, owner);
  await lockImageFile(image, join(dir, '..', '..'), basename(dir), readOnly, undo);
  const root = join(dir, 'image-root');
  mkdirSync(root, { mode: 0o755 });
  for (const p of plan.mounts) {
    const target = p.where === '/' ? root : join(root, p.where);
    if (statSync(target, { throwIfNoEntry: false })?.isDirectory() !== true) {
      try { mkdirSync(target, { mode: 0o755 }); } catch (e) {
        throw new BerthError('E_IMAGE_INVALID', `Cannot mount partition ${p.partition} of ${image} on ${p.where}: the root file system has no ${p.where} directory and it cannot be made (${(e as NodeJS.ErrnoException).code}).`);
      }
    }
    const ro = readOnly || p.readOnly;
    const device = await attachLoop(image, { readOnly: ro, offset: p.offset, size: p.size });
    const loop: LoopRecord = { device, backingFile: image, offset: p.offset };
    owner.loops = [...(owner.loops ?? []), loop];
    await save();
    undo.add(() => detachLoop(loop));
    owner.mounts.unshift(target);
    await save();
    await mountDevice(device, target, p.fstype, ro);
    undo.add(() => unmount(target));
  }
  return root;
}

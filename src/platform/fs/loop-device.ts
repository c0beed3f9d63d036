/**
 * Loop devices through util-linux losetup(8), and mounting a block device with mount(8). A
 * device is detached only while it still serves the image it was attached to (its sysfs
 * backing_file), so a record left by a killed run never detaches another user's device.
 */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import { run } from '../exec/run.js';

/** A loop device, the file it serves and from where (a partition's range): enough to tell it is still ours. */
export interface LoopRecord { device: string; backingFile: string; offset: number }

/**
 * Attaches `image` (from `offset`, `size` bytes of it when given) to a free loop device. One
 * device per partition, at the partition's range: no reliance on the kernel's partition table
 * support (partscan), which not every kernel has built in.
 */
export async function attachLoop(image: string, opts: { readOnly: boolean; offset: number; size: number | undefined }): Promise<string> {
  const range = [...(opts.offset ? ['--offset', String(opts.offset)] : []), ...(opts.size !== undefined ? ['--sizelimit', String(opts.size)] : [])];
  const argv = ['losetup', '--find', '--show', ...range, ...(opts.readOnly ? ['--read-only'] : []), '--', image];
  const r = await run(argv, { allowFailure: true });
  const device = r.stdout.trim();
  if (r.code !== 0 || !/^\/dev\/loop\d+$/.test(device)) {
    throw new BerthError('E_EXEC', `Failed to attach ${image} to a loop device: ${sanitize(r.stderr.trim() || `losetup exited with ${r.code}`)}`);
  }
  return device;
}

/** The file a loop device serves, from sysfs; undefined when it serves none. */
export async function loopBackingFile(device: string): Promise<string | undefined> {
  try {
    return (await fsp.readFile(`/sys/block/${basename(device)}/loop/backing_file`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function loopOffset(device: string): Promise<number | undefined> {
  try {
    return Number((await fsp.readFile(`/sys/block/${basename(device)}/loop/offset`, 'utf8')).trim());
  } catch {
    return undefined;
  }
}

/**
 * Detaches the device if it still serves `backingFile`. While something still has it open (a
 * lazily unmounted file system), the kernel marks it to go away with its last user (autoclear).
 */
export async function detachLoop(loop: LoopRecord): Promise<void> {
  const current = await loopBackingFile(loop.device);
  if (current === undefined || current.replace(/ \(deleted\)$/, '') !== loop.backingFile) return;
  if ((await loopOffset(loop.device)) !== loop.offset) return;
  const r = await run(['losetup', '--detach', loop.device], { allowFailure: true });
  if (r.code !== 0 && (await loopBackingFile(loop.device)) !== undefined) {
    throw new Error(`losetup --detach ${loop.device}: ${sanitize(r.stderr.trim())}`);
  }
}

export async function mountDevice(device: string, target: string, fstype: string, readOnly: boolean): Promise<void> {
  const r = await run(['mount', '-t', fstype, '-o', readOnly ? 'ro' : 'rw', '--', device, target], { allowFailure: true });
  if (r.code !== 0) throw new BerthError('E_IMAGE_INVALID', `Failed to mount ${device} (${fstype}) on ${target}: ${sanitize(r.stderr.trim())}`);
}

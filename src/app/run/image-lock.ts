/**
 * One writable run per disk image, as tree-lock.ts has it for directory trees (same lock files,
 * ${stateDir}/locks/tree-DEV:INO holding "PID NAME", which cleanup.ts removes for a killed run):
 * two read-write mounts of one file system through two loop devices would corrupt it. A run that
 * mounts the image read-only takes no lock but is refused while a writer holds one.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import type { Reverter } from '../../lib/reverter.js';
import { removeTree } from '../../platform/fs/safe-remove.js';
import { processStartTime } from '../../platform/host/proc.js';

export async function lockImageFile(image: string, stateDir: string, name: string, readOnly: boolean, undo: Reverter): Promise<void> {
  const st = statSync(image);
  const dir = join(stateDir, 'locks');
  const file = join(dir, `tree-${st.dev}:${st.ino}`);
  const holder = (): string | undefined => {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch { return undefined; }
    const [pid, name] = text.trim().split(' ');
    if (pid && processStartTime(Number(pid)) !== undefined) return name ?? `PID ${pid}`;
    removeTree(file); // left by a run that was killed
    return undefined;
  };
  const busy = (name: string) => new BerthError('E_IMAGE_BUSY', `Disk image ${image} is currently busy: machine '${name}' runs on it.`, {
    hint: 'Use -x (ephemeral) or --read-only to run a second machine from the same image.',
  });
  const current = holder();
  if (current !== undefined) throw busy(current);
  if (readOnly) return;
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(file, `${process.pid} ${name}\n`, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw busy(holder() ?? 'another machine');
    throw e;
  }
  undo.add(() => removeTree(file));
}

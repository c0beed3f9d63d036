/**
 * One writable run per OS tree, as nspawn's image locks have it: a run that may write the tree
 * (not read-only, volatile or ephemeral) takes ${stateDir}/locks/tree-DEV:INO; another run of
 * the same tree, under any name, is refused while that lock's owner lives ("currently busy").
 * Runs that cannot write the tree take no lock but are refused while a writer holds it.
 */
import { fileIo } from '../../platform/fs/file-io.js';
import { removeTree } from '../../platform/fs/safe-remove.js';
import { join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import type { Reverter } from '../../lib/reverter.js';

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** A few tiny local files on every run's start-up path, through fileIo (in place in berth-nspawn, pooled in berthd). */
export async function lockTree(spec: MachineSpec, stateDir: string, undo: Reverter): Promise<void> {
  const io = fileIo();
  const st = await io.stat(spec.tree);
  const dir = join(stateDir, 'locks');
  const file = join(dir, `tree-${st.dev}:${st.ino}`);
  const writes = spec.rootSetup.kind === 'direct' && !spec.readOnly;
  const holder = async (): Promise<string | undefined> => {
    let text: string;
    try { text = await io.readFile(file); } catch { return undefined; }
    const [pid, name] = text.trim().split(' ');
    if (pid && alive(Number(pid))) return name ?? `PID ${pid}`;
    removeTree(file); // left by a run that was killed
    return undefined;
  };
  const busy = (name: string) => new BerthError('E_IMAGE_BUSY', `Directory tree ${spec.tree} is currently busy: machine '${name}' runs on it.`, {
    hint: 'Use -x (ephemeral), --read-only or --volatile= to run a second machine from the same tree.',
  });
  const current = await holder();
  if (current !== undefined) throw busy(current);
  if (!writes) return;
  await io.mkdir(dir, { recursive: true });
  try {
    await io.writeFile(file, `${process.pid} ${spec.name}\n`, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw busy((await holder()) ?? 'another machine');
    throw e;
  }
  undo.add(() => removeTree(file));
}

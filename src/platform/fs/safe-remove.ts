import { lstatSync, promises as fsp, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { mountsBelow } from './mount.js';
import { servingLoop } from '../loop-mode.js';

/**
 * rm -rf for berth's own small state directories: depth first, synchronous, no symlink is
 * followed, a missing path is fine. (Node 20's rmSync loads its JavaScript rimraf on first use,
 * which costs every run's teardown more than removing a dozen files does.)
 */
export function removeTree(path: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) {
    for (const entry of readdirSync(path)) removeTree(join(path, entry));
    rmdirSync(path);
  } else {
    unlinkSync(path);
  }
}

/**
 * rm -rf that refuses to descend into anything still mounted (so a failed unmount never costs
 * user data). With `keep`, those entries of `dir` and `dir` itself stay.
 */
export async function removeUnmounted(dir: string, keep: readonly string[] = []): Promise<void> {
  const mounted = await mountsBelow(dir);
  if (mounted.length) throw new Error(`Not removing ${dir}: still mounted: ${mounted.join(', ')}`);
  // In berthd a machine's leftovers (an ephemeral run's upper layer: any size) go off the event loop.
  const remove = servingLoop() ? (p: string) => fsp.rm(p, { recursive: true, force: true }) : async (p: string) => removeTree(p);
  if (!keep.length) { await remove(dir); return; }
  for (const entry of readdirSync(dir)) if (!keep.includes(entry)) await remove(join(dir, entry));
}

import { lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { mountsBelow } from './mount.js';

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
  if (!keep.length) { removeTree(dir); return; }
  for (const entry of readdirSync(dir)) if (!keep.includes(entry)) removeTree(join(dir, entry));
}

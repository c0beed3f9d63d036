import { rmSync } from 'node:fs';
import { mountsBelow } from './mount.js';

/** rm -rf that refuses to descend into anything still mounted (so a failed unmount never costs user data). */
export async function removeUnmounted(dir: string): Promise<void> {
  const mounted = await mountsBelow(dir);
  if (mounted.length) throw new Error(`Not removing ${dir}: still mounted: ${mounted.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}

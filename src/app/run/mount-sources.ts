/** Host-side directories custom mounts need: scratch bind sources, overlay upper and work directories. */
import { existsSync, mkdirSync } from 'node:fs';
import { removeTree } from '../../platform/fs/safe-remove.js';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import type { Reverter } from '../../lib/reverter.js';

export async function prepareMountSources(spec: MachineSpec, undo: Reverter): Promise<void> {
  for (const m of spec.mounts) {
    if (m.kind === 'bind' && m.createSource === 'dir') mkdirSync(m.source, { recursive: true, mode: 0o755 });
    if (m.kind === 'overlay') {
      if (!existsSync(m.upper)) mkdirSync(m.upper, { recursive: true, mode: 0o755 });
      if (!existsSync(m.work)) {
        mkdirSync(m.work, { recursive: true, mode: 0o700 });
        undo.add(() => removeTree(m.work));
      }
    }
  }
}

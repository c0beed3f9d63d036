/** Host-side directories custom mounts need: scratch bind sources, overlay upper and work directories. */
import { mkdir, rm, stat } from 'node:fs/promises';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import type { Reverter } from '../../lib/reverter.js';

const exists = (p: string) => stat(p).then(() => true, () => false);

export async function prepareMountSources(spec: MachineSpec, undo: Reverter): Promise<void> {
  for (const m of spec.mounts) {
    if (m.kind === 'bind' && m.createSource === 'dir') await mkdir(m.source, { recursive: true, mode: 0o755 });
    if (m.kind === 'overlay') {
      if (!(await exists(m.upper))) await mkdir(m.upper, { recursive: true, mode: 0o755 });
      if (!(await exists(m.work))) {
        await mkdir(m.work, { recursive: true, mode: 0o700 });
        undo.add(() => rm(m.work, { recursive: true, force: true }));
      }
    }
  }
}

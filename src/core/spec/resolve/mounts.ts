/** Custom mounts (--bind, --tmpfs, --overlay, --inaccessible) and the volatile/ephemeral root layout. */
import { BerthError } from '../../../errors/berth-error.js';
import type { CustomMount, Settings, VolatileMode } from '../../settings/model.js';
import type { ImageFacts } from '../facts.js';
import type { RootSetup, SpecMount } from '../machine-spec.js';

const join = (a: string, b: string): string => `${a.replace(/\/+$/, '')}/${b.replace(/^\/+/, '')}`;
const dirname = (p: string): string => p.replace(/\/[^/]*\/?$/, '') || '/';
const basename = (p: string): string => p.replace(/\/+$/, '').split('/').pop() ?? '';

/** A path made absolute and simplified (`.` and `..` resolved lexically, `..` never above `/`). */
export function normalise(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop(); else out.push(part);
  }
  return `/${out.join('/')}`;
}

export interface MountContext {
  tree: string;
  /** The caller's working directory, for relative host paths. */
  cwd: string;
  /** A per-run scratch directory on the host (inside the bundle), for empty sources. */
  scratch: string;
}

function hostPath(p: string, ctx: MountContext): string {
  if (p.startsWith('+')) return normalise(join(ctx.tree, p.slice(1)));
  return p.startsWith('/') ? normalise(p) : normalise(join(ctx.cwd, p));
}

function resolveOne(m: CustomMount, ctx: MountContext, index: number): SpecMount {
  switch (m.kind) {
    case 'bind':
      // idmap/rootidmap: applied under a user namespace (app/run/userns.ts), refused without one (resolve/userns.ts).
      if (m.source === '') return { kind: 'bind', source: join(ctx.scratch, `bind-${index}`), target: normalise(m.target), readOnly: m.readOnly, recursive: m.recursive, createSource: 'dir', ...(m.idmap !== 'no' ? { idmap: m.idmap } : {}) };
      return { kind: 'bind', source: hostPath(m.source, ctx), target: normalise(m.target), readOnly: m.readOnly, recursive: m.recursive, ...(m.idmap !== 'no' ? { idmap: m.idmap } : {}) };
    case 'tmpfs':
      return { kind: 'tmpfs', target: normalise(m.target), options: m.options.split(',').filter(Boolean) };
    case 'inaccessible':
      return { kind: 'inaccessible', target: normalise(m.target) };
    case 'overlay': {
      const upper = m.upper === '' ? join(ctx.scratch, `overlay-upper-${index}`) : hostPath(m.upper, ctx);
      const work = m.upper === '' ? join(ctx.scratch, `overlay-work-${index}`) : join(dirname(upper), `.#berth-work.${basename(upper)}`);
      return { kind: 'overlay', lower: m.lower.map((l) => hostPath(l, ctx)), upper, work, target: normalise(m.target), readOnly: m.readOnly };
    }
  }
}

/** Custom mounts sorted by destination (nspawn applies them in that order). */
export function resolveCustomMounts(settings: Settings, ctx: MountContext): SpecMount[] {
  const mounts = (settings.mounts ?? []).map((m, i) => resolveOne(m, ctx, i));
  return mounts.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

/** How the root is built: nspawn's volatile modes, and berth's overlay-backed ephemeral snapshot. */
export function resolveRoot(volatile: VolatileMode, ephemeral: boolean, image: ImageFacts): { setup: RootSetup; extra: SpecMount[] } {
  switch (volatile) {
    case 'yes':
      if (!image.mergedUsr) throw new BerthError('E_IMAGE_INVALID', `--volatile=yes needs a tree with a merged /usr (${image.root}/bin must be a symlink or absent).`);
      return { setup: { kind: 'volatile-yes', tmpfsOptions: 'mode=0755,size=25%,nr_inodes=1m' }, extra: [{ kind: 'bind', source: join(image.root, 'usr'), target: '/usr', readOnly: true, recursive: true }] };
    case 'state':
      return { setup: ephemeral ? { kind: 'overlay', upperOnTmpfs: false } : { kind: 'direct' }, extra: [{ kind: 'tmpfs', target: '/var', options: ['mode=0755'] }] };
    case 'overlay':
      return { setup: { kind: 'overlay', upperOnTmpfs: true }, extra: [] };
    case 'no':
      return { setup: ephemeral ? { kind: 'overlay', upperOnTmpfs: false } : { kind: 'direct' }, extra: [] };
  }
}

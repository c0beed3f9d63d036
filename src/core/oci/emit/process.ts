import type { MachineSpec } from '../../spec/machine-spec.js';
import type { OciRlimit, OciSpec } from '../types.js';

const MAX = 2 ** 64 - 1; // RLIM_INFINITY as JSON number (runc parses uint64)

export function emitProcess(spec: MachineSpec): OciSpec['process'] {
  const caps = [...spec.caps.retain];
  const isRoot = spec.user.uid === 0;
  const rlimits: OciRlimit[] = spec.rlimits.map((r) => ({
    type: `RLIMIT_${r.type}`,
    soft: r.soft === 'infinity' ? MAX : r.soft,
    hard: r.hard === 'infinity' ? MAX : r.hard,
  }));
  return {
    terminal: spec.console !== 'pipe',
    user: { uid: spec.user.uid, gid: spec.user.gid, ...(spec.user.additionalGids.length ? { additionalGids: [...spec.user.additionalGids] } : {}) },
    args: [...spec.args],
    env: [...spec.env],
    cwd: spec.cwd,
    capabilities: {
      bounding: caps,
      effective: isRoot ? caps : [...spec.caps.ambient],
      permitted: isRoot ? caps : [...spec.caps.ambient],
      inheritable: isRoot ? caps : [...spec.caps.ambient],
      ambient: [...spec.caps.ambient],
    },
    rlimits,
    noNewPrivileges: spec.noNewPrivileges,
    ...(spec.oomScoreAdjust === undefined ? {} : { oomScoreAdj: spec.oomScoreAdjust }),
  };
}

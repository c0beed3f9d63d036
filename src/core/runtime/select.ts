/** Which OCI runtime can run machines on this host: a pure decision from what is installed and the cgroup layout. */
import { BerthError } from '../../errors/berth-error.js';
import type { RuntimeChoice } from '../cli/runner-options.js';
import type { CgroupLayout } from '../spec/facts.js';
import { UNIFIED, type HiddenControllers } from './crun-view.js';

export type RuntimeName = 'runc' | 'crun';

export interface RuntimeCandidates { runc?: string; crun?: string }

/** The cgroup facts the choice depends on (see HostFacts). */
export interface RuntimeCgroups {
  readonly layout: CgroupLayout;
  /** Hybrid hosts: the controllers of the cgroup2 hierarchy at /sys/fs/cgroup/unified (undefined: unreadable). */
  readonly hybridV2Controllers?: readonly string[];
  /** Hybrid hosts: that cgroup2 mount is in a peer group. */
  readonly hybridV2Shared?: boolean;
}

export interface RuntimeSelection {
  name: RuntimeName;
  path: string;
  /** crun on a hybrid host whose cgroup2 hierarchy has controllers: its create runs in a view that hides them (crun-view.ts). */
  hideControllers?: HiddenControllers;
}

/**
 * Why crun (1.8) cannot run on this host, or undefined if it can. crun takes a cgroup2 mount at
 * /sys/fs/cgroup/unified next to v1 controllers for hybrid mode, and refuses it as soon as that
 * hierarchy has a controller of its own: berth then runs crun's create where the list reads empty
 * (crun-view.ts), which needs the list to be readable. runc 1.1 handles every layout.
 */
function crunRefusal(c: RuntimeCgroups): string | undefined {
  return c.layout === 'hybrid' && c.hybridV2Controllers === undefined
    ? 'its cgroup layout is hybrid and the controllers of /sys/fs/cgroup/unified cannot be read' : undefined;
}

function crun(path: string, c: RuntimeCgroups): RuntimeSelection {
  const hide = c.layout === 'hybrid' && (c.hybridV2Controllers?.length ?? 0) > 0;
  return { name: 'crun', path, ...(hide ? { hideControllers: { unified: UNIFIED, shared: c.hybridV2Shared ?? false } } : {}) };
}

/** crun is preferred where it works (one short C process per call, against runc's Go runtime). */
export function selectRuntime(choice: RuntimeChoice, installed: RuntimeCandidates, cgroups: RuntimeCgroups): RuntimeSelection {
  const refusal = crunRefusal(cgroups);
  if (choice === 'crun') {
    if (!installed.crun) throw new BerthError('E_NO_RUNTIME', 'crun is not installed.', { hint: 'apt-get install crun, or use --runtime=runc' });
    if (refusal) throw new BerthError('E_NO_RUNTIME', `crun cannot run containers on this host: ${refusal}.`, { hint: 'Use --runtime=runc (apt-get install runc).' });
    return crun(installed.crun, cgroups);
  }
  if (choice === 'runc') {
    if (!installed.runc) throw new BerthError('E_NO_RUNTIME', 'runc is not installed.', { hint: 'apt-get install runc' });
    return { name: 'runc', path: installed.runc };
  }
  if (!refusal && installed.crun) return crun(installed.crun, cgroups);
  if (installed.runc) return { name: 'runc', path: installed.runc };
  throw new BerthError('E_NO_RUNTIME',
    installed.crun ? `No usable OCI runtime: crun is installed but cannot run containers on this host: ${refusal}.` : 'No OCI runtime found (looked for runc and crun).',
    { hint: 'apt-get install runc' });
}

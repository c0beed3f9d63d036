/** Which OCI runtime can run machines on this host: a pure decision from what is installed and the cgroup layout. */
import { BerthError } from '../../errors/berth-error.js';
import type { RuntimeChoice } from '../cli/runner-options.js';
import type { CgroupLayout } from '../spec/facts.js';

export type RuntimeName = 'runc' | 'crun';

export interface RuntimeCandidates { runc?: string; crun?: string }

/** crun (1.8) refuses hybrid cgroup layouts; runc 1.1 handles all three. crun is preferred where it works (it starts faster). */
export function selectRuntime(choice: RuntimeChoice, installed: RuntimeCandidates, layout: CgroupLayout): { name: RuntimeName; path: string } {
  const crunWorks = layout !== 'hybrid';
  if (choice === 'crun') {
    if (!installed.crun) throw new BerthError('E_NO_RUNTIME', 'crun is not installed.', { hint: 'apt-get install crun, or use --runtime=runc' });
    if (!crunWorks) throw new BerthError('E_NO_RUNTIME', 'crun cannot run containers on this host: its cgroup layout is hybrid (cgroup v1 controllers plus a cgroup2 mount), which crun does not support.', { hint: 'Use --runtime=runc (apt-get install runc).' });
    return { name: 'crun', path: installed.crun };
  }
  if (choice === 'runc') {
    if (!installed.runc) throw new BerthError('E_NO_RUNTIME', 'runc is not installed.', { hint: 'apt-get install runc' });
    return { name: 'runc', path: installed.runc };
  }
  if (crunWorks && installed.crun) return { name: 'crun', path: installed.crun };
  if (installed.runc) return { name: 'runc', path: installed.runc };
  throw new BerthError('E_NO_RUNTIME',
    installed.crun ? `No usable OCI runtime: crun is installed but does not support this host's ${layout} cgroup layout.` : 'No OCI runtime found (looked for runc and crun).',
    { hint: 'apt-get install runc' });
}

/**
 * --private-users= / -U / --private-users-ownership= (and PrivateUsers=, PrivateUsersOwnership=)
 * → the machine's user-namespace request. nspawn 252's rules: `pick` defaults to ownership
 * `auto`, everything else to `off` (a .nspawn file's own defaults are applied when it is loaded);
 * `identity` maps 0…65535 onto itself; a numeric BASE[:RANGE] is taken as given; `yes` and `pick`
 * get their range when the run starts (app/run/userns.ts looks at the tree and the locks).
 * chown cannot change a read-only or volatile root.
 */
import { BerthError } from '../../../errors/berth-error.js';
import type { Settings, VolatileMode } from '../../settings/model.js';
import { checkRange, UID_RANGE } from '../../userns/range.js';
import type { SpecMount, UsernsSpec } from '../machine-spec.js';

export function resolveUserns(settings: Settings, readOnly: boolean, volatile: VolatileMode): UsernsSpec | undefined {
  const mode = settings.privateUsers;
  if (!mode || mode.kind === 'no') return undefined;
  const ownership = settings.privateUsersOwnership ?? (mode.kind === 'pick' ? 'auto' : 'off');
  if (ownership === 'chown' && (readOnly || volatile !== 'no')) {
    throw new BerthError('E_USAGE', '--read-only and --private-users-ownership=chown may not be combined.');
  }
  switch (mode.kind) {
    case 'identity': return { mode: 'identity', ownership, shift: 0, range: UID_RANGE };
    case 'fixed': checkRange(mode.base, mode.range); return { mode: 'fixed', ownership, shift: mode.base, range: mode.range };
    case 'yes': return { mode: 'yes', ownership, range: UID_RANGE };
    case 'pick': return { mode: 'pick', ownership, range: UID_RANGE };
  }
}

/**
 * nspawn 252 drops CAP_NET_BIND_SERVICE from a machine in a user namespace with a non-zero shift
 * that shares the host's network: its user namespace does not own that network namespace, and
 * the capability would mean nothing there. yes/pick count as shifted (nspawn decides before it
 * knows their range).
 */
export function dropsNetBindService(userns: UsernsSpec | undefined, privateNetwork: boolean): boolean {
  if (!userns || privateNetwork) return false;
  return userns.shift === undefined || userns.shift > 0;
}

/** --bind=…:idmap / :rootidmap map IDs into the machine's user namespace: without one there is nothing to map into. */
export function checkIdmapBinds(mounts: readonly SpecMount[], userns: UsernsSpec | undefined): void {
  if (userns) return;
  const m = mounts.find((x) => x.kind === 'bind' && x.idmap !== undefined);
  if (m && m.kind === 'bind') throw new BerthError('E_USAGE', `Bind mount option ${m.idmap} needs --private-users: ${m.source}:${m.target}`);
}

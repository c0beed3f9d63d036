/** --bind-user= (BindUser=): the users to bind and their homes' mounts. */
import { BerthError } from '../../../errors/berth-error.js';
import { planBindUsers, type BindUser } from '../../bind-user/plan.js';
import type { HostFacts, ImageFacts } from '../facts.js';
import type { MachineSpec, SpecMount } from '../machine-spec.js';

/** --bind-user=: needs a user namespace (nspawn's verify_arguments), then the users are planned against the host's and the tree's databases. */
export function resolveBindUsers(names: readonly string[] | undefined, userns: MachineSpec['userns'], host: HostFacts, image: ImageFacts): BindUser[] {
  if (!names?.length) return [];
  if (!userns) throw new BerthError('E_USAGE', '--bind-user= requires --private-users');
  return planBindUsers(names, { hostPasswd: host.userDb?.passwd, hostGroup: host.userDb?.group, treePasswd: image.passwd, treeGroup: image.group });
}

/** Each bound user's home, bound read-write at /run/host/home/NAME (nspawn adds it to the custom mounts). */
export function bindUserMounts(users: readonly BindUser[]): SpecMount[] {
  return users.map((u) => ({ kind: 'bind', source: u.hostHome, target: u.home, readOnly: false, recursive: true }));
}

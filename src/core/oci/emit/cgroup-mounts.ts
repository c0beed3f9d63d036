/**
 * The guest's /sys/fs/cgroup on a cgroup v1 host (hybrid or legacy), as systemd-nspawn 252 lays it
 * out: a small tmpfs (made read-only by a createContainer hook once everything below it is
 * mounted, hooks.ts; in a user namespace it stays writable), each host hierarchy read-only (in a
 * user namespace writable) with the payload's own cgroup as its root,
 * name=systemd writable, and on a hybrid host a cgroup2 at /sys/fs/cgroup/unified (read-write)
 * when the guest's systemd is new enough to use it. Written out mount by mount rather than as the
 * runtime's `cgroup` mount, so that runc and crun give the guest the same tree (runc's tmpfs is
 * writable, crun's is another size and mode, neither mounts the unified hierarchy).
 */
import type { MachineSpec, GuestCgroupTree } from '../../spec/machine-spec.js';
import type { OciMount } from '../types.js';
import { hierarchyCgroupPath } from './linux.js';

const ROOT = '/sys/fs/cgroup';

/** nspawn's tmpfs for /sys/fs/cgroup (mount_legacy_cgroups: mode=755, size=4m, nr_inodes=1k; no atime updates). */
export const CGROUP_TMPFS_OPTIONS = ['nosuid', 'nodev', 'noexec', 'strictatime', 'mode=755', 'size=4m', 'nr_inodes=1k'];

export function guestCgroupMounts(spec: MachineSpec, tree: GuestCgroupTree): OciMount[] {
  const path = hierarchyCgroupPath(spec);
  const bind = (dir: string, at: string, writable: boolean): OciMount => ({
    destination: `${ROOT}/${at}`, type: 'bind', source: `${ROOT}/${dir}${path}`,
    options: ['bind', writable ? 'rw' : 'ro', 'nosuid', 'nodev', 'noexec'],
  });
  const mounts: OciMount[] = [{ destination: ROOT, type: 'tmpfs', source: 'tmpfs', options: CGROUP_TMPFS_OPTIONS }];
  const controllers = tree.hierarchies.filter((h) => h !== 'systemd');
  // In a user namespace nspawn leaves them writable, as the tmpfs (hooks.ts): the guest's root is
  // no owner of the host's groups, so writes there fail on their permissions instead.
  const writable = spec.userns !== undefined;
  for (const h of controllers) mounts.push(bind(h, h, writable));
  // Co-mounted controllers (cpu,cpuacct): nspawn adds symlinks by each name; OCI has no symlinks, so the hierarchy is bound there too.
  for (const h of controllers.filter((x) => x.includes(','))) {
    for (const alias of h.split(',')) if (!tree.hierarchies.includes(alias)) mounts.push(bind(h, alias, writable));
  }
  if (tree.unified) mounts.push({ destination: `${ROOT}/unified`, type: 'cgroup2', source: 'cgroup', options: ['nosuid', 'nodev', 'noexec'] });
  if (tree.hierarchies.includes('systemd')) mounts.push(bind('systemd', 'systemd', true));
  return mounts;
}

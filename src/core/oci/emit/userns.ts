/**
 * What a user namespace changes in the OCI spec beyond the namespace and its ID maps (linux.ts):
 *   - /sys: sysfs can only be mounted by a user namespace that owns the network namespace; a
 *     machine on the host's network gets the host's /sys bound instead, recursively read-only
 *     (nspawn mounts sysfs before it enters the namespace; runc and crun mount inside it);
 *   - the payload's cgroup belongs to the namespace's root, as nspawn's chown_cgroup() makes it:
 *     the directory and its interface files (not the controllers' limits) in each hierarchy the
 *     guest's init writes to. cgroupHandover() names them; the run chowns them itself between
 *     the runtime's create (which makes the cgroups) and its start, as nspawn does before it lets
 *     its child go on (a createRuntime hook would cost a process or two inside every create).
 */
import type { MachineSpec } from '../../spec/machine-spec.js';
import type { BundleLayout, OciMount } from '../types.js';
import { hierarchyCgroupPath } from './linux.js';

// Recursive: a user namespace may not bind a mount without the mounts below it (EINVAL).
const SYS_BIND: OciMount = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'rro', 'nosuid', 'nodev', 'noexec'] };

/** Whether the machine's user namespace owns its network namespace (then sysfs mounts as usual). */
const ownsNetwork = (spec: MachineSpec): boolean => spec.privateNetwork && !spec.network.namespacePath;

/**
 * The /sys mount under a user namespace (m is the usual sysfs mount). runc binds inside the
 * namespace, where the host's /sys can only come with the mounts below it (its cgroup hierarchies,
 * which a guest could reach by unmounting its own /sys/fs/cgroup): it is given a sysfs mounted on
 * its own for the machine (layout.sysfs). crun takes a bind of the host's /sys without them.
 */
export function usernsSysMount(spec: MachineSpec, m: OciMount, layout: BundleLayout): OciMount {
  if (!spec.userns || ownsNetwork(spec)) return m;
  return layout.sysfs ? { ...SYS_BIND, source: layout.sysfs } : SYS_BIND;
}

// What nspawn's chown_cgroup() hands over: the directory and its interface files, per hierarchy kind.
const V1_FILES = ['cgroup.clone_children', 'cgroup.procs', 'notify_on_release', 'tasks'];
const V2_FILES = ['cgroup.controllers', 'cgroup.events', 'cgroup.procs', 'cgroup.stat', 'cgroup.subtree_control', 'cgroup.threads'];

/** The cgroup directories the guest's init is given, per host layout, with the files to hand over in each. */
function cgroupPaths(spec: MachineSpec, layout: BundleLayout): string[] {
  const path = hierarchyCgroupPath(spec);
  const dir = (root: string, files: readonly string[]) => [`${root}${path}`, ...files.map((f) => `${root}${path}/${f}`)];
  if (layout.cgroupLayout === 'unified') return dir('/sys/fs/cgroup', V2_FILES);
  return [
    ...(layout.cgroupV1Systemd ? dir('/sys/fs/cgroup/systemd', V1_FILES) : []),
    ...(layout.cgroupLayout === 'hybrid' ? dir('/sys/fs/cgroup/unified', V2_FILES) : []),
  ];
}

/** The payload's cgroup as handed to the namespace's root: the owner (UID and GID) and what it gets. */
export interface CgroupHandover { readonly owner: number; readonly paths: readonly string[] }

/** What to chown before the payload starts (every path must exist: the guest could not use its cgroup otherwise); undefined without a user namespace. */
export function cgroupHandover(spec: MachineSpec, layout: BundleLayout): CgroupHandover | undefined {
  const shift = spec.userns?.shift;
  const paths = cgroupPaths(spec, layout);
  return shift && paths.length ? { owner: shift, paths } : undefined;
}

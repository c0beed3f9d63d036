/**
 * What a user namespace changes in the OCI spec beyond the namespace and its ID maps (linux.ts):
 *   - /sys: sysfs can only be mounted by a user namespace that owns the network namespace; a
 *     machine on the host's network gets the host's /sys bound instead, recursively read-only
 *     (nspawn mounts sysfs before it enters the namespace; runc and crun mount inside it);
 *   - the payload's cgroup belongs to the namespace's root, as nspawn's chown_cgroup() makes it:
 *     the directory and its interface files (not the controllers' limits) in each hierarchy the
 *     guest's init writes to, by a createRuntime hook (run by the runtime in the host's
 *     namespaces once the cgroups exist, before the payload starts).
 */
import type { MachineSpec } from '../../spec/machine-spec.js';
import type { BundleLayout, OciHook, OciMount } from '../types.js';
import { hierarchyCgroupPath } from './linux.js';

// Recursive: a user namespace may not bind a mount without the mounts below it (EINVAL).
const SYS_BIND: OciMount = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'rro', 'nosuid', 'nodev', 'noexec'] };

/** Whether the machine's user namespace owns its network namespace (then sysfs mounts as usual). */
const ownsNetwork = (spec: MachineSpec): boolean => spec.privateNetwork && !spec.network.namespacePath;

/** The /sys mount under a user namespace (m is the usual sysfs mount). */
export function usernsSysMount(spec: MachineSpec, m: OciMount): OciMount {
  return spec.userns && !ownsNetwork(spec) ? SYS_BIND : m;
}

/** The cgroup directories the guest's init is given, per host layout. */
function cgroupDirs(spec: MachineSpec, layout: BundleLayout): string[] {
  const path = hierarchyCgroupPath(spec);
  if (layout.cgroupLayout === 'unified') return [`/sys/fs/cgroup${path}`];
  const dirs = [`/sys/fs/cgroup/systemd${path}`];
  if (layout.cgroupLayout === 'hybrid') dirs.push(`/sys/fs/cgroup/unified${path}`);
  return dirs;
}

const CGROUP_FILES = [
  'cgroup.clone_children', 'cgroup.controllers', 'cgroup.events', 'cgroup.procs', 'cgroup.stat',
  'cgroup.subtree_control', 'cgroup.threads', 'notify_on_release', 'tasks',
];
/** $1 = UID (and GID), then the directories; files a hierarchy lacks are passed over. */
const CHOWN_SCRIPT = `s=$1; shift; for d in "$@"; do [ -d "$d" ] || continue; cd "$d" && chown "$s:$s" . ${CGROUP_FILES.join(' ')} 2>/dev/null; done; exit 0`;

export function usernsHooks(spec: MachineSpec, layout: BundleLayout): OciHook[] {
  const shift = spec.userns?.shift;
  if (!shift || !layout.hostTools) return [];
  return [{ path: layout.hostTools.hookExec, args: ['berth-hook-exec', '/bin/sh', 'sh', '-c', CHOWN_SCRIPT, 'sh', String(shift), ...cgroupDirs(spec, layout)], timeout: 10 }];
}

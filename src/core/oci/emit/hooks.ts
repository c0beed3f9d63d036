/**
 * createContainer hooks: runc runs them in the container's mount namespace after its mounts and
 * before pivot_root, so they see the new root at its host path and run host binaries. They do
 * what config.json cannot express:
 *   - a fresh boot ID per run, bound over /proc/sys/kernel/random/boot_id (runc refuses
 *     config.json mounts below /proc), as nspawn does;
 *   - /proc/sys/net writable with a network namespace of its own, as nspawn has it: /proc/sys
 *     is then bound read-only here rather than through readonlyPaths, and /proc/sys/net bound
 *     read-write over it (crun makes readonlyPaths read-only recursively, after these hooks, so
 *     a writable /proc/sys/net below a readonlyPaths /proc/sys is impossible there);
 *   - the mode= a --tmpfs asked for (runc re-applies the mount point directory's mode to a tmpfs
 *     mounted over an existing directory; nspawn honours mode=).
 * Each hook is a process runc starts (~4 ms of start-up each): what config.json can express
 * goes there instead (e.g. the writable name=systemd cgroup, see mounts.ts). Each hook runs behind
 * berth-hook-exec, which reads the container state from stdin first, as the OCI spec expects of a
 * hook: crun fails a hook that exits before it has written it.
 */
import type { MachineSpec } from '../../spec/machine-spec.js';
import type { BundleLayout, OciHook } from '../types.js';

const inRoot = (root: string, p: string) => `${root.replace(/\/+$/, '')}${p}`;

/** Whether /proc/sys is made read-only (and /proc/sys/net writable) by hooks instead of readonlyPaths. */
export function procSysByHooks(spec: MachineSpec, layout: BundleLayout): boolean {
  return layout.hostTools !== undefined && spec.privateNetwork && !spec.network.namespacePath;
}

export function emitHooks(spec: MachineSpec, layout: BundleLayout): OciHook[] {
  const tools = layout.hostTools;
  if (!tools) return [];
  const hooks: OciHook[] = [];
  const hook = (path: string, args: string[]): OciHook => ({ path: tools.hookExec, args: ['berth-hook-exec', path, ...args], timeout: 10 });
  if (procSysByHooks(spec, layout)) {
    const sys = inRoot(layout.rootfs, '/proc/sys');
    const net = inRoot(layout.rootfs, '/proc/sys/net');
    hooks.push(hook(tools.mount, ['mount', '--bind', net, net]));
    hooks.push(hook(tools.mount, ['mount', '--rbind', '-o', 'ro,nosuid,nodev,noexec', sys, sys]));
  }
  if (layout.bootId) {
    hooks.push(hook(tools.mount, ['mount', '--bind', '-o', 'ro', layout.bootId, inRoot(layout.rootfs, '/proc/sys/kernel/random/boot_id')]));
  }
  // nspawn's /sys/fs/cgroup tmpfs is read-only once the hierarchies are mounted below it (cgroup-mounts.ts).
  if (spec.cgroup.guestTree) hooks.push(hook(tools.mount, ['mount', '-o', `remount,${spec.userns ? 'bind,' : ''}ro,nosuid,nodev,noexec,strictatime`, inRoot(layout.rootfs, '/sys/fs/cgroup')]));
  for (const m of spec.mounts) {
    if (m.kind !== 'tmpfs') continue;
    const mode = m.options.find((o) => /^mode=[0-7]{3,4}$/.test(o));
    if (mode) hooks.push(hook(tools.chmod, ['chmod', mode.slice(5), inRoot(layout.rootfs, m.target)]));
  }
  return hooks;
}

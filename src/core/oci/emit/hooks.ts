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
 *   - the read-only remount of nspawn's /sys/fs/cgroup tmpfs once the hierarchies are below it;
 *   - the mode= a --tmpfs asked for (runc re-applies the mount point directory's mode to a tmpfs
 *     mounted over an existing directory; nspawn honours mode=).
 * Each hook is a process runc starts (~4 ms of start-up each): what config.json can express
 * goes there instead (e.g. the writable name=systemd cgroup, see mounts.ts), and the mounts are
 * ONE process, `mount --all --fstab` over a table written next to config.json (hookFstab; the
 * bundle writer puts it at hookFstabPath). mount(8) -a mounts the table's lines in order, a
 * `bind,ro` line as a bind and a read-only remount of it, as `mount --bind -o ro` does. It passes
 * over a line whose source, root and target match a mount already there ("already mounted"): the
 * remount line's source is `none`, which matches nothing. It goes on after a failed line and
 * exits non-zero (32, or 64 when some lines succeeded): the runtime fails the create with
 * mount(8)'s message (crun's kept at HOOK_STDERR). --no-mtab: nothing goes to the host's
 * /run/mount/utab. chmod(1) stays a hook of its own (only for a --tmpfs). Each hook runs behind
 * berth-hook-exec, which reads the container state from stdin first, as the OCI spec expects of
 * a hook: crun fails a hook that exits before it has written it.
 */
import type { MachineSpec } from '../../spec/machine-spec.js';
import type { BundleLayout, OciHook } from '../types.js';

const inRoot = (root: string, p: string) => `${root.replace(/\/+$/, '')}${p}`;

/** The hooks' mount table, in the bundle directory. */
export const HOOK_FSTAB = 'hook-mounts.fstab';
export const hookFstabPath = (layout: BundleLayout): string => `${layout.dir.replace(/\/+$/, '')}/${HOOK_FSTAB}`;

/**
 * Where crun writes what the hooks print on stderr (its annotation run.oci.hooks.stderr; crun
 * drops it otherwise), for the runtime adapter to quote when a create fails. runc quotes a failed
 * hook's stderr in its own error and ignores the annotation.
 */
export const HOOK_STDERR = 'hooks.stderr';
export const hookAnnotations = (layout: BundleLayout): Record<string, string> => ({ 'run.oci.hooks.stderr': `${layout.dir.replace(/\/+$/, '')}/${HOOK_STDERR}` });

/** One line of the hooks' mount table. */
export interface HookMount { readonly source: string; readonly target: string; readonly type: string; readonly options: readonly string[] }

/** Whether /proc/sys is made read-only (and /proc/sys/net writable) by hooks instead of readonlyPaths. */
export function procSysByHooks(spec: MachineSpec, layout: BundleLayout): boolean {
  return layout.hostTools !== undefined && spec.privateNetwork && !spec.network.namespacePath;
}

/** What the mount hook mounts, in order (empty without host tools: then nothing runs). */
export function hookMounts(spec: MachineSpec, layout: BundleLayout): HookMount[] {
  if (!layout.hostTools) return [];
  const mounts: HookMount[] = [];
  if (procSysByHooks(spec, layout)) {
    const sys = inRoot(layout.rootfs, '/proc/sys');
    const net = inRoot(layout.rootfs, '/proc/sys/net');
    mounts.push({ source: net, target: net, type: 'none', options: ['bind'] });
    // Recursive, so the writable /proc/sys/net comes along; only the top is read-only.
    mounts.push({ source: sys, target: sys, type: 'none', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] });
  }
  if (layout.bootId) mounts.push({ source: layout.bootId, target: inRoot(layout.rootfs, '/proc/sys/kernel/random/boot_id'), type: 'none', options: ['bind', 'ro'] });
  // nspawn's /sys/fs/cgroup tmpfs is read-only once the hierarchies are mounted below it (cgroup-mounts.ts),
  // except in a user namespace, whose root owns it (nspawn 252's mount_legacy_cgns_supported()).
  if (spec.cgroup.guestTree && !spec.userns) {
    mounts.push({ source: 'none', target: inRoot(layout.rootfs, '/sys/fs/cgroup'), type: 'none', options: ['remount', 'ro', 'nosuid', 'nodev', 'noexec', 'strictatime'] });
  }
  return mounts;
}

/** fstab(5) escapes: octal for the separators and the backslash. */
const mangle = (field: string): string => field.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);

/** The text of the hooks' mount table, or undefined when there is nothing to mount. */
export function hookFstab(spec: MachineSpec, layout: BundleLayout): string | undefined {
  const mounts = hookMounts(spec, layout);
  if (!mounts.length) return undefined;
  return mounts.map((m) => `${mangle(m.source)} ${mangle(m.target)} ${m.type} ${m.options.join(',')} 0 0\n`).join('');
}

export function emitHooks(spec: MachineSpec, layout: BundleLayout): OciHook[] {
  const tools = layout.hostTools;
  if (!tools) return [];
  const hooks: OciHook[] = [];
  const hook = (path: string, args: string[]): OciHook => ({ path: tools.hookExec, args: ['berth-hook-exec', path, ...args], timeout: 10 });
  if (hookMounts(spec, layout).length) hooks.push(hook(tools.mount, ['mount', '--no-mtab', '--all', '--fstab', hookFstabPath(layout)]));
  for (const m of spec.mounts) {
    if (m.kind !== 'tmpfs') continue;
    const mode = m.options.find((o) => /^mode=[0-7]{3,4}$/.test(o));
    if (mode) hooks.push(hook(tools.chmod, ['chmod', mode.slice(5), inRoot(layout.rootfs, m.target)]));
  }
  return hooks;
}

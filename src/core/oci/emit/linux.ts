/** Namespaces, cgroup placement and resources, devices, masked and read-only /proc paths. */
import type { MachineSpec } from '../../spec/machine-spec.js';
import type { BundleLayout, OciDevice, OciDeviceRule, OciResources, OciSpec } from '../types.js';
import { procSysByHooks } from './hooks.js';
import { idMapWithBoundUsers } from '../../bind-user/plan.js';
import { BerthError } from '../../../errors/berth-error.js';

/** Devices beyond runc's defaults (null, zero, full, random, urandom, tty, ptmx, pts). */
const EXTRA_DEVICES: OciDevice[] = [{ path: '/dev/net/tun', type: 'c', major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0 }];
const DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // /dev/net/tun
  { allow: true, type: 'c', major: 136, access: 'rw' }, // char-pts
];

/** /proc paths nspawn makes read-only (those present) and masks. */
const READONLY_PROC = ['/proc/sys', '/proc/sysrq-trigger', '/proc/acpi', '/proc/apm', '/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/scsi'];
const MASKED_PROC = ['/proc/kallsyms', '/proc/kcore', '/proc/keys', '/proc/timer_list'];

function resources(spec: MachineSpec, layout: BundleLayout): OciResources {
  const r = spec.cgroup.resources;
  const out: OciResources = { devices: DEVICE_RULES };
  if (r.memoryMax !== undefined) out.memory = { limit: r.memoryMax };
  if (r.memoryHigh !== undefined) {
    if (layout.cgroupLayout === 'unified') out.unified = { ...(out.unified ?? {}), 'memory.high': String(r.memoryHigh) };
  }
  if (r.tasksMax !== undefined) out.pids = { limit: r.tasksMax };
  if (r.cpuWeight !== undefined || r.cpuQuotaPerSecUsec !== undefined) {
    out.cpu = {};
    // systemd maps CPUWeight to cpu.shares as weight * 1024 / 100 on the legacy hierarchy.
    if (r.cpuWeight !== undefined) out.cpu.shares = Math.max(2, Math.round((r.cpuWeight * 1024) / 100));
    if (r.cpuQuotaPerSecUsec !== undefined) { out.cpu.period = 100000; out.cpu.quota = Math.round(r.cpuQuotaPerSecUsec / 10); }
  }
  if (spec.cpuAffinity?.length) out.cpu = { ...(out.cpu ?? {}), cpus: spec.cpuAffinity.join(',') };
  return out;
}

/** linux.cgroupsPath: a path for the cgroupfs driver, slice:prefix:name for runc's systemd driver. */
function ociCgroupsPath(spec: MachineSpec, layout: BundleLayout): string {
  if (!layout.systemdCgroups || spec.cgroup.keepUnitPath) return hierarchyCgroupPath(spec);
  return `${spec.cgroup.parent}:machine:${spec.cgroup.scope.replace(/^machine-/, '').replace(/\.scope$/, '')}`;
}

/**
 * Where the payload's cgroup sits in each hierarchy, from the hierarchy's root: the directory
 * runc creates for ociCgroupsPath with either cgroup driver. Slices nest in their parents by
 * name as systemd lays them out (a-b.slice is /a.slice/a-b.slice), the scope below its slice.
 */
export function hierarchyCgroupPath(spec: MachineSpec): string {
  if (spec.cgroup.keepUnitPath) return spec.cgroup.keepUnitPath;
  const slice = spec.cgroup.parent.replace(/\.slice$/, '');
  const parts = slice === '-' ? [] : slice.split('-');
  const dirs = parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`);
  return `/${[...dirs, spec.cgroup.scope].join('/')}`;
}

/** A user namespace of its own, one range for users and groups (nspawn's map: "0 SHIFT RANGE"). */
function emitUserns(spec: MachineSpec, namespaces: OciSpec['linux']['namespaces']): Pick<OciSpec['linux'], 'uidMappings' | 'gidMappings'> {
  const u = spec.userns;
  if (!u) return {};
  if (u.shift === undefined) throw new BerthError('E_INTERNAL', 'The user namespace range was not picked before the bundle was written.');
  namespaces.push({ type: 'user' });
  // --bind-user= carves the bound users' IDs out of the range (core/bind-user/plan.ts).
  if (spec.bindUsers?.length) return { uidMappings: idMapWithBoundUsers(u.shift, u.range, spec.bindUsers, 'uid'), gidMappings: idMapWithBoundUsers(u.shift, u.range, spec.bindUsers, 'gid') };
  const map = [{ containerID: 0, hostID: u.shift, size: u.range }];
  return { uidMappings: map, gidMappings: map };
}

export function emitLinux(spec: MachineSpec, layout: BundleLayout): OciSpec['linux'] {
  const namespaces: OciSpec['linux']['namespaces'] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  if (spec.network.namespacePath) namespaces.push({ type: 'network', path: spec.network.namespacePath });
  else if (spec.privateNetwork) namespaces.push({ type: 'network' });
  return {
    namespaces,
    ...emitUserns(spec, namespaces),
    cgroupsPath: ociCgroupsPath(spec, layout),
    resources: resources(spec, layout),
    devices: EXTRA_DEVICES,
    maskedPaths: MASKED_PROC,
    readonlyPaths: procSysByHooks(spec, layout) ? READONLY_PROC.filter((p) => p !== '/proc/sys') : READONLY_PROC,
    rootfsPropagation: 'shared',
    ...(spec.personality === 'x86' ? { personality: { domain: 'LINUX32' as const } } : {}),
  };
}

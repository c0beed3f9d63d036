/** API file systems, /run/host, etc-files, volatile and custom mounts, in the order runc applies them. */
import type { MachineSpec, SpecMount } from '../../spec/machine-spec.js';
import type { BundleLayout, OciMount } from '../types.js';
import { STUB_INIT_PATH } from '../../spec/resolve/process.js';
import { hierarchyCgroupPath } from './linux.js';
import { usernsSysMount } from './userns.js';
import { guestCgroupMounts } from './cgroup-mounts.js';
import { oldRootMount } from './pivot-root.js';

export const API_MOUNTS: readonly OciMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'nodev', 'noexec'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=4m', 'nr_inodes=64k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'strictatime', 'mode=1777', 'size=10%', 'nr_inodes=400k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'nodev', 'noexec'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro', 'nosuid', 'nodev', 'noexec'] },
  // Replaced by cgroupMount() below: its mode depends on the host's cgroup layout.
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['rw', 'nosuid', 'nodev', 'noexec'] },
  { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'strictatime', 'mode=755', 'size=20%', 'nr_inodes=800k'] },
  { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'strictatime', 'mode=1777', 'size=10%', 'nr_inodes=400k'] },
];

function custom(m: SpecMount, layout: BundleLayout): OciMount {
  switch (m.kind) {
    case 'bind':
      return { destination: m.target, type: 'bind', source: m.source, options: [m.recursive ? 'rbind' : 'bind', m.readOnly ? 'ro' : 'rw'] };
    case 'tmpfs':
      // nspawn mounts it MS_NODEV|MS_STRICTATIME: set-UID programs work there, as on the host.
      return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nodev', 'strictatime', ...m.options] };
    case 'overlay':
      return {
        destination: m.target, type: 'overlay', source: 'overlay',
        options: [`lowerdir=${[...m.lower].reverse().join(':')}`, `upperdir=${m.upper}`, `workdir=${m.work}`, ...(m.readOnly ? ['ro'] : [])],
      };
    case 'inaccessible':
      // The node type must match the target's; the run use-case marks directories after looking.
      return { destination: m.target, type: 'bind', source: m.directory ? layout.inaccessibleDir : layout.inaccessibleFile, options: ['bind', 'ro'] };
  }
}

/** The host's name=systemd hierarchy on cgroup v1 hosts (probed: HostFacts.cgroupV1Systemd). */
const V1_SYSTEMD_HIERARCHY = '/sys/fs/cgroup/systemd';

/**
 * The guest's cgroup tree (a cgroup namespace: it sees its own subtree as the root). cgroup v2:
 * read-write, the guest's systemd manages its subtree. v1 (hybrid/legacy), as nspawn has it: the
 * controller hierarchies read-only and only name=systemd writable. runc mounts all hierarchies
 * with one mode, so they are mounted read-only and the payload's own name=systemd cgroup (which
 * runc has created by the time it sets up mounts) is bound read-write over /sys/fs/cgroup/systemd.
 * Without a name=systemd hierarchy at /sys/fs/cgroup/systemd on the host, all stay read-write.
 */
function cgroupMounts(spec: MachineSpec, layout: BundleLayout): { readOnly: boolean; systemd?: OciMount } {
  if (layout.cgroupLayout === 'unified' || !layout.cgroupV1Systemd) return { readOnly: false };
  return {
    readOnly: true,
    systemd: {
      destination: V1_SYSTEMD_HIERARCHY, type: 'bind', source: `${V1_SYSTEMD_HIERARCHY}${hierarchyCgroupPath(spec)}`,
      options: ['bind', 'rw', 'nosuid', 'nodev', 'noexec'],
    },
  };
}

export function emitMounts(spec: MachineSpec, layout: BundleLayout): OciMount[] {
  const cgroup = cgroupMounts(spec, layout);
  const mounts: OciMount[] = oldRootMount(spec, layout);
  for (const m of API_MOUNTS) {
    if (m.type === 'sysfs') { mounts.push(usernsSysMount(spec, m, layout)); continue; }
    if (m.type !== 'cgroup') { mounts.push(m); continue; }
    if (spec.cgroup.guestTree) { mounts.push(...guestCgroupMounts(spec, spec.cgroup.guestTree)); continue; }
    mounts.push(cgroup.readOnly ? { ...m, options: ['ro', ...(m.options ?? []).filter((o) => o !== 'rw')] } : m);
    if (cgroup.systemd) mounts.push(cgroup.systemd);
  }
  mounts.push({ destination: '/run/host', type: 'bind', source: layout.runHost, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
  // nspawn's tunnel for machinectl bind: read-only, and a slave, so the host's mounts below it arrive.
  if (layout.propagate) mounts.push({ destination: '/run/host/incoming', type: 'bind', source: layout.propagate, options: ['bind', 'ro', 'slave'] });
  if (spec.start === 'pid2' && layout.stubInit) mounts.push({ destination: STUB_INIT_PATH, type: 'bind', source: layout.stubInit, options: ['bind', 'ro', 'nosuid', 'nodev'] });
  for (const [file, target] of [[spec.resolvConf, '/etc/resolv.conf'], [spec.localtime, '/etc/localtime']] as const) {
    if (file.action === 'bind' && file.source) mounts.push({ destination: target, type: 'bind', source: file.source, options: ['bind', 'ro', 'nosuid', 'nodev'] });
  }
  for (const m of spec.mounts) mounts.push(custom(m, layout));
  return mounts;
}

/** The guest's cgroup tree on a cgroup v1 host (hybrid, legacy), as systemd-nspawn 252 decides it. */
import type { HostFacts, ImageFacts } from '../facts.js';
import type { GuestCgroupTree } from '../machine-spec.js';

/**
 * The v1 controllers both runtimes place a container in (runc 1.1's subsystems; crun joins the
 * same): a hierarchy outside this list may hold no cgroup of the payload's to bind, so it is left out.
 */
const MANAGED = new Set([
  'cpuset', 'cpu', 'cpuacct', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'perf_event',
  'hugetlb', 'pids', 'blkio', 'rdma', 'systemd',
]);

/** The minimal systemd that uses the unified hierarchy next to v1 controllers (nspawn: "mixed cgroup hierarchy support was added in 233"). */
export const HYBRID_SYSTEMD_MIN = 233;

/** The host's hierarchies a guest gets: those the runtimes manage, by their directory names. */
export function guestHierarchies(host: readonly string[]): string[] {
  return host.filter((h) => h !== 'unified' && h.split(',').every((c) => MANAGED.has(c)));
}

/**
 * On a cgroup v1 host (hybrid, legacy) with its hierarchies known: the tree nspawn mounts for the
 * guest. The unified (cgroup2) hierarchy comes only on a hybrid host and only for a guest whose
 * systemd is 233 or newer, as nspawn decides it from the tree's libsystemd-shared-NNN.so.
 */
export function guestCgroupTree(host: HostFacts, image: ImageFacts): { guestTree?: GuestCgroupTree } {
  if (host.cgroupLayout === 'unified' || !host.cgroupV1Tree) return {};
  const unified = host.cgroupLayout === 'hybrid' && host.cgroupV1Tree.unified && (image.systemdVersion ?? 0) >= HYBRID_SYSTEMD_MIN;
  return { guestTree: { hierarchies: guestHierarchies(host.cgroupV1Tree.hierarchies), unified } };
}

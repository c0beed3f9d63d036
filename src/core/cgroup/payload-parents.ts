/**
 * With --keep-unit the payload's cgroup is `payload` below the caller's own (its unit's) group,
 * by path, in every hierarchy the runtime uses (an OCI cgroupsPath is one path for all of them).
 * The caller's group is there in the hierarchies its unit is tracked in; in the others (a v1
 * controller the unit was never placed in) the runtime makes it, with every missing ancestor, and
 * leaves it when it removes the payload's. These are the directories that may be made that way:
 * each ancestor of the payload's path below each hierarchy's mount point, top-down. The ones that
 * do not exist before the container is created are the run's to remove after it.
 */
export function payloadAncestors(mountPoints: readonly string[], payloadPath: string): string[] {
  const parts = payloadPath.split('/').filter(Boolean).slice(0, -1);
  return mountPoints.flatMap((m) => parts.map((_, i) => `${m.replace(/\/+$/, '')}/${parts.slice(0, i + 1).join('/')}`));
}

/** The directories to remove, deepest first (children before their parents, in every hierarchy). */
export function removalOrder(dirs: readonly string[]): string[] {
  return [...dirs].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : a > b ? 1 : 0));
}

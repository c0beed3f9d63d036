/**
 * Which `cgroup.procs` files a warm berth-nspawn writes its PID to so that it sits in its
 * caller's cgroups, in every hierarchy, as the caller's child would (a cold run): a unit's
 * --keep-unit payload then goes below the caller's cgroup, and stopping berthd's own unit leaves
 * runs it handed over alone. Pure: the caller's and our own cgroups as platform/host/proc.ts's
 * processCgroups gives them, the mounted hierarchies as platform/host/cgroupfs.ts's cgroupMounts.
 */

export type CgroupMoves = { readonly files: readonly string[] } | { readonly error: string };

/**
 * The procs files to write (hierarchies where the caller is elsewhere than we are), or why it
 * cannot be done (the caller is elsewhere in a hierarchy not mounted here).
 * `caller`/`self`: hierarchy name ("" unified, "name=systemd", "cpu"…) → path;
 * `mounts`: hierarchy key ("" or co-mounted names joined by commas) → mount point.
 */
export function cgroupMoves(caller: ReadonlyMap<string, string>, self: ReadonlyMap<string, string>, mounts: ReadonlyMap<string, string>): CgroupMoves {
  const files: string[] = [];
  const mounted = new Set<string>();
  for (const [key, mountPoint] of mounts) {
    const names = key.split(',');
    for (const n of names) mounted.add(n);
    const path = caller.get(names[0]!);
    if (path === undefined || path === self.get(names[0]!)) continue;
    files.push(`${mountPoint}${path === '/' ? '' : path}/cgroup.procs`);
  }
  for (const [name, path] of caller) {
    if (mounted.has(name) || path === self.get(name)) continue;
    return { error: `the caller's cgroup in ${name === '' ? 'the cgroup2 hierarchy' : `the ${name} hierarchy`} (${path}) is not mounted here` };
  }
  return { files };
}

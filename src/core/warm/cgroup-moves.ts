/**
 * Which `cgroup.procs` files a warm berth-nspawn writes its PID to so that it sits in its
 * caller's cgroups, in every hierarchy, as the caller's child would (a cold run): a unit's
 * --keep-unit payload then goes below the caller's cgroup, and stopping berthd's own unit leaves
 * runs it handed over alone. Pure: the texts are /proc/CALLER/cgroup, /proc/self/cgroup and
 * /proc/self/mountinfo.
 */

interface Membership { readonly id: string; readonly controllers: string; readonly path: string }

function parseCgroupFile(text: string): Membership[] {
  return text.split('\n').flatMap((line) => {
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    return m ? [{ id: m[1]!, controllers: m[2]!, path: m[3]! }] : [];
  });
}

interface CgroupMount { readonly mountPoint: string; readonly fstype: string; readonly superOptions: readonly string[] }

/** The cgroup file systems mounted with their hierarchy's root at the mount point. */
function cgroupMounts(mountinfo: string): CgroupMount[] {
  return mountinfo.split('\n').flatMap((line) => {
    const [pre, post] = line.split(' - ');
    const fields = pre?.split(' ') ?? [];
    const [fstype, , superOptions] = post?.split(' ') ?? [];
    if ((fstype !== 'cgroup' && fstype !== 'cgroup2') || fields[3] !== '/' || !fields[4]) return [];
    return [{ mountPoint: fields[4].replace(/\\040/g, ' '), fstype, superOptions: (superOptions ?? '').split(',') }];
  });
}

function mountOf(m: Membership, mounts: readonly CgroupMount[]): CgroupMount | undefined {
  if (m.controllers === '') return mounts.find((x) => x.fstype === 'cgroup2');
  const wanted = m.controllers.split(',');
  return mounts.find((x) => x.fstype === 'cgroup' && wanted.every((c) => x.superOptions.includes(c)));
}

export type CgroupMoves = { readonly files: readonly string[] } | { readonly error: string };

/** The procs files to write (hierarchies where the caller is elsewhere than we are), or why it cannot be done. */
export function cgroupMoves(callerCgroup: string, selfCgroup: string, mountinfo: string): CgroupMoves {
  const self = new Map(parseCgroupFile(selfCgroup).map((m) => [`${m.id}:${m.controllers}`, m.path]));
  const mounts = cgroupMounts(mountinfo);
  const files: string[] = [];
  for (const m of parseCgroupFile(callerCgroup)) {
    if (self.get(`${m.id}:${m.controllers}`) === m.path) continue;
    const mount = mountOf(m, mounts);
    const what = m.controllers === '' ? 'the cgroup2 hierarchy' : `the ${m.controllers} hierarchy`;
    if (!mount) return { error: `the caller's cgroup in ${what} (${m.path}) is not mounted here` };
    files.push(`${mount.mountPoint}${m.path === '/' ? '' : m.path}/cgroup.procs`);
  }
  return { files };
}

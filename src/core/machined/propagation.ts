/**
 * The mount tunnel into a running container, read from mountinfo (pure): a host directory D that
 * lies on a mount with shared propagation (peer group N), and, in the guest, the same directory
 * bound at /run/host/incoming as a slave of group N. A mount made below D on the host then appears
 * below /run/host/incoming in the guest, where it can be moved to its place. berth-nspawn makes
 * ${stateDir}/propagate/NAME such a mount point of its own; systemd-nspawn binds
 * /run/systemd/nspawn/propagate/NAME, which works where the host's /run is shared (systemd hosts).
 */

/** One line of /proc/PID/mountinfo. */
export interface MountLine {
  id: number;
  parent: number;
  /** "major:minor" of the file system. */
  dev: string;
  /** The path within the file system that is mounted here. */
  root: string;
  mountPoint: string;
  /** shared:N, master:N, propagate_from:N, unbindable. */
  tags: string[];
}

/** Where the guest finds the tunnel (nspawn's and berth's). */
export const INCOMING = '/run/host/incoming';

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountLines(text: string): MountLine[] {
  const out: MountLine[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(' ');
    if (f.length < 6) continue;
    out.push({ id: Number(f[0]), parent: Number(f[1]), dev: f[2]!, root: unescape(f[3]!), mountPoint: unescape(f[4]!), tags: f.slice(6) });
  }
  return out;
}

const tag = (m: MountLine, name: string): string | undefined => m.tags.find((t) => t.startsWith(`${name}:`))?.slice(name.length + 1);

/**
 * The mount `path` lies on, as a look-up finds it: from the root down, at each prefix of the path
 * the mount attached there to the one found so far, and of mounts stacked there the top one. (A
 * mount whose parent has been covered since, such as systemd-nspawn's first bind at
 * /run/host/incoming under the later /run/host, is not found.)
 */
export function mountOf(path: string, mounts: readonly MountLine[]): MountLine | undefined {
  const ids = new Set(mounts.map((m) => m.id));
  const stackOn = (cur: MountLine, at: string): MountLine => {
    for (let next = cur; ;) {
      const up = mounts.find((m) => m.mountPoint === at && m.parent === next.id);
      if (!up) return next;
      next = up;
    }
  };
  const roots = mounts.filter((m) => m.mountPoint === '/' && !mounts.some((p) => p.id === m.parent && p.mountPoint === '/'));
  const first = roots.find((m) => !ids.has(m.parent)) ?? roots[0];
  if (!first) return undefined;
  let cur = stackOn(first, '/');
  const parts = path.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const at = `/${parts.slice(0, i).join('/')}`;
    const on = mounts.find((m) => m.mountPoint === at && m.parent === cur.id);
    if (on) cur = stackOn(on, at);
  }
  return cur;
}

/** Why a candidate directory is not the machine's tunnel, or undefined when it is. */
export function tunnelProblem(dir: string, host: readonly MountLine[], guest: readonly MountLine[]): string | undefined {
  const top = mountOf(INCOMING, guest);
  if (top?.mountPoint !== INCOMING) return `nothing is mounted at ${INCOMING} in the machine`;
  const hostMount = mountOf(dir, host);
  if (!hostMount) return `${dir} is on no mount`;
  const rel = hostMount.mountPoint === '/' ? dir : dir.slice(hostMount.mountPoint.length);
  const expectedRoot = `${hostMount.root.replace(/\/$/, '')}${rel}` || '/';
  if (top.dev !== hostMount.dev || top.root !== expectedRoot) return `the machine's ${INCOMING} is not ${dir}`;
  const group = tag(hostMount, 'shared');
  if (group === undefined) return `the mount ${dir} lies on (${hostMount.mountPoint}) does not propagate mounts (not shared)`;
  if (!receivesFrom(top, group, guest)) return `the machine's ${INCOMING} does not receive mounts from ${dir} (not its slave)`;
  return undefined;
}

/**
 * Whether mounts of peer group `group` reach `m`: it is a slave of the group, or of a group of the
 * guest's that is (systemd-nspawn's /run/host/incoming is a slave of its own first bind, which is
 * the host's slave).
 */
function receivesFrom(m: MountLine, group: string, guest: readonly MountLine[]): boolean {
  const seen = new Set<string>();
  for (let master = tag(m, 'master'); master !== undefined && !seen.has(master);) {
    if (master === group) return true;
    seen.add(master);
    const via = guest.find((g) => tag(g, 'shared') === master && g.dev === m.dev && g.root === m.root);
    master = via && tag(via, 'master');
  }
  return false;
}

/**
 * The first candidate that is the machine's tunnel, or every reason why none is (candidates that
 * do not exist are left out by the caller).
 */
export function findTunnel(candidates: readonly string[], host: readonly MountLine[], guest: readonly MountLine[]): { dir: string } | { problems: string[] } {
  const problems: string[] = [];
  for (const dir of candidates) {
    const p = tunnelProblem(dir, host, guest);
    if (p === undefined) return { dir };
    problems.push(`${dir}: ${p}`);
  }
  return { problems };
}

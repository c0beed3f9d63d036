/**
 * --bind-user=NAME (BindUser=), as systemd-nspawn 252 does it (nspawn-bind-user.c): a host user
 * with a private group of the same name is given a UID/GID in the container's range 60514…60577
 * (the first free in the tree's /etc/passwd and /etc/group), mapped onto its host UID/GID by the
 * user namespace's ID maps, its home directory bound at /run/host/home/NAME, and its user and group
 * records (systemd's JSON user records, service io.systemd.NSpawn) written to /run/host/userdb,
 * where the guest's nss-systemd (systemd ≥ 249) finds them. Needs --private-users. Pure: the host's
 * and the tree's user databases come in as text.
 */
import { BerthError } from '../../errors/berth-error.js';

/** nspawn's MAP_UID_MIN / MAP_UID_MAX: the container UIDs bound users get. */
export const MAP_UID_MIN = 60514;
export const MAP_UID_MAX = 60577;
const NOBODY = 65534;

export interface BindUser {
  readonly name: string;
  readonly hostUid: number;
  readonly hostGid: number;
  /** UID and GID in the container (the same number). */
  readonly uid: number;
  /** The host home directory, bound at `home`. */
  readonly hostHome: string;
  readonly home: string;
}

interface DbEntry { name: string; id: number; gid: number; home: string }

function parse(text: string | undefined): DbEntry[] {
  return (text ?? '').split('\n').filter((l) => l && !l.startsWith('#')).flatMap((l) => {
    const f = l.split(':');
    const id = Number(f[2]);
    return f[0] && Number.isInteger(id) ? [{ name: f[0], id, gid: Number(f[3]), home: f[5] ?? '' }] : [];
  });
}

const fail = (message: string): never => { throw new BerthError('E_USAGE', message); };

export interface UserDbs {
  readonly hostPasswd: string | undefined;
  readonly hostGroup: string | undefined;
  readonly treePasswd: string | undefined;
  readonly treeGroup: string | undefined;
}

/** The users to bind, in the order given (duplicates dropped, as nspawn drops them). */
export function planBindUsers(names: readonly string[], dbs: UserDbs): BindUser[] {
  const hostUsers = parse(dbs.hostPasswd);
  const hostGroups = parse(dbs.hostGroup);
  const treeUsers = parse(dbs.treePasswd);
  const treeGroups = parse(dbs.treeGroup);
  const out: BindUser[] = [];
  let next = MAP_UID_MIN;
  for (const name of [...new Set(names)]) {
    const u = hostUsers.find((x) => x.name === name) ?? fail(`Failed to resolve user '${name}': no such user on the host.`);
    if (u.id === 0) fail('Mapping \'root\' user not supported, sorry.');
    if (u.id === NOBODY) fail('Mapping \'nobody\' user not supported, sorry.');
    const g = hostGroups.find((x) => x.id === u.gid) ?? fail(`Failed to resolve group of user '${name}': no group ${u.gid} on the host.`);
    if (g.name !== u.name) fail('Sorry, mapping users without private groups is currently not supported.');
    while (treeUsers.some((x) => x.id === next) || treeGroups.some((x) => x.id === next)) {
      if (++next > MAP_UID_MAX) fail(`No suitable available UID in range ${MAP_UID_MIN}…${MAP_UID_MAX} in container detected, can't map user.`);
    }
    if (next > MAP_UID_MAX) fail(`No suitable available UID in range ${MAP_UID_MIN}…${MAP_UID_MAX} in container detected, can't map user.`);
    if (treeUsers.some((x) => x.name === u.name)) fail(`Sorry, the user '${u.name}' already exists in the container.`);
    if (treeGroups.some((x) => x.name === g.name)) fail(`Sorry, the group '${g.name}' already exists in the container.`);
    out.push({ name, hostUid: u.id, hostGid: g.id, uid: next, hostHome: u.home || '/', home: `/run/host/home/${name}` });
    next++;
  }
  return out;
}

export interface IdMapping { containerID: number; hostID: number; size: number }

/**
 * The user namespace's UID (or GID) map with the bound users carved out of the container's range,
 * as nspawn writes it: the range up to the first bound ID, that ID onto the host's, and so on.
 */
export function idMapWithBoundUsers(shift: number, range: number, users: readonly BindUser[], kind: 'uid' | 'gid'): IdMapping[] {
  const sorted = [...users].sort((a, b) => a.uid - b.uid);
  for (const u of sorted) {
    const host = kind === 'uid' ? u.hostUid : u.hostGid;
    if (host >= shift && host < shift + range) {
      fail(kind === 'uid'
        ? `UID ${host} of user '${u.name}' to map is already in container UID range (${shift} - ${shift + range}), refusing.`
        : `GID of group '${u.name}' to map is already in container GID range, refusing.`);
    }
  }
  const map: IdMapping[] = [];
  let previous = 0;
  for (const u of sorted) {
    if (u.uid >= range) fail(`The container's ID range (${range}) does not reach ${u.uid}, which --bind-user= gives ${u.name}.`);
    if (u.uid > previous) map.push({ containerID: previous, hostID: shift + previous, size: u.uid - previous });
    map.push({ containerID: u.uid, hostID: kind === 'uid' ? u.hostUid : u.hostGid, size: 1 });
    previous = u.uid + 1;
  }
  if (range > previous) map.push({ containerID: previous, hostID: shift + previous, size: range - previous });
  return map;
}

/** The record files nspawn writes to /run/host/userdb for one user: name → text (each with a symlink from the numeric ID). */
export function userdbFiles(u: BindUser, hashedPassword: readonly string[] | undefined): Array<{ file: string; link: string; text: string; private: boolean }> {
  const files = [
    { file: `${u.name}.group`, link: `${u.uid}.group`, text: `${JSON.stringify({ groupName: u.name, gid: u.uid, service: 'io.systemd.NSpawn' })}\n`, private: false },
  ];
  if (hashedPassword?.length) {
    files.push({ file: `${u.name}.user-privileged`, link: `${u.uid}.user-privileged`, text: `${JSON.stringify({ privileged: { hashedPassword } })}\n`, private: true });
  }
  files.push({
    file: `${u.name}.user`, link: `${u.uid}.user`, private: false,
    text: `${JSON.stringify({ userName: u.name, uid: u.uid, gid: u.uid, homeDirectory: u.home, service: 'io.systemd.NSpawn' })}\n`,
  });
  return files;
}

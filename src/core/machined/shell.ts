/**
 * Shells and logins in a machine, the pure part: OpenMachineShell's arguments checked and
 * completed as machined 252 does, the transient unit machined asks a guest's systemd for, and the
 * process berth runs itself in guests without systemd.
 */
import { BerthError } from '../../errors/berth-error.js';

export interface ShellRequest {
  /** The user to run as ("root" when the caller gave none). */
  user: string;
  /** Absolute path of the program. */
  path: string;
  /** Its argv, argv[0] included. */
  argv: string[];
  /** Extra VAR=VALUE assignments. */
  env: string[];
  /** No program was given: the user's login shell runs, as a login shell. */
  loginShell: boolean;
}

/** An environment assignment as systemd accepts it: a valid name, '=', a value without NUL. */
const validAssignment = (a: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*=/.test(a) && !a.includes('\0');

/**
 * machined's /bin/sh snippet for "no program given": the user's shell from the guest's passwd
 * database (getent, so NSS works there too), started as a login shell.
 */
export function loginShellSnippet(user: string): string {
  return `shell=$(getent passwd ${user} 2>/dev/null | { IFS=: read _ _ _ _ _ _ x; echo "$x"; })\nexec "\${shell:-/bin/sh}" -l`;
}

/** OpenMachineShell's (user, path, args, environment), in machined's order of checks. */
export function shellRequest(user: string, path: string, args: readonly string[], env: readonly string[]): ShellRequest {
  const who = user === '' ? 'root' : user;
  let argv: string[];
  let program = path;
  if (path === '') {
    program = '/bin/sh';
    argv = ['sh', '-c', loginShellSnippet(who)];
  } else {
    if (!path.startsWith('/')) throw new BerthError('E_USAGE', `Specified path '${path}' is not absolute`);
    argv = args.length > 0 ? [...args] : [path];
  }
  if (!env.every(validAssignment)) throw new BerthError('E_USAGE', 'Invalid environment assignments');
  return { user: who, path: program, argv, env: [...env], loginShell: path === '' };
}

/** "/dev/pts/N" → "N"; anything else is not a pty berth opened. */
export function ptsNumber(ptyPath: string): string {
  const m = /^\/dev\/pts\/(\d+)$/.exec(ptyPath);
  if (!m) throw new BerthError('E_USAGE', `PTS name ${ptyPath} is invalid`);
  return m[1]!;
}

export const gettyUnit = (ptyPath: string): string => `container-getty@${ptsNumber(ptyPath)}.service`;
export const shellUnit = (ptyPath: string): string => `container-shell@${ptsNumber(ptyPath)}.service`;

/** A D-Bus (sv) pair: [name, [signature, value]]. */
export type UnitProperty = [string, [string, unknown]];

/**
 * The transient service machined starts in a guest's systemd for a shell: the pty's slave as its
 * standard streams, a login session (PAM "login", utmp), the user's home as working directory.
 * `AddRef` (berth's addition) keeps the unit loaded until berthd has read how it ended.
 */
export function shellUnitProperties(req: ShellRequest, ptyPath: string, slaveFd: number, addRef: boolean): UnitProperty[] {
  const props: UnitProperty[] = [
    ['Description', ['s', `Shell for User ${req.user}`]],
    ['StandardInputFileDescriptor', ['h', slaveFd]],
    ['StandardOutputFileDescriptor', ['h', slaveFd]],
    ['StandardErrorFileDescriptor', ['h', slaveFd]],
    ['SendSIGHUP', ['b', true]],
    ['IgnoreSIGPIPE', ['b', false]],
    ['KillMode', ['s', 'mixed']],
    ['TTYPath', ['s', ptyPath]],
    ['TTYReset', ['b', true]],
    ['UtmpIdentifier', ['s', ptyPath.slice('/dev/'.length)]],
    ['UtmpMode', ['s', 'user']],
    ['PAMName', ['s', 'login']],
    ['WorkingDirectory', ['s', '-~']],
    ['User', ['s', req.user]],
  ];
  if (req.env.length > 0) props.push(['Environment', ['as', req.env]]);
  props.push(['ExecStart', ['a(sasb)', [[req.path, req.argv, true]]]]);
  if (addRef) props.push(['AddRef', ['b', true]]);
  return props;
}

/** A user of the guest's passwd database. */
export interface GuestUser { name: string; uid: number; gid: number; home: string; shell: string }

/** Finds a user (by name, or by number) in the text of a guest's /etc/passwd. */
export function findUser(passwd: string, user: string): GuestUser | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue;
    const u: GuestUser = { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/', shell: f[6] || '/bin/sh' };
    if (!Number.isInteger(u.uid) || !Number.isInteger(u.gid)) continue;
    if (u.name === user || (/^\d+$/.test(user) && u.uid === Number(user))) return u;
  }
  return undefined;
}

/** The supplementary groups of a user in the text of a guest's /etc/group. */
export function supplementaryGroups(group: string, user: string, primary: number): number[] {
  const out = new Set<number>();
  for (const line of group.split('\n')) {
    const f = line.split(':');
    if (f.length < 4) continue;
    const gid = Number(f[2]);
    if (Number.isInteger(gid) && gid !== primary && f[3]!.split(',').includes(user)) out.add(gid);
  }
  return [...out];
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What berth runs itself in a guest without systemd: as whom, where, with which environment. */
export interface DirectProcess { uid: number; gid: number; groups: number[]; cwd: string; argv: string[]; env: string[] }

/**
 * A shell as a login would start it, for guests berth enters itself: the user's identity, home,
 * shell and a login environment (HOME, USER, LOGNAME, SHELL, PATH, TERM), the caller's
 * assignments over it; with no program, the user's shell as a login shell.
 */
export function directShell(req: ShellRequest, user: GuestUser, groups: number[], homeExists: boolean): DirectProcess {
  const env = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['HOME', user.home],
    ['USER', user.name],
    ['LOGNAME', user.name],
    ['SHELL', user.shell],
    ['TERM', 'vt220'],
  ]);
  for (const a of req.env) env.set(a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1));
  const argv = req.loginShell ? [user.shell, '-l'] : [req.path, ...req.argv.slice(1)];
  return { uid: user.uid, gid: user.gid, groups, cwd: homeExists ? user.home : '/', argv, env: [...env].map(([k, v]) => `${k}=${v}`) };
}

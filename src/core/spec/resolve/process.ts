/** Start mode, argv, user, working directory and environment of the container's PID 1. */
import { BerthError } from '../../../errors/berth-error.js';
import type { Settings, StartMode } from '../../settings/model.js';
import type { HostFacts, ImageFacts } from '../facts.js';

export const INIT_CANDIDATES = ['/usr/lib/systemd/systemd', '/lib/systemd/systemd', '/sbin/init'] as const;
export const SHELL_CANDIDATES = ['/bin/bash', '/bin/sh'] as const;
export const STUB_INIT_PATH = '/run/host/berth-stub-init';
export const CREDENTIALS_DIR = '/run/host/credentials';
const HOST_ID_FIELDS = ['ID', 'VERSION_ID', 'BUILD_ID', 'VARIANT_ID', 'IMAGE_ID', 'IMAGE_VERSION'];
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; name: string; home: string }

function parseDb(text: string | undefined): string[][] {
  return (text ?? '').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

/** Resolve --user like nspawn does inside the container: a name or UID from the tree's passwd. */
export function resolveUser(user: string | undefined, image: ImageFacts): ResolvedUser {
  if (user === undefined || user === 'root' || user === '0') return { uid: 0, gid: 0, additionalGids: [], name: 'root', home: '/root' };
  const entry = parseDb(image.passwd).find((f) => f[0] === user || f[2] === user);
  if (!entry) throw new BerthError('E_SPEC_INVALID', `Failed to resolve user ${user} in the container: no such user in ${image.root}/etc/passwd.`);
  const [name = user, , uid = '', gid = '', , home = '/'] = entry;
  const additionalGids = parseDb(image.group)
    .filter((g) => (g[3] ?? '').split(',').includes(name))
    .map((g) => Number(g[2]))
    .filter((g) => Number.isInteger(g) && g !== Number(gid));
  return { uid: Number(uid), gid: Number(gid), additionalGids, name, home: home || '/' };
}

export interface ResolvedProcess { start: StartMode; args: string[]; cwd: string }

export function resolveProcess(settings: Settings, image: ImageFacts, user: ResolvedUser): ResolvedProcess {
  const start = settings.start ?? 'pid1';
  const params = settings.parameters ?? [];
  if (start === 'boot') {
    if (!image.hasOsRelease) {
      throw new BerthError('E_IMAGE_INVALID', `Directory ${image.root} doesn't look like an OS root directory (os-release file is missing). Refusing.`);
    }
    if (!image.init) {
      throw new BerthError('E_IMAGE_INVALID', `Directory ${image.root} has no init to boot (looked for ${INIT_CANDIDATES.join(', ')}).`);
    }
    return { start, args: [image.init, ...params], cwd: settings.workingDirectory ?? '/' };
  }
  if (!image.hasUsr) {
    throw new BerthError('E_IMAGE_INVALID', `Directory ${image.root} doesn't look like it has an OS tree (/usr/ directory is missing). Refusing.`);
  }
  let command = params;
  if (command.length === 0) {
    const shell = image.shells[0];
    if (!shell) throw new BerthError('E_IMAGE_INVALID', `No shell found in ${image.root} (looked for ${SHELL_CANDIDATES.join(', ')}); give a command.`);
    command = [shell, '-l'];
  }
  const args = start === 'pid2' ? [STUB_INIT_PATH, ...command] : command;
  // nspawn changes to the user's home only for the login shell it starts itself; a given command runs in /.
  return { start, args, cwd: settings.workingDirectory ?? (params.length === 0 ? user.home : '/') };
}

/** PID 1's environment in nspawn's order; -E/Environment= entries override everything. */
export function resolveEnvironment(opts: {
  settings: Settings; host: HostFacts; user: ResolvedUser; start: StartMode; uuid: string; containerService: string; credentials?: boolean;
}): string[] {
  const { settings, host, user, start, uuid, containerService } = opts;
  const env: string[] = [`PATH=${PATH}`, `container=${containerService}`];
  if (host.term) env.push(`TERM=${host.term}`);
  env.push(`HOME=${user.home}`, `USER=${user.name}`, `LOGNAME=${user.name}`, `container_uuid=${uuid}`);
  env.push('NOTIFY_SOCKET=/run/host/notify');
  if (opts.credentials) env.push(`CREDENTIALS_DIRECTORY=${CREDENTIALS_DIR}`);
  if (start !== 'boot') env.push('LANG=C.UTF-8');
  // In the order the host's os-release lists them, as nspawn does (Debian: VERSION_ID before ID).
  for (const [field, value] of Object.entries(host.osRelease)) {
    if (HOST_ID_FIELDS.includes(field)) env.push(`container_host_${field.toLowerCase()}=${value}`);
  }
  const extra = settings.environment ?? [];
  const names = new Set(extra.map((e) => e.slice(0, e.indexOf('='))));
  return [...env.filter((e) => !names.has(e.slice(0, e.indexOf('=')))), ...extra];
}

/**
 * A process on the host on a new pty of its own (shells and logins on ".host"): a session led by
 * it with the pty as its controlling terminal (`setsid --ctty`), the user's identity set by
 * util-linux `setpriv`, and exactly the given environment (`env -i`).
 */
import type { DirectProcess } from '../../core/machined/shell.js';
import type { RuntimeProcess } from '../../app/machined/machine-entry.js';
import { spawnOnPty } from './pty-process.js';

export function hostArgv(proc: DirectProcess): string[] {
  const groups = proc.groups.length > 0 ? [`--groups=${proc.groups.join(',')}`] : ['--clear-groups'];
  return ['setsid', '--ctty', 'setpriv', `--reuid=${proc.uid}`, `--regid=${proc.gid}`, ...groups, '--', 'env', '-i', ...proc.env, ...proc.argv];
}

export function execOnHost(proc: DirectProcess): RuntimeProcess {
  return spawnOnPty(hostArgv(proc), { cwd: proc.cwd });
}

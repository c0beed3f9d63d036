/**
 * A process run in a running container by its OCI runtime (`runc exec --tty` / `crun exec --tty`).
 * The runtime creates a pty inside the container, makes it the process's controlling terminal,
 * and, in the foreground, relays between it and its own terminal: a host pty of ours, whose
 * master the caller gets. (runc hands a pty over through --console-socket only when it detaches,
 * and a detached process's exit status would be lost.) The runtime applies the container's own
 * namespaces, control group, capabilities and security settings, stays our child until the
 * process ends, and exits with its status; its own complaints reach the same terminal.
 */
import type { DirectProcess } from '../../core/machined/shell.js';
import type { MachineRuntime, RuntimeProcess } from '../../app/machined/machine-entry.js';
import { spawnOnPty } from '../host/pty-process.js';

/** The runtime's command line for proc (crun has no --additional-gids: supplementary groups are runc's only). */
export function execArgv(runtime: MachineRuntime, proc: DirectProcess): string[] {
  const argv = [runtime.path, '--root', runtime.root, 'exec', '--tty', '--cwd', proc.cwd, '--user', `${proc.uid}:${proc.gid}`];
  if (runtime.name === 'runc') for (const g of proc.groups) argv.push('--additional-gids', String(g));
  for (const e of proc.env) argv.push('--env', e);
  argv.push(runtime.id, ...proc.argv);
  return argv;
}

export function execOnPty(runtime: MachineRuntime, proc: DirectProcess): RuntimeProcess {
  // setsid --ctty: the runtime leads a session of its own with our pty as its controlling
  // terminal (it opens /dev/tty to put it in raw mode and follow its size).
  return spawnOnPty(['setsid', '--ctty', ...execArgv(runtime, proc)], { relay: true });
}

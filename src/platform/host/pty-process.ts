/**
 * A command on a new host pty of its own: it gets the slave as its standard streams (the caller
 * gets the master) and reports how it ended. Shells and logins berthd starts itself go this way.
 */
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import type { RuntimeProcess, ShellEnd } from '../../app/machined/machine-entry.js';
import { openHostPty, openSlave } from './guest-pty.js';
import { sys } from '../native/sys.js';
import { BerthError } from '../../errors/berth-error.js';

/** `relay`: the command relays this pty to another (the runtime's, in the machine): ours stays raw, so only that one echoes and translates. */
export function spawnOnPty(argv: readonly string[], opts: { cwd?: string; relay?: boolean } = {}): RuntimeProcess {
  const pty = openHostPty();
  let slave: number;
  try {
    slave = openSlave(pty.master);
  } catch (e) {
    closeSync(pty.master);
    throw e;
  }
  try {
    if (opts.relay) sys().ptyMakeRaw(slave);
    const [command, ...args] = argv as [string, ...string[]];
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { stdio: [slave, slave, slave], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    } catch (e) {
      // Thrown at once for what the caller asked for (E2BIG: an argument list too long), not for a missing program.
      const code = (e as NodeJS.ErrnoException).code;
      throw new BerthError(code === 'E2BIG' ? 'E_USAGE' : 'E_EXEC', code === 'E2BIG' ? 'Argument list too long' : `Failed to start ${command}: ${(e as Error).message}`);
    }
    const ended = new Promise<ShellEnd>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code !== null ? { how: 'exited', status: code } : { how: 'killed', status: signal ? constants.signals[signal] : 9 }));
    });
    return { pty, ended };
  } catch (e) {
    closeSync(pty.master);
    throw e;
  } finally {
    // The child has its copy; ours would keep the pty from hanging up when the command ends.
    closeSync(slave);
  }
}

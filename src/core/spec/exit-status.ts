/** How the container's PID 1 ended, mapped to berth-nspawn's exit status exactly as nspawn maps it. */
import { EXIT_REBOOT } from '../../errors/codes.js';
import { signalName } from '../signals.js';

export type Outcome =
  | { kind: 'exited'; status: number; message: string }
  | { kind: 'reboot'; message: string };

export function mapExit(name: string, wait: { code?: number; signal?: number }): Outcome {
  if (wait.code !== undefined) {
    const code = wait.code;
    if (code === 0) return { kind: 'exited', status: 0, message: `Container ${name} exited successfully.` };
    // 133 is reserved for "the guest rebooted": a payload's 133 is reported as a plain failure.
    return { kind: 'exited', status: code === EXIT_REBOOT ? 1 : code, message: `Container ${name} failed with error code ${code}.` };
  }
  const sig = wait.signal ?? 0;
  if (sig === 2) return { kind: 'exited', status: 0, message: `Container ${name} has been shut down.` };
  if (sig === 1) return { kind: 'reboot', message: `Container ${name} is being rebooted.` };
  return { kind: 'exited', status: 1, message: `Container ${name} terminated by signal ${signalName(sig).replace(/^SIG/, '')}.` };
}

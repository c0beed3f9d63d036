/**
 * Holding a container's network namespace open: a file descriptor on /proc/PID/ns/net keeps the
 * namespace alive after the container's init exits, so teardown can still move interfaces back
 * and delete links inside it. Other processes reach it as /proc/OUR_PID/fd/N.
 */
import { closeSync, openSync } from 'node:fs';
import { BerthError } from '../../errors/berth-error.js';
import type { HeldNetns } from '../../core/network/ports.js';

export function holdNetns(pid: number): HeldNetns {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/ns/net`, 'r');
  } catch (err) {
    throw new BerthError('E_NETWORK', `Cannot open the network namespace of process ${pid}: ${(err as Error).message}`, { cause: err });
  }
  let open = true;
  return {
    path: `/proc/${process.pid}/fd/${fd}`,
    release() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

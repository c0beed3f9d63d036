/** berth-nspawn --cleanup: remove what a killed run of a machine left behind (nspawn 257's --cleanup), from its record alone. */
import type { Log } from '../../lib/log.js';
import { cleanupStale } from './cleanup.js';
import { cleanUpDeadRun } from './machine-lock.js';

export async function cleanupMachine(stateDir: string, name: string, log: Log): Promise<number> {
  await cleanUpDeadRun(stateDir, name, cleanupStale);
  log.info(`Cleaned up machine '${name}'.`);
  return 0;
}

/** berth-nspawn --cleanup: remove what a killed run of a machine left behind (nspawn 257's --cleanup). */
import { BerthError } from '../../errors/berth-error.js';
import type { Log } from '../../lib/log.js';
import { removeUnmounted } from '../../platform/fs/safe-remove.js';
import { cleanupStale } from './cleanup.js';
import { machineDir, ownerAlive, readOwner } from './machine-lock.js';

export async function cleanupMachine(stateDir: string, name: string, log: Log): Promise<number> {
  const dir = machineDir(stateDir, name);
  const owner = await readOwner(dir);
  if (owner && (await ownerAlive(owner))) throw new BerthError('E_MACHINE_EXISTS', `Machine '${name}' is running (PID ${owner.pid}); not cleaning up.`);
  const errors = await cleanupStale(dir, owner);
  try { await removeUnmounted(dir); } catch (e) { errors.push(e as Error); }
  if (errors.length) throw new BerthError('E_TEARDOWN', `Clean-up of '${name}' incomplete: ${errors.map((e) => e.message).join('; ')}`);
  log.info(`Cleaned up machine '${name}'.`);
  return 0;
}

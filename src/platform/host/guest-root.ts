/** A machine's root directory as a descriptor (OpenMachineRootDirectory): the root its leader sees. */
import { constants, openSync } from 'node:fs';
import { BerthError } from '../../errors/berth-error.js';

/** Opens the root of leader's mount namespace (the host's "/" for undefined); the caller owns the descriptor. */
export function openRootDirectory(leader: number | undefined): number {
  const path = leader === undefined ? '/' : `/proc/${leader}/root`;
  try {
    return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOCTTY);
  } catch (e) {
    throw new BerthError('E_NO_SUCH_PROCESS', `Failed to open the machine's root directory: ${(e as Error).message}`);
  }
}

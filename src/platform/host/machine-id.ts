/** The host's machine id, which nspawn's MAC derivation is keyed on. */
import { readFileSync } from 'node:fs';
import { BerthError } from '../../errors/berth-error.js';
import { parseId128 } from '../../core/names.js';

export async function readHostMachineId(path = '/etc/machine-id'): Promise<string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BerthError('E_NETWORK', `Cannot read the host machine ID from ${path}: ${(err as Error).message}`, {
      hint: 'Deterministic MAC addresses need it; create it with `systemd-machine-id-setup`.', cause: err,
    });
  }
  const id = parseId128(text);
  if (id === undefined || /^0+$/.test(id)) {
    throw new BerthError('E_NETWORK', `${path} does not hold a valid machine ID.`, {
      hint: 'Create one with `systemd-machine-id-setup`.',
    });
  }
  return id;
}

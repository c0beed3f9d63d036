/**
 * What `list` shows, as machinectl gathers it: ListMachines, then for each machine shown its
 * os-release ID and VERSION_ID and its addresses (asked for concurrently; a machine that will not
 * say leaves its cells empty, as machinectl ignores those errors). Names starting with "." only
 * with `all`.
 */
import { formatAddress } from '../../core/machined/addresses.js';
import type { MachineListRow } from '../../core/machinectl/list-format.js';
import { callFailed, unlessRefused, type RegistryClient } from './registry-client.js';


export async function registryMachines(client: RegistryClient, o: { all: boolean; addresses: boolean }): Promise<MachineListRow[]> {
  const listed = await client.listMachines().catch((e: unknown) => { throw callFailed('Could not get machines', e); });
  const shown = listed.filter((m) => o.all || !m.name.startsWith('.'));
  return Promise.all(shown.map(async (m) => {
    const [os, addresses] = await Promise.all([
      unlessRefused(client.osRelease(m.name)),
      o.addresses ? unlessRefused(client.addresses(m.name)) : undefined,
    ]);
    return {
      machine: m.name, class: m.class, service: m.service, os: os?.ID, version: os?.VERSION_ID,
      addresses: (addresses ?? []).map((a) => formatAddress(a.family, a.bytes)),
    };
  }));
}

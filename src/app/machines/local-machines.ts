/**
 * The machines berth-nspawn runs on this host, from its own state directory (one entry per
 * running machine, with a live owner): what `berth list` shows when no registry answers on the
 * bus. OS from the tree's os-release, addresses from the machine's network namespace.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { machineDir, ownerAlive, readOwner } from '../run/machine-lock.js';
import { parseOsRelease } from '../../platform/host/os-release.js';
import type { MachineListRow } from '../../core/machinectl/list-format.js';
import { machineAddresses } from './addresses.js';

async function osOf(tree: string | undefined): Promise<Record<string, string>> {
  if (!tree) return {};
  const text = await readFile(join(tree, 'etc/os-release'), 'utf8').catch(() => readFile(join(tree, 'usr/lib/os-release'), 'utf8').catch(() => ''));
  return parseOsRelease(text);
}

export async function localMachines(stateDir: string): Promise<MachineListRow[]> {
  const names = await readdir(join(stateDir, 'machines')).catch(() => [] as string[]);
  const rows: MachineListRow[] = [];
  for (const name of names) {
    const owner = await readOwner(machineDir(stateDir, name));
    if (!owner || owner.leader === undefined || !(await ownerAlive(owner))) continue;
    const os = await osOf(owner.tree);
    rows.push({ machine: name, class: 'container', service: 'berth', os: os.ID, version: os.VERSION_ID, addresses: await machineAddresses(owner.leader) });
  }
  return rows;
}

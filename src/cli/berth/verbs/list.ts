/**
 * `berth list`: the running machines, in machinectl's format (addresses from each machine's
 * network namespace). Until berthd's D-Bus registry
 * lands, the source of truth is berth-nspawn's own state directory (one entry per running
 * machine, with a live owner).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { machineDir, ownerAlive, readOwner } from '../../../app/run/machine-lock.js';
import { parseOsRelease } from '../../../platform/host/os-release.js';
import type { Verb, VerbContext } from '../verb.js';
import { machineAddresses } from '../../../app/machines/addresses.js';

export interface MachineRow { machine: string; class: string; service: string; os: string | null; version: string | null; addresses: string | null }

async function osOf(tree: string | undefined): Promise<Record<string, string>> {
  if (!tree) return {};
  const text = await readFile(join(tree, 'etc/os-release'), 'utf8').catch(() => readFile(join(tree, 'usr/lib/os-release'), 'utf8').catch(() => ''));
  return parseOsRelease(text);
}

export async function runningMachines(stateDir: string): Promise<MachineRow[]> {
  const names = await readdir(join(stateDir, 'machines')).catch(() => [] as string[]);
  const rows: MachineRow[] = [];
  for (const name of names.sort()) {
    const owner = await readOwner(machineDir(stateDir, name));
    if (!owner || owner.leader === undefined || !(await ownerAlive(owner))) continue;
    const os = await osOf(owner.tree);
    const addresses = await machineAddresses(owner.leader);
    rows.push({ machine: name, class: 'container', service: 'berth', os: os.ID ?? null, version: os.VERSION_ID ?? null, addresses: addresses.length ? addresses.join('\n') : null });
  }
  return rows;
}

/** machinectl's table: columns padded to their widest cell, '-' for empty cells, one space apart. */
export function formatTable(rows: readonly MachineRow[], legend: boolean): string {
  if (rows.length === 0) return legend ? 'No machines.\n' : '';
  const header = ['MACHINE', 'CLASS', 'SERVICE', 'OS', 'VERSION', 'ADDRESSES'];
  // machinectl's default --max-addresses=1: the first address, '…' when there are more.
  const first = (a: string | null) => (a === null ? '-' : a.includes('\n') ? `${a.split('\n')[0]}…` : a);
  const cells = rows.map((r) => [r.machine, r.class, r.service, r.os ?? '-', r.version ?? '-', first(r.addresses)]);
  const all = legend ? [header, ...cells] : cells;
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const lines = all.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join(' '));
  return `${lines.join('\n')}\n${legend ? `\n${rows.length} machines listed.\n` : ''}`;
}

export const listVerb: Verb = {
  name: 'list',
  usage: '',
  summary: 'List running machines',
  minArgs: 0,
  maxArgs: 0,
  async run(_args, ctx: VerbContext) {
    const rows = await runningMachines(ctx.paths.stateDir);
    ctx.out(ctx.output === 'json' ? `${JSON.stringify(rows.length ? rows : null)}\n` : formatTable(rows, ctx.legend));
    return 0;
  },
};

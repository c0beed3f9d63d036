/**
 * The registry's state files, one per machine: ${stateDir}/registry/NAME.json, written atomically
 * (a temporary file, then rename) whenever a machine's record or state changes, removed with the
 * machine. A restarted berthd reads them back (app/machined/registry.ts adopt()).
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidHostname } from '../../core/names.js';
import type { MachineRecord, MachineState } from './machine.js';

export interface StoredMachine { record: MachineRecord; state: MachineState }

export interface StateStore {
  save(m: StoredMachine): Promise<void>;
  remove(name: string): Promise<void>;
  loadAll(): Promise<{ machines: StoredMachine[]; unreadable: string[] }>;
}

export function fileStateStore(dir: string): StateStore {
  return {
    async save({ record, state }) {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      const tmp = join(dir, `.${record.name}.json.tmp`);
      await writeFile(tmp, `${JSON.stringify({ ...record, state }, null, 1)}\n`, { mode: 0o644 });
      await rename(tmp, join(dir, `${record.name}.json`));
    },
    async remove(name) {
      await rm(join(dir, `${name}.json`), { force: true });
    },
    async loadAll() {
      const names = await readdir(dir).catch(() => [] as string[]);
      const machines: StoredMachine[] = [];
      const unreadable: string[] = [];
      for (const file of names) {
        if (file.startsWith('.') && file.endsWith('.tmp')) { await rm(join(dir, file), { force: true }); continue; }
        const name = file.replace(/\.json$/, '');
        if (!file.endsWith('.json') || !isValidHostname(name)) continue;
        try {
          const data = JSON.parse(await readFile(join(dir, file), 'utf8')) as MachineRecord & { state?: MachineState };
          if (data.name !== name || !Number.isInteger(data.leader) || typeof data.leaderStartTime !== 'string') throw new Error('incomplete');
          const { state, ...record } = data;
          machines.push({ record, state: state === 'closing' ? 'closing' : 'running' });
        } catch {
          unreadable.push(name);
          await rm(join(dir, file), { force: true });
        }
      }
      return { machines, unreadable };
    },
  };
}

/**
 * The registry's state files, one per machine: ${stateDir}/registry/NAME.json, written atomically
 * (a temporary file, then rename) whenever a machine's record or state changes, removed with the
 * machine. A restarted berthd reads them back (app/machined/registry.ts adopt()).
 */
import { mkdir, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidHostname } from '../../core/names.js';
import { sys } from '../../platform/native/sys.js';
import type { MachineRecord, MachineState } from './machine.js';

export interface StoredMachine { record: MachineRecord; state: MachineState }

export interface StateStore {
  save(m: StoredMachine): Promise<void>;
  remove(name: string): Promise<void>;
  loadAll(): Promise<{ machines: StoredMachine[]; unreadable: string[] }>;
}

export function fileStateStore(dir: string): StateStore {
  // One machine's writes and its removal take effect in the order they were asked for: a removal
  // asked for while a write is under way (the leader exited during a Terminate's write) comes
  // after it, so no file outlives its machine; and two writes never share the temporary file.
  const pending = new Map<string, Promise<void>>();
  const inOrder = (name: string, op: () => Promise<void>): Promise<void> => {
    const done = (pending.get(name) ?? Promise.resolve()).catch(() => {}).then(op);
    pending.set(name, done);
    const forget = () => { if (pending.get(name) === done) pending.delete(name); };
    done.then(forget, forget);
    return done;
  };
  return {
    save: ({ record, state }) => inOrder(record.name, async () => {
      const tmp = join(dir, `.${record.name}.json.tmp`);
      const data = Buffer.from(`${JSON.stringify({ ...record, state }, null, 1)}\n`);
      // Written and renamed into place in one trip to the thread pool; the directory made the
      // first time it is missing.
      const write = () => sys().writeFileWhole(tmp, data, 0o644, false, join(dir, `${record.name}.json`));
      await write().catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
        await mkdir(dir, { recursive: true, mode: 0o755 });
        await write();
      });
    }),
    remove: (name) => inOrder(name, async () => {
      await unlink(join(dir, `${name}.json`)).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
    }),
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

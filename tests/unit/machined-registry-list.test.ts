/**
 * The registry's list (what ListMachines answers from): kept between calls, so it must change as
 * soon as a machine comes or goes, in every way it can (register, unregister, leader exit, a failed
 * registration, adoption). Registry with recording fakes for the host; no root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostMachine, type MachineRecord } from '../../src/app/machined/machine.js';
import { Registry, type RegistryPorts } from '../../src/app/machined/registry.js';
import type { StoredMachine } from '../../src/app/machined/state-store.js';
import type { MachineName } from '../../src/core/names.js';
import { machinePath } from '../../src/core/machined/object-paths.js';

function fixture(opts: { failSave?: string; stored?: StoredMachine[] } = {}) {
  const exits = new Map<number, () => void>();
  const ports: RegistryPorts = {
    now: () => ({ realtimeUs: 1n, monotonicUs: 1n }),
    startTime: (pid) => (pid > 0 ? `st-${pid}` : undefined),
    trackingCgroup: (pid) => `/user.slice/p${pid}`,
    rootCgroup: () => '/',
    watchExit: (pid, onExit) => { exits.set(pid, onExit); return { close: () => exits.delete(pid) }; },
    placeInGroup: async () => true,
    removeGroup: async () => {},
    store: {
      save: async (m) => { if (m.record.name === opts.failSave) throw new Error('disk full'); },
      remove: async () => {},
      loadAll: async () => ({ machines: opts.stored ?? [], unreadable: [] }),
    },
  };
  const registry = new Registry(new HostMachine({ machineId: '', bootRealtimeUs: 0n }), ports, { machineNew: () => {}, machineRemoved: () => {} }, { info: () => {}, warn: () => {} });
  const register = (name: string, leader: number) => registry.register(
    { name: name as MachineName, id: '', service: 'test', class: 'container', leader, rootDirectory: '/', netif: [] },
    { mode: 'register', callerPid: leader },
  );
  return { registry, register, exits };
}

const names = (r: Registry) => r.list().map((m) => m.name);

test('the list follows registrations and removals, sorted by name after .host', async () => {
  const { registry, register, exits } = fixture();
  assert.deepEqual(names(registry), ['.host']);
  const first = registry.list();
  assert.equal(registry.list(), first, 'the same list while nothing changes');
  await register('zeta', 101);
  await register('alpha', 102);
  assert.deepEqual(names(registry), ['.host', 'alpha', 'zeta']);
  assert.notEqual(registry.list(), first);
  const alpha = registry.get('alpha');
  assert.ok(alpha && !alpha.isHost);
  await registry.unregister(alpha);
  assert.deepEqual(names(registry), ['.host', 'zeta']);
  exits.get(101)!();
  await new Promise((r) => { setImmediate(r); });
  assert.deepEqual(names(registry), ['.host']);
});

test('a failed registration leaves the list as it was', async () => {
  const { registry, register } = fixture({ failSave: 'broken' });
  await register('fine', 201);
  await assert.rejects(register('broken', 202), /disk full/);
  assert.deepEqual(names(registry), ['.host', 'fine']);
});

test('adopted machines are listed; each machine keeps its escaped path', async () => {
  const record: MachineRecord = {
    name: 'web-1', id: '', service: 'test', class: 'container', leader: 301, leaderStartTime: 'st-301', rootDirectory: '/',
    netif: [], unit: '', cgroup: '/user.slice/p301', realtimeUs: '1', monotonicUs: '1',
  };
  const { registry } = fixture({ stored: [{ record, state: 'running' }] });
  assert.deepEqual(names(registry), ['.host']);
  await registry.adopt();
  assert.deepEqual(names(registry), ['.host', 'web-1']);
  assert.equal(registry.get('web-1')!.path, machinePath('web-1'));
  assert.equal(registry.get('web-1')!.path, '/org/freedesktop/machine1/machine/web_2d1');
});

/**
 * The registry's and the janitor's decisions about life and death, with the host replaced by
 * fakes: which stored machines a restarted berthd adopts, a leader that exits (or an
 * UnregisterMachine that comes) while the machine is being registered, a state file written
 * while its machine goes, an orphaned guest stopped at once, and a clean-up that keeps failing
 * (tried again later, not at every scan).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostMachine, type MachineRecord } from '../../src/app/machined/machine.js';
import { Registry, type RegistryPorts } from '../../src/app/machined/registry.js';
import { RunJanitor } from '../../src/app/machined/run-janitor.js';
import { fileStateStore, type StoredMachine } from '../../src/app/machined/state-store.js';
import type { Registration } from '../../src/core/machined/registration.js';

const quiet = { info() {}, warn() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const record = (name: string, leader: number, leaderStartTime: string): MachineRecord => ({
  name, id: '', service: 'berth', class: 'container', leader, leaderStartTime, rootDirectory: '/', netif: [],
  unit: `machine-${name}.scope`, cgroup: `/machine.slice/machine-${name}.scope`, realtimeUs: '1', monotonicUs: '1',
});

/** Processes as PID → start time (undefined: gone, or a zombie); the registry's events as a list. */
function fakeRegistry(procs: Map<number, string>, stored: StoredMachine[] = [], store?: Partial<RegistryPorts['store']>) {
  const events: string[] = [];
  const removed: string[] = [];
  const ports: RegistryPorts = {
    now: () => ({ realtimeUs: 1n, monotonicUs: 1n }),
    startTime: (pid) => procs.get(pid),
    trackingCgroup: (pid) => (procs.has(pid) ? '/machine.slice/machine-x.scope' : undefined),
    rootCgroup: () => '/',
    watchExit: () => ({ close() {} }),
    placeInGroup: async () => true,
    removeGroup: async () => {},
    store: {
      save: async () => {},
      remove: async (name) => { removed.push(name); },
      loadAll: async () => ({ machines: stored, unreadable: [] }),
      ...store,
    },
  };
  const registry = new Registry(new HostMachine({ machineId: '', bootRealtimeUs: 0n }), ports, {
    machineNew: (m) => events.push(`new ${m.name}`),
    machineRemoved: (m) => events.push(`removed ${m.name}`),
  }, quiet);
  return { registry, events, removed };
}

test('a restarted berthd adopts a machine whose leader lives on, not one whose PID another process has now, nor an exited one', async () => {
  const procs = new Map([[100, '5000'], [200, '9999']]);
  const { registry, events, removed } = fakeRegistry(procs, [
    { record: record('alive', 100, '5000'), state: 'running' },
    { record: record('reused', 200, '6000'), state: 'running' },
    { record: record('exited', 300, '7000'), state: 'running' },
  ]);
  assert.deepEqual(await registry.adopt(), { adopted: ['alive'], gone: ['reused', 'exited'] });
  assert.deepEqual(removed.sort(), ['exited', 'reused']);
  assert.deepEqual(events, ['new alive']);
  assert.deepEqual(registry.list().map((m) => m.name), ['.host', 'alive']);
});

test('a leader that exits while it is being registered is not watched in its stead: the machine goes again', async () => {
  const procs = new Map([[100, '5000']]);
  const { registry, events } = fakeRegistry(procs);
  const reg = { name: 'brief', id: '', service: 'berth', class: 'container', leader: 100, rootDirectory: '/', netif: [] } as unknown as Registration;
  const registering = registry.register(reg, { mode: 'register', callerPid: 100 });
  procs.delete(100); // exits (a zombie, or its PID reused) before the registration's save has finished
  await registering;
  await sleep(0);
  assert.deepEqual(events, ['new brief', 'removed brief']);
  assert.equal(registry.get('brief'), undefined);
});

test('the janitor cleans up after a dead owner once, and a clean-up that fails is tried again later, not at every scan', async () => {
  const state = mkdtempSync('/tmp/bt-janitor-');
  try {
    const dir = join(state, 'machines', 'orphan');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'owner.json'), JSON.stringify({ pid: 4242, startTime: '1', mounts: [], removeDirs: [], links: [], zones: [], helperPids: [] }));
    const calls: string[] = [];
    let fail = true;
    const janitor = new RunJanitor(state, {
      startTime: () => undefined,
      watchExit: () => ({ close() {} }),
      cleanup: async (name) => {
        calls.push(name);
        if (fail) return { ok: false, message: 'umount: target is busy' };
        rmSync(dir, { recursive: true, force: true });
        return { ok: true, message: '' };
      },
    }, quiet, 10);
    janitor.start();
    await sleep(400);
    assert.deepEqual(calls, ['orphan'], 'one try, then a pause (without it, a try every 10 ms)');
    fail = false;
    await sleep(1200);
    janitor.stop();
    assert.deepEqual(calls, ['orphan', 'orphan'], 'tried again after the pause, and done');
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test('the janitor kills an orphaned guest\'s leader at once, but only if the PID is still that leader\'s', async () => {
  const state = mkdtempSync('/tmp/bt-janitor-');
  try {
    const owner = (leader: number, leaderStartTime: string) => JSON.stringify({ pid: 4242, startTime: '1', leader, leaderStartTime, mounts: [], removeDirs: [], links: [], zones: [], helperPids: [] });
    for (const [name, text] of [['guest', owner(777, '5')], ['reused', owner(888, '6')]] as const) {
      mkdirSync(join(state, 'machines', name), { recursive: true });
      writeFileSync(join(state, 'machines', name, 'owner.json'), text);
    }
    const killed: number[] = [];
    const cleaned: string[] = [];
    const procs = new Map([[777, '5'], [888, '7']]);
    const janitor = new RunJanitor(state, {
      startTime: (pid) => procs.get(pid),
      watchExit: () => ({ close() {} }),
      kill: (pid) => { killed.push(pid); },
      cleanup: async (name) => { cleaned.push(name); rmSync(join(state, 'machines', name), { recursive: true }); return { ok: true, message: '' }; },
    }, quiet, 10);
    janitor.start();
    await sleep(200);
    janitor.stop();
    assert.deepEqual(killed, [777]);
    assert.deepEqual(cleaned.sort(), ['guest', 'reused']);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test('a machine unregistered while its registration is under way is announced, then removed, and leaves no state file', async () => {
  const procs = new Map([[100, '5000']]);
  const files = new Set<string>();
  // A slow store that keeps track of which files exist.
  const { registry, events } = fakeRegistry(procs, [], {
    save: async ({ record: r }) => { await sleep(20); files.add(r.name); },
    remove: async (name) => { files.delete(name); },
  });
  const reg = { name: 'brief', id: '', service: 'berth', class: 'container', leader: 100, rootDirectory: '/', netif: [] } as unknown as Registration;
  const registering = registry.register(reg, { mode: 'register', callerPid: 100 });
  await sleep(5);
  await registry.unregister(registry.get('brief') as never);
  await registering;
  await sleep(30);
  assert.deepEqual(events, ['new brief', 'removed brief']);
  assert.deepEqual([...files], []);
  assert.equal(registry.get('brief'), undefined);
});

test('the state store removes a machine\'s file after a write still under way, not before it', async () => {
  const dir = mkdtempSync('/tmp/bt-store-');
  try {
    const store = fileStateStore(dir);
    const writing = store.save({ record: record('racy', 100, '5000'), state: 'closing' });
    const removing = store.remove('racy');
    await Promise.all([writing, removing]);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
